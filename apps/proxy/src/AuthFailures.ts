/**
 * Failed authentications per client address (`auth_failures`): at most
 * `limit` unknown keys per window of `window_seconds`, counted from the
 * address's first failure; after that every request from the address is
 * refused (429, `Retry-After`) until the window ends — before its key is
 * looked at, so a locked-out address cannot go on guessing. A known key
 * never counts; the keys tried are never kept or logged, only the count.
 *
 * In memory the windows live in this process (at most `maxAddresses` of
 * them: expired ones are dropped first, then the oldest). With the shared
 * store they are counted in Redis by the rate limit's script, so every
 * replica sees every failure; each replica remembers the lockouts it has
 * learnt of, so a locked-out address costs no Redis call per request (it
 * learns of one with the next failure it sees: at most one more guess per
 * replica). When Redis cannot answer, failures are not counted (the key
 * check still refuses them): a store outage does not lock everyone out.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import type { Call } from "./Call.js"
import type { ClientAddress } from "./ClientAddress.js"
import type { AuthFailureSettings } from "./ConfigSchema.js"
import { authFailureDefaults } from "./ConfigSchema.js"
import type { RateLimitResult } from "./RateLimit.js"
import * as RedisRateLimit from "./RedisRateLimit.js"
import { Store } from "./RedisStore.js"

/** Addresses tracked at once, at most (a caller with many addresses cannot grow the proxy without bound). */
export const maxAddresses = 100_000

export class AuthFailures extends Context.Tag("cubeplane-proxy/AuthFailures")<AuthFailures, {
  /** Whether the limit is on (`limit` > 0). */
  readonly enabled: boolean
  /** Whole seconds until `address` may try again; 0 when it is not locked out. */
  readonly lockedFor: (address: string) => number
  /**
   * Whether any address may be locked out now (false: none is, so a request need not work out its
   * address before its key is checked — the common case, which then costs nothing).
   */
  readonly anyLocked: () => boolean
  /**
   * Counts a failed authentication of `address`: the seconds it is locked out for when this failure
   * went past the limit (0: answer it 401), at once in memory, an Effect from a shared store.
   */
  readonly failed: (address: string) => number | Effect.Effect<number>
}>() {}

/** The limit and window in force. */
export const settingsOf = (settings: AuthFailureSettings | undefined) => ({
  limit: settings?.limit ?? authFailureDefaults.limit,
  windowMs: (settings?.windowSeconds ?? authFailureDefaults.windowSeconds) * 1000
})

/** Lockouts known in this process: address → when it ends (ms), bounded like the memory windows. */
const lockouts = (now: () => number) => {
  const until = new Map<string, number>()
  return {
    lockedFor: (address: string): number => {
      const end = until.get(address)
      if (end === undefined) return 0
      const left = end - now()
      if (left > 0) return Math.ceil(left / 1000)
      until.delete(address)
      return 0
    },
    any: (): boolean => {
      if (until.size === 0) return false
      // Ended lockouts leave from the front, so that the common path is free again once they are over.
      const at = now()
      for (const [address, end] of until) {
        if (end > at) break
        until.delete(address)
      }
      return until.size > 0
    },
    lock: (address: string, seconds: number): void => {
      if (until.size >= maxAddresses) makeRoom(until, (end) => end, now())
      until.delete(address)
      until.set(address, now() + seconds * 1000)
    }
  }
}

/**
 * Makes room in a full map of address → entry: drops the ended entries at the
 * front (a `Map` iterates in insertion order, and every entry is re-inserted
 * when it starts, so the front is where they end first), stopping at the first
 * that has not ended, and then, if still full, the oldest. Each entry is
 * dropped once, so a flood of new addresses costs O(1) per request, not a scan
 * of the whole map.
 */
const makeRoom = <A>(entries: Map<string, A>, endOf: (entry: A) => number, at: number): void => {
  for (const [address, entry] of entries) {
    if (endOf(entry) > at) break
    entries.delete(address)
  }
  if (entries.size >= maxAddresses) {
    const oldest = entries.keys().next()
    if (oldest.done !== true) entries.delete(oldest.value)
  }
}

const disabled = { enabled: false, lockedFor: () => 0, anyLocked: () => false, failed: () => 0 } as const

