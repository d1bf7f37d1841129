/**
 * End to end on real ports: the mock Control Plane from @cubeplane/testing
 * (with a distinctive real key in its seed), the proxy in front of it through
 * the real node:http upstream client, and fetch as the caller.
 */
import { MockServer, Seed } from "@cubeplane/testing"
import { Redacted } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { LogEntry } from "../src/App.js"
import type { ProxyConfig } from "../src/Config.js"
import { Metrics } from "../src/Metrics.js"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"
import { catalogKey, key, keyOf } from "./helpers.js"

const realKey = "sk-REAL-UPSTREAM-KEY-7f3a9c1e"

const seed = Seed.make({
  ...Seed.toJson(Seed.demo),
  apiKeys: [{ key: realKey, name: "The proxy's real key", permissions: ["All"] }]
})

const config: ProxyConfig = {
  upstream: { timeoutMs: 2000, retries: 2 },
  cache: { ttlSeconds: 0, maxEntries: 100 },
  keys: [
    key("admin", [{ operations: ["*"] }]),
    catalogKey(),
    key("viewer", [{ operations: ["listDeployments", "listEnvironments"], deployments: ["123"] }])
  ]
}

let mock: MockServer.RunningServer
let proxy: Server.RunningProxy
const logs: Array<LogEntry> = []
/** Every response the tests saw: status, headers and body text, for the key scan. */
const seen: Array<string> = []

const call = async (path: string, init: RequestInit & { key?: string } = {}) => {
  const { key: name, ...rest } = init
  const headers = new Headers(rest.headers)
  if (name !== undefined) headers.set("Authorization", `Bearer ${keyOf(name)}`)
  const response = await fetch(`${proxy.url}${path}`, { ...rest, headers })
  const text = await response.text()
  seen.push(`${response.status} ${JSON.stringify([...response.headers])} ${text}`)
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) }
}

const fault = (body: Record<string, unknown>) =>
  fetch(`${mock.url}/__mock/faults`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body)
  }).then((r) => {
    expect(r.status).toBeLessThan(300)
  })

beforeAll(async () => {
  mock = await MockServer.start({ port: 0, seed })
  const metrics = new Metrics()
  const upstream = Upstream.make(
    { url: mock.url, apiKey: Redacted.make(realKey), timeoutMs: 2000, retries: 2, retryBaseDelayMs: 20 },
    { onAttemptFailed: (operation, kind) => metrics.upstreamErrors.inc([operation, kind]) }
  )
  proxy = await Server.start({ config, upstream, metrics, log: (entry) => logs.push(entry) }, {
    port: 0,
    host: "127.0.0.1"
  })
})

afterEach(async () => {
  await fetch(`${mock.url}/__mock/faults`, { method: "DELETE" })
})

afterAll(async () => {
  await proxy?.close(1000)
  await mock?.close()
})

describe("through the real upstream client", () => {
  it("lists with the real key upstream, never the caller's", async () => {
    mock.store.calls.length = 0
    const response = await call("/api/v1/deployments?limit=2", { key: "admin" })
    expect(response.status).toBe(200)
    expect(response.json().data.deployments.map((d: { id: string }) => d.id)).toEqual(["123", "124"])
    expect(mock.store.calls.map((c) => c.keyName)).toEqual(["The proxy's real key"])
  })

  it("filters lists for a scoped key", async () => {
    const response = await call("/api/v1/deployments", { key: "viewer" })
    expect(response.json()).toEqual({
      data: { deployments: [{ id: "123", name: "My Deployment", created_at: "2024-01-15T10:30:00.000Z" }] },
      pagination: { offset: 0, limit: 20, total: 1 }
    })
    expect((await call("/api/v1/deployments/124/environments", { key: "viewer" })).status).toBe(403)
  })

  it("mints a token within the catalog's grant and writes an audit line without the token", async () => {
    const response = await call("/api/v1/deployments/123/environments/456/tokens-for-meta-sync", {
      key: "catalog",
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ security_context: { tenant_id: "acme" } })
    })
    expect(response.status).toBe(200)
    const token: string = response.json().data.token
    const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"))
    expect(payload.tenant_id).toBe("acme")
    expect(payload.exp - payload.iat).toBe(3600)
    const audit = logs.find((line) => line["audit"] === "token_minted")
    expect(audit).toMatchObject({ key: "catalog", deployment_id: "123", environment_id: "456", expires_in: 3600 })
    expect(JSON.stringify(logs)).not.toContain(token)
  })

  it("converts the export to NDJSON on the fly, one JSON event per CSV row", async () => {
    const csv = await call("/api/v1/audit-logs/export", { key: "admin" })
    const ndjson = await call("/api/v1/audit-logs/export?format=ndjson", { key: "admin" })
    expect(ndjson.headers.get("content-type")).toContain("application/x-ndjson")
    const events = ndjson.text.trimEnd().split("\n").map((line) => JSON.parse(line))
    expect(events.length).toBe(csv.text.trimEnd().split("\r\n").length - 1)
    expect(events[0]).toEqual({
      id: "evt_1",
      timestamp: "2024-01-15T10:30:00.000Z",
      event_name: "Logged in",
      user_email: "user@example.com",
      deployment_id: null,
      deployment_name: null,
      ip_address: "203.0.113.7",
      attributes: { method: "password" }
    })
  })
})

