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
 * - A TLS failure (a certificate Node does not trust, an expired one, one for
 *   another host, a server that does not speak TLS) is never retried: the next
 *   attempt would meet the same certificate (`tlsCodes`).
 *
 * The policy is one Effect `Schedule` (`schedule`): exponential backoff with
 * jitter, capped, the server's `Retry-After` honoured. Its waits are the
 * `Clock`'s, so `TestClock` drives them in tests.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
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

/**
 * Codes of a TLS handshake that failed for good: the certificate (untrusted,
 * expired, for another host, revoked) or a server that does not speak TLS.
 * Retrying meets the same certificate, so these are not retried.
 */
export const tlsCodes: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
  "INVALID_PURPOSE",
  "PATH_LENGTH_EXCEEDED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  // Node's `https` client: the handshake failed on the wire (e.g. the server speaks plain HTTP).
  "EPROTO"
])

/** Whether `error` is worth another attempt of an operation of this kind. */
export const isRetryable = (error: ControlPlaneError, idempotency: Idempotency): boolean => {
  if (error._tag === "TransportError" && error.code !== undefined && tlsCodes.has(error.code)) return false
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

/** The wait the server asked for (`Retry-After`, `retry-after-ms`), when the policy honours it, capped. */
const requestedWait = (policy: RetryPolicy, error: ControlPlaneError): Duration.Duration | undefined => {
  const requested = "retryAfterMillis" in error ? error.retryAfterMillis : undefined
  return policy.respectRetryAfter && requested !== undefined
    ? Duration.millis(Math.min(Math.max(0, requested), Duration.toMillis(policy.maxRetryAfter)))
    : undefined
}

/** Whether the server asked for a wait the policy will not make (`beyondMaxRetryAfter: "give-up"`). */
const waitsTooLong = (policy: RetryPolicy, error: ControlPlaneError): boolean => {
  if (policy.beyondMaxRetryAfter !== "give-up" || !policy.respectRetryAfter) return false
  const requested = "retryAfterMillis" in error ? error.retryAfterMillis : undefined
  return requested !== undefined && requested > Duration.toMillis(policy.maxRetryAfter)
}

/** A wait drawn within [wait/2, wait], in whole milliseconds. */
const jittered = (wait: Duration.Duration): Effect.Effect<Duration.Duration> => {
  const millis = Duration.toMillis(wait)
  return Effect.map(Random.next, (r) => Duration.millis(Math.round(millis / 2 + (millis / 2) * r)))
}

/**
 * The policy as an Effect `Schedule`, fed the error of each failed attempt:
 * it goes on while the error is retryable for this kind of operation and
 * retries are left, and waits exponentially longer each time (`baseDelay`,
 * doubled, capped at `maxDelay`, jittered into [wait/2, wait]) — or, when
 * the error carries the server's `Retry-After`, that wait (capped at
 * `maxRetryAfter`; with `beyondMaxRetryAfter: "give-up"` a longer one ends
 * the schedule). Its output: the retry's number (0-based) and the error.
 *
 * @since 0.2.0
 */
export const schedule = (
  policy: RetryPolicy,
  idempotency: Idempotency
): Schedule.Schedule<readonly [number, ControlPlaneError], ControlPlaneError> => {
  const capped = Schedule.exponential(policy.baseDelay, 2).pipe(
    Schedule.modifyDelay((_, wait) => Duration.min(wait, policy.maxDelay))
  )
  const backoff = policy.jitter ? Schedule.modifyDelayEffect(capped, (_, wait) => jittered(wait)) : capped
  return backoff.pipe(
    Schedule.intersect(Schedule.recurs(policy.maxRetries)),
    Schedule.intersect(Schedule.identity<ControlPlaneError>()),
    Schedule.whileInput((error: ControlPlaneError) => isRetryable(error, idempotency) && !waitsTooLong(policy, error)),
    Schedule.map(([[, retry], error]) => [retry, error] as const),
    Schedule.modifyDelayEffect(([retry, error], backoffWait) => {
      const wait = requestedWait(policy, error) ?? backoffWait
      return Effect.logDebug("retrying a Control Plane API request").pipe(
        Effect.annotateLogs({
          error: error._tag,
          method: error.method,
          path: error.path,
          retry: retry + 1,
          waitMillis: Duration.toMillis(wait)
        }),
        Effect.as(wait)
      )
    })
  )
}

/**
 * Runs `attempt` and retries it on `schedule(policy, idempotency)`; the last
 * error is the one returned. The schedule's driver is made on the first
 * failure, so an attempt that succeeds (nearly every one) costs one
 * `catchAll` and nothing else.
 */
export const retry = (policy: RetryPolicy, idempotency: Idempotency) => {
  const retrying = schedule(policy, idempotency)
  return <A, R>(attempt: Effect.Effect<A, ControlPlaneError, R>): Effect.Effect<A, ControlPlaneError, R> =>
    Effect.catchAll(attempt, (first) =>
      Effect.flatMap(Schedule.driver(retrying), (driver) => {
        // `driver.next` waits the schedule's delay, or fails when the schedule is done.
        const again = (error: ControlPlaneError): Effect.Effect<A, ControlPlaneError, R> =>
          Effect.matchEffect(driver.next(error), {
            onFailure: () => Effect.fail(error),
            onSuccess: () => Effect.catchAll(attempt, again)
          })
        return again(first)
      }))
}

/**
 * The longest wait a response's `Retry-After` is taken to ask for: an hour.
 * A hostile or broken server's wait of years (or `1e+20`) would otherwise
 * reach every message (`retry after …s`) and every caller the proxy answers;
 * a real limit longer than that is met again on the next try, with its new wait.
 *
 * @since 0.2.0
 */
export const maxRetryAfterMillis = 3_600_000

/**
 * The wait a response asks for, in milliseconds: `retry-after-ms` (a number),
 * else `Retry-After` as seconds or as an HTTP date (relative to `nowMillis`),
 * at most `maxRetryAfterMillis`. `undefined` when there is none or it does
 * not parse. Header names are lower case.
 */
export const retryAfterMillis = (
  headers: Readonly<Record<string, string | undefined>>,
  nowMillis: number
): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && ms.trim() !== "") {
    const value = Number(ms)
    if (Number.isFinite(value) && value >= 0) return Math.min(value, maxRetryAfterMillis)
  }
  const after = headers["retry-after"]?.trim()
  if (after === undefined || after === "") return undefined
  if (/^\d+(\.\d+)?$/.test(after)) return Math.min(Number(after) * 1000, maxRetryAfterMillis)
  const date = Date.parse(after)
  if (Number.isNaN(date)) return undefined
  return Math.min(Math.max(0, date - nowMillis), maxRetryAfterMillis)
}
