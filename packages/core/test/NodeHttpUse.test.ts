/**
 * `NodeHttp` as its users meet it, on real ports: https (a given CA, an
 * untrusted certificate), a refused connection, under `Transport.makeRaw`,
 * `fromReadable`; and the rest of core stays free of Node's API.
 */
import { Effect, Redacted } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import { PassThrough } from "node:stream"
import { afterEach, describe, expect, it } from "vitest"
import * as NodeHttp from "../src/NodeHttp.js"
import * as Transport from "../src/Transport.js"
import { closeServers, collect, get, listen, pattern, servers, testCertificate } from "./support/nodeHttp.js"

afterEach(closeServers)

describe("NodeHttp over https and on a closed port", () => {
  it("speaks https: reads a body over TLS from a server whose CA it is given", async () => {
    const body = pattern(1024 * 1024)
    const url = await listen(https.createServer(testCertificate, (_request, response) => {
      response.writeHead(200, { "Content-Length": body.length })
      response.end(body)
    }))
    const origin = url.replace("http:", "https:")
    const response = await NodeHttp.make({ timeout: 5_000, ca: testCertificate.cert })(get(origin))
    expect(response.status).toBe(200)
    const outcome = await collect(response.body)
    expect(outcome.error).toBeUndefined()
    expect(outcome.bytes.equals(body)).toBe(true)
  })

  it("refuses an https server whose certificate it does not trust, before sending the request", async () => {
    let requests = 0
    const url = await listen(https.createServer(testCertificate, (_request, response) => {
      requests++
      response.end("no")
    }))
    const error = await NodeHttp.make({ timeout: 5_000 })(
      get(url.replace("http:", "https:"), "/x", { authorization: "Bearer secret" })
    ).then(() => undefined, (error: unknown) => error)
    expect(error).toMatchObject({ code: "DEPTH_ZERO_SELF_SIGNED_CERT" })
    expect(String(error)).not.toContain("secret")
    expect(requests).toBe(0)
  })

  it("rejects a refused connection with the code core reads as never sent", async () => {
    const server = net.createServer()
    const url = await listen(server)
    await new Promise((resolve) => server.close(resolve))
    servers.splice(servers.indexOf(server), 1)
    await expect(NodeHttp.make({ timeout: 5_000 })(get(url))).rejects.toMatchObject({ code: "ECONNREFUSED" })
  })
})

describe("NodeHttp.fromReadable", () => {
  it("passes a Node stream's pieces on, and a stream closed before its end is a cut-off", async () => {
    const whole = new PassThrough()
    whole.end("id\r\n1\r\n")
    await expect(collect(NodeHttp.fromReadable(whole))).resolves.toEqual({ bytes: Buffer.from("id\r\n1\r\n") })
    const cut = new PassThrough()
    const outcome = collect(NodeHttp.fromReadable(cut))
    cut.write("id\r\n")
    await new Promise<void>((resolve) => setImmediate(resolve))
    cut.destroy()
    await expect(outcome).resolves.toMatchObject({
      bytes: Buffer.from("id\r\n"),
      error: { message: NodeHttp.cutOffMessage, code: "ECONNRESET" }
    })
  })
})

describe("NodeHttp under Transport.makeRaw", () => {
  it("gets the key header, a retry of a 503, and a 401 as core's Unauthorized", async () => {
    let calls = 0
    const authorizations: Array<string | undefined> = []
    const url = await listen(http.createServer((request, response) => {
      authorizations.push(request.headers["authorization"])
      calls++
      if (request.url === "/denied") {
        response.writeHead(401, { "Content-Type": "application/json" })
        response.end(JSON.stringify({ error: "bad key" }))
      } else if (calls === 1) {
        response.writeHead(503, { "Content-Type": "application/json" })
        response.end(JSON.stringify({ error: "busy" }))
      } else {
        response.writeHead(200, { "Content-Type": "text/csv" })
        response.end("id\r\n1\r\n")
      }
    }))
    const transport = Transport.makeRaw(
      { url, apiKey: Redacted.make("sk-test"), retry: { baseDelay: 1, jitter: false, maxRetries: 2 } },
      NodeHttp.make({ timeout: 5_000 })
    )
    const response = await Effect.runPromise(transport.send({ method: "GET", path: "/export", accept: "text/csv" }))
    await expect(collect(response.body)).resolves.toEqual({ bytes: Buffer.from("id\r\n1\r\n") })
    expect(calls).toBe(2)
    const denied = await Effect.runPromise(
      Effect.flip(transport.send({ method: "GET", path: "/denied", accept: "text/csv" }))
    )
    expect(denied).toMatchObject({ _tag: "Unauthorized", status: 401 })
    expect(String(denied)).not.toContain("sk-test")
    expect(authorizations).toEqual(["Bearer sk-test", "Bearer sk-test", "Bearer sk-test"])
  })
})

describe("the rest of core stays runtime-neutral", () => {
  it("only NodeHttp (and its internals) and ParserRefusal use Node's API, and the index does not load them", () => {
    const source = new URL("../src/", import.meta.url)
    const nodeOnly = new Set([
      "NodeHttp.ts",
      "ParserRefusal.ts",
      "internal/nodeHttpExchange.ts",
      "internal/httpWire.ts",
      "internal/bufferPool.ts"
    ])
    const users = readdirSync(source, { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .filter((file) =>
        /\bfrom "node:|import\("node:|\bBuffer\.|types="node"/.test(readFileSync(new URL(file, source), "utf8"))
      )
    expect(users.sort()).toEqual([...nodeOnly].sort())
    const index = readFileSync(new URL("index.ts", source), "utf8")
    expect(index).not.toContain("NodeHttp")
    expect(index).not.toContain("ParserRefusal")
  })
})
