import { describe, expect, it } from "vitest"
import type { FakeAnswer } from "./helpers.js"
import { baseConfig, deploymentsPage, environmentsPage, harness, key, post, upstreamKey } from "./helpers.js"

const tokenPath = "/api/v1/deployments/123/environments/456/tokens-for-meta-sync"
const tokenAnswer = {
  status: 200,
  body: {
    data: { token: "eyJ.secret.jwt", created_at: "2024-01-15T10:30:00.000Z", expires_at: "2024-01-15T11:30:00.000Z" }
  }
}

const catalogGrant = {
  operations: ["createMetaSyncToken"] as const,
  deployments: ["123"],
  environments: ["456"],
  token: { maxExpiresIn: 3600, securityContext: { tenant_id: "acme" } }
}

const config = baseConfig([
  key("admin", [{ operations: ["*"] }]),
  key("catalog", [catalogGrant]),
  key("viewer", [{ operations: ["listDeployments", "listEnvironments"], deployments: ["123", "125"] }]),
  key("envs", [{ operations: ["listEnvironments"], deployments: ["123"], environments: ["456"] }]),
  key("auditor", [{ operations: ["exportAuditLog"] }])
])

const upstream = (request: { path: string; method: string }) => {
  if (request.path.startsWith("/api/v1/deployments?") || request.path === "/api/v1/deployments") {
    return { status: 200, body: deploymentsPage(["123", "124", "125", "126"]) }
  }
  if (
    request.path.startsWith("/api/v1/deployments/123/environments?") ||
    request.path === "/api/v1/deployments/123/environments"
  ) {
    return { status: 200, body: environmentsPage(["456", "457", "458"]) }
  }
  if (request.path === tokenPath) return tokenAnswer
  if (request.path.startsWith("/api/v1/audit-logs/export")) {
    return {
      status: 200,
      body: "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"
    }
  }
  return { status: 404, body: { error: "not found" } }
}

describe("auth", () => {
  it("refuses a missing key with 401 and never calls upstream", async () => {
    const { calls, request } = harness(config, upstream)
    const response = await request("/api/v1/deployments")
    expect(response.status).toBe(401)
    expect(response.headers.get("www-authenticate")).toContain("Bearer")
    expect(await response.json()).toEqual({ error: expect.stringContaining("Authorization") })
    expect(calls).toHaveLength(0)
  })

  it("refuses an unknown key and a malformed header", async () => {
    const { calls, request } = harness(config, upstream)
    expect((await request("/api/v1/deployments", { headers: { Authorization: "Bearer nope" } })).status).toBe(401)
    expect((await request("/api/v1/deployments", { headers: { Authorization: "Basic abc" } })).status).toBe(401)
    expect((await request("/api/v1/deployments", { headers: { Authorization: "Bearer" } })).status).toBe(401)
    expect(calls).toHaveLength(0)
  })

  it("accepts both Bearer and Api-Key schemes, and sends neither of them upstream", async () => {
    const { calls, request } = harness(config, upstream)
    expect((await request("/api/v1/deployments", { headers: { Authorization: "Api-Key key-admin" } })).status).toBe(200)
    expect((await request("/api/v1/deployments", { key: "admin" })).status).toBe(200)
    expect(JSON.stringify(calls)).not.toContain("key-admin")
  })
})

