/**
 * What every request gets around its handler: a request id, then the access
 * log line and the metrics when it is answered (`begin` … `finish`), and the
 * one 500 answer for a bug (`failed`), logged with the upstream key redacted.
 *
 * @since 0.2.0
 */
import { randomUUID } from "node:crypto"
import { Call, type Ctx, fail } from "./Call.js"
import * as Keys from "./Keys.js"
import * as Log from "./Log.js"
import type { LogEntry } from "./Log.js"
import type { Metrics } from "./Metrics.js"
import type { Redactor } from "./Redact.js"

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/

export interface Observe {
  /** A new `Call` for the request (its id, and the headers every answer carries), counted in flight. */
  readonly begin: (c: Ctx) => Call
  /** The request is answered: its access log line, its metrics; the response is handed back. */
  readonly finish: (call: Call, response: Response) => Response
  /** A bug (an exception or a defect): logged (redacted), answered 500 with the request id, finished. */
  readonly failed: (call: Call, error: unknown) => Response
  /** A handler with no pipeline (the operational endpoints), between `begin` and `finish`. */
  readonly observed: (
    handler: (call: Call) => Response | Promise<Response>
  ) => (c: Ctx) => Response | Promise<Response>
  /** The 500 answer alone, for Hono's `onError` safety net (no `begin`, so no `finish`). */
  readonly internalError: (c: Ctx, error: unknown) => Response
}

export const make = (
  accessLog: Log.AccessLog["Type"],
  metrics: Metrics,
  log: (entry: LogEntry) => void,
  redactor: Redactor
): Observe => {
  const startCall = (c: Ctx): Call => {
    const incoming = c.env?.incoming
    const given = incoming === undefined ? c.req.header("x-request-id") : incoming.headers["x-request-id"]
    const authorization = incoming === undefined ? c.req.header("authorization") : incoming.headers.authorization
    // An id that holds a key (a `cpk_…` one, or the key this request presents, whatever it looks like) is not
    // echoed, logged or sent upstream: a fresh one instead.
    const id = typeof given === "string" && requestIdPattern.test(given) &&
        Keys.hide(given, Keys.fromAuthorization(authorization)) === given
      ? given
      : randomUUID()
    return new Call(c, id, { "X-Request-Id": id, "X-Content-Type-Options": "nosniff" })
  }

  const internalError = (call: Call, error: unknown): Response => {
    log({
      time: Log.timestamp(),
      level: "error",
      msg: "unexpected error",
      request_id: call.requestId,
      error: Keys.hide(redactor.text(error instanceof Error ? error.message : String(error)), call.presented)
    })
    return fail(call, 500, `internal proxy error (request id ${call.requestId})`)
  }

  const begin = (c: Ctx): Call => {
    const call = startCall(c)
    call.started = performance.now()
    metrics.inFlight++
    return call
  }

  const finish = (call: Call, response: Response): Response => {
    metrics.inFlight--
    // An export written to the socket by its handler: the status it got, not Hono's "already sent" marker's.
    const status = call.sentStatus ?? response.status
    const seconds = (performance.now() - call.started) / 1000
    const operation = call.operation ?? "other"
    accessLog.access({
      // The id the caller chose may hold the key it sent (the key alone is refused at `begin`).
      requestId: call.presented === undefined ? call.requestId : Keys.hide(call.requestId, call.presented),
      key: call.keyName ?? null,
      operation: call.operation ?? null,
      method: call.c.req.method,
      path: Keys.hide(call.c.req.path, call.presented),
      status,
      durationMs: Math.round(seconds * 100_000) / 100,
      cache: call.cacheResult,
      upstreamStatus: call.upstreamStatus,
      error: call.error
    })
    metrics.requests.inc3(operation, String(status), call.keyName ?? "")
    metrics.duration.observe(operation, seconds)
    if (call.keyName !== undefined) metrics.countKey(call.keyName, status)
    return response
  }

  const failed = (call: Call, error: unknown): Response => finish(call, internalError(call, error))

  const observed =
    (handler: (call: Call) => Response | Promise<Response>) => (c: Ctx): Response | Promise<Response> => {
      const call = begin(c)
      let answer: Response | Promise<Response>
      try {
        answer = handler(call)
      } catch (error) {
        return failed(call, error)
      }
      return answer instanceof Promise
        ? answer.then((response) => finish(call, response), (error: unknown) => failed(call, error))
        : finish(call, answer)
    }

  return { begin, finish, failed, observed, internalError: (c, error) => internalError(startCall(c), error) }
}
