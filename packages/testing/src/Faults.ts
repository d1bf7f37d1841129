/**
 * Injected faults — one system, one vocabulary, for both doors of the mock:
 * registered with `POST /__mock/faults`, sent for one request in an
 * `x-mock-fault` header, or added from the test layer's API
 * (`ControlPlaneTest.fault`, `fail`, `delay`). The registry lives in the
 * store, so a fault set through one door is seen by the other.
 *
 * ```json
 * { "operation": "exportAuditLog", "times": 2, "forMs": 60000, "status": 503, "error": "maintenance",
 *   "retryAfter": 5, "latencyMs": 200, "reset": true, "truncateAfterBytes": 1024 }
 * ```
 *
 * All fields are optional. `latencyMs` delays the answer (on the `Clock`:
 * real time in the server, `TestClock` in the layer); then `reset` destroys
 * the connection without a response, or `status` (default 429 when
 * `retryAfter` is set) answers `{"error": ...}`, or `truncateAfterBytes`
 * sends the real response but cuts the connection after that many body
 * bytes. A fault with only `latencyMs` answers normally, late. `times`
 * limits it to that many requests, `forMs` to a time window from when it
 * was added (measured on the clock of the door that checks it).
 *
 * @since 0.1.0
 */
import type { ControlPlaneError } from "@cubeplane/core"
import { Api } from "@cubeplane/core"
import { Either, Schema } from "effect"
import { issuesOf, render } from "./internal/issues.js"

const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

export const Fault = Schema.Struct({
  /** The operation it applies to; omitted: any API operation. */
  operation: Schema.optional(Api.Operation),
  /** How many matching requests it applies to; omitted: until cleared. */
  times: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** A time window: it applies for this many milliseconds after it was added; omitted: until cleared. */
  forMs: Schema.optional(Schema.Int.pipe(Schema.positive())),
  /** The status to answer with (400–599). */
  status: Schema.optional(Schema.Int.pipe(Schema.between(400, 599))),
  /** The `error` text of the body. */
  error: Schema.optional(Schema.String),
  /** Seconds, sent as `Retry-After`; implies status 429 unless `status` says otherwise. */
  retryAfter: Schema.optional(Schema.Number.pipe(Schema.nonNegative())),
  /** Wait this long before answering. */
  latencyMs: Schema.optional(NonNegativeInt.pipe(Schema.lessThanOrEqualTo(600_000))),
  /** Destroy the connection without any response. */
  reset: Schema.optional(Schema.Literal(true)),
  /** Send that many bytes of the body, then destroy the connection. */
  truncateAfterBytes: Schema.optional(NonNegativeInt)
}).annotations({ identifier: "Fault" })
export type Fault = typeof Fault.Type

/** A registered fault: its id and how many more requests it applies to. */
export interface Registered {
  readonly id: string
  readonly fault: Fault
  /** `undefined`: until cleared. */
  remaining: number | undefined
  /** Requests it has shaped so far. */
  hits: number
  /** When it was added (epoch millis on the adding door's clock), for `forMs`. */
  readonly addedAt: number
  /**
   * The test layer's own error for this fault (`ControlPlaneTest.fail`): the layer fails with exactly
   * this value; the server answers the fault's `status`/`error`/`retryAfter` (or `reset`) instead.
   */
  readonly raise?: ControlPlaneError
}

export interface Registry {
  nextId: number
  readonly faults: Array<Registered>
}

export const makeRegistry = (): Registry => ({ nextId: 1, faults: [] })

const decodeFault = Schema.decodeUnknownEither(Fault, { errors: "all", onExcessProperty: "error" })

/** Validates a fault; the `Left` says which field was wrong. */
export const decode = (value: unknown): Either.Either<Fault, string> =>
  Either.mapLeft(decodeFault(value), (error) => `Invalid fault: ${issuesOf(error).map(render).join("; ")}`)

/** Parses the JSON text of an `x-mock-fault` header. */
export const parse = (json: string): Either.Either<Fault, string> => {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return Either.left(
      "Invalid x-mock-fault header: not JSON — send e.g. {\"status\": 503} or {\"retryAfter\": 2}"
    )
  }
  return decode(value)
}

export const add = (
  registry: Registry,
  fault: Fault,
  options: { readonly now?: number; readonly raise?: ControlPlaneError } = {}
): Registered => {
  const registered: Registered = {
    id: `fault_${registry.nextId++}`,
    fault,
    remaining: fault.times,
    hits: 0,
    addedAt: options.now ?? Date.now(),
    ...(options.raise !== undefined ? { raise: options.raise } : {})
  }
  registry.faults.push(registered)
  return registered
}

export const clear = (registry: Registry): void => {
  registry.faults.length = 0
}

export const remove = (registry: Registry, id: string): boolean => {
  const index = registry.faults.findIndex((f) => f.id === id)
  if (index === -1) return false
  registry.faults.splice(index, 1)
  return true
}

/** The JSON view of the registry (for `GET /__mock/faults`). */
export const toJson = (registry: Registry) =>
  registry.faults.map(({ fault, hits, id, raise, remaining }) => ({
    id,
    ...fault,
    remaining: remaining ?? null,
    hits,
    ...(raise !== undefined ? { raise: raise._tag } : {})
  }))

/** Whether a fault applies to `operation`. */
export const appliesTo = (fault: Fault, operation: Api.Operation): boolean =>
  fault.operation === undefined || fault.operation === operation

const expired = (registered: Registered, now: number): boolean =>
  registered.fault.forMs !== undefined && now >= registered.addedAt + registered.fault.forMs

/**
 * Every registered fault for `operation` at `now`, each counted as used (and dropped once its
 * `times` are spent or its window has passed). Latencies add up; the first fault that changes the
 * answer (reset, status, cut) decides it.
 */
export const take = (registry: Registry, operation: Api.Operation, now: number): Array<Registered> => {
  const taken: Array<Registered> = []
  for (let i = 0; i < registry.faults.length;) {
    const registered = registry.faults[i]!
    if (expired(registered, now)) {
      registry.faults.splice(i, 1)
      continue
    }
    if (!appliesTo(registered.fault, operation)) {
      i++
      continue
    }
    registered.hits++
    taken.push(registered)
    if (registered.remaining !== undefined && --registered.remaining <= 0) registry.faults.splice(i, 1)
    else i++
  }
  return taken
}

/** What a fault makes the server answer, after its latency. */
export type Outcome =
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Error"; readonly status: number; readonly error: string; readonly retryAfter?: number }
  | { readonly _tag: "Truncate"; readonly afterBytes: number }
  | { readonly _tag: "Normal" }

const defaultError = (status: number, retryAfter: number | undefined): string => {
  if (status === 429) {
    return `Too many requests (injected fault) — retry after ${retryAfter ?? 1} second${retryAfter === 1 ? "" : "s"}`
  }
  if (status >= 500) return `The server failed (injected fault, status ${status}) — retry later`
  return `Injected fault: status ${status}`
}

export const outcome = (fault: Fault): Outcome => {
  if (fault.reset === true) return { _tag: "Reset" }
  const status = fault.status ?? (fault.retryAfter !== undefined ? 429 : fault.error !== undefined ? 500 : undefined)
  if (status !== undefined) {
    return {
      _tag: "Error",
      status,
      error: fault.error ?? defaultError(status, fault.retryAfter),
      ...(fault.retryAfter !== undefined ? { retryAfter: fault.retryAfter } : {})
    }
  }
  if (fault.truncateAfterBytes !== undefined) return { _tag: "Truncate", afterBytes: fault.truncateAfterBytes }
  return { _tag: "Normal" }
}
