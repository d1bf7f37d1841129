/**
 * What the caller hears when the upstream did not give a usable answer:
 * core's typed error (`Errors.fromResponse` decided which, from the status
 * and the server's `{"error"}` text) as the proxy's own `{"error"}` answer.
 *
 * - 401 upstream → 502: it is the proxy's key that was refused, not the caller's.
 * - 429 → 429 with `Retry-After` (only waits longer than the proxy makes itself get here; at most an hour).
 * - 5xx, 408, a dropped connection, a body that does not decode → 502; a timeout → 504.
 * - 400, 403, 404, 409, 422 → the same status with the server's message: for the caller to act on.
 *
 * Every message passes the redactor: an upstream that echoes the real key does not hand it on.
 *
 * @since 0.2.0
 */
import type { ControlPlaneError } from "@cubeplane/core/Errors"
import * as Retry from "@cubeplane/core/Retry"
import type { Call } from "./Call.js"
import { fail } from "./Call.js"
import type { Metrics } from "./Metrics.js"
import type { Redactor } from "./Redact.js"

const passedOn = new Set([400, 403, 404, 409, 422])

/** The longest `Retry-After` passed on to a caller: core's bound on a server's wait (an hour). */
export const maxRetryAfterSeconds = Retry.maxRetryAfterMillis / 1000

/**
 * The upstream's wait (core has already bounded it) as the caller's
 * `Retry-After`: whole seconds in [0, an hour].
 */
const retryAfterSeconds = (millis: number): number =>
  Math.min(maxRetryAfterSeconds, Math.max(0, Math.ceil(millis / 1000)))

export const fromError = (call: Call, error: ControlPlaneError, redactor: Redactor, metrics: Metrics): Response => {
  const said = (message: string | undefined) => message === undefined ? "" : `: ${redactor.text(message)}`
  switch (error._tag) {
    case "Unauthorized":
      call.upstreamStatus = 401
      metrics.upstreamErrors.inc([call.operation ?? "other", "status_401"])
      return fail(
        call,
        502,
        `the upstream Control Plane rejected the proxy's own API key (401)${said(error.serverMessage)}`
      )
    case "RateLimited":
      call.upstreamStatus = 429
      return fail(
        call,
        429,
        `the upstream Control Plane is rate limiting the proxy${said(error.serverMessage)}`,
        error.retryAfterMillis === undefined
          ? undefined
          : { "Retry-After": String(retryAfterSeconds(error.retryAfterMillis)) }
      )
    case "ServerError":
      call.upstreamStatus = error.status
      return fail(call, 502, `the upstream Control Plane failed with ${error.status}${said(error.serverMessage)}`)
    case "BadRequest":
    case "Forbidden":
    case "NotFound":
      call.upstreamStatus = error.status
      return fail(
        call,
        passedOn.has(error.status) ? error.status : 502,
        `upstream Control Plane: ${
          error.serverMessage === undefined ? `status ${error.status}` : redactor.text(error.serverMessage)
        }`
      )
    case "TransportError":
      return error.reason === "Timeout" || error.reason === "Deadline"
        ? fail(call, 504, `the upstream Control Plane timed out: ${redactor.text(error.message)}`)
        : fail(call, 502, `the upstream Control Plane failed: ${redactor.text(error.message)}`)
    case "UnexpectedResponse":
      call.upstreamStatus = error.status
      return fail(
        call,
        502,
        `the upstream Control Plane sent an answer the proxy cannot read: ${redactor.text(error.message)}`
      )
  }
}

/** A request the proxy itself cannot send (it did not encode). */
export const badRequest = (call: Call, problem: string): Response => fail(call, 400, `invalid request: ${problem}`)
