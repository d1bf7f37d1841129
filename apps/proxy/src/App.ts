/**
 * The proxy as a Hono app: `makeApp(deps)` returns an app that tests drive
 * with `app.request(...)` and `main.ts` serves on a port.
 *
 * Hono is the HTTP shell: routing, `/docs`, the operational endpoints. The
 * work is Effect programs over services (`Keys.ProxyKeys`,
 * `RateLimit.RateLimits`, `Policy.Grants`, `Cache.ListCache`,
 * `Metrics.ProxyMetrics`, `Log.AccessLog`, `Upstream.ControlPlaneUpstream`),
 * provided once by the layers built here; another store for any of them
 * (Redis-backed rate limits and cache across replicas) is another layer.
 *
 * Every `/api/v1` request: request id → access log → metrics (`begin` …
 * `finish`) around the pipeline of `route` (see `Pipeline.ts`; the order is
 * enforced by the types): authenticate → rate limit → validate → authorize →
 * forward. The steps whose services answer at once run as plain calls; the
 * request's one Effect program is its forwarder (and any step that waits).
 *
 * @since 0.1.0
 */
import * as Api from "@cubeplane/core/Api"
import type { Operation } from "@cubeplane/core/Api"
import { Cause, Effect, Exit, type Fiber, Layer, ManagedRuntime } from "effect"
import { Hono } from "hono"
import * as AuthFailures from "./AuthFailures.js"
import * as Cache from "./Cache.js"
import { type AppEnv, type Call, type Ctx, fail, jsonType, reply } from "./Call.js"
import * as ClientAddress from "./ClientAddress.js"
import type { ProxyConfig } from "./Config.js"
import * as Docs from "./Docs.js"
import * as Forward from "./Forward.js"
import * as Keys from "./Keys.js"
import * as Lists from "./Lists.js"
import * as Log from "./Log.js"
import type { LogEntry } from "./Log.js"
import { Metrics } from "./Metrics.js"
import * as MetricsModule from "./Metrics.js"
import * as MetricsEndpoint from "./MetricsEndpoint.js"
import * as Observe from "./Observe.js"
import * as OpenApi from "./OpenApi.js"
import type { Authorized, Checkable, Step } from "./Pipeline.js"
import { andThen, check, lockedOutAnswer, refusal, Refused, steps, waits } from "./Pipeline.js"
import * as Policy from "./Policy.js"
import * as RateLimit from "./RateLimit.js"
import * as Readiness from "./Readiness.js"
import * as RedisCache from "./RedisCache.js"
import * as RedisRateLimit from "./RedisRateLimit.js"
import * as RedisStore from "./RedisStore.js"
import * as RequestRuntime from "./RequestRuntime.js"
import type { Upstream } from "./Upstream.js"
import * as UpstreamModule from "./Upstream.js"
import * as Validate from "./Validate.js"

/** One JSON log line: an access line per request, an audit line per token minted. */
export type { LogEntry } from "./Log.js"
export { maxBodyBytes } from "./Validate.js"

export interface AppDeps {
  readonly config: ProxyConfig
  readonly upstream: Upstream
  /** The clock of rate limits and the cache. Default: `Date.now`. */
  readonly now?: () => number
  /** Where log lines go. Default: one JSON line per entry on stdout. */
  readonly log?: (entry: LogEntry) => void
  readonly metrics?: Metrics
  /** The keys; default: a fixed ring of `config.keys`. `LiveConfig.makeLiveKeyRing` gives one that reloads. */
  readonly keys?: Keys.KeyRing
  /** A store shared by every replica: rate limits and the list cache live there, `/readyz` reports it. */
  readonly store?: RedisStore.RedisStore
}