describe("grants", () => {
  it("operations: allowed when listed, 403 naming the rule otherwise", async () => {
    const { calls, request } = harness(config, upstream)
    expect((await request("/api/v1/audit-logs/export", { key: "auditor" })).status).toBe(200)
    const refused = await request("/api/v1/deployments", { key: "auditor" })
    expect(refused.status).toBe(403)
    expect(await refused.json()).toEqual({
      error: "key \"auditor\" is not granted the operation listDeployments",
      rule: "operations"
    })
    expect(calls).toHaveLength(1)
  })

  it("deployments: other ids get 403", async () => {
    const { request } = harness(config, upstream)
    expect((await request("/api/v1/deployments/123/environments", { key: "viewer" })).status).toBe(200)
    const refused = await request("/api/v1/deployments/999/environments", { key: "viewer" })
    expect(refused.status).toBe(403)
    const body = await refused.json()
    expect(body.rule).toBe("deployments")
    expect(body.error).toContain("deployment 999")
  })

  it("deployments: the deployments list shows only granted ones, with an honest total", async () => {
    const { request } = harness(config, upstream)
    const response = await request("/api/v1/deployments", { key: "viewer" })
    const body = await response.json()
    expect(body.data.deployments.map((d: { id: string }) => d.id)).toEqual(["123", "125"])
    expect(body.pagination).toEqual({ offset: 0, limit: 20, total: 2 })
    const second = await (await request("/api/v1/deployments?offset=1&limit=1", { key: "viewer" })).json()
    expect(second.data.deployments.map((d: { id: string }) => d.id)).toEqual(["125"])
    expect(second.pagination).toEqual({ offset: 1, limit: 1, total: 2 })
  })

  it("deployments: a scoped key walks every upstream page before filtering", async () => {
    const all = Array.from({ length: 250 }, (_, i) => String(1000 + i))
    const { calls, request } = harness(
      baseConfig([key("late", [{ operations: ["listDeployments"], deployments: ["1249", "1001"] }])]),
      (req) => {
        const offset = Number(new URL(`http://x${req.path}`).searchParams.get("offset") ?? 0)
        return { status: 200, body: deploymentsPage(all.slice(offset, offset + 100), offset, all.length) }
      }
    )
    const body = await (await request("/api/v1/deployments", { key: "late" })).json()
    expect(body.data.deployments.map((d: { id: string }) => d.id)).toEqual(["1001", "1249"])
    expect(body.pagination.total).toBe(2)
    expect(calls.map((c) => c.path)).toEqual([
      "/api/v1/deployments?offset=0&limit=100",
      "/api/v1/deployments?offset=100&limit=100",
      "/api/v1/deployments?offset=200&limit=100"
    ])
  })

  it("environments: the list shows only granted environments", async () => {
    const { request } = harness(config, upstream)
    const body = await (await request("/api/v1/deployments/123/environments?type=production", { key: "envs" })).json()
    expect(body.data.environments.map((e: { id: string }) => e.id)).toEqual(["456"])
    expect(body.pagination.total).toBe(1)
  })

  it("a full-access key gets the upstream page untouched", async () => {
    const { calls, request } = harness(config, upstream)
    const body = await (await request("/api/v1/deployments?limit=5&offset=0", { key: "admin" })).json()
    expect(body).toEqual(deploymentsPage(["123", "124", "125", "126"]))
    expect(calls[0]?.path).toBe("/api/v1/deployments?offset=0&limit=5")
  })

  it("environments: a token for another environment gets 403", async () => {
    const { calls, request } = harness(config, upstream)
    const refused = await request(
      "/api/v1/deployments/123/environments/789/tokens-for-meta-sync",
      post({ security_context: { tenant_id: "acme" }, expires_in: 60 }, {
        headers: { Authorization: "Bearer key-catalog" }
      })
    )
    expect(refused.status).toBe(403)
    expect((await refused.json()).rule).toBe("environments")
    expect(calls).toHaveLength(0)
  })

  it("token.max_expires_in: at most the maximum; omitted means the maximum, not 24 h", async () => {
    const { calls, request } = harness(config, upstream)
    const auth = { headers: { Authorization: "Bearer key-catalog", "Content-Type": "application/json" } }
    expect((await request(tokenPath, post({ security_context: { tenant_id: "acme" }, expires_in: 3600 }, auth))).status)
      .toBe(200)
    const refused = await request(tokenPath, post({ security_context: { tenant_id: "acme" }, expires_in: 3601 }, auth))
    expect(refused.status).toBe(403)
    expect(await refused.json()).toEqual({
      error: "key \"catalog\" may mint tokens for at most 3600 seconds; expires_in 3601 is more",
      rule: "token.max_expires_in"
    })
    expect((await request(tokenPath, post({ security_context: { tenant_id: "acme" } }, auth))).status).toBe(200)
    expect(calls.map((c) => c.body && JSON.parse(c.body).expires_in)).toEqual([3600, 3600])
  })

  it("token.security_context: required values must match exactly", async () => {
    const { calls, request } = harness(config, upstream)
    const auth = { headers: { Authorization: "Bearer key-catalog", "Content-Type": "application/json" } }
    const wrong = await request(tokenPath, post({ security_context: { tenant_id: "globex" }, expires_in: 60 }, auth))
    expect(wrong.status).toBe(403)
    expect(await wrong.json()).toEqual({
      error: "key \"catalog\" may only mint tokens with security_context.tenant_id = \"acme\"; got \"globex\"",
      rule: "token.security_context.tenant_id"
    })
    const missing = await request(tokenPath, post({ security_context: { region: "eu" }, expires_in: 60 }, auth))
    expect((await missing.json()).error).toContain("it is missing")
    const extra = await request(
      tokenPath,
      post({ security_context: { tenant_id: "acme", region: "eu" }, expires_in: 60 }, auth)
    )
    expect(extra.status).toBe(200)
    expect(calls).toHaveLength(1)
  })

  it("token scopes and the reserved cubeCloud claim are refused", async () => {
    const { calls, request } = harness(config, upstream)
    const auth = { headers: { Authorization: "Bearer key-catalog", "Content-Type": "application/json" } }
    const scopes = await request(tokenPath, post({ security_context: { tenant_id: "acme" }, scopes: ["data"] }, auth))
    expect((await scopes.json()).rule).toBe("token.scopes")
    const reserved = await request(
      tokenPath,
      post({ security_context: { tenant_id: "acme", cubeCloud: { scopes: ["data"] } } }, auth)
    )
    expect((await reserved.json()).rule).toBe("token.security_context.cubeCloud")
    expect(calls).toHaveLength(0)
  })

  it("a minted token gets an audit line with the facts but not the token", async () => {
    const { logs, request } = harness(config, upstream)
    const response = await request(
      tokenPath,
      post({ security_context: { tenant_id: "acme" }, expires_in: 600 }, {
        headers: { Authorization: "Bearer key-catalog", "Content-Type": "application/json" }
      })
    )
    expect((await response.json()).data.token).toBe("eyJ.secret.jwt")
    const audit = logs.find((line) => line["audit"] === "token_minted")
    expect(audit).toMatchObject({
      key: "catalog",
      deployment_id: "123",
      environment_id: "456",
      security_context: { tenant_id: "acme" },
      expires_in: 600,
      expires_at: "2024-01-15T11:30:00.000Z"
    })
    expect(JSON.stringify(logs)).not.toContain("eyJ.secret.jwt")
  })
})

