/**
 * The resilience policy of the HTTP client: which failures are retried, how
 * long to wait between attempts, and what the server may ask for.
 *
 * - A GET (a read: listing deployments or environments, exporting the audit
 *   log) is retried on a transport failure (connection refused or reset, a
 *   per-attempt timeout, a JSON body cut short), 408, 429 and 5xx, with exponential backoff and
 *   jitter, honouring the server's `Retry-After` / `retry-after-ms`.
 * - The token POST is not idempotent: the server may mint a token and then
 *   fail to answer. It is retried ONLY when the request certainly never
 *   reached the server: the connection was never established (refused,
 *   unknown host, connect timeout). After a timeout, a reset, a 5xx or a 429
 *   the server may have acted, so the error goes to the caller, who decides.
 *
 * Waits are `Effect.sleep`s, so `TestClock` drives them in tests.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Random } from "effect"
import type { ControlPlaneError } from "./Errors.js"

/** How failed attempts are retried. Every field is optional; see `defaults`. */
export interface RetryOptions {
  /** Retries after the first attempt (so `maxRetries + 1` attempts at most). Default: 4. `0` turns retries off. */
  readonly maxRetries?: number
  /** The first backoff wait; doubled on each retry. Default: 250 ms. */
  readonly baseDelay?: Duration.DurationInput
  /** The longest backoff wait. Default: 20 s. */
  readonly maxDelay?: Duration.DurationInput
  /** Randomise each backoff wait within [wait/2, wait], so clients that failed together do not retry together. Default: true. */
  readonly jitter?: boolean
  /** Wait what the server asked for (`Retry-After`, `retry-after-ms`) instead of the backoff. Default: true. */
  readonly respectRetryAfter?: boolean
  /** The longest server-requested wait honoured; a longer request is cut to this. Default: 60 s. */
  readonly maxRetryAfter?: Duration.DurationInput
  /**
   * What to do when the server asks for a longer wait than `maxRetryAfter`:
   * `"wait-max"` waits `maxRetryAfter` and retries (default); `"give-up"` fails at once with
   * the server's answer, for callers (a proxy) that should pass the wait on rather than hang.
   */
  readonly beyondMaxRetryAfter?: "wait-max" | "give-up"
}

/** `RetryOptions` with every default filled in. */
export interface RetryPolicy {
  readonly maxRetries: number
  readonly baseDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
  readonly jitter: boolean
  readonly respectRetryAfter: boolean
  readonly maxRetryAfter: Duration.Duration
  readonly beyondMaxRetryAfter: "wait-max" | "give-up"
}

export const defaults: RetryPolicy = {
  maxRetries: 4,
  baseDelay: Duration.millis(250),
  maxDelay: Duration.seconds(20),
  jitter: true,
  respectRetryAfter: true,
  maxRetryAfter: Duration.seconds(60),
  beyondMaxRetryAfter: "wait-max"
}

/** Fills in the defaults. */
export const policy = (options: RetryOptions = {}): RetryPolicy => ({
  maxRetries: Math.max(0, Math.floor(options.maxRetries ?? defaults.maxRetries)),
  baseDelay: options.baseDelay !== undefined ? Duration.decode(options.baseDelay) : defaults.baseDelay,
  maxDelay: options.maxDelay !== undefined ? Duration.decode(options.maxDelay) : defaults.maxDelay,
  jitter: options.jitter ?? defaults.jitter,
  respectRetryAfter: options.respectRetryAfter ?? defaults.respectRetryAfter,
  maxRetryAfter: options.maxRetryAfter !== undefined ? Duration.decode(options.maxRetryAfter) : defaults.maxRetryAfter,
  beyondMaxRetryAfter: options.beyondMaxRetryAfter ?? defaults.beyondMaxRetryAfter
})

/**
 * Whether an operation may safely run twice.
 * - `"idempotent"`: a read (GET).
 * - `"unsafe"`: the token POST; retried only when the request never left.
 */
export type Idempotency = "idempotent" | "unsafe"