/** The services of the proxy: in memory, or rate limits and cache in the shared store when there is one. */
export const layer = (deps: AppDeps, metrics: Metrics) => {
  const now = deps.now ?? Date.now
  const shared = deps.store === undefined ? undefined : Layer.succeed(RedisStore.Store, deps.store)
  return Layer.mergeAll(
    // No tracer is installed in the proxy: spans would only cost allocations.
    Layer.setTracerEnabled(false),
    // Fibers resume from one shared queue: no per-fiber runner for each request (see RequestRuntime).
    Layer.setScheduler(RequestRuntime.scheduler()),
    deps.keys === undefined ? Keys.layer(deps.config.keys) : Layer.succeed(Keys.ProxyKeys, deps.keys),
    shared === undefined ? RateLimit.layerMemory(now) : RedisRateLimit.layer.pipe(Layer.provide(shared)),
    shared === undefined
      ? AuthFailures.layerMemory(deps.config.authFailures, now)
      : AuthFailures.layerRedis(deps.config.authFailures, now).pipe(Layer.provide(shared)),
    Policy.layer,
    shared === undefined
      ? Cache.layerMemory(deps.config.cache, now)
      : RedisCache.layer(deps.config.cache).pipe(Layer.provide(shared)),
    MetricsModule.layer(metrics),
    Log.layer(deps.log),
    UpstreamModule.layer(deps.upstream)
  )
}

type Services = Layer.Layer.Success<ReturnType<typeof layer>>