describe("validation", () => {
  const cases: Array<[string, string, RequestInit]> = [
    ["negative offset", "/api/v1/deployments?offset=-1", {}],
    ["fractional limit", "/api/v1/deployments?limit=1.5", {}],
    ["zero limit", "/api/v1/deployments?limit=0", {}],
    ["text limit", "/api/v1/deployments?limit=ten", {}],
    ["repeated parameter", "/api/v1/deployments?limit=1&limit=2", {}],
    ["unknown parameter", "/api/v1/deployments?limt=5", {}],
    ["unknown environment type", "/api/v1/deployments/123/environments?type=prod", {}],
    ["bad deployment id", "/api/v1/deployments/12%203/environments", {}],
    ["bad date", "/api/v1/audit-logs/export?start=yesterday", {}],
    ["bad format", "/api/v1/audit-logs/export?format=xml", {}],
    ["non-JSON body", tokenPath, post("{not json")],
    ["JSON that is not an object", tokenPath, post("[1,2]")],
    ["body without security_context", tokenPath, post({ expires_in: 60 })],
    ["security_context of the wrong type", tokenPath, post({ security_context: "acme" })],
    ["expires_in of the wrong type", tokenPath, post({ security_context: {}, expires_in: "soon" })],
    ["negative expires_in", tokenPath, post({ security_context: {}, expires_in: -5 })],
    ["empty body", tokenPath, { method: "POST" }],
    [
      "bad environment id",
      "/api/v1/deployments/123/environments/%E2%9C%93/tokens-for-meta-sync",
      post({ security_context: {} })
    ]
  ]
  it.each(cases)("%s gets 400 {error} from the proxy, nothing reaches upstream", async (_, path, init) => {
    const { calls, request } = harness(config, upstream)
    const response = await request(path, { ...init, key: "admin" })
    expect(response.status).toBe(400)
    const body = await response.json()
    expect(typeof body.error).toBe("string")
    expect(body.error.length).toBeGreaterThan(5)
    expect(calls).toHaveLength(0)
  })

  it("says what is wrong", async () => {
    const { request } = harness(config, upstream)
    expect((await (await request("/api/v1/deployments?limt=5", { key: "admin" })).json()).error).toBe(
      "unknown query parameter \"limt\" (allowed: offset, limit)"
    )
    const body = await (await request(tokenPath, { ...post({ expires_in: 60 }), key: "admin" })).json()
    expect(body.error).toContain("security_context")
  })

  it("a body over 64 KB gets 413, declared or not", async () => {
    const { calls, request } = harness(config, upstream)
    const big = JSON.stringify({ security_context: { blob: "x".repeat(70 * 1024) } })
    expect((await request(tokenPath, { ...post(big), key: "admin" })).status).toBe(413)
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode("x".repeat(4096)))
        controller.close()
      }
    })
    // A streamed body without Content-Length; undici wants `duplex` for it, which lib.dom does not declare.
    const streamed: RequestInit & { duplex: "half" } = { method: "POST", body: chunked, duplex: "half" }
    const response = await request(tokenPath, { ...streamed, key: "admin" })
    expect(response.status).toBe(413)
    expect(calls).toHaveLength(0)
  })

  it("unknown paths get 404, wrong methods 405 with Allow", async () => {
    const { calls, request } = harness(config, upstream)
    const missing = await request("/api/v1/nothing", { key: "admin" })
    expect(missing.status).toBe(404)
    expect((await missing.json()).error).toContain("no such endpoint")
    const wrong = await request("/api/v1/deployments", { method: "DELETE", key: "admin" })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get("allow")).toBe("GET")
    const getToken = await request(tokenPath, { key: "admin" })
    expect(getToken.status).toBe(405)
    expect(getToken.headers.get("allow")).toBe("POST")
    expect((await request("/elsewhere")).status).toBe(404)
    expect(calls).toHaveLength(0)
  })

  it("forwards only the validated parameters, re-encoded", async () => {
    const { calls, request } = harness(config, upstream)
    await request("/api/v1/audit-logs/export?eventName=Logged+in&start=2024-01-01&format=csv", { key: "admin" })
    expect(calls[0]?.path).toBe("/api/v1/audit-logs/export?start=2024-01-01&eventName=Logged+in")
  })
})

