/**
 * Per-key rate limits: at most `requests` per fixed window of
 * `window_seconds`, counted from the key's first request in the window.
 * Every answer to a limited key carries `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window
 * resets, as in the IETF RateLimit header draft); a refused request also gets
 * `Retry-After`. The clock is injected, so tests move time instead of sleeping.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { RateLimit } from "./Config.js"

export interface RateLimitResult {
  readonly allowed: boolean
  readonly limit: number
  readonly remaining: number
  /** Whole seconds until the window resets (at least 1). */
  readonly resetSeconds: number
  /** The shared store could not count this request: `allowed` is the `on_store_error` decision. */
  readonly unavailable?: true
}

export interface RateLimiter {
  /** Counts one request of `keyName` against `limit`. */
  readonly take: (keyName: string, limit: RateLimit) => RateLimitResult
}

export const makeRateLimiter = (now: () => number = Date.now): RateLimiter => {
  const windows = new Map<string, { start: number; count: number }>()
  return {
    take: (keyName, limit) => {
      const at = now()
      const windowMs = limit.windowSeconds * 1000
      let window = windows.get(keyName)
      if (window === undefined || at - window.start >= windowMs) {
        window = { start: at, count: 0 }
        windows.set(keyName, window)
      }
      const resetSeconds = Math.max(1, Math.ceil((window.start + windowMs - at) / 1000))
      if (window.count >= limit.requests) {
        return { allowed: false, limit: limit.requests, remaining: 0, resetSeconds }
      }
      window.count++
      return { allowed: true, limit: limit.requests, remaining: limit.requests - window.count, resetSeconds }
    }
  }
}

/** Adds the `RateLimit-*` headers of a result to `headers`. */
export const setHeaders = (headers: Record<string, string>, result: RateLimitResult): void => {
  headers["RateLimit-Limit"] = String(result.limit)
  headers["RateLimit-Remaining"] = String(result.remaining)
  headers["RateLimit-Reset"] = String(result.resetSeconds)
}

/**
 * The rate limiter as a service: counts are per proxy instance with `layerMemory`;
 * a store shared across replicas (Redis, …) is another layer with the same interface.
 */
export class RateLimits extends Context.Tag("cubeplane-proxy/RateLimits")<RateLimits, {
  /**
   * Counts one request of `keyName` against `limit`: the result at once from a store in this
   * process, an Effect of it from one that must be asked (a store shared by replicas).
   */
  readonly take: (keyName: string, limit: RateLimit) => RateLimitResult | Effect.Effect<RateLimitResult>
}>() {}

/** A `take` result as an Effect, whichever store answered. */
export const counted = (
  result: RateLimitResult | Effect.Effect<RateLimitResult>
): Effect.Effect<RateLimitResult> => Effect.isEffect(result) ? result : Effect.succeed(result)

/** Counts in this process's memory, on `now`'s clock: answered at once, no Effect to run. */
export const layerMemory = (now: () => number = Date.now): Layer.Layer<RateLimits> =>
  Layer.sync(RateLimits, () => {
    const limiter = makeRateLimiter(now)
    return { take: (keyName, limit) => limiter.take(keyName, limit) }
  })