export const makeApp = (deps: AppDeps) => {
  const { config, upstream } = deps
  const metrics = deps.metrics ?? new Metrics()
  const log = deps.log ?? Log.write
  // One runtime for the app's life; its layers are in memory, so it is built at once.
  const runtime = ManagedRuntime.make(layer(deps, metrics))
  // Requests run on the services and the scheduler only (see RequestRuntime).
  const fork = RequestRuntime.forkOn(runtime.runSync(runtime.runtimeEffect))

  const openApiText = JSON.stringify(OpenApi.document())
  const docsPage = Docs.page()
  const docsHeaders = { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": Docs.policy(docsPage) }
  const metricsEndpoint = MetricsEndpoint.make(config.metrics, metrics)
  const readiness = Readiness.make(upstream, deps.now ?? Date.now)
  const store = deps.store
  if (store !== undefined) metrics.sources.push((out) => RedisStore.renderMetrics(store, out))

  const app = new Hono<AppEnv>()

  // The layers' services, resolved once: the access log (for the wrapper below), the pipeline's steps, the forwarders.
  const addressOf = ClientAddress.make(config.authFailures?.trustedProxies ?? [])
  const [accessLog, { admit, authenticate, authorize }, listForward, tokenForward, auditLogForward, failures] = runtime
    .runSync(
      Effect.all([
        Log.AccessLog,
        steps(deps.now ?? Date.now, addressOf),
        Lists.forwarder,
        Forward.tokenForwarder,
        Forward.auditLogForwarder,
        AuthFailures.AuthFailures
      ])
    )
  // The metrics key is guessed under the same per-address limit as the proxy keys.
  const guardKey = AuthFailures.guard(
    failures,
    addressOf,
    (call, seconds) => lockedOutAnswer(call, metrics, seconds),
    (counted) => runtime.runPromise(counted)
  )

  /** request id → access log → metrics, around every handler: `begin` … `finish`. */
  const { begin, failed, finish, internalError, observed } = Observe.make(accessLog, metrics, log, upstream.redactor)

  /** A program's end: its answer (on the call, see `execute`), or (a defect, i.e. a bug) the 500. */
  const settle = (call: Call, exit: Exit.Exit<void>): Response =>
    Exit.isSuccess(exit) && call.answer !== undefined
      ? finish(call, call.answer)
      : failed(call, Exit.isFailure(exit) ? Cause.squash(exit.cause) : new Error("a program ended without an answer"))

  /**
   * Runs a request's program, from this stack: one that never waits (a cache hit) is answered at
   * once; one that waits settles the promise Hono gets from the fiber's observer. The answer goes
   * on the call, not in the fiber's result: a fiber that waited stays reachable from Effect's
   * old-space callbacks until a full collection, and its result would be promoted with it.
   */
  const execute = (call: Call, program: Effect.Effect<Response, never, Services>): Response | Promise<Response> => {
    let fiber: Fiber.RuntimeFiber<void>
    try {
      fiber = fork(Effect.map(program, (response) => {
        call.answer = response
      }))
    } catch (error) {
      return failed(call, error)
    }
    const exit = fiber.unsafePoll()
    if (exit !== null) return settle(call, exit)
    return new Promise<Response>((resolve) => fiber.addObserver((exit) => resolve(settle(call, exit))))
  }

  /**
   * An `/api/v1` route: the pipeline, in its one order —
   * authenticate → rate limit → validate → authorize → forward.
   * A refusal is answered at once, without an Effect program.
   */
  const route = <R extends Checkable>(
    operation: Operation,
    validate: (call: Call) => Step<R>,
    forward: (request: Authorized<R>) => Effect.Effect<Response, never, Services>,
    headers: Readonly<Record<string, string>> = {}
  ) => {
    // The steps are made once per route; a request only runs them.
    const validated = check(validate)
    const extraHeaders = Object.keys(headers).length > 0
    return (c: Ctx): Response | Promise<Response> => {
      const call = begin(c)
      call.operation = operation
      if (extraHeaders) Object.assign(call.headers, headers)
      let program: Effect.Effect<Response, never, Services>
      try {
        const authorized = andThen(andThen(andThen(authenticate(call), admit), validated), authorize)
        if (authorized instanceof Refused) return finish(call, authorized.response)
        program = waits(authorized)
          ? Effect.flatMap(authorized, forward).pipe(Effect.catchTag("Refused", refusal))
          : forward(authorized)
      } catch (error) {
        return failed(call, error)
      }
      return execute(call, program)
    }
  }

  app.get(Api.routes.deployments, route("listDeployments", Validate.deployments, listForward))
  app.get(Api.routes.environments, route("listEnvironments", Validate.environments, listForward))
  // Minted tokens (and refusals to mint them) are never stored by a browser or a shared cache.
  app.post(
    Api.routes.metaSyncToken,
    route("createMetaSyncToken", Validate.token, tokenForward, { "Cache-Control": "no-store" })
  )
  app.get(Api.routes.auditLogExport, route("exportAuditLog", Validate.auditLog, auditLogForward))

  // Operational endpoints (no key needed).
  app.get("/healthz", observed((call) => reply(call, 200, JSON.stringify({ status: "ok" }), jsonType)))
  app.get(
    "/readyz",
    observed(async (call) => {
      const upstreamState = await readiness()
      const state = store === undefined ? upstreamState : RedisStore.withStore(upstreamState, store)
      return reply(call, state.ok ? 200 : 503, JSON.stringify(state.body), jsonType)
    })
  )
  if (MetricsEndpoint.onApiPort(config.metrics)) {
    app.get(
      "/metrics",
      observed((call) =>
        guardKey(call, () => {
          const authorization = call.header("authorization")
          const answer = metricsEndpoint(authorization)
          if (answer.status !== 200) call.error = "metrics key missing or wrong"
          return {
            respond: () => reply(call, answer.status, answer.body, answer.headers),
            wrongKey: answer.status === 401 && Keys.fromAuthorization(authorization) !== undefined
          }
        })
      )
    )
  }
  app.get(
    "/openapi.json",
    observed((call) => reply(call, 200, openApiText, { "Content-Type": "application/json; charset=utf-8" }))
  )
  app.get("/docs", observed((call) => reply(call, 200, docsPage, docsHeaders)))

  // Other methods on the four paths: 405 naming the one allowed. Registered per method
  // (not `app.all`) so a GET matches exactly one handler.
  const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
  const allowed: ReadonlyArray<readonly [string, string]> = [
    [Api.routes.deployments, "GET"],
    [Api.routes.environments, "GET"],
    [Api.routes.metaSyncToken, "POST"],
    [Api.routes.auditLogExport, "GET"]
  ]
  for (const [path, method] of allowed) {
    const others = methods.filter((other) => other !== method && !(method === "GET" && other === "HEAD"))
    app.on(
      others,
      path,
      observed((call) =>
        fail(call, 405, `${call.c.req.method} is not allowed on ${call.c.req.path} (allowed: ${method})`, {
          Allow: method
        })
      )
    )
  }

  app.notFound(
    observed((call) => {
      // The path is echoed: a key the caller sent is hidden in it (see `Keys.hide`), here and in the log.
      call.presented = Keys.fromAuthorization(call.header("authorization"))
      return fail(call, 404, `no such endpoint: ${call.c.req.method} ${call.c.req.path} (see /docs)`)
    })
  )
  // A safety net: `observed` already turns a handler's exception into this answer.
  app.onError((error, c) => internalError(c, error))

  return app
}

export type App = ReturnType<typeof makeApp>
