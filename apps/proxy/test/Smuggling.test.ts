/**
 * Request framing and request targets on a real port, over raw sockets:
 * what a caller gets for smuggling attempts (conflicting lengths, codings),
 * odd targets (absolute-form, `CONNECT`, `OPTIONS *`, dot segments, encoded
 * dots, backslashes), a missing or doubled `Host`, oversized heads, odd
 * `Expect`s — always an `{"error"}` body or the route's answer, never an
 * empty one — and what reaches the upstream. Then HEAD and OPTIONS on every
 * route.
 */
import { Redacted } from "effect"
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"
import { baseConfig, key, keyOf, upstreamKey } from "./helpers.js"

const seen: Array<string> = []
let upstreamServer: http.Server
let proxy: Server.RunningProxy

const exportCsv = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n" +
  "evt_1,2024-01-15T10:30:00.000Z,Logged in,,,,,{}\r\n"
const page = JSON.stringify({
  data: {
    deployments: [{ id: "123", name: "Prod", created_at: "2024-01-15T10:30:00.000Z" }],
    environments: [{ id: "456", name: "Env", type: "production" }]
  },
  pagination: { offset: 0, limit: 20, total: 1 }
})

beforeAll(async () => {
  upstreamServer = http.createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`)
    request.resume()
    request.on("end", () => {
      const url = request.url ?? ""
      const isExport = url.includes("export")
      response.writeHead(200, { "Content-Type": isExport ? "text/csv" : "application/json" })
      response.end(
        isExport ? exportCsv : url.includes("tokens") ? JSON.stringify({ data: { token: "eyJ.a.b" } }) : page
      )
    })
  })
  await new Promise<void>((resolve) => upstreamServer.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(upstreamServer.address() as net.AddressInfo).port}`
  const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 5_000, retries: 0 })
  proxy = await Server.start({
    config: { ...baseConfig([key("admin", [{ operations: ["*"] }])]), authFailures: { limit: 0 } },
    upstream,
    log: () => undefined
  }, { port: 0, host: "127.0.0.1" })
})
afterAll(async () => {
  await proxy?.close(0)
  upstreamServer?.closeAllConnections()
  await new Promise((resolve) => upstreamServer?.close(resolve))
})

const auth = `Authorization: Bearer ${keyOf("admin")}\r\n`
const tokenPath = "/api/v1/deployments/123/environments/456/tokens-for-meta-sync"

interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Sends `text` and reads until the server closes the connection: the first answer on it. */
const exchange = (text: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(proxy.port, "127.0.0.1")
    let received = ""
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")))
    socket.on("error", reject)
    socket.on("close", () => {
      // A `100 Continue` first: the answer is the head after it.
      const answer = received.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "")
      const [head = "", ...rest] = answer.split("\r\n\r\n")
      const [statusLine = "", ...lines] = head.split("\r\n")
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(":")
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") })
    })
    socket.write(text)
  })

/** An answer of the proxy's own: the status, a JSON `{"error"}` body matching `error`, `nosniff`. */
const expectRefusal = (answer: Answer, status: number, error: RegExp) => {
  expect({ status: answer.status, type: answer.headers["content-type"] }).toEqual({ status, type: "application/json" })
  expect(answer.headers["x-content-type-options"]).toBe("nosniff")
  expect(JSON.parse(answer.body)).toEqual({ error: expect.stringMatching(error) })
}

