/**
 * A third adversarial pass on real ports: what the second left open — an
 * upstream export that is not an export, the status the access log and the
 * metrics record for an export answered 502, a caller waiting longer than
 * the idle timeout, a hostile list answer on the full-access path.
 */
import { Redacted } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import type { ProxyConfig } from "../src/Config.js"
import type { LogEntry } from "../src/Log.js"
import { Metrics } from "../src/Metrics.js"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"
import { baseConfig, key, keyOf, upstreamKey } from "./helpers.js"

const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.splice(0)) await close()
})

/** A real upstream answering with `answer`. */
const startUpstream = async (answer: (request: http.IncomingMessage, response: http.ServerResponse) => void) => {
  const server = http.createServer(answer)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  closers.push(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const startProxy = async (url: string, config: ProxyConfig = baseConfig([key("admin", [{ operations: ["*"] }])])) => {
  const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 5_000, retries: 0 })
  const logs: Array<LogEntry> = []
  const metrics = new Metrics()
  const proxy = await Server.start({ config, upstream, metrics, log: (entry) => logs.push(entry) }, {
    port: 0,
    host: "127.0.0.1"
  })
  closers.push(() => proxy.close(0))
  return { proxy, logs, metrics }
}

const get = async (base: string, path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${keyOf("admin")}`, ...headers } })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** The access-log lines (`msg: "request"`) of `path`. */
const accessLines = (logs: ReadonlyArray<LogEntry>, path: string) =>
  logs.filter((entry) => entry["msg"] === "request" && entry["path"] === path)

const exportHeader = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"

describe("an upstream export that is not an audit-log CSV", () => {
  it("?format=ndjson: a 502 {error} saying so, not an empty 200; the log and the metrics record the 502", async () => {
    const url = await startUpstream((_request, response) => {
      // A 200 whose body is some other file: a login page, a one-line error, a CSV of something else.
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.end("<!doctype html><title>Sign in</title>\n")
    })
    const { logs, metrics, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    const answer = await get(proxy.url, `${path}?format=ndjson`)
    expect({ status: answer.status, type: answer.headers.get("content-type") }).toEqual({
      status: 502,
      type: "application/json"
    })
    expect(JSON.parse(answer.text)).toEqual({
      error: expect.stringMatching(
        /^the upstream Control Plane's export is not the expected audit-log CSV: CSV row 1: the header is not an audit-log export's: it lacks the columns id, timestamp/
      )
    })
    const lines = accessLines(logs, path)
    expect(lines.map((line) => [line["status"], line["upstream_status"]])).toEqual([[502, 200]])
    expect(lines[0]!["error"]).toBe("the upstream export failed before its first bytes")
    expect(metrics.render()).toContain(
      `cubeplane_proxy_requests_total{operation="exportAuditLog",status="502",key="admin"} 1`
    )
    expect(metrics.render()).not.toContain(`operation="exportAuditLog",status="200"`)
  })

  it("an export of the header alone is an empty 200, logged 200", async () => {
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.end(exportHeader)
    })
    const { logs, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    const ndjson = await get(proxy.url, `${path}?format=ndjson`)
    expect({ status: ndjson.status, text: ndjson.text }).toEqual({ status: 200, text: "" })
    const csv = await get(proxy.url, path)
    expect({ status: csv.status, text: csv.text }).toEqual({ status: 200, text: exportHeader })
    expect(accessLines(logs, path).map((line) => line["status"])).toEqual([200, 200])
  })

  it("a failure after the first bytes is logged with the status the caller got (200), its transfer cut", async () => {
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      // ~300 KB of good rows (many reads, more than the redactor holds back), then a row that is not an event.
      const good = Array.from({ length: 5_000 }, (_, k) => `evt_${k},2024-01-15T10:30:00.000Z,Logged in,,,,,{}\r\n`)
      response.end(exportHeader + good.join("") + "evt_bad,yesterday,x,,,,,{}\r\n")
    })
    const { logs, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    await expect(get(proxy.url, `${path}?format=ndjson`)).rejects.toThrow()
    expect(accessLines(logs, path).map((line) => line["status"])).toEqual([200])
  })
})

/** Waits for `condition`, checking after each turn of the event loop's timers (never a fixed sleep as the check). */
export const until = async (condition: () => boolean, what: string): Promise<void> => {
  for (let turns = 0; !condition(); turns++) {
    if (turns > 5_000) throw new Error(`never happened: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe("a caller that leaves before the export's first bytes", () => {
  it("is logged 499 (it got nothing), the request no longer in flight, the upstream transfer dropped", async () => {
    let upstreamClosed = false
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.write("id,")
      response.on("close", () => {
        upstreamClosed = true
      })
    })
    const { logs, metrics, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    const controller = new AbortController()
    const request = fetch(`${proxy.url}${path}`, {
      headers: { Authorization: `Bearer ${keyOf("admin")}` },
      signal: controller.signal
    })
    await until(() => metrics.inFlight === 1, "the request is in flight")
    controller.abort()
    await expect(request).rejects.toThrow()
    await until(() => accessLines(logs, path).length === 1, "the access line")
    expect(accessLines(logs, path)[0]!["status"]).toBe(499)
    expect(metrics.inFlight).toBe(0)
    await until(() => upstreamClosed, "the upstream transfer is dropped")
  })
})
