/**
 * The `ControlPlane` service in memory, for tests: the same rules as the
 * mock HTTP server (both call `MockStore`), the same typed errors as the
 * HTTP client (built with `fromResponse`, so status and message match), and
 * streams derived by core's `make`, so paging behaves identically.
 *
 * Alongside it, the `ControlPlaneTest` service lets a test see and steer
 * the mock: the recorded calls, data changes, injected failures and
 * latency (on the `TestClock`), and `reset`.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { ControlPlane } from "@cubeplane/core"
 * import { ControlPlaneTest } from "@cubeplane/testing"
 *
 * it.layer(ControlPlaneTest.layer())((it) => {
 *   it.effect("lists production URLs", () =>
 *     Effect.gen(function*() {
 *       const urls = yield* productionUrls("123") // code under test, written against ControlPlane
 *       expect(urls).toEqual(["https://example.cubecloud.dev/cubejs-api"])
 *       const test = yield* ControlPlaneTest.ControlPlaneTest
 *       expect((yield* test.calls).map((c) => c.operation)).toEqual(["listEnvironments"])
 *     }))
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Api, ControlPlaneError, ControlPlaneService, Domain } from "@cubeplane/core"
import {
  BadRequest,
  ControlPlane,
  Domain as CoreDomain,
  fromResponse,
  make as makeControlPlane,
  TransportError
} from "@cubeplane/core"
import { Api as CoreApi } from "@cubeplane/core"
import * as UrlParams from "@effect/platform/UrlParams"
import { Clock, Context, Duration, Effect, Either, Layer, ParseResult, Schema, Stream } from "effect"
import * as Faults from "./Faults.js"
import * as MockStore from "./MockStore.js"
import * as Pipeline from "./Pipeline.js"
import * as Seed from "./Seed.js"

/** A deployment to add: as in a seed (camelCase), `createdAt` defaulting to now and `environments` to none. */
export interface DeploymentInput {
  readonly id: string
  readonly name: string
  readonly createdAt?: Date
  readonly environments?: ReadonlyArray<Seed.Environment>
}

export interface ControlPlaneTestService {
  /** The store behind the layer (share it with `MockServer.app(store)` to serve the same state over HTTP). */
  readonly store: MockStore.MockStore
  /** The calls made so far, oldest first: operation, arguments, key name (never the key) and status. */
  readonly calls: Effect.Effect<ReadonlyArray<MockStore.Call>>
  readonly clearCalls: Effect.Effect<void>
  readonly addDeployment: (deployment: DeploymentInput) => Effect.Effect<void>
  /** `false` if there was no such deployment. */
  readonly removeDeployment: (deploymentId: string) => Effect.Effect<boolean>
  /** `false` if the deployment does not exist. */
  readonly addEnvironment: (deploymentId: string, environment: Seed.Environment) => Effect.Effect<boolean>
  readonly removeEnvironment: (deploymentId: string, environmentId: string) => Effect.Effect<boolean>
  /** Events in any order; exports still come oldest first. */
  readonly addAuditEvents: (events: Iterable<Domain.AuditLogEvent>) => Effect.Effect<void>
  /**
   * Adds a fault in the vocabulary of `POST /__mock/faults` (status, `retryAfter`, `latencyMs`, `reset`,
   * `truncateAfterBytes`, `times`, `forMs`, `operation`). It lives in the store's one registry: the HTTP
   * server serving the same store sees it too, and faults added over HTTP reach the layer. Its window
   * (`forMs`) and latency run on the `Clock` (drive them with `TestClock`).
   */
  readonly fault: (fault: Faults.Fault) => Effect.Effect<Faults.Registered>
  /** The registered faults (from either door), with `remaining` and `hits`. */
  readonly faults: Effect.Effect<ReadonlyArray<Faults.Registered>>
  readonly clearFaults: Effect.Effect<void>
  /**
   * The next `times` calls of `operation` (default: every call, until `reset`) fail with exactly `error`.
   * A fault like any other: over HTTP it answers the error's status and message (a `TransportError`: a reset).
   */
  readonly fail: (
    operation: Api.Operation,
    error: ControlPlaneError,
    options?: { readonly times?: number; readonly forMs?: number }
  ) => Effect.Effect<Faults.Registered>
  /** Every call of `operation` first sleeps `duration` on the `Clock` (advance it with `TestClock.adjust`). Zero removes it. */
  readonly delay: (operation: Api.Operation, duration: Duration.DurationInput) => Effect.Effect<void>
  /** The request journal with times (epoch millis on the clock of the door that answered), filtered. */
  readonly requests: (filter?: MockStore.JournalFilter) => Effect.Effect<ReadonlyArray<MockStore.Recorded>>
  /** Back to the seed: data, calls and faults (including failures and delays). */
  readonly reset: Effect.Effect<void>
}

