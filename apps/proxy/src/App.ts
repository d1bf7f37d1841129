/**
 * The proxy as a Hono app: `makeApp(deps)` returns an app that tests drive
 * with `app.request(...)` and `main.ts` serves on a port.
 *
 * Every `/api/v1` request passes, in this order:
 *   request id → access log → metrics            (`observed`, around every handler)
 *   → auth (proxy key) → rate limit → validation → policy → cache → forward
 *                                                (a `pipeline` of steps per operation)
 * Each step is a small function below that answers the request itself when
 * it refuses (401, 429, 400/413, 403) or has the answer (a cache HIT), so
 * nothing the caller sends reaches the upstream unless every step let it
 * through. The steps are plain functions and each route is one Hono handler
 * (`observed(pipeline([...], forward))`) rather than a chain of Hono
 * middlewares: Hono runs a single handler without composing a chain, and a
 * request that passes every step allocates no promise per step — which
 * matters when the proxy should cost little more than a bare passthrough
 * (see bench/proxy.ts).
 *
 * @since 0.1.0
 */
import * as Api from "@cubeplane/core/Api"
import type { Operation } from "@cubeplane/core/Api"
import * as Domain from "@cubeplane/core/Domain"
import * as Json from "@cubeplane/core/Json"
import { Either, ParseResult, Schema } from "effect"
import { Hono } from "hono"
import type { Context } from "hono"
import type { ContentfulStatusCode } from "hono/utils/http-status"
import { createHash, randomUUID } from "node:crypto"
import type { IncomingMessage } from "node:http"
import * as Cache from "./Cache.js"
import type { KeyConfig, ProxyConfig } from "./Config.js"
import * as Docs from "./Docs.js"
import { csvChecker, ndjsonConverter, streamBody } from "./Export.js"
import * as Keys from "./Keys.js"
import * as Log from "./Log.js"
import type { LogEntry } from "./Log.js"
import { Metrics } from "./Metrics.js"
import * as MetricsEndpoint from "./MetricsEndpoint.js"
import * as OpenApi from "./OpenApi.js"
import * as Policy from "./Policy.js"
import * as RateLimit from "./RateLimit.js"
import * as Redact from "./Redact.js"
import * as RedisStore from "./RedisStore.js"
import type { Upstream, UpstreamResponse } from "./Upstream.js"
import { readBody, UpstreamFailure } from "./Upstream.js"

/** One JSON log line: an access line per request, an audit line per token minted. */
export type { LogEntry } from "./Log.js"

export interface AppDeps {
  readonly config: ProxyConfig
  readonly upstream: Upstream
  /** The clock of rate limits and the cache. Default: `Date.now`. */
  readonly now?: () => number
  /** Where log lines go. Default: one JSON line per entry on stdout. */
  readonly log?: (entry: LogEntry) => void
  readonly metrics?: Metrics
  /** The keys; default: a ring of `config.keys`. `LiveConfig.makeLiveKeyRing` gives one that reloads. */
  readonly keys?: Keys.KeyRing
  /** Rate-limit windows; default: this process's memory. `RedisRateLimit.make` shares them across replicas. */
  readonly rateLimits?: {
    readonly take: (
      keyName: string,
      limit: NonNullable<KeyConfig["rateLimit"]>
    ) => RateLimit.RateLimitResult | Promise<RateLimit.RateLimitResult>
  }
  /** The list cache; default: this process's memory. `RedisCache.make` shares it across replicas. */
  readonly cache?: {
    readonly enabled: boolean
    readonly get: (key: string) => Cache.CachedResponse | undefined | Promise<Cache.CachedResponse | undefined>
    readonly set: (key: string, value: Cache.CachedResponse) => void | Promise<void>
  }
  /** The shared store, when there is one: `/readyz` and `/metrics` report it. */
  readonly store?: RedisStore.RedisStore
}

/** Largest token request body accepted. */
export const maxBodyBytes = 64 * 1024
/** Deepest nesting of a token request body (the body object is level 1). */
export const maxBodyDepth = 32
/** Largest list response read from upstream (lists are capped at 100 items a page). */
const maxListBytes = 8 * 1024 * 1024
/** Pages the proxy walks to filter a list for a scoped key (100 items each). */
const maxFilterPages = 200
const upstreamPageSize = 100
const defaultLimit = 20
const maxLimit = 100

type Format = "csv" | "ndjson"

/** What validation produced: the access to authorize and the exact upstream request. */
export interface Validated {
  readonly access: Policy.Access
  /** Path and query for upstream, rebuilt from the validated values only. */
  readonly upstreamPath: string
  /** Client paging, for lists the proxy filters itself. */
  readonly page?: { readonly offset: number; readonly limit: number }
  /** The list's path and type filter without paging, for lists the proxy filters itself. */
  readonly listBase?: string
  /**
   * The token request as core's schema decoded it: the policy checks this value and exactly
   * this value is encoded and sent upstream (fields the schema does not know are dropped).
   */
  readonly body?: Domain.MetaSyncTokenInput
  readonly format?: Format
}