/** Counted in this process's memory, on `now`'s clock. */
export const layerMemory = (settings: AuthFailureSettings | undefined, now: () => number = Date.now) =>
  Layer.sync(AuthFailures, () => {
    const { limit, windowMs } = settingsOf(settings)
    if (limit === 0) return disabled
    // address → the window's end (ms) and the failures in it.
    const windows = new Map<string, { end: number; count: number }>()
    const locks = lockouts(now)
    return {
      enabled: true,
      lockedFor: locks.lockedFor,
      anyLocked: locks.any,
      failed: (address) => {
        const at = now()
        let window = windows.get(address)
        if (window === undefined || window.end <= at) {
          if (windows.size >= maxAddresses) makeRoom(windows, (entry) => entry.end, at)
          window = { end: at + windowMs, count: 0 }
          windows.delete(address)
          windows.set(address, window)
        }
        window.count++
        const seconds = Math.max(1, Math.ceil((window.end - at) / 1000))
        // The limit-th failure is still answered 401; from then on the address is locked out.
        if (window.count >= limit) locks.lock(address, seconds)
        return window.count > limit ? seconds : 0
      }
    }
  })

/** Counted in the shared Redis (the rate limit's atomic script, under `rl:auth:<address>`). */
export const layerRedis = (
  settings: AuthFailureSettings | undefined,
  now: () => number = Date.now
): Layer.Layer<AuthFailures, never, Store> =>
  Layer.effect(
    AuthFailures,
    Effect.map(Store, (store) => {
      const { limit, windowMs } = settingsOf(settings)
      if (limit === 0) return disabled
      const counter = RedisRateLimit.make(store, "auth_failures")
      const locks = lockouts(now)
      // Key names cannot hold a `:`, so `auth:…` is no key's window.
      const rule = { requests: limit, windowSeconds: windowMs / 1000 }
      const decide = (address: string, result: RateLimitResult): number => {
        if (result.unavailable === true) return 0
        if (result.remaining === 0) locks.lock(address, result.resetSeconds)
        return result.allowed ? 0 : result.resetSeconds
      }
      return {
        enabled: true,
        lockedFor: locks.lockedFor,
        anyLocked: locks.any,
        failed: (address) =>
          Effect.promise(() => counter.take(`auth:${address}`, rule)).pipe(
            Effect.map((result) => decide(address, result))
          )
      }
    })
  )

/**
 * The seconds `call`'s address is locked out for (0: go on and check its key). While no address is
 * locked out — the common case — its address is not even worked out.
 */
export const lockedOutFor = (failures: AuthFailures["Type"], addressOf: ClientAddress, call: Call): number => {
  if (!failures.enabled || !failures.anyLocked()) return 0
  const address = addressOf(call)
  return address === undefined ? 0 : failures.lockedFor(address)
}

/**
 * Counts the wrong key `call` presented (only the count: the key is not kept): the seconds its
 * address is now locked out for (0: answer it 401), at once in memory, an Effect from a shared store.
 */
export const countFailure = (
  failures: AuthFailures["Type"],
  addressOf: ClientAddress,
  call: Call
): number | Effect.Effect<number> => {
  if (!failures.enabled) return 0
  const address = addressOf(call)
  return address === undefined ? 0 : failures.failed(address)
}

/**
 * A key check outside the pipeline (`/metrics` and its key) under the same limit: refused while the
 * address is locked out, before the key is looked at; a wrong key presented counts as a failure.
 * `run` runs a shared store's count.
 */
export const guard = (
  failures: AuthFailures["Type"],
  addressOf: ClientAddress,
  lockedOut: (call: Call, seconds: number) => Response,
  run: (counted: Effect.Effect<number>) => Promise<number>
) =>
(
  call: Call,
  /** Checks the key: whether a wrong one was presented, and the answer to build when it is not locked out. */
  attempt: () => { readonly wrongKey: boolean; readonly respond: () => Response }
): Response | Promise<Response> => {
  const locked = lockedOutFor(failures, addressOf, call)
  if (locked > 0) return lockedOut(call, locked)
  const { respond, wrongKey } = attempt()
  if (!wrongKey) return respond()
  const counted = countFailure(failures, addressOf, call)
  const decide = (seconds: number) => seconds > 0 ? lockedOut(call, seconds) : respond()
  return Effect.isEffect(counted) ? run(counted).then(decide) : decide(counted)
}