describe("upstream faults from the mock", () => {
  it("a reset connection is retried for a GET", async () => {
    await fault({ operation: "listDeployments", times: 1, reset: true })
    expect((await call("/api/v1/deployments", { key: "admin" })).status).toBe(200)
  })

  it("a lasting reset is a 502 {error}", async () => {
    await fault({ operation: "listDeployments", times: 10, reset: true })
    const response = await call("/api/v1/deployments", { key: "admin" })
    expect(response.status).toBe(502)
    expect(response.json().error).toContain("upstream")
  })

  it("a passing 500 is retried; a lasting one is a 502 that says so", async () => {
    await fault({ operation: "listEnvironments", times: 1, status: 500 })
    expect((await call("/api/v1/deployments/123/environments", { key: "admin" })).status).toBe(200)
    await fault({ operation: "listEnvironments", times: 10, status: 500, error: "database on fire" })
    const response = await call("/api/v1/deployments/123/environments", { key: "admin" })
    expect(response.status).toBe(502)
    expect(response.json().error).toBe("the upstream Control Plane failed with 500: database on fire")
  })

  it("a 429 with a short Retry-After is waited out; a long one is passed on", async () => {
    await fault({ operation: "listDeployments", times: 1, status: 429, retryAfter: 1 })
    expect((await call("/api/v1/deployments", { key: "admin" })).status).toBe(200)
    await fault({ operation: "listDeployments", times: 10, status: 429, retryAfter: 120 })
    const response = await call("/api/v1/deployments", { key: "admin" })
    expect(response.status).toBe(429)
    expect(response.headers.get("retry-after")).toBe("120")
  })

  it("the token POST is never retried after the server may have acted", async () => {
    await fault({ operation: "createMetaSyncToken", times: 1, status: 500 })
    mock.store.calls.length = 0
    const response = await call("/api/v1/deployments/123/environments/456/tokens-for-meta-sync", {
      key: "admin",
      method: "POST",
      body: JSON.stringify({ security_context: {} })
    })
    expect(response.status).toBe(502)
    expect(mock.store.calls.filter((c) => c.operation === "createMetaSyncToken")).toHaveLength(1)
  })

  it("a slow upstream is a 504", async () => {
    await fault({ operation: "listDeployments", times: 3, latencyMs: 3000 })
    const response = await call("/api/v1/deployments", { key: "admin" })
    expect(response.status).toBe(504)
    expect(response.json().error).toContain("timed out")
  })

  it.each(["csv", "ndjson"])(
    "an export cut off mid-stream aborts the %s download instead of ending it cleanly",
    async (format) => {
      await fault({ operation: "exportAuditLog", times: 1, truncateAfterBytes: 700 })
      const response = await fetch(`${proxy.url}/api/v1/audit-logs/export?format=${format}`, {
        headers: { Authorization: `Bearer ${keyOf("admin")}` }
      })
      expect(response.status).toBe(200)
      await expect(response.text()).rejects.toThrow()
    }
  )

  it("an unreachable upstream is a 502 and /readyz says so", async () => {
    const upstream = Upstream.make({
      url: "http://127.0.0.1:9",
      apiKey: Redacted.make(realKey),
      timeoutMs: 500,
      retries: 1,
      retryBaseDelayMs: 10
    })
    const down = await Server.start({ config, upstream, log: (entry) => logs.push(entry) }, {
      port: 0,
      host: "127.0.0.1"
    })
    try {
      const response = await fetch(`${down.url}/api/v1/deployments`, {
        headers: { Authorization: `Bearer ${keyOf("admin")}` }
      })
      const text = await response.text()
      seen.push(text)
      expect(response.status).toBe(502)
      const ready = await fetch(`${down.url}/readyz`)
      expect(ready.status).toBe(503)
      seen.push(await ready.text())
    } finally {
      await down.close(500)
    }
  })
})

describe("the real key never comes back", () => {
  it("is in no response body, header or log line", async () => {
    // A few more requests of every kind, errors included, on top of everything above.
    await call("/api/v1/deployments", { key: "admin" })
    await call("/api/v1/deployments")
    await call("/api/v1/deployments", { headers: { Authorization: `Bearer ${realKey}` } })
    await call("/api/v1/deployments/123/environments?type=nope", { key: "admin" })
    await call("/api/v1/audit-logs/export", { key: "admin" })
    await call("/api/v1/nothing", { key: "admin" })
    await call("/metrics")
    await call("/readyz")
    await call("/openapi.json")
    await call("/docs")
    expect(seen.length).toBeGreaterThan(25)
    for (const response of seen) expect(response).not.toContain(realKey)
    expect(logs.length).toBeGreaterThan(25)
    for (const line of logs) expect(JSON.stringify(line)).not.toContain(realKey)
  })

  it("and the caller presenting the real key to the proxy is refused", async () => {
    const response = await call("/api/v1/deployments", { headers: { Authorization: `Bearer ${realKey}` } })
    expect(response.status).toBe(401)
  })
})
