/**
 * The proxy in front of the mock in BOTH wire shapes — the reference page's
 * and Cube's platform document's — on real ports: full-access and scoped
 * keys get their rows (a scoped key's filtering walks every upstream page,
 * by offset or by cursor), tokens are minted within the grant, and the
 * export converts to NDJSON. Bodies are read with core's own list schemas,
 * which decode either shape.
 */
import * as Domain from "@cubeplane/core/Domain"
import { MockServer, Seed } from "@cubeplane/testing"
import { Redacted, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ProxyConfig } from "../src/Config.js"
import { Metrics } from "../src/Metrics.js"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"
import { catalogKey, key, keyOf } from "./helpers.js"

const realKey = "sk-REAL-UPSTREAM-KEY-shapes-51d0"

/** 260 generated deployments (123, then 1000–1258), so a scoped key's list spans many upstream pages. */
const seed = () =>
  Seed.make({
    ...Seed.toJson(Seed.generate({ deployments: 260 })),
    apiKeys: [{ key: realKey, name: "The proxy's real key", permissions: ["All"] }]
  })

const config: ProxyConfig = {
  upstream: { timeoutMs: 5000, retries: 2 },
  cache: { ttlSeconds: 0, maxEntries: 100 },
  keys: [
    key("admin", [{ operations: ["*"] }]),
    catalogKey(),
    key("viewer", [{ operations: ["listDeployments", "listEnvironments"], deployments: ["123", "1258"] }])
  ]
}

const decodeDeployments = Schema.decodeUnknownSync(Domain.DeploymentList)
const decodeEnvironments = Schema.decodeUnknownSync(Domain.EnvironmentList)

describe.each(["reference", "platform"] as const)("the proxy on a mock in the %s shape", (shape) => {
  let mock: MockServer.RunningServer
  let proxy: Server.RunningProxy

  beforeAll(async () => {
    mock = await MockServer.start({ port: 0, seed: seed(), shape })
    const upstream = Upstream.make({
      url: mock.url,
      apiKey: Redacted.make(realKey),
      timeoutMs: 5000,
      retries: 2,
      retryBaseDelayMs: 20
    })
    proxy = await Server.start({ config, upstream, metrics: new Metrics(), log: () => undefined }, {
      port: 0,
      host: "127.0.0.1"
    })
  })
  afterAll(async () => {
    await proxy?.close(1000)
    await mock?.close()
  })

  const call = async (path: string, name: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers)
    headers.set("Authorization", `Bearer ${keyOf(name)}`)
    const response = await fetch(`${proxy.url}${path}`, { ...init, headers })
    const text = await response.text()
    expect(text).not.toContain(realKey)
    return { status: response.status, text, json: (): unknown => JSON.parse(text) }
  }

  it("a full-access key lists deployments in the upstream's shape", async () => {
    const response = await call("/api/v1/deployments?limit=5", "admin")
    expect(response.status).toBe(200)
    expect(decodeDeployments(response.json()).items.map((d) => d.id)).toEqual(["123", "1000", "1001", "1002", "1003"])
  })

  it("a scoped key sees only its deployments, found across every upstream page", async () => {
    mock.store.calls.length = 0
    const response = await call("/api/v1/deployments", "viewer")
    expect(response.status).toBe(200)
    expect(decodeDeployments(response.json()).items.map((d) => d.id)).toEqual(["123", "1258"])
    const upstreamRequests = mock.store.calls.filter((c) => c.operation === "listDeployments").map((c) => c.arguments)
    expect(upstreamRequests.length).toBeGreaterThan(1)
    if (shape === "platform") {
      for (const request of upstreamRequests.slice(1)) expect(request).toHaveProperty("after")
    }
    const environments = await call("/api/v1/deployments/123/environments", "viewer")
    expect(decodeEnvironments(environments.json()).items.map((e) => e.id)).toContain("456")
    expect((await call("/api/v1/deployments/124/environments", "viewer")).status).toBe(403)
  })

  it("mints a token within the catalog's grant, and refuses one outside it", async () => {
    const mint = (context: Record<string, unknown>) =>
      call("/api/v1/deployments/123/environments/456/tokens-for-meta-sync", "catalog", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ security_context: context, expires_in: 600 })
      })
    const ok = await mint({ tenant_id: "acme" })
    expect(ok.status).toBe(200)
    const token = Schema.decodeUnknownSync(Domain.MetaSyncTokenResponse)(ok.json())
    expect(Redacted.value(token.token).split(".")).toHaveLength(3)
    expect((await mint({ tenant_id: "evil" })).status).toBe(403)
  })

  it("converts the export to NDJSON: one event per CSV row, same ids in the same order", async () => {
    const csv = await call("/api/v1/audit-logs/export", "admin")
    const ndjson = await call("/api/v1/audit-logs/export?format=ndjson", "admin")
    expect(ndjson.status).toBe(200)
    const events: Array<{ id: string; event_name: string }> = ndjson.text.trimEnd().split("\n").map((line) =>
      JSON.parse(line)
    )
    const csvIds = csv.text.trimEnd().split("\r\n").slice(1).map((row) => row.slice(0, row.indexOf(",")))
    expect(events.length).toBeGreaterThan(0)
    expect(events.map((event) => event.id)).toEqual(csvIds)
    expect(events.every((event) => typeof event.event_name === "string" && event.event_name !== "")).toBe(true)
  })
})
