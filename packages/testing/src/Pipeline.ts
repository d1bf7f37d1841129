/**
 * One request through the mock, the same for both doors (the HTTP server
 * and the test layer): authenticate → validate with the contract's schemas
 * → faults → latency → the store's rule → record in the journal.
 *
 * The answer is the body the server sends (`Json`, in the store's wire
 * shape) or the export (`Csv`); a refusal is a `MockFailure` (status and
 * `{"error": ...}` text) or a `Reset` (no answer at all). Time comes from
 * the `Clock`: real time in the server, `TestClock` in the layer's tests.
 *
 * @since 0.2.0
 */
import type { Api, ControlPlaneError } from "@cubeplane/core"
import { Cause, Clock, Data, Duration, Effect, Either, Exit, Option } from "effect"
import * as Contract from "./Contract.js"
import * as Faults from "./Faults.js"
import * as MockStore from "./MockStore.js"
import type * as Seed from "./Seed.js"

/** A request as either door received it. */
export interface MockRequest {
  readonly operation: Api.Operation
  /** The `Authorization` header (`Bearer <key>` or `Api-Key <key>`). */
  readonly authorization: string | undefined
  /** Path parameters by the contract's names (`deployment_id`, `environment_id`). */
  readonly params: Readonly<Record<string, string>>
  readonly query: Contract.Query
  /** The body: parsed JSON, or why it is not JSON. Absent for a request without one. */
  readonly body?: Either.Either<unknown, string>
  /** The text of an `x-mock-fault` header: a fault for this request only. */
  readonly faultHeader?: string
}

export type Answer =
  | { readonly _tag: "Json"; readonly body: MockStore.WireBody }
  | { readonly _tag: "Csv"; readonly csv: MockStore.AuditLogExport }

export interface Answered {
  readonly answer: Answer
  /** A fault cuts the body after this many bytes. */
  readonly truncateAfterBytes?: number
}

/** A fault destroys the connection without any answer. */
export class Reset extends Data.TaggedError("Reset")<{
  /** A fault added by the test layer's `fail`: the layer fails with exactly this error. */
  readonly raise?: ControlPlaneError
}> {}

export type Refusal = MockStore.MockFailure | Reset

type Rule = (key: Seed.ApiKey) => Effect.Effect<Answer, MockStore.MockFailure>

/** A request validated (or not), with the arguments the journal records either way. */
interface Prepared {
  readonly arguments: Record<string, unknown>
  readonly rule: Either.Either<Rule, MockStore.MockFailure>
}

const decodeListDeploymentsQuery = Contract.queryDecoder(Contract.endpoints.listDeployments.urlParamsSchema)
const decodeListEnvironmentsQuery = Contract.queryDecoder(Contract.endpoints.listEnvironments.urlParamsSchema)
const decodeEnvironmentsPath = Contract.pathDecoder(Contract.endpoints.listEnvironments.pathSchema)
const decodeTokenPath = Contract.pathDecoder(Contract.endpoints.createMetaSyncToken.pathSchema)
const decodeTokenBody = Option.match(Contract.endpoints.createMetaSyncToken.payloadSchema, {
  onNone: () => () => Either.left(new MockStore.MockFailure({ status: 400, error: "The contract declares no body" })),
  onSome: MockStore.tokenBodyDecoder
})
const decodeExportQuery = Contract.queryDecoder(Contract.endpoints.exportAuditLog.urlParamsSchema)

const json = (body: MockStore.WireBody): Answer => ({ _tag: "Json", body })

