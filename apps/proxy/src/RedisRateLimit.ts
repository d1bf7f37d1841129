/**
 * Rate limits shared by every replica: the same fixed windows as
 * `RateLimit.layerMemory` (at most `requests` per `window_seconds`, counted
 * from the key's first request in the window), counted in Redis by one Lua
 * script, so the increment, the window's expiry and the read of what is left
 * are one atomic step however many replicas ask at once.
 *
 * When Redis cannot answer within the store's timeout, the request is not
 * counted and `on_store_error` decides: `deny` (the default) refuses it as
 * unavailable, `allow` lets it through unlimited. Either way the answer is
 * immediate and marked `unavailable`.
 *
 * @since 0.2.0
 */
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import type { RateLimit } from "./Config.js"
import type { RateLimitResult } from "./RateLimit.js"
import { RateLimits } from "./RateLimit.js"
import type { RedisStore } from "./RedisStore.js"
import { Store } from "./RedisStore.js"

// KEYS[1]: the key's window; ARGV[1]: the window in ms. Returns { count, ms left in the window }.
// A window left longer than the key's window (a reload shortened it) ends where the new one would,
// as `RateLimit.makeRateLimiter` counts it: an operator who shortens a locked-out key's window
// unlocks it on every replica, not an hour later.
const takeScript = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or ttl > tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { count, ttl }
`

const takeSha = createHash("sha1").update(takeScript).digest("hex")

export interface SharedLimiter {
  readonly take: (keyName: string, limit: RateLimit) => Promise<RateLimitResult>
}

/** The limiter on `store` (a plain promise API; `layer` wraps it as the `RateLimits` service). */
/** `operation` names this counter's failures in `cubeplane_proxy_store_errors_total`. */
export const make = (store: RedisStore, operation = "rate_limit"): SharedLimiter => {
  // By hash; the script's text only when this Redis has not seen it yet (or restarted and lost it).
  const evaluate = (key: string, windowMs: number): Promise<unknown> =>
    store.client.evalsha(takeSha, 1, key, windowMs).catch((error: unknown) => {
      if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
        return store.client.eval(takeScript, 1, key, windowMs)
      }
      throw error
    })
  return {
    take: async (keyName, limit) => {
      const windowMs = limit.windowSeconds * 1000
      try {
        const reply = await evaluate(`${store.prefix}rl:${keyName}`, windowMs)
        const [count, ttl] = Array.isArray(reply) ? reply : []
        if (typeof count !== "number" || typeof ttl !== "number") throw new Error("unexpected reply")
        const resetSeconds = Math.max(1, Math.ceil(ttl / 1000))
        return {
          allowed: count <= limit.requests,
          limit: limit.requests,
          remaining: Math.max(0, limit.requests - count),
          resetSeconds
        }
      } catch {
        store.failed(operation)
        return {
          allowed: store.onStoreError === "allow",
          limit: limit.requests,
          remaining: 0,
          resetSeconds: 1,
          unavailable: true
        }
      }
    }
  }
}

/** `RateLimits` counted in the shared Redis. */
export const layer: Layer.Layer<RateLimits, never, Store> = Layer.effect(
  RateLimits,
  Effect.map(Store, (store) => {
    const limiter = make(store)
    return { take: (keyName, limit) => Effect.promise(() => limiter.take(keyName, limit)) }
  })
)