describe("rate limits", () => {
  it("counts per key per window, answers 429 with Retry-After and RateLimit headers, resets with time", async () => {
    let now = 1_000_000
    const { calls, metrics, request } = harness(
      baseConfig([
        key("limited", [{ operations: ["*"] }], { requests: 2, windowSeconds: 10 }),
        key("other", [{ operations: ["*"] }], { requests: 2, windowSeconds: 10 })
      ]),
      upstream,
      { now: () => now }
    )
    const first = await request("/api/v1/deployments", { key: "limited" })
    expect(first.headers.get("ratelimit-limit")).toBe("2")
    expect(first.headers.get("ratelimit-remaining")).toBe("1")
    expect(first.headers.get("ratelimit-reset")).toBe("10")
    now += 4000
    expect((await request("/api/v1/deployments", { key: "limited" })).headers.get("ratelimit-remaining")).toBe("0")
    const refused = await request("/api/v1/deployments", { key: "limited" })
    expect(refused.status).toBe(429)
    expect(refused.headers.get("retry-after")).toBe("6")
    expect(refused.headers.get("ratelimit-reset")).toBe("6")
    expect((await refused.json()).error).toContain("rate limited")
    expect((await request("/api/v1/deployments", { key: "other" })).status).toBe(200)
    now += 6000
    expect((await request("/api/v1/deployments", { key: "limited" })).status).toBe(200)
    expect(calls).toHaveLength(4)
    expect(metrics.render()).toContain("cubeplane_proxy_rate_limited_total{key=\"limited\"} 1")
  })
})