// Under @hono/node-server the Node request is at hand: its headers are already parsed, which
// is cheaper than the web `Headers` the fetch `Request` would build. `app.request` has none.
type AppEnv = { Bindings: { incoming?: IncomingMessage } }
type Ctx = Context<AppEnv>

/**
 * One request on its way through: what each step learned, for the steps after
 * it, the answer and the access log. A class with a fixed shape rather than
 * Hono's `c.set` / `c.get` map, which would be written and read a few dozen
 * times per request.
 */
class Call {
  operation: Operation | undefined = undefined
  key: KeyConfig | undefined = undefined
  validated: Validated | undefined = undefined
  cacheKey: string | undefined = undefined
  cacheResult: "HIT" | "MISS" | undefined = undefined
  upstreamStatus: number | undefined = undefined
  error: string | undefined = undefined
  constructor(
    readonly c: Ctx,
    readonly requestId: string,
    /** Headers every answer to this request carries (request id, rate limit, cache); the answer adds its own. */
    readonly headers: Record<string, string>
  ) {}
}

const validatedOf = (call: Call): Validated => {
  if (call.validated === undefined) throw new Error("a step that needs the validated request ran before validation")
  return call.validated
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/
const idPattern = /^[A-Za-z0-9_.:-]{1,128}$/

/**
 * A step of an API request: it answers the request itself (a refusal, a cache
 * hit) or returns `undefined` to let it through to the next step. Steps are
 * plain functions, mostly synchronous, so a request that passes them all costs
 * no promise per step.
 */
type Step = (call: Call) => Response | undefined
type AsyncStep = (call: Call) => Response | undefined | Promise<Response | undefined>
/** The last step: sends the request upstream and answers with what came back. */
type Forward = (call: Call) => Promise<Response>

/** Runs `steps` in order, then `forward`, as one Hono handler. */
const pipeline = (steps: ReadonlyArray<AsyncStep>, forward: Forward) => {
  // Synchronous while the steps are: only an asynchronous step (reading a body) adds a promise.
  const runFrom = (call: Call, first: number): Response | Promise<Response> => {
    for (let index = first; index < steps.length; index++) {
      const outcome = steps[index]!(call)
      if (outcome instanceof Promise) return outcome.then((answer) => answer ?? runFrom(call, index + 1))
      if (outcome !== undefined) return outcome
    }
    return forward(call)
  }
  return (call: Call): Response | Promise<Response> => runFrom(call, 0)
}

const header = (c: Ctx, name: string): string | undefined => {
  const incoming = c.env?.incoming
  return incoming === undefined ? c.req.header(name) : headerValue(incoming.headers[name])
}

/**
 * Every answer is built here, once per request, as a `Response` with a plain
 * header object: @hono/node-server writes those straight to the socket,
 * without the web `Headers` object `c.header()` / `c.json()` would allocate.
 */
const reply = (call: Call, status: number, body: BodyInit | null, headers: Record<string, string>): Response => {
  const all = call.headers
  for (const name in headers) all[name] = headers[name]!
  return new Response(body, { status, headers: all })
}

const jsonType = { "Content-Type": "application/json" }

const fail = (call: Call, status: number, error: string, headers?: Record<string, string>): Response => {
  call.error = error
  return reply(call, status, JSON.stringify({ error }), headers === undefined ? jsonType : { ...jsonType, ...headers })
}

const formatIssue = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "invalid input"
  const where = issue.path.length === 0 ? "" : `${issue.path.map(String).join(".")}: `
  if (issue._tag === "Missing") return `${where}is required`
  return `${where}${issue.message}`
}

const decodePageQuery = Schema.decodeUnknownEither(Domain.PageQuery)
const decodeEnvironmentQuery = Schema.decodeUnknownEither(Domain.EnvironmentQuery)
const decodeAuditLogQuery = Schema.decodeUnknownEither(Domain.AuditLogQuery)
const decodeTokenInput = Schema.decodeUnknownEither(Domain.MetaSyncTokenInput)
const encodeTokenInput = Schema.encodeEither(Domain.MetaSyncTokenInput)

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The query string as single values, or the name of the first parameter given
 * twice or not allowed here.
 */
const readQuery = (
  url: string,
  allowed: ReadonlySet<string>
): { readonly values: Record<string, string> } | { readonly error: string } => {
  const values: Record<string, string> = {}
  const mark = url.indexOf("?")
  if (mark === -1) return { values }
  for (const [name, value] of new URLSearchParams(url.slice(mark + 1))) {
    if (!allowed.has(name)) {
      return { error: `unknown query parameter "${name}" (allowed: ${[...allowed].join(", ")})` }
    }
    if (name in values) return { error: `query parameter "${name}" is given more than once` }
    values[name] = value
  }
  return { values }
}

const queryString = (entries: ReadonlyArray<readonly [string, string | number | undefined]>): string => {
  const params = new URLSearchParams()
  for (const [name, value] of entries) if (value !== undefined) params.set(name, String(value))
  const text = params.toString()
  return text === "" ? "" : `?${text}`
}

