/**
 * The shared store on a real Redis 7: the limit is exact across clients
 * under concurrency, cached lists are shared, and a Redis that goes away
 * gives an immediate `on_store_error` answer and comes back by itself.
 */
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { LogEntry } from "../src/Log.js"
import { counted, makeRateLimiter, RateLimits } from "../src/RateLimit.js"
import * as RedisCache from "../src/RedisCache.js"
import * as RedisRateLimit from "../src/RedisRateLimit.js"
import * as RedisStore from "../src/RedisStore.js"
import { hasRedis, type RunningRedis, startRedis, until } from "./redis.js"

describe.skipIf(!hasRedis)("the Redis store", () => {
  let redis: RunningRedis
  const stores: Array<RedisStore.RedisStore> = []
  const logs: Array<LogEntry> = []

  const connect = async (overrides: Partial<RedisStore.Settings> = {}, prefix = `t${stores.length}:`) => {
    const store = await RedisStore.make(
      { url: redis.url, onStoreError: "deny", timeoutMs: 250, keyPrefix: prefix, ...overrides },
      (entry) => logs.push(entry)
    )
    stores.push(store)
    await until(() => store.state() === "ready", "the store to connect")
    return store
  }

  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
    await redis?.stop()
  })

  it("counts a key's window once across replicas: exactly the limit succeeds under concurrent load", async () => {
    const a = RedisRateLimit.make(await connect({}, "shared:"))
    const b = RedisRateLimit.make(await connect({}, "shared:"))
    const limit = { requests: 60, windowSeconds: 60 }
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? a : b).take("datahub", limit))
    )
    const allowed = results.filter((result) => result.allowed)
    expect(allowed).toHaveLength(60)
    // Each success saw a different count: the remaining values are 59 … 0, each exactly once.
    expect(allowed.map((result) => result.remaining).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 60 }, (_, i) => i)
    )
    expect(results.every((result) => result.unavailable === undefined)).toBe(true)
    expect(results.filter((result) => !result.allowed).every((result) => result.remaining === 0)).toBe(true)
    expect(results.every((result) => result.resetSeconds >= 1 && result.resetSeconds <= 60)).toBe(true)
    // Another key has its own window.
    expect((await a.take("other", limit)).remaining).toBe(59)
  })

  it("a reload that shortens a key's window shortens the window in progress, as the in-memory limiter does", async () => {
    const shared = RedisRateLimit.make(await connect({}, "reload:"))
    const memory = makeRateLimiter(() => 1_000_000)
    const hour = { requests: 1, windowSeconds: 3600 }
    const minute = { requests: 1, windowSeconds: 60 }
    for (const limiter of [shared, memory]) {
      expect((await limiter.take("locked", hour)).allowed).toBe(true)
      const refused = await limiter.take("locked", hour)
      expect(refused.allowed).toBe(false)
      expect(refused.resetSeconds).toBeGreaterThan(3500)
      // The key's config now says a minute: still refused (the count stays), but for a minute at most.
      const shortened = await limiter.take("locked", minute)
      expect(shortened.allowed).toBe(false)
      expect(shortened.resetSeconds).toBeLessThanOrEqual(60)
    }
  })

  it("serves RateLimits as a layer on the Store layer", async () => {
    const settings = { url: redis.url, onStoreError: "deny" as const, timeoutMs: 250, keyPrefix: "layer:" }
    const live = RedisRateLimit.layer.pipe(Layer.provideMerge(RedisStore.layer(settings)))
    const remaining = await Effect.runPromise(
      Effect.gen(function*() {
        const store = yield* RedisStore.Store
        yield* Effect.promise(() => until(() => store.state() === "ready", "the layer's store to connect"))
        const limits = yield* RateLimits
        const first = yield* counted(limits.take("k", { requests: 3, windowSeconds: 60 }))
        const second = yield* counted(limits.take("k", { requests: 3, windowSeconds: 60 }))
        return [first.remaining, second.remaining]
      }).pipe(Effect.provide(live))
    )
    expect(remaining).toEqual([2, 1])
  })

  it("shares cached lists between replicas and keeps the bytes exact", async () => {
    const a = RedisCache.make(await connect({}, "cache:"), { ttlSeconds: 30 })
    const b = RedisCache.make(await connect({}, "cache:"), { ttlSeconds: 30 })
    const body = new Uint8Array([0, 10, 255, 10, 1, 2])
    await a.set("listDeployments\n*\n/api/v1/deployments", { status: 200, contentType: "application/json", body })
    const hit = await b.get("listDeployments\n*\n/api/v1/deployments")
    expect(hit?.status).toBe(200)
    expect(hit?.contentType).toBe("application/json")
    expect([...(hit?.body ?? [])]).toEqual([...body])
    expect(await b.get("listDeployments\nscope-2\n/api/v1/deployments")).toBeUndefined()
    expect(RedisCache.make(stores[0]!, { ttlSeconds: 0 }).enabled).toBe(false)
  })

  it("answers at once while Redis is down (deny or allow), and reconnects by itself", async () => {
    const deny = await connect({ onStoreError: "deny" }, "down:")
    const allow = await connect({ onStoreError: "allow" }, "down:")
    const denyLimiter = RedisRateLimit.make(deny)
    const allowLimiter = RedisRateLimit.make(allow)
    const cache = RedisCache.make(deny, { ttlSeconds: 30 })
    const limit = { requests: 5, windowSeconds: 60 }
    expect((await denyLimiter.take("k", limit)).remaining).toBe(4)

    await redis.stop(true)
    await until(() => deny.state() === "down" && allow.state() === "down", "both clients to notice")
    const denied = await denyLimiter.take("k", limit)
    expect(denied).toMatchObject({ allowed: false, unavailable: true })
    expect(await allowLimiter.take("k", limit)).toMatchObject({ allowed: true, unavailable: true })
    expect(await cache.get("anything")).toBeUndefined()
    await cache.set("anything", { status: 200, contentType: "text/plain", body: new Uint8Array([1]) })
    expect(deny.failures().get("rate_limit")).toBeGreaterThanOrEqual(1)
    expect(RedisStore.readiness(deny)).toMatchObject({ ok: false, body: { status: "down", on_store_error: "deny" } })
    const out: Array<string> = []
    RedisStore.renderMetrics(deny, out)
    expect(out).toContain("cubeplane_proxy_store_up 0")

    await redis.restart()
    await until(() => deny.state() === "ready" && allow.state() === "ready", "both clients to reconnect")
    // A fresh Redis (nothing persisted): the window starts again, and the script is loaded again.
    expect(await denyLimiter.take("k", limit)).toMatchObject({ allowed: true, remaining: 4 })
    expect(logs.some((entry) => entry["msg"] === "store unreachable: retrying")).toBe(true)
    expect(logs.filter((entry) => entry["msg"] === "store connected").length).toBeGreaterThanOrEqual(2)
  })

  it("refuses a store URL that is not redis://, and never shows its password", () => {
    expect(() => RedisStore.parseUrl("http://127.0.0.1:6379")).toThrow(/must start with redis:\/\//)
    expect(() => RedisStore.parseUrl("redis://127.0.0.1:6379/abc")).toThrow(/database must be a number/)
    expect(RedisStore.parseUrl("redis://:s3cret-pass@10.0.0.5:6380/2")).toBe("redis://10.0.0.5:6380/2")
    expect(RedisStore.settingsOf(undefined, undefined)).toBeUndefined()
    expect(
      RedisStore.settingsOf(
        { url: "redis://a:1/0", onStoreError: "allow", timeoutMs: 100, keyPrefix: "p:" },
        "redis://b:2/1"
      )
    )
      .toMatchObject({ url: "redis://b:2/1", onStoreError: "allow" })
  })
})
