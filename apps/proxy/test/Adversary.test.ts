/**
 * A second adversarial pass on real ports: a hostile upstream (compressed
 * answers) and callers that put keys where keys do not belong (a path, a
 * query value, a request id) — what reaches the caller and what reaches the
 * log.
 */
import { Redacted } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { gzipSync } from "node:zlib"
import { afterAll, describe, expect, it } from "vitest"
import type { LogEntry } from "../src/Log.js"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"
import { baseConfig, catalogKey, fakeUpstream, key, keyOf, upstreamKey } from "./helpers.js"

const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.splice(0)) await close()
})

/** A real upstream; it records the request headers it got. */
const startUpstream = async (answer: (request: http.IncomingMessage, response: http.ServerResponse) => void) => {
  const seen: Array<http.IncomingHttpHeaders> = []
  const server = http.createServer((request, response) => {
    seen.push(request.headers)
    answer(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  closers.push(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

const startProxy = async (url: string) => {
  const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 5_000, retries: 1 })
  const logs: Array<LogEntry> = []
  const config = baseConfig([key("admin", [{ operations: ["*"] }])])
  const proxy = await Server.start({ config, upstream, log: (entry) => logs.push(entry) }, {
    port: 0,
    host: "127.0.0.1"
  })
  closers.push(() => proxy.close(0))
  return { proxy, logs }
}

const get = async (base: string, path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${keyOf("admin")}`, ...headers } })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

describe("a hostile upstream: compressed answers", () => {
  it("asks for identity, and a gzip answer (the key inside) is a 502 naming it, not bytes no check could read", async () => {
    const deployments = JSON.stringify({
      data: { deployments: [{ id: "123", name: upstreamKey, created_at: "2024-01-15T10:30:00.000Z" }] },
      pagination: { offset: 0, limit: 20, total: 1 }
    })
    const csv = `id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\n` +
      `evt_1,2024-01-15T10:30:00.000Z,Logged in,${upstreamKey},,,203.0.113.7,{}\n`
    const { seen, url } = await startUpstream((request, response) => {
      const isExport = (request.url ?? "").includes("export")
      const body = gzipSync(isExport ? csv : deployments)
      response.writeHead(200, {
        "Content-Type": isExport ? "text/csv" : "application/json",
        "Content-Encoding": "gzip",
        "Content-Length": body.length
      })
      response.end(body)
    })
    const { proxy } = await startProxy(url)
    for (
      const path of ["/api/v1/deployments", "/api/v1/audit-logs/export", "/api/v1/audit-logs/export?format=ndjson"]
    ) {
      const answer = await get(proxy.url, path)
      expect({ path, status: answer.status }).toEqual({ path, status: 502 })
      expect(JSON.parse(answer.text).error).toContain("`Content-Encoding: gzip`")
      expect(answer.text).not.toContain(upstreamKey)
    }
    // Every request asked for the body as it is; a compressed answer is not worth a retry.
    expect(seen.map((headers) => headers["accept-encoding"])).toEqual(["identity", "identity", "identity"])
  })
})

describe("keys where keys do not belong: never echoed, never logged", () => {
  const keygenKey = "cpk_Vb0mAdversary0123456789abcdefghijklmnopqrs"
  const plainKey = keyOf("admin")

  it("a key in a query value, a path, a path id the upstream echoes, or a request id", async () => {
    const { url } = await startUpstream((request, response) => {
      const id = decodeURIComponent((request.url ?? "").split("/")[4] ?? "")
      response.writeHead(404, { "Content-Type": "application/json" })
      response.end(JSON.stringify({ error: `Deployment ${id} not found` }))
    })
    const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 5_000, retries: 0 })
    const logs: Array<LogEntry> = []
    const config = baseConfig([
      key("admin", [{ operations: ["*"] }]),
      { name: "keygen", hash: (await import("../src/Keys.js")).hash(keygenKey), grants: [{ operations: ["*"] }] }
    ])
    const proxy = await Server.start({ config, upstream, log: (entry) => logs.push(entry) }, {
      port: 0,
      host: "127.0.0.1"
    })
    closers.push(() => proxy.close(0))
    // The key of the request in any of those places, and a `cpk_` key whatever the request's key is.
    // (Another request's key that is not a `cpk_` key cannot be recognised: that case is not tried.)
    const cases = [[plainKey, [plainKey, keygenKey]], [keygenKey, [keygenKey]]] as const
    for (const [presented, leakedKeys] of cases) {
      const answers: Array<string> = []
      logs.length = 0
      for (const leaked of leakedKeys) {
        const auth = { Authorization: `Bearer ${presented}` }
        const paths = [
          `/api/v1/deployments?api_key=${leaked}`,
          `/api/v1/deployments?limit=${leaked}`,
          `/api/v1/deployments/123/environments?type=${leaked}`,
          `/api/v1/audit-logs/export?start=${leaked}`,
          `/api/v1/deployments/${leaked}/environments`,
          `/api/v1/${leaked}`
        ]
        for (const path of paths) {
          const answer = await get(proxy.url, path, auth)
          // Refused as a bad request or an unknown path: never a 500.
          expect([400, 404]).toContain(answer.status)
          answers.push(answer.text, answer.headers.get("x-request-id") ?? "")
        }
        const withId = await get(proxy.url, "/api/v1/deployments/123/environments?type=x", {
          ...auth,
          "X-Request-Id": leaked
        })
        expect(withId.status).toBe(400)
        // Not echoed either: the id is a fresh one.
        answers.push(withId.text, withId.headers.get("x-request-id") ?? "")
        expect(withId.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
      }
      const everything = JSON.stringify(logs) + answers.join("\n")
      expect(logs.length).toBe(7 * leakedKeys.length)
      expect(everything).toContain("[REDACTED]")
      for (const leaked of leakedKeys) expect(everything).not.toContain(leaked)
      expect(everything).not.toContain("cpk_Vb0m")
    }
  })
})

describe("token-policy bypasses, through a real port", () => {
  it("expires_in and security_context in every odd form: refused with a message saying what to send, or checked as sent", async () => {
    const { calls, upstream } = fakeUpstream(() => ({ status: 200, body: { data: { token: "t" } } }))
    const proxy = await Server.start({ config: baseConfig([catalogKey()]), upstream, log: () => undefined }, {
      port: 0,
      host: "127.0.0.1"
    })
    closers.push(() => proxy.close(0))
    const mint = async (body: string) => {
      const response = await fetch(`${proxy.url}/api/v1/deployments/123/environments/456/tokens-for-meta-sync`, {
        method: "POST",
        headers: { Authorization: `Bearer ${keyOf("catalog")}`, "Content-Type": "application/json" },
        body
      })
      return { status: response.status, error: String(Object(await response.json()).error) }
    }
    const acme = `"security_context":{"tenant_id":"acme"}`
    const cases: ReadonlyArray<readonly [string, number, string]> = [
      [`{${acme},"expires_in":-1}`, 400, "expires_in: Expected a whole number of seconds ≥ 1, actual -1"],
      [`{${acme},"expires_in":0}`, 400, "expires_in: Expected a whole number of seconds ≥ 1, actual 0"],
      [`{${acme},"expires_in":"60"}`, 400, "expires_in: Expected number"],
      [`{${acme},"expires_in":60.5}`, 400, "expires_in: Expected an integer"],
      [`{${acme},"expires_in":1e400}`, 400, "expires_in: Expected an integer"],
      [`{${acme},"expires_in":null}`, 400, "expires_in: Expected number"],
      [`{${acme},"expires_in":3601}`, 403, "at most 3600 seconds"],
      [`{${acme},"expires_in":36e2}`, 200, ""],
      [`{"security_context":[],"expires_in":60}`, 400, "security_context:"],
      [`{"security_context":null}`, 400, "security_context:"],
      [`{"security_context":5}`, 400, "security_context:"],
      [`{"security_context":{"tenant_id":"acme","tenant\\u005fid":"evil"}}`, 403, "got \"evil\""],
      [`{"security_context":{"tenant_id":["acme"]}}`, 403, "got [\"acme\"]"],
      [`{"security_context":{"tenant_id":{"toString":"acme"}}}`, 403, "got {\"toString\":\"acme\"}"],
      [
        `{"security_context":{"tenant_id":"acme","constructor":{"prototype":{}}}}`,
        400,
        "\"constructor\" is not allowed"
      ],
      [`{"security_context":{"tenant_id":"acm\\u0065","toString":"x","valueOf":1}}`, 200, ""]
    ]
    for (const [body, status, error] of cases) {
      const answer = await mint(body)
      expect({ body, status: answer.status }).toEqual({ body, status })
      expect(answer.error).toContain(error)
    }
    // What was sent upstream is what was checked: only the two accepted bodies, re-encoded.
    expect(calls.map((call) => call.body)).toEqual([
      `{"security_context":{"tenant_id":"acme"},"expires_in":3600}`,
      `{"security_context":{"tenant_id":"acme","toString":"x","valueOf":1},"expires_in":3600}`
    ])
  })
})

describe("a hostile upstream: a 429's Retry-After", () => {
  it("huge, far-future, negative or garbage: the caller gets a valid Retry-After of at most an hour, or none", async () => {
    const waits = ["999999999", "99999999999999999999999", "Wed, 21 Oct 2099 07:28:00 GMT", "-5", "soon", "7"]
    let next = 0
    const { url } = await startUpstream((_request, response) => {
      response.writeHead(429, { "Content-Type": "application/json", "Retry-After": waits[next++ % waits.length]! })
      response.end(JSON.stringify({ error: "slow down" }))
    })
    const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 5_000, retries: 0 })
    const proxy = await Server.start({
      config: baseConfig([key("admin", [{ operations: ["*"] }])]),
      upstream,
      log: () => undefined
    }, { port: 0, host: "127.0.0.1" })
    closers.push(() => proxy.close(0))
    const seen: Array<string | null> = []
    for (const _ of waits) {
      const answer = await get(proxy.url, "/api/v1/deployments")
      expect(answer.status).toBe(429)
      seen.push(answer.headers.get("retry-after"))
    }
    expect(seen).toEqual(["3600", "3600", "3600", "0", null, "7"])
  })
})

describe("a hostile upstream: the Content-Type it sends", () => {
  it("a list passed through as it came keeps a JSON type; text/html is served as application/json", async () => {
    const types = ["application/json; charset=utf-8", "text/html", "application/json-seq"]
    let next = 0
    const { url } = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": types[next++]! })
      response.end(JSON.stringify({ data: { deployments: [] }, note: "<script>alert(1)</script>" }))
    })
    const { proxy } = await startProxy(url)
    const seen: Array<string | null> = []
    for (const _ of types) seen.push((await get(proxy.url, "/api/v1/deployments")).headers.get("content-type"))
    expect(seen).toEqual(["application/json; charset=utf-8", "application/json", "application/json"])
  })

  it("a CSV type is kept; text/html (or anything else) is served as text/csv, not as a page on the proxy's origin", async () => {
    const types = ["text/csv; charset=utf-8; header=present", "text/html; charset=utf-8", "application/javascript"]
    let next = 0
    const { url } = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": types[next++]! })
      response.end("<html><script>alert(document.cookie)</script></html>\n")
    })
    const { proxy } = await startProxy(url)
    const seen: Array<string | null> = []
    for (const _ of types) {
      const answer = await get(proxy.url, "/api/v1/audit-logs/export")
      expect(answer.status).toBe(200)
      seen.push(answer.headers.get("content-type"))
    }
    expect(seen).toEqual([
      "text/csv; charset=utf-8; header=present",
      "text/csv; charset=utf-8",
      "text/csv; charset=utf-8"
    ])
  })
})

describe("a hostile upstream: an export that stalls before its first bytes came through", () => {
  it("is a 502 {error} naming the stall (CSV and NDJSON), not a connection closed without an answer", async () => {
    const { url } = await startUpstream((_request, response) => {
      // The head and a few bytes, then nothing: the bytes are fewer than the redactor holds back.
      response.writeHead(200, { "Content-Type": "text/csv" })
      // (A header row cut short: a whole one that is not an export's is refused as such, see Leftovers.test.ts.)
      response.write("id,timestamp,event")
    })
    const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 300, retries: 0 })
    const logs: Array<LogEntry> = []
    const proxy = await Server.start({
      config: baseConfig([key("admin", [{ operations: ["*"] }])]),
      upstream,
      log: (entry) => logs.push(entry)
    }, { port: 0, host: "127.0.0.1" })
    closers.push(() => proxy.close(0))
    for (const path of ["/api/v1/audit-logs/export", "/api/v1/audit-logs/export?format=ndjson"]) {
      const answer = await get(proxy.url, path)
      expect({ path, status: answer.status, type: answer.headers.get("content-type") }).toEqual({
        path,
        status: 502,
        type: "application/json"
      })
      expect(JSON.parse(answer.text).error).toBe(
        "the upstream Control Plane failed: the server sent nothing for 300 ms"
      )
      expect(answer.headers.get("x-request-id")).not.toBeNull()
    }
    expect(logs.filter((entry) => entry["msg"] === "export failed before its first bytes: answered 502")).toHaveLength(
      2
    )
  })
})