export class ControlPlaneTest extends Context.Tag("@cubeplane/testing/ControlPlaneTest")<
  ControlPlaneTest,
  ControlPlaneTestService
>() {}

export interface Options {
  /**
   * The seed key the layer acts as: its value (or its name). Default: the
   * first key with `All`. A key the seed does not know makes every call
   * fail with `Unauthorized`, as the API would.
   */
  readonly apiKey?: string
  /**
   * The wire shape the layer answers in, overriding the seed's `shape`: `reference` (default) or
   * `platform` (Cube's published document: cursor pages, `deploymentUrl`/`creationStep`, no `created_at`).
   * The layer decodes what the server would send with core's schemas, so each shape gives what the HTTP
   * client would. Platform needs integer deployment ids: a seed with others makes the layer fail to build.
   */
  readonly shape?: CoreDomain.WireShape
}

const toError = (method: string, path: string) => (refusal: Pipeline.Refusal): ControlPlaneError => {
  if (refusal.raise !== undefined) return refusal.raise
  if (refusal._tag === "Reset") {
    return new TransportError({
      method,
      path,
      reason: "Connection",
      message:
        `Connection to the Control Plane failed during ${method} ${path}: the connection was reset (injected fault)`
    })
  }
  return fromResponse({
    status: refusal.status,
    method,
    path,
    serverMessage: refusal.error,
    ...(refusal.retryAfter !== undefined ? { retryAfterMillis: refusal.retryAfter * 1000 } : {})
  })
}

/** A body cut by a `truncateAfterBytes` fault, as the HTTP client would see it. */
const cutBody = (method: string, path: string, afterBytes: number) =>
  new TransportError({
    method,
    path,
    reason: "Body",
    message: `The response body of ${method} ${path} was cut after ${afterBytes} bytes (injected fault)`
  })

/** The fault that makes the HTTP server answer like `error` (its status and message; a reset without a status). */
const faultOf = (error: ControlPlaneError): Faults.Fault => {
  const status = "status" in error ? error.status : undefined
  if (status === undefined || status < 400 || status > 599) return { reset: true }
  const retryAfter = "retryAfterMillis" in error && error.retryAfterMillis !== undefined
    ? { retryAfter: error.retryAfterMillis / 1000 }
    : {}
  const message = "serverMessage" in error && error.serverMessage !== undefined ? error.serverMessage : error.message
  return { status, error: message, ...retryAfter }
}

/** The path with its query string, exactly as the HTTP client writes it into its errors. */
const pathWithQuery = (path: string, params: ReadonlyArray<readonly [string, string | number | undefined]>) => {
  const defined: Array<[string, string]> = []
  for (const [key, value] of params) if (value !== undefined) defined.push([key, String(value)])
  const query = UrlParams.toString(UrlParams.fromInput(defined))
  return { path: query === "" ? path : `${path}?${query}`, query: Object.fromEntries(defined) }
}

const resolveKey = (store: MockStore.MockStore, apiKey: string | undefined): string => {
  if (apiKey === undefined) {
    const all = [...store.keys.values()].find((k) => k.permissions.includes("All"))
    return all?.key ?? [...store.keys.values()][0]?.key ?? ""
  }
  if (store.keys.has(apiKey)) return apiKey
  return [...store.keys.values()].find((k) => k.name === apiKey)?.key ?? apiKey
}

const encodeTokenInput = Schema.encodeEither(CoreDomain.MetaSyncTokenInput)
const decodeDeploymentList = Schema.decodeUnknown(CoreDomain.DeploymentList)
const decodeEnvironmentList = Schema.decodeUnknown(CoreDomain.EnvironmentList)
const decodeMetaSyncToken = Schema.decodeUnknown(CoreDomain.MetaSyncTokenResponse)

/**
 * A body the server would send, as core's HTTP client would decode it (the JSON text, parsed, then
 * core's schemas): the layer answers exactly what a client of the HTTP server gets, in either shape.
 */
const decodeWire = <A>(decode: (body: unknown) => Effect.Effect<A, ParseResult.ParseError>) => (body: unknown) =>
  Effect.orDie(decode(JSON.parse(JSON.stringify(body))))

const utf8Length = (body: unknown) => new TextEncoder().encode(JSON.stringify(body)).length

