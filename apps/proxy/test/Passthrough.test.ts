/**
 * The export through the proxy on real ports, read from the upstream by
 * core's `NodeHttp` into reused buffers: a caller that reads slowly (the caller's
 * socket full, writes pending, the upstream paused and resumed many times)
 * still gets every byte as sent, the upstream key redacted wherever the
 * reads cut it; and an upstream that drops the connection cuts the caller's
 * download.
 */
import type { Body, Sink } from "@cubeplane/core/NodeHttp"
import { Redacted } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import * as Export from "../src/Export.js"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"
import { baseConfig, key, upstreamKey } from "./helpers.js"

const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.splice(0)) await close()
})

const header = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"

/** ~8 MB of audit-log CSV; every 97th row echoes the upstream key in its attributes. */
const csv = (() => {
  const rows = [header]
  for (let i = 1; i <= 60_000; i++) {
    const note = i % 97 === 0 ? upstreamKey : `note ${i}`
    rows.push(
      `evt_${i},2024-01-15T10:30:00.000Z,Updated deployment,user${i}@example.com,123,"Prod, EU",10.0.0.${
        i % 250
      },"{""note"":""${note}"",""n"":${i}}"\r\n`
    )
  }
  return rows.join("")
})()

const startUpstream = async (answer: (response: http.ServerResponse) => void): Promise<string> => {
  const server = http.createServer((_request, response) => answer(response))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  closers.push(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const startProxy = async (url: string) => {
  const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 5_000, retries: 0 })
  const config = baseConfig([key("auditor", [{ operations: ["exportAuditLog"] }])])
  const proxy = await Server.start({ config, upstream, log: () => undefined }, { port: 0, host: "127.0.0.1" })
  closers.push(() => proxy.close(0))
  return proxy
}

/** GETs the export, pausing after every chunk until the event loop has run a few timers. */
const slowDownload = (
  url: string
): Promise<{ readonly status: number; readonly body: Buffer; readonly error?: Error }> =>
  new Promise((resolve) => {
    const pieces: Array<Buffer> = []
    const request = http.get(url, { headers: { Authorization: "Bearer key-auditor" } }, (response) => {
      response.on("data", (chunk: Buffer) => {
        pieces.push(chunk)
        response.pause()
        setTimeout(() => response.resume(), 1)
      })
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(pieces) }))
      response.on("error", (error) => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(pieces), error }))
    })
    request.on("error", (error) => resolve({ status: 0, body: Buffer.concat(pieces), error }))
  })

describe("the export passthrough on real ports", () => {
  it.each([
    ["Content-Length, large pieces", true, 0],
    ["chunked, large pieces", false, 0],
    ["Content-Length, 1 KB pieces", true, 1_000]
  ])("a slow caller gets every byte as sent, the key redacted (%s)", async (_name, withLength, small) => {
    const bytes = Buffer.from(csv, "utf8")
    const url = await startUpstream((response) => {
      response.writeHead(200, {
        "Content-Type": "text/csv; charset=utf-8",
        ...(withLength ? { "Content-Length": bytes.length } : {})
      })
      // In uneven pieces, so the key falls across the proxy's reads in many places.
      let at = 0
      const next = () => {
        while (at < bytes.length) {
          const piece = bytes.subarray(at, at + (small > 0 ? small + (at % 7) : 10_007 + (at % 50_000)))
          at += piece.length
          // Small pieces one by one, each sent before the next, so the proxy reads them apart.
          if (small > 0) return void response.write(piece, next)
          if (!response.write(piece)) return void response.once("drain", next)
        }
        response.end()
      }
      next()
    })
    const proxy = await startProxy(url)
    const result = await slowDownload(`${proxy.url}/api/v1/audit-logs/export`)
    expect(result.error).toBeUndefined()
    expect(result.status).toBe(200)
    const expected = csv.split(upstreamKey).join("[REDACTED]")
    expect(expected).not.toBe(csv)
    expect(result.body.toString("utf8") === expected).toBe(true)
  })

  it("an upstream that drops the connection mid-export cuts the caller's download", async () => {
    const bytes = Buffer.from(csv, "utf8")
    const url = await startUpstream((response) => {
      response.writeHead(200, { "Content-Type": "text/csv; charset=utf-8", "Content-Length": bytes.length })
      response.write(bytes.subarray(0, 3_000_000), () => response.destroy())
    })
    const proxy = await startProxy(url)
    const result = await slowDownload(`${proxy.url}/api/v1/audit-logs/export`)
    expect(result.error).toBeDefined()
    expect(result.body.length).toBeLessThan(bytes.length)
  })
})

/**
 * A body that, like `NodeHttp`, delivers every chunk from one piece of memory:
 * it overwrites that memory with the next chunk as soon as the last one is
 * not held — at once, in the same tick, when nothing holds it.
 */
const oneBufferBody = (data: Buffer, pieceSize: number): Body => {
  const memory = Buffer.alloc(pieceSize)
  let at = 0
  let holds = 0
  let paused = false
  let ended = false
  let sink: Sink | undefined
  const pump = () => {
    while (sink !== undefined && !paused && holds === 0 && at < data.length) {
      const size = Math.min(pieceSize, data.length - at)
      data.copy(memory, 0, at, at + size)
      at += size
      sink.chunk(memory.subarray(0, size))
    }
    if (sink !== undefined && !ended && at >= data.length && holds === 0) {
      ended = true
      sink.end()
    }
  }
  return {
    start: (next) => {
      sink = next
      pump()
    },
    pause: () => void (paused = true),
    resume: () => {
      paused = false
      setImmediate(pump)
    },
    destroy: () => void (sink = undefined),
    hold: () => {
      holds++
      let held = true
      return () => {
        if (!held) return
        held = false
        if (--holds === 0) setImmediate(pump)
      }
    },
    reusesMemory: true
  }
}

describe("Export.pipeToNode with a body that reuses its memory", () => {
  it("holds each chunk until its write is done: the caller gets every byte as sent", async () => {
    // Whole rows, ~2 MB, in 4 KB chunks: each write is under the response's high-water mark, so
    // `write` returns true while the bytes still wait (corked until the next tick, or behind a full socket).
    const bytes = Buffer.from(csv.slice(0, csv.indexOf("\r\n", 2_000_000) + 2), "utf8")
    const server = http.createServer((_request, response) => {
      Export.pipeToNode(oneBufferBody(bytes, 4_096), Export.csvPassthrough(), response, 200, {}, () => "")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    closers.push(() => new Promise((resolve) => server.close(resolve)))
    const result = await slowDownload(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    expect(result.error).toBeUndefined()
    expect(result.body.equals(bytes)).toBe(true)
  })
})
