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
import { BadRequest, ControlPlane, Domain as CoreDomain, fromResponse, make as makeControlPlane } from "@cubeplane/core"
import { Api as CoreApi } from "@cubeplane/core"
import { UrlParams } from "@effect/platform"
import { Clock, Context, Duration, Effect, Either, Layer, ParseResult, Schema, Stream } from "effect"
import * as MockStore from "./MockStore.js"
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
  /** The next `times` calls of `operation` (default: every call, until `reset`) fail with `error`. */
  readonly fail: (
    operation: Api.Operation,
    error: ControlPlaneError,
    options?: { readonly times?: number }
  ) => Effect.Effect<void>
  /** Every call of `operation` first sleeps `duration` on the `Clock` (advance it with `TestClock.adjust`). Zero removes it. */
  readonly delay: (operation: Api.Operation, duration: Duration.DurationInput) => Effect.Effect<void>
  /** Back to the seed: data, calls, failures and delays. */
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

interface InjectedFailure {
  readonly operation: Api.Operation
  readonly error: ControlPlaneError
  remaining: number | undefined
}

const statusOf = (error: ControlPlaneError): number | null => "status" in error ? error.status : null

const toError = (method: string, path: string) => (failure: MockStore.MockFailure): ControlPlaneError =>
  fromResponse({
    status: failure.status,
    method,
    path,
    serverMessage: failure.error,
    ...(failure.retryAfter !== undefined ? { retryAfterMillis: failure.retryAfter * 1000 } : {})
  })

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

/** Both services over an existing store (for example one a `MockServer` also serves). */
export const make = (
  store: MockStore.MockStore,
  options: Options = {}
): Effect.Effect<{ readonly controlPlane: ControlPlaneService; readonly control: ControlPlaneTestService }> =>
  Effect.sync(() => {
    const key = resolveKey(store, options.apiKey)
    const failures: Array<InjectedFailure> = []
    const delays = new Map<Api.Operation, Duration.Duration>()

    const takeFailure = (operation: Api.Operation): ControlPlaneError | undefined => {
      const index = failures.findIndex((f) => f.operation === operation)
      if (index === -1) return undefined
      const failure = failures[index]!
      if (failure.remaining !== undefined && --failure.remaining <= 0) failures.splice(index, 1)
      return failure.error
    }

    /** One call: latency, injected failure, authentication, the store's rule; recorded either way. */
    const call = <A>(
      operation: Api.Operation,
      method: string,
      path: string,
      args: Record<string, unknown>,
      rule: (apiKey: Seed.ApiKey) => Effect.Effect<A, MockStore.MockFailure>
    ): Effect.Effect<A, ControlPlaneError> =>
      Effect.gen(function*() {
        const delay = delays.get(operation)
        if (delay !== undefined) yield* Effect.sleep(delay)
        const authenticated = MockStore.authenticateKey(store, key)
        const keyName = Either.isRight(authenticated) ? authenticated.right.name : null
        const injected = takeFailure(operation)
        if (injected !== undefined) {
          MockStore.record(store, {
            operation,
            arguments: args,
            keyName,
            status: statusOf(injected),
            fault: "injected"
          })
          return yield* Effect.fail(injected)
        }
        const result = yield* Effect.either(Effect.flatMap(authenticated, rule))
        MockStore.record(store, {
          operation,
          arguments: args,
          keyName,
          status: Either.isRight(result) ? 200 : result.left.status
        })
        return yield* Either.mapLeft(result, toError(method, path))
      })

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
      return notSent(path, options) ?? call(
        "listDeployments",
        "GET",
        path,
        MockStore.argumentsOf("listDeployments", { query }),
        (apiKey) => Effect.flatMap(MockStore.listDeployments(store, apiKey, query), decodeWire(decodeDeploymentList))
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
      return notSent(path, options) ?? call(
        "listEnvironments",
        "GET",
        path,
        MockStore.argumentsOf("listEnvironments", { deploymentId, query }),
        (apiKey) =>
          Effect.flatMap(
            MockStore.listEnvironments(store, apiKey, deploymentId, query),
            decodeWire(decodeEnvironmentList)
          )
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
        onRight: (encoded) => {
          // What the server would receive: the JSON text, parsed.
          const body: unknown = JSON.parse(JSON.stringify(encoded))
          return call(
            "createMetaSyncToken",
            "POST",
            path,
            MockStore.argumentsOf("createMetaSyncToken", { deploymentId, environmentId, body }),
            (apiKey) =>
              Effect.flatMap(
                MockStore.createMetaSyncToken(store, apiKey, deploymentId, environmentId, body),
                decodeWire(decodeMetaSyncToken)
              )
          )
        }
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
        call(
          "exportAuditLog",
          "GET",
          path,
          MockStore.argumentsOf("exportAuditLog", { query }),
          (apiKey) => MockStore.exportAuditLog(store, apiKey, query)
        ).pipe(
          // One 64 KiB chunk per pull, produced as the consumer reads.
          Effect.map((csvExport) =>
            Stream.suspend(() => Stream.fromIteratorSucceed(csvExport.csv(), 1)).pipe(
              Stream.filter((chunk) => chunk.length > 0)
            )
          )
        )
      )
    }

    const controlPlane = makeControlPlane({ listDeployments, listEnvironments, createMetaSyncToken, exportAuditLog })

    const control: ControlPlaneTestService = {
      store,
      calls: Effect.sync(() => [...store.calls]),
      clearCalls: Effect.sync(() => MockStore.clearCalls(store)),
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
      fail: (operation, error, options = {}) =>
        Effect.sync(() => {
          if (options.times !== undefined && options.times <= 0) return
          failures.push({ operation, error, remaining: options.times })
        }),
      delay: (operation, duration) =>
        Effect.sync(() => {
          const decoded = Duration.decode(duration)
          if (Duration.toMillis(decoded) <= 0) delays.delete(operation)
          else delays.set(operation, decoded)
        }),
      reset: Effect.sync(() => {
        MockStore.reset(store)
        failures.length = 0
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