/** Both services over an existing store (for example one a `MockServer` also serves). */
export const make = (
  store: MockStore.MockStore,
  options: Options = {}
): Effect.Effect<{ readonly controlPlane: ControlPlaneService; readonly control: ControlPlaneTestService }> =>
  Effect.sync(() => {
    const authorization = `Bearer ${resolveKey(store, options.apiKey)}`
    /** The registered latency fault of each `delay(operation, …)`, so a new delay replaces it. */
    const delays = new Map<Api.Operation, string>()

    /** One request through the mock's pipeline (the same as the HTTP server's), as the HTTP client would see it. */
    const send = (
      method: string,
      path: string,
      request: Omit<Pipeline.MockRequest, "authorization">
    ): Effect.Effect<Pipeline.Answered, ControlPlaneError> =>
      Effect.mapError(Pipeline.run(store, { ...request, authorization }), toError(method, path))

    /** A JSON answer decoded as core's client would; a cut body fails as it would over HTTP. */
    const jsonOf = <A>(
      method: string,
      path: string,
      decode: (body: unknown) => Effect.Effect<A, ParseResult.ParseError>
    ) =>
    (answered: Pipeline.Answered): Effect.Effect<A, ControlPlaneError> => {
      if (answered.answer._tag !== "Json") return Effect.dieMessage(`mock: ${method} ${path} answered CSV`)
      const body = answered.answer.body
      return answered.truncateAfterBytes !== undefined && utf8Length(body) > answered.truncateAfterBytes
        ? Effect.fail(cutBody(method, path, answered.truncateAfterBytes))
        : decodeWire(decode)(body)
    }

    /** As the HTTP client: a request mixing offset/limit and first/after is never sent. */
    const notSent = (path: string, options: Domain.PageOptions) => {
      const problem = CoreDomain.pageOptionsProblem(options)
      return problem === undefined ? undefined : Effect.fail(
        new BadRequest({ method: "GET", path, status: 400, message: `Invalid list request (not sent): ${problem}` })
      )
    }

    const listDeployments: ControlPlaneService["listDeployments"] = (options = {}) => {
      const { path, query } = pathWithQuery(CoreApi.paths.deployments, [
        ["offset", options.offset],
        ["limit", options.limit],
        ["first", options.first],
        ["after", options.after]
      ])
      return notSent(path, options) ?? Effect.flatMap(
        send("GET", path, { operation: "listDeployments", params: {}, query }),
        jsonOf("GET", path, decodeDeploymentList)
      )
    }

    const listEnvironments: ControlPlaneService["listEnvironments"] = (deploymentId, options = {}) => {
      const { path, query } = pathWithQuery(CoreApi.paths.environments(deploymentId), [
        ["offset", options.offset],
        ["limit", options.limit],
        ["first", options.first],
        ["after", options.after],
        ["type", options.type]
      ])
      return notSent(path, options) ?? Effect.flatMap(
        send("GET", path, { operation: "listEnvironments", params: { deployment_id: deploymentId }, query }),
        jsonOf("GET", path, decodeEnvironmentList)
      )
    }

    const createMetaSyncToken: ControlPlaneService["createMetaSyncToken"] = (deploymentId, environmentId, input) => {
      const path = CoreApi.paths.metaSyncToken(deploymentId, environmentId)
      return Either.match(encodeTokenInput(input), {
        // As the HTTP client: a body that cannot be encoded is never sent.
        onLeft: (error) =>
          Effect.fail(
            new BadRequest({
              method: "POST",
              path,
              status: 400,
              message: `Invalid token request (not sent): ${ParseResult.TreeFormatter.formatErrorSync(error)}`
            })
          ),
        onRight: (encoded) =>
          Effect.flatMap(
            send("POST", path, {
              operation: "createMetaSyncToken",
              params: { deployment_id: deploymentId, environment_id: environmentId },
              query: {},
              // What the server would receive: the JSON text, parsed.
              body: Either.right(JSON.parse(JSON.stringify(encoded)))
            }),
            jsonOf("POST", path, decodeMetaSyncToken)
          )
      })
    }

    const exportAuditLog: ControlPlaneService["exportAuditLog"] = (filter = {}) => {
      const { path, query } = pathWithQuery(CoreApi.paths.auditLogExport, [
        ["start", filter.start],
        ["end", filter.end],
        ["search", filter.search],
        ["eventName", filter.eventName],
        ["userEmail", filter.userEmail]
      ])
      return Stream.unwrap(
        Effect.map(send("GET", path, { operation: "exportAuditLog", params: {}, query }), (answered) => {
          if (answered.answer._tag !== "Csv") return Stream.dieMessage(`mock: GET ${path} answered JSON`)
          const { csv } = answered.answer
          // One 64 KiB chunk per pull, produced as the consumer reads.
          const chunks = Stream.suspend(() => Stream.fromIteratorSucceed(csv.csv(), 1)).pipe(
            Stream.filter((chunk) => chunk.length > 0)
          )
          const limit = answered.truncateAfterBytes
          if (limit === undefined) return chunks
          // Cut after `limit` bytes, then fail as a dropped connection would.
          return chunks.pipe(
            Stream.mapAccum(0, (sent, chunk) => [sent + chunk.length, chunk.subarray(0, Math.max(0, limit - sent))]),
            Stream.takeWhile((chunk) => chunk.length > 0),
            Stream.concat(Stream.fail(cutBody("GET", path, limit)))
          )
        })
      )
    }

    const controlPlane = makeControlPlane({ listDeployments, listEnvironments, createMetaSyncToken, exportAuditLog })

    const addFault = (fault: Faults.Fault, raise?: ControlPlaneError) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => Effect.sync(() => Faults.add(store.faults, fault, { now, ...(raise !== undefined ? { raise } : {}) }))
      )

    const control: ControlPlaneTestService = {
      store,
      calls: Effect.sync(() => store.calls.map(MockStore.callOf)),
      clearCalls: Effect.sync(() => MockStore.clearCalls(store)),
      requests: (filter) => Effect.sync(() => MockStore.journal(store, filter)),
      addDeployment: (deployment) =>
        store.shape === "platform" && !Seed.platformIdPattern.test(deployment.id)
          ? Effect.dieMessage(
            `addDeployment: the platform shape sends deployment ids as integers, so ${
              JSON.stringify(deployment.id)
            } cannot be served — use an id made of digits`
          )
          : Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() =>
              MockStore.addDeployment(store, {
                id: deployment.id,
                name: deployment.name,
                createdAt: deployment.createdAt ?? new Date(now),
                environments: deployment.environments ?? []
              })
            )),
      removeDeployment: (deploymentId) => Effect.sync(() => MockStore.removeDeployment(store, deploymentId)),
      addEnvironment: (deploymentId, environment) =>
        Effect.sync(() => MockStore.addEnvironment(store, deploymentId, environment)),
      removeEnvironment: (deploymentId, environmentId) =>
        Effect.sync(() => MockStore.removeEnvironment(store, deploymentId, environmentId)),
      addAuditEvents: (events) => Effect.sync(() => MockStore.addAuditEvents(store, events)),
      fault: (fault) => addFault(fault),
      faults: Effect.sync(() => [...store.faults.faults]),
      clearFaults: Effect.sync(() => Faults.clear(store.faults)),
      fail: (operation, error, options = {}) =>
        addFault({
          operation,
          ...faultOf(error),
          ...(options.times !== undefined ? { times: Math.max(1, options.times) } : {}),
          ...(options.forMs !== undefined ? { forMs: options.forMs } : {})
        }, error),
      delay: (operation, duration) =>
        Effect.suspend(() => {
          const previous = delays.get(operation)
          if (previous !== undefined) Faults.remove(store.faults, previous)
          delays.delete(operation)
          const millis = Duration.toMillis(Duration.decode(duration))
          if (millis <= 0) return Effect.void
          return Effect.map(addFault({ operation, latencyMs: Math.ceil(millis) }), (registered) => {
            delays.set(operation, registered.id)
          })
        }),
      reset: Effect.sync(() => {
        MockStore.reset(store)
        delays.clear()
      })
    }
    return { controlPlane, control }
  })

/** Both services over `store`. */
export const layerStore = (
  store: MockStore.MockStore,
  options: Options = {}
): Layer.Layer<ControlPlane | ControlPlaneTest> =>
  Layer.effectContext(
    Effect.map(make(store, options), ({ control, controlPlane }) =>
      Context.make(ControlPlane, controlPlane).pipe(Context.add(ControlPlaneTest, control)))
  )

/**
 * `ControlPlane` in memory over `seed` (default: `Seed.demo`), plus the
 * `ControlPlaneTest` control service. Each build starts from a fresh store.
 */
export const layer = (
  seed: Seed.Seed = Seed.demo,
  options: Options = {}
): Layer.Layer<ControlPlane | ControlPlaneTest> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.orDie(options.shape === undefined ? Effect.succeed(seed) : Seed.withShape(seed, options.shape)),
      (shaped) => layerStore(MockStore.make(shaped), options)
    )
  )
