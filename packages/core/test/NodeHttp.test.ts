/**
 * `NodeHttp` on real ports: Node's own server, and raw TCP servers that write
 * whatever bytes a test needs (split heads, chunk sizes, cut-offs, silence).
 */
import * as http from "node:http"
import * as net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import * as NodeHttp from "../src/NodeHttp.js"
import { closeServers, collect, get, listen, pattern, rawServer, writeInPieces } from "./support/nodeHttp.js"

afterEach(closeServers)

describe("NodeHttp", () => {
  it("reads a Content-Length body whole, with the status and lower-case headers, and sends the request's headers", async () => {
    const body = pattern(300_000)
    let seen: http.IncomingMessage | undefined
    const url = await listen(http.createServer((request, response) => {
      seen = request
      response.writeHead(200, { "Content-Type": "text/csv", "Content-Length": body.length, "X-Thing": "a" })
      response.end(body)
    }))
    const exchange = NodeHttp.make({ timeout: 5_000 })
    const response = await exchange(
      get(url, "/api/v1/audit-logs/export?from=2024-01-01", { authorization: "Bearer k" })
    )
    expect(response.status).toBe(200)
    expect(response.headers["content-type"]).toBe("text/csv")
    expect(response.headers["x-thing"]).toBe("a")
    const outcome = await collect(response.body)
    expect(outcome.error).toBeUndefined()
    expect(outcome.bytes.equals(body)).toBe(true)
    expect(seen?.url).toBe("/api/v1/audit-logs/export?from=2024-01-01")
    expect(seen?.headers["authorization"]).toBe("Bearer k")
    expect(seen?.headers["accept"]).toBe("text/csv")
    expect(seen?.headers["connection"]).toBe("close")
  })

  it("decodes a chunked body from Node's server (pieces larger and smaller than a read)", async () => {
    const body = pattern(500_000)
    const url = await listen(http.createServer((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.write(body.subarray(0, 10))
      response.write(body.subarray(10, 200_000))
      response.end(body.subarray(200_000))
    }))
    const response = await NodeHttp.make({ timeout: 5_000 })(get(url))
    const outcome = await collect(response.body)
    expect(outcome.error).toBeUndefined()
    expect(outcome.bytes.equals(body)).toBe(true)
  })

  it("decodes chunk sizes, extensions, CRLFs and trailers split anywhere across reads", async () => {
    const wire = Buffer.from(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "5;name=value\r\nhello\r\n" +
        "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n" +
        "0\r\nX-Trailer: yes\r\n\r\n",
      "latin1"
    )
    const url = await rawServer((socket) => void writeInPieces(socket, wire, 3))
    const response = await NodeHttp.make({ timeout: 5_000 })(get(url))
    const outcome = await collect(response.body)
    expect(outcome.error).toBeUndefined()
    expect(outcome.bytes.toString("latin1")).toBe("helloabcdefghijklmnopqrstuvwxyz")
  })

  it("ends a body without a length at the close of the connection", async () => {
    const url = await rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n\r\nid\r\n1\r\n"))
    const response = await NodeHttp.make({ timeout: 5_000 })(get(url))
    const outcome = await collect(response.body)
    expect(outcome.error).toBeUndefined()
    expect(outcome.bytes.toString("latin1")).toBe("id\r\n1\r\n")
  })

  it.each([
    ["Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + "x".repeat(500)],
    ["chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nabc"]
  ])("fails a %s body cut off before its end (never a clean end)", async (_name, wire) => {
    const url = await rawServer((socket) => socket.end(wire))
    const response = await NodeHttp.make({ timeout: 5_000 })(get(url))
    const outcome = await collect(response.body)
    expect(outcome.error).toMatchObject({ message: NodeHttp.cutOffMessage, code: "ECONNRESET" })
  })

  it("fails a malformed chunked body", async () => {
    const url = await rawServer((socket) =>
      socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n")
    )
    const response = await NodeHttp.make({ timeout: 5_000 })(get(url))
    const outcome = await collect(response.body)
    expect(outcome.error?.message).toContain("malformed chunked body")
  })

  it("gives an error answer's body as text", async () => {
    const url = await listen(http.createServer((_request, response) => {
      response.writeHead(503, { "Content-Type": "application/json" })
      response.end(JSON.stringify({ error: "down for maintenance" }))
    }))
    const response = await NodeHttp.make({ timeout: 5_000 })(get(url))
    expect(response.status).toBe(503)
    await expect(response.text(1024)).resolves.toBe("{\"error\":\"down for maintenance\"}")
  })

  it("times out a server that never answers, with the code core maps to a timeout", async () => {
    const url = await rawServer(() => undefined)
    await expect(NodeHttp.make({ timeout: 200 })(get(url))).rejects.toMatchObject({
      code: "UND_ERR_HEADERS_TIMEOUT"
    })
  })

  it("fails a body that stops flowing for longer than the timeout", async () => {
    const url = await rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"))
    const response = await NodeHttp.make({ timeout: 200 })(get(url))
    const outcome = await collect(response.body)
    expect(outcome.error).toMatchObject({ code: "UND_ERR_BODY_TIMEOUT" })
    expect(outcome.bytes.toString("latin1")).toBe("abc")
  })

  it("drops a body nobody takes within the timeout, and says so when it is taken later", async () => {
    let closed = false
    const url = await listen(net.createServer((socket) => {
      socket.on("error", () => undefined)
      socket.on("close", () => (closed = true))
      socket.resume()
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
    }))
    const response = await NodeHttp.make({ timeout: 200 })(get(url))
    await new Promise<void>((resolve) => {
      const check = () => (closed ? resolve() : setTimeout(check, 20))
      check()
    })
    const outcome = await collect(response.body)
    expect(outcome.error).toMatchObject({ code: "UND_ERR_BODY_TIMEOUT" })
    expect(outcome.bytes.toString("latin1")).toBe("abc")
  })

  it("refuses a header value with a line break without naming the value", async () => {
    const url = await rawServer(() => undefined)
    const error = await NodeHttp.make({ timeout: 5_000 })(get(url, "/x", { authorization: "Bearer secret\r\nX: y" }))
      .then(() => undefined, (error: unknown) => error)
    expect(error).toBeInstanceOf(Error)
    expect(String(error)).toContain("authorization header holds a line break")
    expect(String(error)).not.toContain("secret")
  })

  it("reads into a few reused buffers, and a held chunk's memory is not reused until released", async () => {
    const body = pattern(4 * 1024 * 1024)
    const url = await listen(http.createServer((_request, response) => {
      response.writeHead(200, { "Content-Length": body.length })
      response.end(body)
    }))
    const exchange = NodeHttp.make({ timeout: 5_000 })
    // Without holds: the chunks' memory comes from a handful of buffers.
    const first = await exchange(get(url))
    const buffers = new Set<ArrayBufferLike>()
    let size = 0
    await new Promise<void>((resolve, reject) => {
      first.body.start({
        chunk: (chunk) => {
          buffers.add(chunk.buffer)
          size += chunk.length
        },
        end: resolve,
        fail: reject
      })
    })
    expect(size).toBe(body.length)
    expect(buffers.size).toBeLessThanOrEqual(4)
    // With every chunk held (as a pending write holds it), kept views still read what was sent.
    const second = await exchange(get(url))
    const kept: Array<Buffer> = []
    const releases: Array<() => void> = []
    await new Promise<void>((resolve, reject) => {
      second.body.start({
        chunk: (chunk) => {
          releases.push(second.body.hold())
          kept.push(chunk)
        },
        end: resolve,
        fail: reject
      })
    })
    expect(Buffer.concat(kept).equals(body)).toBe(true)
    for (const release of releases) release()
  })

  it("pauses and resumes: a paused body reads no further until resumed", async () => {
    const body = pattern(2 * 1024 * 1024)
    const server = { bytesWritten: 0 }
    const url = await listen(http.createServer((_request, response) => {
      response.writeHead(200, { "Content-Length": body.length })
      const socket = response.socket
      response.end(body)
      const track = () => {
        server.bytesWritten = socket?.bytesWritten ?? 0
        if (socket !== null && !socket.destroyed) setImmediate(track)
      }
      track()
    }))
    const response = await NodeHttp.make({ timeout: 5_000 })(get(url))
    const pieces: Array<Buffer> = []
    let pausedAt = -1
    let whilePaused = 0
    let paused = false
    const done = new Promise<void>((resolve, reject) => {
      response.body.start({
        chunk: (chunk) => {
          pieces.push(Buffer.from(chunk))
          if (paused) whilePaused++
          if (pausedAt === -1) {
            pausedAt = pieces.length
            paused = true
            response.body.pause()
            // Resumed once the server has sent more than a read's worth (the socket has data waiting).
            const resumeWhenWaiting = () => {
              if (server.bytesWritten > 256 * 1024) {
                paused = false
                response.body.resume()
              } else setImmediate(resumeWhenWaiting)
            }
            resumeWhenWaiting()
          }
        },
        end: resolve,
        fail: reject
      })
    })
    await done
    expect(pausedAt).toBe(1)
    expect(whilePaused).toBe(0)
    expect(Buffer.concat(pieces).equals(body)).toBe(true)
  })
})