describe("cache", () => {
  it("HIT within the TTL, MISS after, separate per scope", async () => {
    let now = 0
    const { calls, request } = harness(
      baseConfig([
        key("admin", [{ operations: ["*"] }]),
        key("admin2", [{ operations: ["*"] }]),
        key("viewer", [{ operations: ["listDeployments"], deployments: ["123"] }])
      ], 10),
      upstream,
      { now: () => now }
    )
    const miss = await request("/api/v1/deployments", { key: "admin" })
    expect(miss.headers.get("x-cache")).toBe("MISS")
    const hit = await request("/api/v1/deployments", { key: "admin" })
    expect(hit.headers.get("x-cache")).toBe("HIT")
    expect(await hit.json()).toEqual(await miss.json())
    // Same scope (everything): shared.
    expect((await request("/api/v1/deployments", { key: "admin2" })).headers.get("x-cache")).toBe("HIT")
    // Another scope never sees the full list.
    const scoped = await request("/api/v1/deployments", { key: "viewer" })
    expect(scoped.headers.get("x-cache")).toBe("MISS")
    expect((await scoped.json()).data.deployments).toHaveLength(1)
    // Other query: another entry.
    expect((await request("/api/v1/deployments?limit=2", { key: "admin" })).headers.get("x-cache")).toBe("MISS")
    now += 10_000
    expect((await request("/api/v1/deployments", { key: "admin" })).headers.get("x-cache")).toBe("MISS")
    expect(calls).toHaveLength(4)
  })

  it("never caches tokens, the audit log or errors", async () => {
    let fail = true
    const { calls, request } = harness(
      baseConfig([key("admin", [{ operations: ["*"] }])], 60),
      (req) =>
        fail && req.path.startsWith("/api/v1/deployments?") ? { status: 404, body: { error: "x" } } : upstream(req)
    )
    await request("/api/v1/deployments?limit=3", { key: "admin" })
    fail = false
    expect((await request("/api/v1/deployments?limit=3", { key: "admin" })).status).toBe(200)
    const e1 = await request("/api/v1/audit-logs/export", { key: "admin" })
    expect(e1.headers.get("x-cache")).toBeNull()
    await request("/api/v1/audit-logs/export", { key: "admin" })
    const tokenInit = { ...post({ security_context: {} }), key: "admin" }
    expect((await request(tokenPath, tokenInit)).headers.get("x-cache")).toBeNull()
    await request(tokenPath, tokenInit)
    expect(calls).toHaveLength(6)
  })
})

