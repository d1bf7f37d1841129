/**
 * The app on the shared store (in-process, real redis-server): what a caller
 * and an operator see when the store is up, when it is down under
 * `on_store_error: deny` and `allow`, and after it comes back; keys that
 * expire or are swapped in the live ring.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeApp } from "../src/App.js"
import * as LiveConfig from "../src/LiveConfig.js"
import type { LogEntry } from "../src/Log.js"
import { Metrics } from "../src/Metrics.js"
import * as RedisStore from "../src/RedisStore.js"
import { baseConfig, deploymentsPage, fakeUpstream, key, keyOf } from "./helpers.js"
import { hasRedis, type RunningRedis, startRedis, until } from "./redis.js"

describe.skipIf(!hasRedis)("the app on a shared store", () => {
  let redis: RunningRedis
  const stores: Array<RedisStore.RedisStore> = []
  const lists = [{ operations: ["listDeployments"] as const }]
  const keys = [
    key("limited", lists, { requests: 2, windowSeconds: 60 }),
    key("free", lists),
    { ...key("lapsed", lists), expiresAt: Date.parse("2020-01-01T00:00:00Z") }
  ]

  const appOn = async (onStoreError: "deny" | "allow", prefix: string) => {
    const store = await RedisStore.make(
      { url: redis.url, onStoreError, timeoutMs: 1000, keyPrefix: prefix },
      (_entry: LogEntry) => undefined
    )
    stores.push(store)
    await until(() => store.state() === "ready", "the store to connect")
    const { upstream } = fakeUpstream(() => ({ status: 200, body: deploymentsPage(["123"]) }))
    const metrics = new Metrics()
    const ring = LiveConfig.makeLiveKeyRing(keys)
    const app = makeApp({ config: baseConfig(keys, 10), upstream, metrics, store, keys: ring, log: () => undefined })
    const get = (path: string, name?: string) =>
      app.request(path, name === undefined ? {} : { headers: { Authorization: `Bearer ${keyOf(name)}` } })
    return { store, metrics, ring, get }
  }

  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
    await redis?.stop()
  })

  it("limits, refuses expired keys, counts per key, and follows the store down and back up", async () => {
    const deny = await appOn("deny", "deny:")
    const allow = await appOn("allow", "allow:")

    const first = await deny.get("/api/v1/deployments", "limited")
    expect(first.status).toBe(200)
    expect(first.headers.get("RateLimit-Remaining")).toBe("1")
    expect((await deny.get("/api/v1/deployments", "limited")).status).toBe(200)
    expect((await deny.get("/api/v1/deployments", "limited")).status).toBe(429)
    const lapsed = await deny.get("/api/v1/deployments", "lapsed")
    expect(lapsed.status).toBe(401)
    expect((await lapsed.json()).error).toBe("key expired: \"lapsed\" expired at 2020-01-01T00:00:00.000Z")
    const ready = await deny.get("/readyz")
    expect(ready.status).toBe(200)
    expect((await ready.json()).store).toMatchObject({ status: "ready", location: redis.url })
    const text = await (await deny.get("/metrics")).text()
    expect(text).toContain("cubeplane_proxy_key_requests_total{key=\"limited\"} 3")
    expect(text).toContain("cubeplane_proxy_key_refusals_total{key=\"limited\",status=\"429\"} 1")
    expect(text).toContain("cubeplane_proxy_key_refusals_total{key=\"lapsed\",status=\"401\"} 1")
    expect(text).toContain("cubeplane_proxy_store_up 1")

    await redis.stop(true)
    await until(() => deny.store.state() === "down" && allow.store.state() === "down", "both apps' stores to notice")
    const denied = await deny.get("/api/v1/deployments", "limited")
    expect(denied.status).toBe(503)
    expect(denied.headers.get("Retry-After")).toBe("1")
    expect((await denied.json()).error).toContain("rate-limit store is unreachable")
    const allowed = await allow.get("/api/v1/deployments", "limited")
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get("RateLimit-Remaining")).toBeNull()
    // No limit, no store needed; the list cache misses and the list comes from upstream.
    const free = await deny.get("/api/v1/deployments", "free")
    expect(free.status).toBe(200)
    expect(free.headers.get("X-Cache")).toBe("MISS")
    const notReady = await deny.get("/readyz")
    expect(notReady.status).toBe(503)
    expect(await notReady.json()).toMatchObject({
      error: expect.stringContaining("store.on_store_error is deny"),
      store: { on_store_error: "deny" }
    })
    expect((await allow.get("/readyz")).status).toBe(200)
    const downText = await (await deny.get("/metrics")).text()
    expect(downText).toContain("cubeplane_proxy_store_up 0")
    expect(downText).toMatch(/cubeplane_proxy_store_errors_total\{operation="rate_limit"\} [1-9]/)
    expect(downText).toContain("cubeplane_proxy_key_refusals_total{key=\"limited\",status=\"503\"} 1")

    await redis.restart()
    await until(() => deny.store.state() === "ready", "the store to reconnect")
    const back = await deny.get("/api/v1/deployments", "limited")
    expect(back.status).toBe(200)
    expect(back.headers.get("RateLimit-Remaining")).toBe("1")
  })

  it("answers with the live ring's keys as soon as they are replaced", async () => {
    const app = await appOn("deny", "ring:")
    expect((await app.get("/api/v1/deployments", "free")).status).toBe(200)
    app.ring.replace([key("newcomer", lists)])
    expect((await app.get("/api/v1/deployments", "free")).status).toBe(401)
    expect((await app.get("/api/v1/deployments", "newcomer")).status).toBe(200)
  })
})