/** Validates the request with the contract's schemas and picks the store's rule. */
const prepare = (store: MockStore.MockStore, request: MockRequest): Prepared => {
  const raw = Contract.definedOnly(request.query)
  const argumentsWith = <A extends Readonly<Record<string, unknown>>>(
    decoded: Either.Either<A, unknown>,
    extra: Parameters<typeof MockStore.argumentsOf>[1] = {}
  ) =>
    MockStore.argumentsOf(request.operation, {
      ...extra,
      query: Either.isRight(decoded) ? { ...decoded.right } : raw
    })
  switch (request.operation) {
    case "listDeployments": {
      const query = decodeListDeploymentsQuery(request.query)
      return {
        arguments: argumentsWith(query),
        rule: Either.map(query, (options) => (key) => Either.map(MockStore.listDeployments(store, key, options), json))
      }
    }
    case "listEnvironments": {
      const path = decodeEnvironmentsPath(request.params)
      const query = decodeListEnvironmentsQuery(request.query)
      const deploymentId = request.params.deployment_id ?? ""
      return {
        arguments: argumentsWith(query, { deploymentId }),
        rule: Either.flatMap(
          path,
          (p) =>
            Either.map(
              query,
              (options) => (key) =>
                Either.map(MockStore.listEnvironments(store, key, p.deployment_id ?? deploymentId, options), json)
            )
        )
      }
    }
    case "createMetaSyncToken": {
      const deploymentId = request.params.deployment_id ?? ""
      const environmentId = request.params.environment_id ?? ""
      const parsed = request.body ?? Either.right(undefined)
      const body = Either.getOrUndefined(parsed)
      const input = Either.flatMap(
        decodeTokenPath(request.params),
        () =>
          Either.flatMap(
            Either.mapLeft(parsed, (error) => new MockStore.MockFailure({ status: 400, error })),
            decodeTokenBody
          )
      )
      return {
        arguments: MockStore.argumentsOf(request.operation, { deploymentId, environmentId, body }),
        rule: Either.map(
          input,
          (token) => (key) =>
            Effect.map(MockStore.createMetaSyncToken(store, key, deploymentId, environmentId, token), json)
        )
      }
    }
    case "exportAuditLog": {
      const selection = Either.flatMap(decodeExportQuery(request.query), MockStore.parseAuditLogQuery)
      return {
        arguments: MockStore.argumentsOf(request.operation, { query: raw }),
        rule: Either.map(
          selection,
          (s) => (key) => Either.map(MockStore.exportAuditLog(store, key, s), (csv): Answer => ({ _tag: "Csv", csv }))
        )
      }
    }
  }
}

interface Taken {
  readonly id: string
  readonly fault: Faults.Fault
  readonly raise?: ControlPlaneError
}

/** The faults for this request: its `x-mock-fault` header (a 400 if malformed), else the registered ones. */
const faultsFor = (
  store: MockStore.MockStore,
  request: MockRequest,
  now: number
): Either.Either<ReadonlyArray<Taken>, MockStore.MockFailure> => {
  if (request.faultHeader !== undefined) {
    return Either.mapBoth(Faults.parse(request.faultHeader), {
      onLeft: (error) => new MockStore.MockFailure({ status: 400, error }),
      onRight: (fault): ReadonlyArray<Taken> =>
        Faults.appliesTo(fault, request.operation) ? [{ id: "header", fault }] : []
    })
  }
  return Either.right(Faults.take(store.faults, request.operation, now))
}

/** The status a refusal is recorded with (`null`: no answer). */
const statusOf = (refusal: Refusal): number | null => refusal._tag === "Reset" ? null : refusal.status

/**
 * Runs one request through the pipeline and records it in the store's
 * journal (unless the caller stopped waiting before it was answered).
 */
export const run = (store: MockStore.MockStore, request: MockRequest): Effect.Effect<Answered, Refusal> => {
  const prepared = prepare(store, request)
  const authenticated = MockStore.authenticate(store, request.authorization)
  const keyName = Either.isRight(authenticated) ? authenticated.right.name : null
  let faultId: string | undefined

  const program = Effect.gen(function*() {
    const key = yield* authenticated
    const rule = yield* prepared.rule
    const taken = yield* faultsFor(store, request, yield* Clock.currentTimeMillis)
    const shaping = taken.find((t) => Faults.outcome(t.fault)._tag !== "Normal")
    faultId = (shaping ?? taken[0])?.id
    const latency = taken.reduce((sum, t) => sum + (t.fault.latencyMs ?? 0), 0)
    if (latency > 0) yield* Effect.sleep(Duration.millis(latency))
    const outcome = shaping === undefined ? undefined : Faults.outcome(shaping.fault)
    const raise = shaping?.raise !== undefined ? { raise: shaping.raise } : {}
    if (outcome?._tag === "Reset") return yield* new Reset(raise)
    if (outcome?._tag === "Error") {
      return yield* new MockStore.MockFailure({
        status: outcome.status,
        error: outcome.error,
        ...(outcome.retryAfter !== undefined ? { retryAfter: outcome.retryAfter } : {}),
        ...raise
      })
    }
    const answer = yield* rule(key)
    return outcome?._tag === "Truncate" ? { answer, truncateAfterBytes: outcome.afterBytes } : { answer }
  })

  const record = (status: number | null) =>
    Effect.flatMap(Clock.currentTimeMillis, (at) =>
      Effect.sync(() =>
        MockStore.record(store, {
          operation: request.operation,
          arguments: prepared.arguments,
          keyName,
          status,
          ...(faultId !== undefined ? { fault: faultId } : {})
        }, at)
      ))

  return Effect.onExit(program, (exit) =>
    Exit.match(exit, {
      onSuccess: () => record(200),
      // Interrupted (the caller gave up during a latency) or a defect: nothing was answered to record.
      onFailure: (cause) =>
        Option.match(Cause.failureOption(cause), { onNone: () => Effect.void, onSome: (r) => record(statusOf(r)) })
    }))
}