describe("upstream failures", () => {
  it("5xx becomes 502, a timeout 504, a refused connection 502, each {error}", async () => {
    const answers: Array<FakeAnswer> = [
      { status: 500, body: { error: "boom" } },
      { fail: "timeout" },
      { fail: "refused" }
    ]
    const { request } = harness(config, () => answers.shift() ?? { status: 200 })
    const server = await request("/api/v1/deployments", { key: "admin" })
    expect(server.status).toBe(502)
    expect((await server.json()).error).toContain("500: boom")
    const timeout = await request("/api/v1/deployments", { key: "admin" })
    expect(timeout.status).toBe(504)
    expect((await timeout.json()).error).toContain("timed out")
    const refused = await request("/api/v1/deployments", { key: "admin" })
    expect(refused.status).toBe(502)
  })

  it("the upstream rejecting the proxy's own key is a 502 that says so, not a 401 blaming the caller", async () => {
    const { request } = harness(config, () => ({ status: 401, body: { error: `bad key ${upstreamKey}` } }))
    const response = await request("/api/v1/deployments", { key: "admin" })
    expect(response.status).toBe(502)
    const body = await response.json()
    expect(body.error).toContain("proxy's own API key")
    expect(body.error).not.toContain(upstreamKey)
    expect(body.error).toContain("[REDACTED]")
  })

  it("passes a 429 on with its Retry-After, and a 404 as a 404", async () => {
    const answers = [
      { status: 429, body: { error: "slow down" }, headers: { "retry-after": "30" } },
      { status: 404, body: { error: "Deployment 123 not found" } }
    ]
    const { request } = harness(config, () => answers.shift() ?? { status: 200 })
    const limited = await request("/api/v1/deployments", { key: "admin" })
    expect(limited.status).toBe(429)
    expect(limited.headers.get("retry-after")).toBe("30")
    const missing = await request("/api/v1/deployments/123/environments", { key: "admin" })
    expect(missing.status).toBe(404)
    expect((await missing.json()).error).toContain("Deployment 123 not found")
  })
})

describe("operations", () => {
  it("logs one JSON access line per request without keys or tokens", async () => {
    const { logs, request } = harness(config, upstream)
    await request("/api/v1/deployments", { key: "admin", headers: { "X-Request-Id": "req-42" } })
    await request("/api/v1/deployments")
    const access = logs.filter((line) => line["msg"] === "request")
    expect(access).toHaveLength(2)
    expect(access[0]).toMatchObject({
      request_id: "req-42",
      key: "admin",
      operation: "listDeployments",
      method: "GET",
      path: "/api/v1/deployments",
      status: 200
    })
    expect(typeof access[0]?.["duration_ms"]).toBe("number")
    expect(access[1]).toMatchObject({ key: null, status: 401 })
    expect(JSON.stringify(logs)).not.toContain("key-admin")
  })

  it("answers with the request id it was given, or a new one", async () => {
    const { request } = harness(config, upstream)
    expect((await request("/healthz", { headers: { "X-Request-Id": "abc" } })).headers.get("x-request-id")).toBe("abc")
    expect((await request("/healthz", { headers: { "X-Request-Id": "bad id\u0001" } })).headers.get("x-request-id"))
      .toMatch(/^[0-9a-f-]{36}$/)
  })

  it("serves Prometheus metrics", async () => {
    const { request } = harness(baseConfig([key("admin", [{ operations: ["*"] }])], 10), upstream)
    await request("/api/v1/deployments", { key: "admin" })
    await request("/api/v1/deployments", { key: "admin" })
    await request("/api/v1/deployments")
    const text = await (await request("/metrics")).text()
    expect(text).toContain(
      "cubeplane_proxy_requests_total{operation=\"listDeployments\",status=\"200\",key=\"admin\"} 2"
    )
    expect(text).toContain("cubeplane_proxy_requests_total{operation=\"listDeployments\",status=\"401\",key=\"\"} 1")
    expect(text).toContain(
      "cubeplane_proxy_request_duration_seconds_bucket{operation=\"listDeployments\",le=\"+Inf\"} 3"
    )
    expect(text).toContain("cubeplane_proxy_cache_requests_total{operation=\"listDeployments\",result=\"hit\"} 1")
  })

  it("serves /healthz, /readyz and the OpenAPI document with the proxy's security scheme", async () => {
    const { request } = harness(config, upstream)
    expect(await (await request("/healthz")).json()).toEqual({ status: "ok" })
    const ready = await request("/readyz")
    expect(ready.status).toBe(200)
    const spec = await (await request("/openapi.json")).json()
    expect(spec.components.securitySchemes.proxyKey).toMatchObject({ type: "http", scheme: "bearer" })
    expect(Object.keys(spec.paths)).toEqual([
      "/api/v1/deployments",
      "/api/v1/deployments/{deployment_id}/environments",
      "/api/v1/deployments/{deployment_id}/environments/{environment_id}/tokens-for-meta-sync",
      "/api/v1/audit-logs/export"
    ])
    const html = await (await request("/docs")).text()
    expect(html).toContain("/openapi.json")
    expect(html).not.toMatch(/<script[^>]+src=/)
  })

  it("/readyz is 503 when the upstream is down or rejects the proxy's key", async () => {
    let now = 0
    const answers: Array<FakeAnswer> = [
      { fail: "refused" },
      { status: 401, body: { error: "no" } }
    ]
    const { request } = harness(config, () => answers.shift() ?? { status: 200, body: {} }, { now: () => now })
    expect((await request("/readyz")).status).toBe(503)
    now += 1000
    const rejected = await request("/readyz")
    expect(rejected.status).toBe(503)
    expect((await rejected.json()).error).toContain("CUBE_API_KEY")
  })
})