const badId = (name: string, value: string): string | undefined =>
  idPattern.test(value) ? undefined : `${name} must be 1 to 128 letters, digits, "_", "-", "." or ":"`

/** Reads a request body, stopping at `max` bytes. */
const readRequestBody = async (request: Request, max: number): Promise<string | "too large"> => {
  const declared = request.headers.get("content-length")
  if (declared !== null && Number(declared) > max) return "too large"
  if (request.body === null) return ""
  const reader = request.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => undefined)
      return "too large"
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks, size).toString("utf8")
}

/** The items of a list response in any of the shapes core accepts, or `undefined`. */
const listItems = (body: unknown, itemsKey: string): { items: Array<unknown>; total: number } | undefined => {
  if (!isRecord(body)) return undefined
  const data = body["data"]
  const items = isRecord(data) && Array.isArray(data[itemsKey])
    ? data[itemsKey]
    : Array.isArray(data)
    ? data
    : Array.isArray(body["items"])
    ? body["items"]
    : undefined
  if (!Array.isArray(items)) return undefined
  const pagination = body["pagination"]
  const total = isRecord(pagination) && typeof pagination["total"] === "number" ? pagination["total"] : items.length
  return { items, total }
}

const itemId = (item: unknown): string | undefined => {
  if (!isRecord(item)) return undefined
  const id = item["id"]
  return typeof id === "string" ? id : typeof id === "number" ? String(id) : undefined
}

/** Bytes as a response body: Node's pooled buffers are ArrayBuffer-backed; anything else is copied. */
const bodyBytes = (bytes: Uint8Array): Uint8Array<ArrayBuffer> =>
  isArrayBufferBacked(bytes) ? bytes : new Uint8Array(bytes)

