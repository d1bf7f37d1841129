/**
 * Guessing keys, on real ports: failed authentications are limited per
 * client address (in memory and across replicas on a real redis-server),
 * the limit holds before a key is looked at, `X-Forwarded-For` is believed
 * only from a trusted proxy, and the keys tried are never logged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as ClientAddress from "../src/ClientAddress.js"
import type { AuthFailureSettings, ProxyConfig } from "../src/Config.js"
import * as Config from "../src/Config.js"
import * as Keys from "../src/Keys.js"
import type { LogEntry } from "../src/Log.js"
import { Metrics } from "../src/Metrics.js"
import * as RedisStore from "../src/RedisStore.js"
import * as Server from "../src/Server.js"
import { baseConfig, deploymentsPage, fakeUpstream, key, keyOf, problemsOf } from "./helpers.js"
import { hasRedis, type RunningRedis, startRedis, until } from "./redis.js"

const running: Array<Server.RunningProxy> = []
afterAll(async () => {
  for (const proxy of running.splice(0)) await proxy.close(0)
})

const lists = [{ operations: ["listDeployments"] as const }]

const startProxy = async (
  authFailures: AuthFailureSettings | undefined,
  options: { readonly now?: () => number; readonly store?: RedisStore.RedisStore } = {}
) => {
  const { upstream } = fakeUpstream(() => ({ status: 200, body: deploymentsPage(["123"]) }))
  const logs: Array<LogEntry> = []
  const metrics = new Metrics()
  const config: ProxyConfig = {
    ...baseConfig([key("admin", lists)]),
    ...(authFailures === undefined ? {} : { authFailures })
  }
  const proxy = await Server.start({
    config,
    upstream,
    metrics,
    log: (entry) => logs.push(entry),
    ...options
  }, { port: 0, host: "127.0.0.1" })
  running.push(proxy)
  const get = async (authorization: string | undefined, headers: Record<string, string> = {}) => {
    const response = await fetch(`${proxy.url}/api/v1/deployments`, {
      headers: authorization === undefined ? headers : { Authorization: authorization, ...headers }
    })
    return { status: response.status, retryAfter: response.headers.get("retry-after"), text: await response.text() }
  }
  return { proxy, logs, metrics, get }
}

const guess = (n: number) => `Bearer cpk_guess_${n}_${"x".repeat(20)}`
const valid = `Bearer ${keyOf("admin")}`

describe("failed authentications per address, in memory", () => {
  it("after `limit` unknown keys the address gets 429 + Retry-After, even with a valid key, until the window ends", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z")
    const { get, logs, metrics } = await startProxy({ limit: 3, windowSeconds: 60 }, { now: () => clock })
    const statuses: Array<number> = []
    for (let n = 0; n < 3; n++) statuses.push((await get(guess(n))).status)
    expect(statuses).toEqual([401, 401, 401])
    const locked = await get(guess(3))
    expect(locked.status).toBe(429)
    expect(locked.retryAfter).toBe("60")
    expect(JSON.parse(locked.text)).toEqual({
      error: "too many failed authentications from this address: retry in 60 s with a valid proxy key"
    })
    // The key is not looked at while the address is locked out: a right guess would gain nothing.
    clock += 30_000
    const validWhileLocked = await get(valid)
    expect({ status: validWhileLocked.status, retryAfter: validWhileLocked.retryAfter }).toEqual({
      status: 429,
      retryAfter: "30"
    })
    clock += 30_000
    expect((await get(valid)).status).toBe(200)
    expect((await get(guess(4))).status).toBe(401)
    // Only the count is kept: no tried key in any log line, nor in /metrics.
    const logged = JSON.stringify(logs)
    for (let n = 0; n <= 4; n++) expect(logged).not.toContain(guess(n).slice(7))
    expect(metrics.render()).toContain("cubeplane_proxy_auth_lockouts_total 2")
  })

  it("a known key and a missing header do not count; the default limit is 20", async () => {
    const { get } = await startProxy(undefined)
    for (let n = 0; n < 25; n++) expect((await get(valid)).status).toBe(200)
    for (let n = 0; n < 25; n++) expect((await get(undefined)).status).toBe(401)
    const statuses: Array<number> = []
    for (let n = 0; n < 21; n++) statuses.push((await get(guess(n))).status)
    expect(statuses).toEqual([...Array(20).fill(401), 429])
  })

  it("limit 0 turns it off", async () => {
    const { get } = await startProxy({ limit: 0 })
    for (let n = 0; n < 30; n++) expect((await get(guess(n))).status).toBe(401)
  })
})

describe("the metrics key, under the same limit", () => {
  it("wrong metrics keys count with wrong proxy keys; a locked-out address gets 429 for /metrics too", async () => {
    const { upstream } = fakeUpstream(() => ({ status: 200, body: deploymentsPage(["123"]) }))
    const metricsKey = "cpk_metrics_key_for_the_scraper_0123456789"
    const config: ProxyConfig = {
      ...baseConfig([key("admin", lists)]),
      authFailures: { limit: 3 },
      metrics: { keyHash: Keys.hash(metricsKey) }
    }
    const proxy = await Server.start({ config, upstream, log: () => undefined }, { port: 0, host: "127.0.0.1" })
    running.push(proxy)
    const scrape = async (authorization?: string) => {
      const response = await fetch(`${proxy.url}/metrics`, {
        headers: authorization === undefined ? {} : { Authorization: authorization }
      })
      await response.text()
      return response.status
    }
    expect(await scrape(`Bearer ${metricsKey}`)).toBe(200)
    // A missing key is no guess.
    expect(await scrape()).toBe(401)
    expect(await scrape(guess(0))).toBe(401)
    const api = await fetch(`${proxy.url}/api/v1/deployments`, { headers: { Authorization: guess(1) } })
    expect(api.status).toBe(401)
    expect(await scrape(guess(2))).toBe(401)
    expect(await scrape(guess(3))).toBe(429)
    expect(await scrape(`Bearer ${metricsKey}`)).toBe(429)
  })
})

describe("which address: X-Forwarded-For only from a trusted proxy", () => {
  it("without trusted_proxies the header is ignored: a caller cannot rotate it to escape", async () => {
    const { get } = await startProxy({ limit: 2 })
    const statuses: Array<number> = []
    for (let n = 0; n < 4; n++) statuses.push((await get(guess(n), { "X-Forwarded-For": `198.51.100.${n}` })).status)
    expect(statuses).toEqual([401, 401, 429, 429])
  })

  it("behind a trusted proxy: the nearest untrusted hop is the caller; what the caller wrote left of it is not believed", async () => {
    const { get } = await startProxy({ limit: 2, trustedProxies: ["127.0.0.0/8", "10.0.0.0/8"] })
    // The caller 203.0.113.5, seen through two trusted hops (10.0.0.7 appended by the nearer one).
    const statuses: Array<number> = []
    for (let n = 0; n < 3; n++) {
      // A forged entry on the left changes nothing.
      const forwarded = `192.0.2.${n}, 203.0.113.5, 10.0.0.7`
      statuses.push((await get(guess(n), { "X-Forwarded-For": forwarded })).status)
    }
    expect(statuses).toEqual([401, 401, 429])
    // Another caller through the same proxies is not locked out.
    expect((await get(valid, { "X-Forwarded-For": "203.0.113.6, 10.0.0.7" })).status).toBe(200)
    expect((await get(valid, { "X-Forwarded-For": "203.0.113.5, 10.0.0.7" })).status).toBe(429)
  })

  it("IPv6 callers are counted by their /64: rotating the host part does not escape the limit", async () => {
    const { get } = await startProxy({ limit: 2, trustedProxies: ["127.0.0.0/8"] })
    const statuses: Array<number> = []
    for (const host of ["2001:db8:0:1::1", "2001:db8:0:1:ffff:ffff:ffff:ffff", "2001:0db8:0000:0001::abcd"]) {
      statuses.push((await get(guess(statuses.length), { "X-Forwarded-For": host })).status)
    }
    expect(statuses).toEqual([401, 401, 429])
    // The next /64 is another caller.
    expect((await get(valid, { "X-Forwarded-For": "2001:db8:0:2::1" })).status).toBe(200)
    expect(ClientAddress.countedAs("2001:db8::1")).toBe("2001:db8:0:0::/64")
    expect(ClientAddress.countedAs("::1")).toBe("0:0:0:0::/64")
    expect(ClientAddress.countedAs("64:ff9b::192.0.2.1")).toBe("64:ff9b:0:0::/64")
    expect(ClientAddress.countedAs("fe80::1%eth0")).toBe("fe80:0:0:0::/64")
    expect(ClientAddress.countedAs("198.51.100.7")).toBe("198.51.100.7")
  })

  it("the file's auth_failures section, snake_case, decodes to the settings the proxy uses", () => {
    const config = Config.parse(
      "auth_failures:\n  limit: 5\n  window_seconds: 30\n  trusted_proxies: [10.0.0.0/8, \"::1\", 192.0.2.7]\nkeys: []\n",
      "proxy.yaml"
    )
    expect(config.authFailures).toEqual({
      limit: 5,
      windowSeconds: 30,
      trustedProxies: ["10.0.0.0/8", "::1", "192.0.2.7"]
    })
    expect(problemsOf("auth_failures:\n  limit: -1\nkeys: []\n")).toEqual([
      "line 2, column 10: auth_failures.limit: Expected an integer ≥ 0"
    ])
  })

  it("a trusted_proxies entry that is not an address or a CIDR block is refused with the one-line reason", () => {
    const problems = problemsOf("auth_failures:\n  trusted_proxies: [10.0.0.0/33, proxy.local]\nkeys: []\n")
    expect(problems).toEqual([
      "line 2, column 21: auth_failures.trusted_proxies[0]: Expected an IP address (10.0.0.7, ::1) or a CIDR block (10.0.0.0/8, fd00::/8)",
      "line 2, column 34: auth_failures.trusted_proxies[1]: Expected an IP address (10.0.0.7, ::1) or a CIDR block (10.0.0.0/8, fd00::/8)"
    ])
  })
})

describe.skipIf(!hasRedis)("failed authentications across replicas (real redis-server)", () => {
  let redis: RunningRedis
  const stores: Array<RedisStore.RedisStore> = []
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    for (const proxy of running.splice(0)) await proxy.close(0)
    await Promise.all(stores.map((store) => store.close()))
    await redis?.stop()
  })
  const replica = async (prefix: string) => {
    const store = await RedisStore.make(
      { url: redis.url, onStoreError: "deny", timeoutMs: 1000, keyPrefix: prefix },
      () => undefined
    )
    stores.push(store)
    await until(() => store.state() === "ready", "the store to connect")
    return startProxy({ limit: 3, windowSeconds: 60 }, { store })
  }

  it("failures on every replica add up; the replica that sees the lockout refuses the address before its key", async () => {
    const a = await replica("af-test:")
    const b = await replica("af-test:")
    expect([(await a.get(guess(0))).status, (await a.get(guess(1))).status]).toEqual([401, 401])
    expect((await b.get(guess(2))).status).toBe(401)
    // The fourth failure, on replica A, which itself saw two: the shared count says locked out.
    const fourth = await a.get(guess(3))
    expect(fourth.status).toBe(429)
    expect(Number(fourth.retryAfter)).toBeGreaterThan(0)
    expect(Number(fourth.retryAfter)).toBeLessThanOrEqual(60)
    // Both replicas now refuse the address, a valid key included.
    expect([(await a.get(valid)).status, (await b.get(valid)).status]).toEqual([429, 429])
  })

  it("a store that cannot answer counts nothing: wrong keys are 401, not a lockout of everyone", async () => {
    const c = await replica("af-down:")
    await redis.stop()
    const statuses: Array<number> = []
    for (let n = 0; n < 5; n++) statuses.push((await c.get(guess(n))).status)
    expect(statuses).toEqual([401, 401, 401, 401, 401])
    expect((await c.get(valid)).status).toBe(200)
    // Counted as what failed: the failed-authentication count, not the rate limit.
    const failures = new Map(stores.at(-1)!.failures())
    expect(failures.get("auth_failures")).toBe(5)
    await redis.restart()
  })
})