describe("nothing the client sends makes a 500", () => {
  it("survives junk paths, queries, headers and bodies", async () => {
    const { calls, request } = harness(config, upstream)
    const junk = [
      "/api/v1/deployments/%ZZ/environments",
      "/api/v1/deployments/%2F..%2F/environments",
      "/api/v1/deployments/%00/environments",
      `/api/v1/deployments/${"9".repeat(5000)}/environments`,
      "/api/v1/deployments?limit=%ZZ",
      "/api/v1/deployments?offset=1e3",
      "/api/v1/deployments?offset=0x10",
      "/api/v1/deployments?limit=99999999999999999999999",
      "/api/v1/deployments?&&&=",
      "/api/v1/deployments/123/environments?type=",
      "/api/v1/audit-logs/export?start=2024-13-45",
      "/api/v1/audit-logs/export?userEmail=%F0%9F%92%A9&search=%00",
      "/api/v1//deployments",
      "/api/v1/deployments/123/environments/456/tokens-for-meta-sync/extra"
    ]
    for (const path of junk) {
      const response = await request(path, { key: "admin" })
      expect(response.status, path).toBeLessThan(500)
      if (response.status !== 200) expect(typeof (await response.json()).error, path).toBe("string")
    }
    const bodies = [
      "null",
      "\"text\"",
      "{\"security_context\": null}",
      "{\"security_context\": {}, \"expires_in\": 1e400}",
      "{\"security_context\": {\"a\": {\"b\": [1, {\"c\": null}]}}, \"expires_in\": 1.5}",
      "\u0000\u0001",
      "{\"__proto__\": {\"x\": 1}}"
    ]
    for (const body of bodies) {
      const response = await request(tokenPath, { method: "POST", body, key: "admin" })
      expect(response.status, body).toBeLessThan(500)
    }
    const headers = [{ Authorization: "Bearer " + "x".repeat(100_000) }, { Authorization: "Bearer \u00ff" }, {
      "X-Request-Id": "x".repeat(10_000)
    }]
    for (const extra of headers) {
      const response = await request("/api/v1/deployments", { headers: extra })
      expect(response.status).toBeLessThan(500)
    }
    // Only well-formed requests reached the upstream.
    for (const call of calls) expect(call.path).toMatch(/^\/api\/v1\/(deployments|audit-logs)/)
  })
})