const isArrayBufferBacked = (bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> => bytes.buffer instanceof ArrayBuffer

const headerValue = (value: string | Array<string> | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value

/** The server's `error` text of an error body, if it has one. */
const serverMessage = (bytes: Buffer): string | undefined => {
  try {
    const parsed: unknown = JSON.parse(bytes.toString("utf8"))
    return isRecord(parsed) && typeof parsed["error"] === "string" ? parsed["error"] : undefined
  } catch {
    return undefined
  }
}

export const makeApp = (deps: AppDeps) => {
  const { config, upstream } = deps
  const now = deps.now ?? Date.now
  const log = deps.log ?? Log.write
  const metrics = deps.metrics ?? new Metrics()
  const keyRing = deps.keys ?? Keys.makeKeyRing(config.keys)
  const limiter = deps.rateLimits ?? RateLimit.makeRateLimiter(now)
  const cache = deps.cache ?? Cache.makeCache(config.cache, now)
  const store = deps.store
  if (store !== undefined) metrics.sources.push((out) => RedisStore.renderMetrics(store, out))
  const openApiText = JSON.stringify(OpenApi.document())
  const docsPage = Docs.page()
  const docsHeaders = { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": docsPolicy(docsPage) }
  const redactor = upstream.redactor

  const app = new Hono<AppEnv>()

  // -------------------------------------------------------------------------
  // request id → access log → metrics (every request)
  // -------------------------------------------------------------------------

  const startCall = (c: Ctx): Call => {
    const given = header(c, "x-request-id")
    const id = given !== undefined && requestIdPattern.test(given) ? given : randomUUID()
    return new Call(c, id, { "X-Request-Id": id, "X-Content-Type-Options": "nosniff" })
  }

  // The default log gets the line as text, built without an intermediate object (see `Log.accessText`).
  const writeAccess = deps.log === undefined
    ? (access: Log.Access) => Log.writeJson(Log.accessText(Log.timestamp(), access))
    : (access: Log.Access) => log(Log.accessEntry(Log.timestamp(), access))

  const accessLog = (call: Call, status: number, seconds: number): void =>
    writeAccess({
      requestId: call.requestId,
      key: call.key?.name ?? null,
      operation: call.operation ?? null,
      method: call.c.req.method,
      path: call.c.req.path,
      status,
      durationMs: Math.round(seconds * 100_000) / 100,
      cache: call.cacheResult,
      upstreamStatus: call.upstreamStatus,
      error: call.error
    })

  const recordMetrics = (call: Call, status: number, seconds: number): void => {
    const operation = call.operation ?? "other"
    metrics.requests.inc3(operation, String(status), call.key?.name ?? "")
    metrics.duration.observe(operation, seconds)
    if (call.key !== undefined) metrics.countKey(call.key.name, status)
  }

  const internalError = (call: Call, error: unknown): Response => {
    log({
      time: Log.timestamp(),
      level: "error",
      msg: "unexpected error",
      request_id: call.requestId,
      error: error instanceof Error ? error.message : String(error)
    })
    return fail(call, 500, `internal proxy error (request id ${call.requestId})`)
  }

  /**
   * request id → access log → metrics, around every handler. A wrapper rather
   * than Hono middlewares: each route then has exactly one handler, which Hono
   * runs without composing a middleware chain.
   */
  const observed =
    (handler: (call: Call) => Response | Promise<Response>) => (c: Ctx): Response | Promise<Response> => {
      const call = startCall(c)
      const started = performance.now()
      metrics.inFlight++
      const done = (response: Response): Response => {
        metrics.inFlight--
        const seconds = (performance.now() - started) / 1000
        accessLog(call, response.status, seconds)
        recordMetrics(call, response.status, seconds)
        return response
      }
      const failed = (error: unknown): Response => done(internalError(call, error))
      // No promise of its own: a handler that answers synchronously (a refusal, a cache hit,
      // /healthz) is answered synchronously, which @hono/node-server writes on its fastest path.
      let answer: Response | Promise<Response>
      try {
        answer = handler(call)
      } catch (error) {
        return failed(error)
      }
      return answer instanceof Promise ? answer.then(done, failed) : done(answer)
    }

  // -------------------------------------------------------------------------
  // Operational endpoints (no key needed)
  // -------------------------------------------------------------------------

  let readiness: { at: number; ok: boolean; body: Record<string, unknown> } | undefined
  let probing: Promise<void> | undefined
  const probe = async (): Promise<void> => {
    const started = performance.now()
    try {
      const response = await upstream.send({
        operation: "listDeployments",
        method: "GET",
        path: `${Api.routes.deployments}?limit=1`,
        accept: "application/json",
        requestId: `readyz-${randomUUID()}`,
        retry: false
      })
      response.body.resume()
      const latency = Math.round(performance.now() - started)
      const ok = response.status < 500 && response.status !== 401
      readiness = {
        at: now(),
        ok,
        body: ok
          ? { status: "ready", upstream: { status: response.status, latency_ms: latency } }
          : {
            error: response.status === 401
              ? "the upstream Control Plane rejected the proxy's API key (401): check CUBE_API_KEY"
              : `the upstream Control Plane answered ${response.status}`
          }
      }
    } catch (error) {
      readiness = {
        at: now(),
        ok: false,
        body: {
          error: `the upstream Control Plane is unreachable: ${error instanceof Error ? error.message : "error"}`
        }
      }
    }
  }

  app.get("/healthz", observed((call) => reply(call, 200, JSON.stringify({ status: "ok" }), jsonType)))
  app.get(
    "/readyz",
    observed(async (call) => {
      // Probes from a load balancer share one upstream check per second.
      if (readiness === undefined || now() - readiness.at >= 1000) {
        probing ??= probe().finally(() => {
          probing = undefined
        })
        await probing
      }
      const state = readiness ?? { ok: false, body: { error: "not checked yet" } }
      if (store === undefined) return reply(call, state.ok ? 200 : 503, JSON.stringify(state.body), jsonType)
      // A store that is down makes the replica unready only when it then refuses rate-limited keys.
      const storeState = RedisStore.readiness(store)
      const ok = state.ok && (storeState.ok || store.onStoreError === "allow")
      const body = {
        ...state.body,
        ...(!storeState.ok && state.ok && !ok
          ? { error: `the shared store (${store.location}) is unreachable and store.on_store_error is deny` }
          : {}),
        store: storeState.body
      }
      return reply(call, ok ? 200 : 503, JSON.stringify(body), jsonType)
    })
  )
  const metricsEndpoint = MetricsEndpoint.make(config.metrics, metrics)
  if (MetricsEndpoint.onApiPort(config.metrics)) {
    app.get(
      "/metrics",
      observed((call) => {
        const answer = metricsEndpoint(header(call.c, "authorization"))
        if (answer.status !== 200) call.error = "metrics key missing or wrong"
        return reply(call, answer.status, answer.body, answer.headers)
      })
    )
  }
  app.get(
    "/openapi.json",
    observed((call) => reply(call, 200, openApiText, { "Content-Type": "application/json; charset=utf-8" }))
  )
  app.get("/docs", observed((call) => reply(call, 200, docsPage, docsHeaders)))

  // -------------------------------------------------------------------------
  // /api/v1: operation → auth → rate limit
  // -------------------------------------------------------------------------

  const operationOf = (operation: Operation): Step => (call) => {
    call.operation = operation
    return undefined
  }

  /** Minted tokens (and refusals to mint them) are never stored by a browser or a shared cache. */
  const noStore: Step = (call) => {
    call.headers["Cache-Control"] = "no-store"
    return undefined
  }

  const auth: Step = (call) => {
    const presented = Keys.fromAuthorization(header(call.c, "authorization"))
    const key = presented === undefined ? undefined : keyRing.find(presented)
    if (key === undefined) {
      return fail(
        call,
        401,
        presented === undefined
          ? "missing or malformed Authorization header: send `Authorization: Bearer <proxy key>`"
          : "unknown proxy key",
        { "WWW-Authenticate": "Bearer realm=\"cubeplane-proxy\"" }
      )
    }
    call.key = key
    if (key.expiresAt !== undefined && now() >= key.expiresAt) {
      return fail(call, 401, `key expired: "${key.name}" expired at ${new Date(key.expiresAt).toISOString()}`, {
        "WWW-Authenticate": "Bearer realm=\"cubeplane-proxy\", error=\"invalid_token\""
      })
    }
    return undefined
  }

  const rateLimit: AsyncStep = (call) => {
    const key = call.key
    if (key?.rateLimit === undefined) return undefined
    const taken = limiter.take(key.name, key.rateLimit)
    return taken instanceof Promise ? taken.then((result) => limited(call, result)) : limited(call, taken)
  }

  const limited = (call: Call, result: RateLimit.RateLimitResult): Response | undefined => {
    const key = call.key
    if (key?.rateLimit === undefined) return undefined
    if (result.unavailable === true) {
      if (result.allowed) return undefined
      return fail(
        call,
        503,
        `the rate-limit store is unreachable, and this proxy refuses rate-limited keys while it is (store.on_store_error: deny); retry shortly`,
        { "Retry-After": "1" }
      )
    }
    RateLimit.setHeaders(call.headers, result)
    if (!result.allowed) {
      metrics.rateLimited.inc([key.name])
      return fail(
        call,
        429,
        `key "${key.name}" is rate limited to ${result.limit} requests per ${key.rateLimit.windowSeconds} s; retry in ${result.resetSeconds} s`,
        { "Retry-After": String(result.resetSeconds) }
      )
    }
    return undefined
  }

  // -------------------------------------------------------------------------
  // Validation: query parameters, path ids and bodies, with core's schemas
  // -------------------------------------------------------------------------

  const pageParams = new Set(["offset", "limit"])
  const environmentParams = new Set(["offset", "limit", "type"])
  const auditParams = new Set(["start", "end", "search", "eventName", "userEmail", "format"])

  // The most common request of all, `GET /api/v1/deployments` without a query, validates to this.
  const plainDeploymentsList: Validated = {
    access: { operation: "listDeployments" },
    upstreamPath: Api.paths.deployments,
    page: { offset: 0, limit: defaultLimit },
    listBase: Api.paths.deployments
  }

  const validateDeployments: Step = (call) => {
    const url = call.c.req.url
    if (!url.includes("?")) {
      call.validated = plainDeploymentsList
      return undefined
    }
    const query = readQuery(url, pageParams)
    if ("error" in query) return fail(call, 400, query.error)
    const decoded = decodePageQuery(query.values)
    if (Either.isLeft(decoded)) return fail(call, 400, formatIssue(decoded.left))
    const { limit, offset } = decoded.right
    call.validated = {
      access: { operation: "listDeployments" },
      upstreamPath: Api.paths.deployments + queryString([["offset", offset], ["limit", limit]]),
      page: { offset: offset ?? 0, limit: Math.min(limit ?? defaultLimit, maxLimit) },
      listBase: Api.paths.deployments
    }
    return undefined
  }

  const validateEnvironments: Step = (call) => {
    const deploymentId = call.c.req.param("deployment_id") ?? ""
    const idError = badId("deployment_id", deploymentId)
    if (idError !== undefined) return fail(call, 400, idError)
    const query = readQuery(call.c.req.url, environmentParams)
    if ("error" in query) return fail(call, 400, query.error)
    const decoded = decodeEnvironmentQuery(query.values)
    if (Either.isLeft(decoded)) return fail(call, 400, formatIssue(decoded.left))
    const { limit, offset, type } = decoded.right
    const base = Api.paths.environments(deploymentId)
    call.validated = {
      access: { operation: "listEnvironments", deploymentId },
      upstreamPath: base + queryString([["type", type], ["offset", offset], ["limit", limit]]),
      page: { offset: offset ?? 0, limit: Math.min(limit ?? defaultLimit, maxLimit) },
      listBase: base + queryString([["type", type]])
    }
    return undefined
  }

  const validateToken: AsyncStep = async (call) => {
    const deploymentId = call.c.req.param("deployment_id") ?? ""
    const environmentId = call.c.req.param("environment_id") ?? ""
    const idError = badId("deployment_id", deploymentId) ?? badId("environment_id", environmentId)
    if (idError !== undefined) return fail(call, 400, idError)
    const query = readQuery(call.c.req.url, new Set())
    if ("error" in query) return fail(call, 400, query.error)
    let text: string
    try {
      const read = await readRequestBody(call.c.req.raw, maxBodyBytes)
      if (read === "too large") return fail(call, 413, `the body is larger than ${maxBodyBytes / 1024} KB`)
      text = read
    } catch {
      return fail(call, 400, "the request body could not be read")
    }
    const parsed = Json.parse(text, { maxLength: maxBodyBytes, maxDepth: maxBodyDepth })
    if (Either.isLeft(parsed)) {
      return fail(call, 400, `${parsed.left}: send {"security_context": {...}, "expires_in": seconds}`)
    }
    const json = parsed.right
    if (!isRecord(json)) return fail(call, 400, "the body must be a JSON object")
    const decoded = decodeTokenInput(json)
    if (Either.isLeft(decoded)) return fail(call, 400, formatIssue(decoded.left))
    call.validated = {
      access: {
        operation: "createMetaSyncToken",
        deploymentId,
        environmentId,
        token: {
          expiresIn: decoded.right.expiresIn,
          securityContext: decoded.right.securityContext,
          scopes: decoded.right.scopes
        }
      },
      upstreamPath: Api.paths.metaSyncToken(deploymentId, environmentId),
      body: decoded.right
    }
    return undefined
  }

  const validateAuditLog: Step = (call) => {
    const query = readQuery(call.c.req.url, auditParams)
    if ("error" in query) return fail(call, 400, query.error)
    const { format, ...filters } = query.values
    if (format !== undefined && format !== "csv" && format !== "ndjson") {
      return fail(call, 400, `format must be csv or ndjson, got "${format}"`)
    }
    const decoded = decodeAuditLogQuery(filters)
    if (Either.isLeft(decoded)) return fail(call, 400, formatIssue(decoded.left))
    const { end, eventName, search, start, userEmail } = decoded.right
    for (const [name, value] of [["start", start], ["end", end]] as const) {
      if (value !== undefined && Number.isNaN(Date.parse(value))) {
        return fail(call, 400, `${name} must be an ISO 8601 date or date-time, e.g. 2024-01-31, got "${value}"`)
      }
    }
    call.validated = {
      access: { operation: "exportAuditLog" },
      upstreamPath: Api.paths.auditLogExport +
        queryString([["start", start], ["end", end], ["search", search], ["eventName", eventName], [
          "userEmail",
          userEmail
        ]]),
      format: format === "ndjson" ? "ndjson" : "csv"
    }
    return undefined
  }

  // -------------------------------------------------------------------------
  // Policy → cache
  // -------------------------------------------------------------------------

  const policy: Step = (call) => {
    const key = call.key
    if (key === undefined) return fail(call, 401, "unknown proxy key")
    const validated = validatedOf(call)
    const decision = Policy.authorize(key, validated.access)
    if (!decision.allowed) {
      call.error = decision.message
      return reply(call, 403, JSON.stringify({ error: decision.message, rule: decision.rule }), jsonType)
    }
    if (decision.defaultExpiresIn !== undefined && validated.body !== undefined) {
      call.validated = {
        ...validated,
        body: { ...validated.body, expiresIn: decision.defaultExpiresIn }
      }
    }
    return undefined
  }

  /** The ids this key sees in the list being asked for. */
  const visibility = (key: KeyConfig, access: Policy.Access): Policy.Visible =>
    access.operation === "listEnvironments"
      ? Policy.visibleEnvironments(key, access.deploymentId)
      : Policy.visibleDeployments(key)

  const listCache: AsyncStep = (call) => {
    const key = call.key
    if (!cache.enabled || key === undefined) return undefined
    const { access, upstreamPath } = validatedOf(call)
    const cacheKey = `${access.operation}\n${Policy.scopeName(visibility(key, access))}\n${upstreamPath}`
    const hit = cache.get(cacheKey)
    return hit instanceof Promise
      ? hit.then((found) => cached(call, access.operation, cacheKey, found))
      : cached(call, access.operation, cacheKey, hit)
  }

  const cached = (
    call: Call,
    operation: Operation,
    cacheKey: string,
    hit: Cache.CachedResponse | undefined
  ): Response | undefined => {
    if (hit !== undefined) {
      metrics.cache.inc([operation, "hit"])
      call.cacheResult = "HIT"
      return reply(call, 200, bodyBytes(hit.body), { "Content-Type": hit.contentType, "X-Cache": "HIT" })
    }
    metrics.cache.inc([operation, "miss"])
    call.cacheResult = "MISS"
    call.cacheKey = cacheKey
    call.headers["X-Cache"] = "MISS"
    return undefined
  }

  // -------------------------------------------------------------------------
  // Forward
  // -------------------------------------------------------------------------

  /** A clear error for a non-2xx upstream answer; the real key is never in it. */
  const upstreamError = async (call: Call, response: UpstreamResponse): Promise<Response> => {
    const status = response.status
    call.upstreamStatus = status
    let message: string | undefined
    try {
      message = serverMessage(await readBody(response.body, 64 * 1024))
    } catch {
      message = undefined
    }
    const said = message === undefined ? "" : `: ${redactor.text(message)}`
    if (status === 401) {
      metrics.upstreamErrors.inc([call.operation ?? "other", "status_401"])
      return fail(call, 502, `the upstream Control Plane rejected the proxy's own API key (401)${said}`)
    }
    if (status === 429) {
      const retryAfter = headerValue(response.headers["retry-after"])
      return fail(
        call,
        429,
        `the upstream Control Plane is rate limiting the proxy${said}`,
        retryAfter === undefined ? undefined : { "Retry-After": retryAfter }
      )
    }
    if (status >= 500 || status === 408) {
      return fail(call, 502, `the upstream Control Plane failed with ${status}${said}`)
    }
    // 400, 403, 404, …: the upstream's answer, for the caller to act on.
    const code: ContentfulStatusCode = status === 400 || status === 403 || status === 404 || status === 409 ||
        status === 422
      ? status
      : 502
    return fail(
      call,
      code,
      `upstream Control Plane: ${message === undefined ? `status ${status}` : redactor.text(message)}`
    )
  }

  const transportError = (call: Call, error: unknown): Response => {
    if (error instanceof UpstreamFailure) {
      return fail(
        call,
        error.kind === "timeout" ? 504 : 502,
        `the upstream Control Plane ${error.kind === "timeout" ? "timed out" : "failed"}: ${
          redactor.text(error.message)
        }`
      )
    }
    throw error
  }

  const send = (call: Call, method: "GET" | "POST", path: string, accept: string, body?: string) =>
    upstream.send({
      operation: validatedOf(call).access.operation,
      method,
      path,
      accept,
      requestId: call.requestId,
      ...(body === undefined ? {} : { body })
    })

  const respondJson = (call: Call, bytes: Uint8Array | string, contentType: string): Response => {
    const body = typeof bytes === "string" ? Buffer.from(bytes) : bytes
    const cacheKey = call.cacheKey
    if (cacheKey !== undefined) void cache.set(cacheKey, { status: 200, contentType, body })
    return reply(call, 200, bodyBytes(body), { "Content-Type": contentType })
  }

  /** Lists for a key that sees everything: the upstream page as it came. */
  const passThroughList = async (call: Call): Promise<Response> => {
    try {
      const response = await send(call, "GET", validatedOf(call).upstreamPath, "application/json")
      call.upstreamStatus = response.status
      if (response.status !== 200) return await upstreamError(call, response)
      const bytes = await readBody(response.body, maxListBytes)
      return respondJson(
        call,
        redactor.bytes(bytes),
        headerValue(response.headers["content-type"]) ?? "application/json"
      )
    } catch (error) {
      return transportError(call, error)
    }
  }

  /**
   * Lists for a scoped key: every upstream page is read and filtered, then the
   * caller's page is cut from the result, so `pagination.total` counts what
   * this key can see and paging through it never skips or repeats an item.
   */
  const filteredList = async (call: Call, visible: ReadonlySet<string>, itemsKey: string): Promise<Response> => {
    const { listBase, page } = validatedOf(call)
    if (listBase === undefined || page === undefined) throw new Error("a list without paging")
    const kept: Array<unknown> = []
    const separator = listBase.includes("?") ? "&" : "?"
    try {
      for (let offset = 0, pages = 0; pages < maxFilterPages; pages++) {
        const response = await send(
          call,
          "GET",
          `${listBase}${separator}offset=${offset}&limit=${upstreamPageSize}`,
          "application/json"
        )
        call.upstreamStatus = response.status
        if (response.status !== 200) return await upstreamError(call, response)
        const bytes = await readBody(response.body, maxListBytes)
        let parsed: unknown
        try {
          parsed = JSON.parse(bytes.toString("utf8"))
        } catch {
          return fail(call, 502, "the upstream Control Plane sent a list that is not JSON")
        }
        const list = listItems(parsed, itemsKey)
        if (list === undefined) return fail(call, 502, `the upstream Control Plane sent an unexpected ${itemsKey} list`)
        for (const item of list.items) {
          const id = itemId(item)
          if (id !== undefined && visible.has(id)) kept.push(item)
        }
        offset += list.items.length
        if (list.items.length === 0 || offset >= list.total || kept.length >= visible.size) break
      }
    } catch (error) {
      return transportError(call, error)
    }
    const body = {
      data: { [itemsKey]: kept.slice(page.offset, page.offset + page.limit) },
      pagination: { offset: page.offset, limit: page.limit, total: kept.length }
    }
    return respondJson(call, redactor.text(JSON.stringify(body)), "application/json")
  }

  const forwardList = (itemsKey: "deployments" | "environments"): Forward => (call) => {
    const key = call.key
    if (key === undefined) return Promise.resolve(fail(call, 401, "unknown proxy key"))
    const visible = visibility(key, validatedOf(call).access)
    return visible === "all" ? passThroughList(call) : filteredList(call, visible, itemsKey)
  }

  const forwardToken: Forward = async (call) => {
    const { access, body, upstreamPath } = validatedOf(call)
    if (access.operation !== "createMetaSyncToken" || body === undefined) throw new Error("not a token request")
    // The value the policy checked, encoded by core's schema: nothing else of the caller's bytes goes upstream.
    const wire = encodeTokenInput(body)
    if (Either.isLeft(wire)) return fail(call, 400, formatIssue(wire.left))
    try {
      const response = await send(call, "POST", upstreamPath, "application/json", JSON.stringify(wire.right))
      call.upstreamStatus = response.status
      if (response.status < 200 || response.status > 299) return await upstreamError(call, response)
      const bytes = redactor.bytes(await readBody(response.body, maxListBytes))
      const key = call.key?.name ?? null
      metrics.tokensMinted.inc([key ?? ""])
      let expiresAt: unknown = null
      try {
        const parsed: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"))
        const data = isRecord(parsed) && isRecord(parsed["data"]) ? parsed["data"] : parsed
        if (isRecord(data)) expiresAt = data["expires_at"] ?? null
      } catch {
        expiresAt = null
      }
      log({
        time: Log.timestamp(),
        level: "info",
        msg: "meta-sync token minted",
        audit: "token_minted",
        request_id: call.requestId,
        key,
        deployment_id: access.deploymentId,
        environment_id: access.environmentId,
        security_context: access.token.securityContext,
        expires_in: body.expiresIn ?? null,
        expires_at: expiresAt
      })
      return reply(call, response.status, bodyBytes(bytes), {
        "Content-Type": headerValue(response.headers["content-type"]) ?? "application/json"
      })
    } catch (error) {
      return transportError(call, error)
    }
  }

  const forwardExport: Forward = async (call) => {
    const { format, upstreamPath } = validatedOf(call)
    try {
      const response = await send(call, "GET", upstreamPath, "text/csv")
      call.upstreamStatus = response.status
      if (response.status !== 200) return await upstreamError(call, response)
      const incoming = call.c.env?.incoming
      const requestId = call.requestId
      const onCutOff = (error: Error): "socket destroyed" | "error the stream" => {
        metrics.upstreamErrors.inc(["exportAuditLog", "stream"])
        log({
          time: Log.timestamp(),
          level: "warn",
          msg: "export aborted: the caller's download is cut so it cannot pass for a complete file",
          request_id: requestId,
          error: redactor.text(error.message)
        })
        // Under Node, cut the caller's connection ourselves: the transfer ends without its
        // final chunk, which every HTTP client reports as an error.
        if (incoming === undefined) return "error the stream"
        incoming.socket.destroy()
        return "socket destroyed"
      }
      if (format === "ndjson") {
        return reply(call, 200, streamBody(response.body, Redact.after(ndjsonConverter(), redactor), onCutOff), {
          "Content-Type": "application/x-ndjson; charset=utf-8"
        })
      }
      const headers: Record<string, string> = {
        "Content-Type": headerValue(response.headers["content-type"]) ?? "text/csv; charset=utf-8"
      }
      const disposition = headerValue(response.headers["content-disposition"])
      if (disposition !== undefined) headers["Content-Disposition"] = disposition
      return reply(call, 200, streamBody(response.body, Redact.after(csvChecker(), redactor), onCutOff), headers)
    } catch (error) {
      return transportError(call, error)
    }
  }

  // The order every API request goes through, one line per operation:
  // observed (request id → access log → metrics) around the pipeline
  // (auth → rate limit → validation → policy → cache → forward).
  app.get(
    Api.routes.deployments,
    observed(pipeline(
      [operationOf("listDeployments"), auth, rateLimit, validateDeployments, policy, listCache],
      forwardList("deployments")
    ))
  )
  app.get(
    Api.routes.environments,
    observed(pipeline(
      [operationOf("listEnvironments"), auth, rateLimit, validateEnvironments, policy, listCache],
      forwardList("environments")
    ))
  )
  app.post(
    Api.routes.metaSyncToken,
    observed(
      pipeline([operationOf("createMetaSyncToken"), noStore, auth, rateLimit, validateToken, policy], forwardToken)
    )
  )
  app.get(
    Api.routes.auditLogExport,
    observed(pipeline([operationOf("exportAuditLog"), auth, rateLimit, validateAuditLog, policy], forwardExport))
  )

  // -------------------------------------------------------------------------
  // Everything else
  // -------------------------------------------------------------------------

  // Other methods on the four paths: 405 naming the one allowed. Registered per method
  // (not `app.all`) so a GET matches exactly one handler.
  const methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
  const allowed: ReadonlyArray<readonly [string, string]> = [
    [Api.routes.deployments, "GET"],
    [Api.routes.environments, "GET"],
    [Api.routes.metaSyncToken, "POST"],
    [Api.routes.auditLogExport, "GET"]
  ]
  for (const [route, method] of allowed) {
    const others = methods.filter((other) => other !== method && !(method === "GET" && other === "HEAD"))
    app.on(
      others,
      route,
      observed((call) =>
        fail(call, 405, `${call.c.req.method} is not allowed on ${call.c.req.path} (allowed: ${method})`, {
          Allow: method
        })
      )
    )
  }

  app.notFound(
    observed((call) => fail(call, 404, `no such endpoint: ${call.c.req.method} ${call.c.req.path} (see /docs)`))
  )
  // A safety net: `observed` already turns a handler's exception into this answer.
  app.onError((error, c) => internalError(startCall(c), error))

  return app
}

export type App = ReturnType<typeof makeApp>

/**
 * The Content-Security-Policy of `/docs`: its one inline script by hash, its inline styles,
 * requests to this origin only (the page calls the proxy), nothing else.
 */
const docsPolicy = (page: string): string => {
  const scripts = [...page.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) =>
    `'sha256-${createHash("sha256").update(match[1] ?? "", "utf8").digest("base64")}'`
  )
  return [
    "default-src 'none'",
    `script-src ${scripts.length === 0 ? "'none'" : scripts.join(" ")}`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join("; ")
}