/** Whether `error` is worth another attempt of an operation of this kind. */
export const isRetryable = (error: ControlPlaneError, idempotency: Idempotency): boolean => {
  if (idempotency === "unsafe") return error._tag === "TransportError" && error.notSent === true
  switch (error._tag) {
    case "TransportError":
      // `Body`: a JSON answer cut short; reading it again is as safe as the GET. (A cut in
      // the audit-log export's body is not retried: its bytes were already passed on.)
      return error.reason !== "Deadline"
    case "RateLimited":
      return true
    case "ServerError":
      return error.status === 408 || error.status >= 500
    default:
      return false
  }
}

/** The exponential backoff before retry number `retry` (0-based), capped, without jitter. */
export const backoff = (policy: RetryPolicy, retry: number): Duration.Duration => {
  const base = Duration.toMillis(policy.baseDelay)
  const cap = Duration.toMillis(policy.maxDelay)
  return Duration.millis(Math.min(cap, base * 2 ** retry))
}

/**
 * The wait before retry number `retry` (0-based) after `error`: the server's
 * requested wait (capped at `maxRetryAfter`) when it sent one and the policy
 * respects it, else the backoff, jittered into [wait/2, wait].
 */
export const delay = (
  policy: RetryPolicy,
  retry: number,
  error: ControlPlaneError
): Effect.Effect<Duration.Duration> => {
  const requested = "retryAfterMillis" in error ? error.retryAfterMillis : undefined
  if (policy.respectRetryAfter && requested !== undefined) {
    return Effect.succeed(Duration.millis(Math.min(Math.max(0, requested), Duration.toMillis(policy.maxRetryAfter))))
  }
  const wait = Duration.toMillis(backoff(policy, retry))
  if (!policy.jitter) return Effect.succeed(Duration.millis(wait))
  return Effect.map(Random.next, (r) => Duration.millis(Math.round(wait / 2 + (wait / 2) * r)))
}

/** Whether the server asked for a wait the policy will not make (`beyondMaxRetryAfter: "give-up"`). */
const waitsTooLong = (policy: RetryPolicy, error: ControlPlaneError): boolean => {
  if (policy.beyondMaxRetryAfter !== "give-up" || !policy.respectRetryAfter) return false
  const requested = "retryAfterMillis" in error ? error.retryAfterMillis : undefined
  return requested !== undefined && requested > Duration.toMillis(policy.maxRetryAfter)
}

/**
 * Runs `attempt` and, while it fails with a retryable error and retries are
 * left, waits `delay` and runs it again. The last error is the one returned.
 */
export const retry =
  (policy: RetryPolicy, idempotency: Idempotency) =>
  <A, R>(attempt: Effect.Effect<A, ControlPlaneError, R>): Effect.Effect<A, ControlPlaneError, R> => {
    const loop = (retryNumber: number): Effect.Effect<A, ControlPlaneError, R> =>
      Effect.catchAll(attempt, (error) => {
        if (retryNumber >= policy.maxRetries || !isRetryable(error, idempotency) || waitsTooLong(policy, error)) {
          return Effect.fail(error)
        }
        return Effect.flatMap(delay(policy, retryNumber, error), (wait) =>
          Effect.logDebug("retrying a Control Plane API request").pipe(
            Effect.annotateLogs({
              error: error._tag,
              method: error.method,
              path: error.path,
              retry: retryNumber + 1,
              waitMillis: Duration.toMillis(wait)
            }),
            Effect.zipRight(Effect.sleep(wait)),
            Effect.zipRight(loop(retryNumber + 1))
          ))
      })
    return loop(0)
  }

/**
 * The wait a response asks for, in milliseconds: `retry-after-ms` (a number),
 * else `Retry-After` as seconds or as an HTTP date (relative to `nowMillis`).
 * `undefined` when there is none or it does not parse. Header names are lower case.
 */
export const retryAfterMillis = (
  headers: Readonly<Record<string, string | undefined>>,
  nowMillis: number
): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && ms.trim() !== "") {
    const value = Number(ms)
    if (Number.isFinite(value) && value >= 0) return value
  }
  const after = headers["retry-after"]?.trim()
  if (after === undefined || after === "") return undefined
  if (/^\d+(\.\d+)?$/.test(after)) return Number(after) * 1000
  const date = Date.parse(after)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - nowMillis)
}