describe("framing: one way to read a request, or an {error}", () => {
  const post = (headers: string, body: string) =>
    `POST ${tokenPath} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n${headers}\r\n${body}`
  it.each([
    ["Content-Length with Transfer-Encoding", post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n")],
    ["two Content-Lengths", post("Content-Length: 2\r\nContent-Length: 3\r\n", "{}")],
    ["chunked, then identity", post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n")],
    ["a folded Transfer-Encoding", post("Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n")],
    ["a chunk size past 2^64", post("Transfer-Encoding: chunked\r\n", "FFFFFFFFFFFFFFFFF2\r\n{}\r\n0\r\n\r\n")],
    ["a quote in a chunk extension", post("Transfer-Encoding: chunked\r\n", "2;x=\"\r\n{}\r\n0\r\n\r\n")],
    ["a space before the colon", `GET /api/v1/deployments HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer k\r\n\r\n`],
    ["bare LF line ends", `GET /api/v1/deployments HTTP/1.1\nHost: x\n\n`]
  ])("%s: 400, nothing upstream", async (_name, text) => {
    seen.length = 0
    expectRefusal(await exchange(text), 400, /^the request is not valid HTTP\/1\.1 \(HPE_/)
    expect(seen).toEqual([])
  })

  it("a transfer coding other than chunked (gzip, chunked): 501, nothing upstream", async () => {
    seen.length = 0
    const answer = await exchange(post("Transfer-Encoding: gzip, chunked\r\n", "2\r\n{}\r\n0\r\n\r\n"))
    expectRefusal(answer, 501, /^the only transfer coding this server reads is `chunked`/)
    expect(seen).toEqual([])
  })

  it("a line and headers over 16 KB: 431", async () => {
    const long = `GET /api/v1/deployments?x=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`
    expectRefusal(await exchange(long), 431, /larger than the server accepts/)
    const many = Array.from({ length: 3000 }, (_, i) => `X-H${i}: 1\r\n`).join("")
    expectRefusal(await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n`), 431, /send a shorter URL/)
  })

  it("Expect other than 100-continue: 417 {error}; 100-continue: the route's answer after the 100", async () => {
    expectRefusal(await exchange(post("Expect: bogus\r\nContent-Length: 2\r\n", "{}")), 417, /100-continue/)
    const body = JSON.stringify({ security_context: { tenant_id: "acme" }, expires_in: 60 })
    const continued = await exchange(
      post(`Expect: 100-continue\r\nConnection: close\r\nContent-Length: ${body.length}\r\n`, body)
    )
    expect(continued.status).toBe(200)
  })
})

describe("request targets", () => {
  it("absolute-form is read as its path (RFC 9112): the host in it goes nowhere", async () => {
    seen.length = 0
    const answer = await exchange(
      `GET http://evil.example/api/v1/deployments HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`
    )
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: page })
    expect(seen).toEqual(["GET /api/v1/deployments"])
  })

  it("CONNECT: 405 {error}, not a dropped connection", async () => {
    const answer = await exchange(`CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n${auth}\r\n`)
    expectRefusal(answer, 405, /^CONNECT is not supported/)
  })

  it.each([
    ["OPTIONS *", `OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n`],
    ["a backslash in the path", `GET /api/v1/deployments/123\\x/environments HTTP/1.1\r\nHost: x\r\n${auth}\r\n`],
    ["no Host (HTTP/1.1)", `GET /api/v1/deployments HTTP/1.1\r\n${auth}\r\n`],
    ["two Hosts", `GET /api/v1/deployments HTTP/1.1\r\nHost: a\r\nHost: b\r\n${auth}\r\n`]
  ])("%s: 400 {error}, nothing upstream", async (_name, text) => {
    seen.length = 0
    expectRefusal(await exchange(text), 400, /^the request's target or Host header cannot be read as a URL/)
    expect(seen).toEqual([])
  })

  it.each([
    "/api/v1/deployments/123/../../v1/deployments",
    "/api/v1/deployments/../deployments/123/environments",
    "/api/v1/deployments/%2e%2e/environments",
    "/api/v1/deployments/%2E./environments",
    "/api/v1/./deployments",
    "/api/v1/deployments/123/environments/456/tokens-for-meta-sync/.."
  ])("dot segments (%s): 400 {error}, nothing upstream", async (path) => {
    seen.length = 0
    expectRefusal(
      await exchange(`GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
      400,
      /^the path has `\.` or `\.\.` segments/
    )
    expect(seen).toEqual([])
  })

  it("dots inside an id, and an encoded dot in a query value, are not segments", async () => {
    seen.length = 0
    const id = await exchange(
      `GET /api/v1/deployments/my.deployment..1/environments HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`
    )
    expect(id.status).toBe(200)
    const query = await exchange(
      `GET /api/v1/audit-logs/export?search=..%2e%2e HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`
    )
    expect(query.status).toBe(200)
    expect(seen[0]).toBe("GET /api/v1/deployments/my.deployment..1/environments")
    expect(seen[1]).toMatch(/^GET \/api\/v1\/audit-logs\/export\?search=(\.\.\.\.|\.\.%2E%2E|%2E%2E%2E%2E|\.\.%2e%2e)$/)
  })

  it("a doubly encoded dot is an id the pattern refuses (400), not a segment", async () => {
    seen.length = 0
    const answer = await exchange(
      `GET /api/v1/deployments/%252e%252e/environments HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`
    )
    expectRefusal(answer, 400, /^deployment_id must be/)
    expect(seen).toEqual([])
  })
})

describe("HEAD and OPTIONS on every route", () => {
  const routes: ReadonlyArray<readonly [string, string, number, string]> = [
    // path, HEAD's status, OPTIONS's status, the Allow OPTIONS names ("" for a 404)
    ["/api/v1/deployments", "200", 405, "GET"],
    ["/api/v1/deployments/123/environments", "200", 405, "GET"],
    [tokenPath, "405", 405, "POST"],
    ["/api/v1/audit-logs/export", "200", 405, "GET"],
    ["/api/v1/audit-logs/export?format=ndjson", "200", 405, "GET"],
    ["/healthz", "200", 404, ""],
    ["/readyz", "200", 404, ""],
    ["/docs", "200", 404, ""],
    ["/openapi.json", "200", 404, ""],
    ["/metrics", "200", 404, ""],
    ["/api/v1/nope", "404", 404, ""]
  ].map(([path, head, options, allow]) => [String(path), String(head), Number(options), String(allow)] as const)

  it.each(routes)("%s: HEAD %s with no body, OPTIONS %i {error}", async (path, headStatus, optionsStatus, allow) => {
    const headAnswer = await exchange(`HEAD ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`)
    expect({ status: headAnswer.status, body: headAnswer.body }).toEqual({ status: Number(headStatus), body: "" })
    expect(headAnswer.headers["x-content-type-options"]).toBe("nosniff")
    const options = await exchange(`OPTIONS ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`)
    expectRefusal(options, optionsStatus, optionsStatus === 405 ? /^OPTIONS is not allowed/ : /^no such endpoint/)
    expect(options.headers["allow"]).toBe(allow === "" ? undefined : allow)
  })
})
