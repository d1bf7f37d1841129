/**
 * The mock's state and rules, written once: the HTTP server (`MockServer`)
 * and the test layer (`ControlPlaneTest`) both call these functions, so a
 * request gets the same answer — status and message — either way.
 *
 * Each operation takes the request as it is on the wire (query strings,
 * the JSON body) and the authenticated key, and answers with domain values
 * or a `MockFailure` carrying the status and the `{"error": ...}` text.
 *
 * @since 0.1.0
 */
import type { ControlPlaneError } from "@cubeplane/core"
import { Api, AuditLog, Dates, Domain } from "@cubeplane/core"
import { Clock, Data, Effect, Either, ParseResult, Redacted, Schema } from "effect"
import * as Faults from "./Faults.js"
import type { GeneratedAuditLog } from "./internal/generator.js"
import { eventAt, firstIndexAtOrAfter } from "./internal/generator.js"
import { issuesOf, render } from "./internal/issues.js"
import * as Jwt from "./Jwt.js"
import * as Seed from "./Seed.js"

// ---------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------

interface DeploymentState {
  readonly deployment: Seed.Deployment
  readonly environments: Map<string, Seed.Environment>
}

/** A request as the mock recorded it: never the key, only its name. */
export interface Call {
  readonly operation: Api.Operation
  /** The request's arguments, decoded where they were valid (numbers for `offset`/`limit`), else as sent. */
  readonly arguments: Readonly<Record<string, unknown>>
  /** The seed name of the key used; `null` when the key was missing or unknown. */
  readonly keyName: string | null
  /** The status answered; `null` when the connection was reset without an answer. */
  readonly status: number | null
  /** The id of the fault that shaped the answer, if any (`header` for an `x-mock-fault` header). */
  readonly fault?: string
}

/** A call in the request journal: when it was answered (epoch millis, on the answering door's clock). */
export interface Recorded extends Call {
  readonly at: number
}

/** The most recent calls kept (older ones are dropped), so long runs stay in bounded memory. */
export const maxCalls = 10_000

export interface MockStore {
  /** What `reset` goes back to. */
  seed: Seed.Seed
  /** The wire shape answered (the seed's `shape`). */
  shape: Domain.WireShape
  plan: string
  keys: Map<string, Seed.ApiKey>
  deployments: Map<string, DeploymentState>
  /** Seeded and added events, sorted oldest first. */
  events: Array<Domain.AuditLogEvent>
  generated: GeneratedAuditLog | undefined
  /** The request journal, oldest first (both doors record here). */
  readonly calls: Array<Recorded>
  readonly faults: Faults.Registry
}

const byTime = (a: Domain.AuditLogEvent, b: Domain.AuditLogEvent) => a.timestamp.getTime() - b.timestamp.getTime()

const apply = (store: MockStore, seed: Seed.Seed): void => {
  store.seed = seed
  store.shape = seed.shape
  store.plan = seed.plan
  store.keys = new Map(seed.apiKeys.map((k) => [k.key, k]))
  store.deployments = new Map(
    seed.deployments.map((d) => [d.id, { deployment: d, environments: new Map(d.environments.map((e) => [e.id, e])) }])
  )
  // A stable sort: events with the same timestamp keep their seed order.
  store.events = [...seed.auditLog].sort(byTime)
  store.generated = seed.generatedAuditLog
}

/** A store holding `seed` (default: the demo dataset). */
export const make = (seed: Seed.Seed = Seed.demo): MockStore => {
  const store: MockStore = {
    seed,
    shape: seed.shape,
    plan: seed.plan,
    keys: new Map(),
    deployments: new Map(),
    events: [],
    generated: undefined,
    calls: [],
    faults: Faults.makeRegistry()
  }
  apply(store, seed)
  return store
}

/** Replaces the data with `seed` (which `reset` will return to), and clears calls and faults. */
export const load = (store: MockStore, seed: Seed.Seed): void => {
  apply(store, seed)
  store.calls.length = 0
  Faults.clear(store.faults)
}

/** Back to the loaded seed: data, calls and faults. */
export const reset = (store: MockStore): void => load(store, store.seed)

export const record = (store: MockStore, call: Call, at: number = Date.now()): void => {
  store.calls.push({ ...call, at })
  if (store.calls.length > maxCalls) store.calls.splice(0, store.calls.length - maxCalls)
}

export const clearCalls = (store: MockStore): void => {
  store.calls.length = 0
}

/** A recorded call without its time (what `calls` shows). */
export const callOf = ({ at: _at, ...call }: Recorded): Call => call

/** Which journal entries to list: every given field must match. */
export interface JournalFilter {
  readonly operation?: Api.Operation
  /** The answered status; `null` matches connections reset without an answer. */
  readonly status?: number | null
  readonly keyName?: string
  /** Only calls answered at or after this time (epoch millis). */
  readonly since?: number
}

/** The request journal, oldest first, filtered. */
export const journal = (store: MockStore, filter: JournalFilter = {}): Array<Recorded> =>
  store.calls.filter((call) =>
    (filter.operation === undefined || call.operation === filter.operation) &&
    (filter.status === undefined || call.status === filter.status) &&
    (filter.keyName === undefined || call.keyName === filter.keyName) &&
    (filter.since === undefined || call.at >= filter.since)
  )

// ---------------------------------------------------------------------------
// Changing the data (the test layer's control service)
// ---------------------------------------------------------------------------

/** Adds (or replaces, keeping its place) a deployment. */
export const addDeployment = (store: MockStore, deployment: Seed.Deployment): void => {
  store.deployments.set(deployment.id, {
    deployment,
    environments: new Map(deployment.environments.map((e) => [e.id, e]))
  })
}

export const removeDeployment = (store: MockStore, deploymentId: string): boolean =>
  store.deployments.delete(deploymentId)

/** Adds (or replaces) an environment; `false` if the deployment does not exist. */
export const addEnvironment = (store: MockStore, deploymentId: string, environment: Seed.Environment): boolean => {
  const state = store.deployments.get(deploymentId)
  if (state === undefined) return false
  state.environments.set(environment.id, environment)
  return true
}

export const removeEnvironment = (store: MockStore, deploymentId: string, environmentId: string): boolean =>
  store.deployments.get(deploymentId)?.environments.delete(environmentId) ?? false

export const addAuditEvents = (store: MockStore, events: Iterable<Domain.AuditLogEvent>): void => {
  store.events.push(...events)
  store.events.sort(byTime)
}

// ---------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------

/** An answer other than 2xx: the status and the `error` text of the body. */
export class MockFailure extends Data.TaggedError("MockFailure")<{
  readonly status: number
  readonly error: string
  /** Seconds, for `Retry-After`. */
  readonly retryAfter?: number
  /** A fault added by the test layer's `fail`: the layer fails with exactly this error. */
  readonly raise?: ControlPlaneError
}> {}

const fail = (status: number, error: string) => Either.left(new MockFailure({ status, error }))

// ---------------------------------------------------------------------------
// Authentication and authorisation
// ---------------------------------------------------------------------------

const howToAuthenticate = "send `Authorization: Bearer <API key>` or `Authorization: Api-Key <API key>`"

/** The key of an `Authorization` header value (`Bearer <key>` or `Api-Key <key>`, scheme case-insensitive). */
export const authenticate = (
  store: MockStore,
  authorization: string | undefined
): Either.Either<Seed.ApiKey, MockFailure> => {
  if (authorization === undefined || authorization.trim() === "") {
    return fail(401, `Missing API key: ${howToAuthenticate}`)
  }
  const match = /^\s*(bearer|api-key)\s+(\S+)\s*$/i.exec(authorization)
  if (match === null) {
    return fail(401, `Malformed Authorization header: expected \`Bearer <API key>\` or \`Api-Key <API key>\``)
  }
  return authenticateKey(store, match[2]!)
}

/** The seed key with this value. The key itself never appears in a message. */
export const authenticateKey = (store: MockStore, key: string): Either.Either<Seed.ApiKey, MockFailure> => {
  const found = store.keys.get(key)
  return found === undefined ? fail(401, "Unknown API key: check CUBE_API_KEY") : Either.right(found)
}

/** The name of the key in an `Authorization` header, if it is a known one (for recorded calls). */
export const keyNameOf = (store: MockStore, authorization: string | undefined): string | null =>
  Either.match(authenticate(store, authorization), { onLeft: () => null, onRight: (k) => k.name })

const has = (key: Seed.ApiKey, ...permissions: ReadonlyArray<Seed.Permission>) =>
  key.permissions.some((p) => p === "All" || permissions.includes(p))

const permissionsOf = (key: Seed.ApiKey) => key.permissions.length === 0 ? "none" : key.permissions.join(", ")

const requireRead = (key: Seed.ApiKey, action: string): Either.Either<void, MockFailure> =>
  has(key, "DeploymentRead", "DeploymentsManage")
    ? Either.void
    : fail(
      403,
      `The API key "${key.name}" lacks the DeploymentRead permission needed to ${action} (it has: ${
        permissionsOf(key)
      }) — use a key with DeploymentRead or All`
    )

const inScope = (key: Seed.ApiKey, deploymentId: string) =>
  key.deployments === undefined || key.deployments.includes(deploymentId)

const requireScope = (key: Seed.ApiKey, deploymentId: string): Either.Either<void, MockFailure> =>
  inScope(key, deploymentId)
    ? Either.void
    : fail(
      403,
      `The API key "${key.name}" is limited to deployment${key.deployments?.length === 1 ? "" : "s"} ${
        (key.deployments ?? []).join(", ") || "(none)"
      } and cannot access deployment ${deploymentId}`
    )

const findDeployment = (store: MockStore, deploymentId: string): Either.Either<DeploymentState, MockFailure> => {
  const state = store.deployments.get(deploymentId)
  return state === undefined
    ? fail(404, `Deployment ${deploymentId} not found — list deployments to see the ids this key can use`)
    : Either.right(state)
}

// ---------------------------------------------------------------------------
// Query parsing (core's query schemas)
// ---------------------------------------------------------------------------

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Query parameters as they arrive (the first value of each). */
export type Query = Readonly<Record<string, string | undefined>>

/** Decoded list parameters (the contract's `PageQuery`). */
export type PageQuery = typeof Domain.PageQuery.Type
export type EnvironmentQuery = typeof Domain.EnvironmentQuery.Type
export type AuditLogQuery = typeof Domain.AuditLogQuery.Type

export const defaultLimit = 20
export const maxLimit = 100

/** Where a page sits in its list (an offset page, or a cursor page located by its cursor's row). */
interface Window<A> {
  readonly rows: ReadonlyArray<A>
  readonly offset: number
  readonly limit: number
  readonly total: number
}

const mixedPaging =
  "Invalid query: offset/limit and first/after cannot be mixed in one request — page by offset (offset, limit) or by cursor (first, after: the previous page's pageInfo.endCursor)"

const cursorPrefix = "cursor:v1:"

/**
 * An opaque cursor naming a row by its id (base64url). The next page starts after that row in
 * insertion order, so rows inserted meanwhile never shift or repeat a page.
 */
export const cursorOf = (id: string): string => Buffer.from(`${cursorPrefix}${id}`, "utf8").toString("base64url")

const idOfCursor = (cursor: string): string | undefined => {
  const text = /^[A-Za-z0-9_-]*$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : ""
  return text.startsWith(cursorPrefix) ? text.slice(cursorPrefix.length) : undefined
}

/**
 * The page a query asks for: by `offset`/`limit` (both shapes) or, in the platform shape, by
 * `first`/`after` (mixing the two is a 400). In the reference shape `first`/`after` are ignored,
 * as the reference page knows no cursors.
 */
const windowOf = <A extends { readonly id: string }>(
  shape: Domain.WireShape,
  items: ReadonlyArray<A>,
  query: PageQuery
): Either.Either<Window<A>, MockFailure> => {
  const cursorPaged = shape === "platform" && (query.first !== undefined || query.after !== undefined)
  if (!cursorPaged) {
    const offset = query.offset ?? 0
    const limit = Math.min(query.limit ?? defaultLimit, maxLimit)
    return Either.right({ rows: items.slice(offset, offset + limit), offset, limit, total: items.length })
  }
  if (query.offset !== undefined || query.limit !== undefined) return fail(400, mixedPaging)
  const limit = Math.min(query.first ?? defaultLimit, maxLimit)
  let offset = 0
  if (query.after !== undefined) {
    const id = idOfCursor(query.after)
    const index = id === undefined ? -1 : items.findIndex((item) => item.id === id)
    if (index === -1) {
      return fail(
        400,
        id === undefined
          ? `Invalid query: after must be a cursor this server sent (a pageInfo.endCursor), got ${
            JSON.stringify(query.after)
          }`
          : "Invalid query: the row this cursor points at no longer exists — list again from the start (without after)"
      )
    }
    offset = index + 1
  }
  return Either.right({ rows: items.slice(offset, offset + limit), offset, limit, total: items.length })
}

/** A list body's paging parts in the platform shape: `pageInfo` cursors, `pagination`, `count`, `totalCount`. */
const platformPaging = <A extends { readonly id: string }>(window: Window<A>) => {
  const first = window.rows[0]
  const last = window.rows[window.rows.length - 1]
  return {
    pageInfo: {
      hasNextPage: window.offset + window.rows.length < window.total,
      hasPreviousPage: window.offset > 0,
      ...(first !== undefined ? { startCursor: cursorOf(first.id) } : {}),
      ...(last !== undefined ? { endCursor: cursorOf(last.id) } : {})
    },
    pagination: { offset: window.offset, limit: window.limit, total: window.total },
    count: window.rows.length,
    totalCount: window.total
  }
}

/** The document types `startCursor`/`endCursor` as `string | null`: an empty page sends `null` (core's schema omits them). */
const withNullCursors = <B extends { readonly pageInfo: unknown }>(body: B): B & WireBody =>
  isPlainObject(body.pageInfo)
    ? { ...body, pageInfo: { startCursor: null, endCursor: null, ...body.pageInfo } }
    : body

/** A JSON response body, as the server writes it (and the layer decodes it with core's schemas). */
export type WireBody = { readonly [key: string]: unknown }

const encodeReferenceDeployments = Schema.encodeEither(Api.wire.deploymentList)
const encodeReferenceEnvironments = Schema.encodeEither(Api.wire.environmentList)
const encodePlatformDeployments = Schema.encodeEither(Api.platformWire.deploymentList)
const encodePlatformEnvironments = Schema.encodeEither(Api.platformWire.environmentList)
const encodeToken = Schema.encodeEither(Api.wire.metaSyncToken)

/** A body core's schema cannot encode is a bug in the mock's data (a 500 naming it), never a half-written answer. */
const encoded = <A>(what: string, result: Either.Either<A, ParseResult.ParseError>): Either.Either<A, MockFailure> =>
  Either.mapLeft(result, (error) =>
    new MockFailure({
      status: 500,
      error: `The mock cannot encode ${what} in its wire shape: ${issuesOf(error).map(render).join("; ")}`
    }))

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

/** The default `deploymentUrl` of a platform-shape deployment whose seed does not give one. */
export const defaultDeploymentUrl = (id: string): string => `https://deployment-${id}.cubecloud.dev`

/** A deployment as the shape sends it: `created_at` (reference), `deploymentUrl`/`creationStep` (platform). */
const toDomainDeployment = (shape: Domain.WireShape, d: Seed.Deployment): Domain.Deployment =>
  shape === "platform"
    ? {
      id: d.id,
      ...(d.name !== undefined ? { name: d.name } : {}),
      deploymentUrl: d.deploymentUrl ?? defaultDeploymentUrl(d.id),
      creationStep: d.creationStep ?? "ready"
    }
    : {
      id: d.id,
      ...(d.name !== undefined ? { name: d.name } : {}),
      ...(d.createdAt !== undefined ? { createdAt: d.createdAt } : {}),
      ...(d.deploymentUrl !== undefined ? { deploymentUrl: d.deploymentUrl } : {}),
      ...(d.creationStep !== undefined ? { creationStep: d.creationStep } : {})
    }

/**
 * Built field by field so that `apiSecret` can never leak into a response. The platform shape has no
 * environment name and always sends `api_credentials` (an array, `[]` when there are none).
 */
const toDomainEnvironment = (shape: Domain.WireShape, environment: Seed.Environment): Domain.Environment => ({
  id: environment.id,
  ...(shape === "reference" && environment.name !== undefined ? { name: environment.name } : {}),
  type: environment.type,
  ...(environment.branch !== undefined ? { branch: environment.branch } : {}),
  ...(environment.user !== undefined ? { user: environment.user } : {}),
  ...(environment.apiCredentials !== undefined
    ? { apiCredentials: environment.apiCredentials }
    : shape === "platform"
    ? { apiCredentials: {} }
    : {})
})

/**
 * `GET /api/v1/deployments`: the deployments the key may see, in insertion order, as the body the
 * store's shape sends (reference: `{data: {deployments}, pagination}`; platform: flat `data` + `items`
 * + `pageInfo` + `pagination` + `count`/`totalCount`, integer ids).
 */
export const listDeployments = (
  store: MockStore,
  key: Seed.ApiKey,
  options: PageQuery
): Either.Either<WireBody, MockFailure> =>
  Either.gen(function*() {
    yield* requireRead(key, "list deployments")
    const visible: Array<Domain.Deployment> = []
    for (const { deployment } of store.deployments.values()) {
      if (inScope(key, deployment.id)) visible.push(toDomainDeployment(store.shape, deployment))
    }
    const window = yield* windowOf(store.shape, visible, options)
    return yield* store.shape === "platform"
      ? Either.map(
        encoded(
          "deployments",
          encodePlatformDeployments({ data: window.rows, items: window.rows, ...platformPaging(window) })
        ),
        withNullCursors
      )
      : encoded(
        "deployments",
        encodeReferenceDeployments({
          data: { deployments: window.rows },
          pagination: { offset: window.offset, limit: window.limit, total: window.total }
        })
      )
  })

/** `GET /api/v1/deployments/{id}/environments`, as the body the store's shape sends. */
export const listEnvironments = (
  store: MockStore,
  key: Seed.ApiKey,
  deploymentId: string,
  options: EnvironmentQuery
): Either.Either<WireBody, MockFailure> =>
  Either.gen(function*() {
    yield* requireRead(key, "list environments")
    yield* requireScope(key, deploymentId)
    const state = yield* findDeployment(store, deploymentId)
    const environments: Array<Domain.Environment> = []
    for (const environment of state.environments.values()) {
      if (options.type === undefined || environment.type === options.type) {
        environments.push(toDomainEnvironment(store.shape, environment))
      }
    }
    const window = yield* windowOf(store.shape, environments, options)
    return yield* store.shape === "platform"
      ? Either.map(
        encoded(
          "environments",
          encodePlatformEnvironments({ data: window.rows, items: window.rows, ...platformPaging(window) })
        ),
        withNullCursors
      )
      : encoded(
        "environments",
        encodeReferenceEnvironments({
          data: { environments: window.rows },
          pagination: { offset: window.offset, limit: window.limit, total: window.total }
        })
      )
  })

export const defaultExpiresIn = 86_400

const tokenBodyHint = "{\"security_context\": {\"tenant_id\": \"acme\"}, \"expires_in\": 3600}"

/** A token-body decoder from the contract's payload schema: a 400 naming each bad field, with a hint. */
export const tokenBodyDecoder = <I>(schema: Schema.Schema<Domain.MetaSyncTokenInput, I>) => {
  const decodeTokenInput = Schema.decodeUnknownEither(schema, { errors: "all" })
  return (body: unknown): Either.Either<Domain.MetaSyncTokenInput, MockFailure> =>
    parseTokenBody(decodeTokenInput, body)
}

const parseTokenBody = (
  decodeTokenInput: (body: unknown) => Either.Either<Domain.MetaSyncTokenInput, ParseResult.ParseError>,
  body: unknown
): Either.Either<Domain.MetaSyncTokenInput, MockFailure> => {
  if (!isPlainObject(body)) {
    return fail(400, `The body must be a JSON object like ${tokenBodyHint}`)
  }
  return Either.mapLeft(decodeTokenInput(body), (error) => {
    const problems = issuesOf(error).map(({ message, path }) => {
      if (path === "security_context") {
        return "security_context" in body
          ? `security_context must be a JSON object (the claims to embed), got ${JSON.stringify(body.security_context)}`
          : "security_context is required: a JSON object of claims to embed, e.g. {\"tenant_id\": \"acme\"}"
      }
      if (path === "expires_in") {
        return `expires_in must be a positive integer number of seconds (default ${defaultExpiresIn}), got ${
          JSON.stringify(body.expires_in)
        }`
      }
      return `${path}: ${message}`
    })
    return new MockFailure({ status: 400, error: `Invalid token request: ${problems.join("; ")}` })
  })
}

/** The longest token lifetime the platform shape allows (Cube's published document caps `expires_in` at 3600). */
export const platformMaxExpiresIn = 3600

/**
 * `POST .../tokens-for-meta-sync`: an HS256 JWT signed with the
 * environment's `api_secret`. Times come from the `Clock` (so `TestClock`
 * in tests); `created_at`/`expires_at` equal the token's `iat`/`exp`.
 * The platform shape refuses `expires_in` above 3600 (its default), and
 * echoes `security_context` (and `scopes` when sent) in the answer.
 */
export const createMetaSyncToken = (
  store: MockStore,
  key: Seed.ApiKey,
  deploymentId: string,
  environmentId: string,
  input: Domain.MetaSyncTokenInput
): Effect.Effect<WireBody, MockFailure> =>
  Effect.gen(function*() {
    yield* requireRead(key, "create meta-sync tokens")
    const platform = store.shape === "platform"
    if (platform && input.expiresIn !== undefined && input.expiresIn > platformMaxExpiresIn) {
      return yield* fail(
        400,
        `Invalid token request: expires_in must be at most ${platformMaxExpiresIn} seconds, got ${input.expiresIn}`
      )
    }
    yield* requireScope(key, deploymentId)
    const state = yield* findDeployment(store, deploymentId)
    const environment = state.environments.get(environmentId)
    if (environment === undefined) {
      return yield* fail(404, `Environment ${environmentId} not found in deployment ${deploymentId}`)
    }
    const issuedAt = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const expiresAt = issuedAt + (input.expiresIn ?? (platform ? platformMaxExpiresIn : defaultExpiresIn))
    const token = yield* Effect.tryPromise({
      try: () =>
        Jwt.sign({ secret: environment.apiSecret, securityContext: input.securityContext, issuedAt, expiresAt }),
      catch: () => new MockFailure({ status: 400, error: "security_context must be JSON-serialisable" })
    })
    return yield* encoded(
      "the token",
      encodeToken({
        data: {
          token: Redacted.make(token),
          createdAt: new Date(issuedAt * 1000),
          expiresAt: new Date(expiresAt * 1000),
          ...(platform ? { securityContext: input.securityContext } : {}),
          ...(platform && input.scopes !== undefined ? { scopes: input.scopes } : {})
        }
      })
    )
  })

// ---------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------

/** `start`/`end` by core's one rule (`Dates`); the 400 says what was wrong and what a good value looks like. */
const parseBound = (name: string, value: string): Either.Either<Dates.Bound, MockFailure> =>
  Either.mapLeft(
    Dates.parse(value),
    (reason) => new MockFailure({ status: 400, error: Dates.invalid(name, value, reason) })
  )

/** The parsed filter: a half-open time range and the other predicates. */
export interface AuditLogSelection {
  readonly fromMillis: number
  /** Exclusive. */
  readonly toMillis: number
  readonly search?: string
  readonly eventName?: string
  readonly userEmail?: string
}

/** The export's filter (decoded with the contract's schema), with its dates checked. */
export const parseAuditLogQuery = (filter: AuditLogQuery): Either.Either<AuditLogSelection, MockFailure> =>
  Either.gen(function*() {
    const start = filter.start !== undefined ? yield* parseBound("start", filter.start) : undefined
    const end = filter.end !== undefined ? yield* parseBound("end", filter.end) : undefined
    const fromMillis = start?.millis ?? Number.NEGATIVE_INFINITY
    // A date-only end includes that whole day (UTC); a date-time end is inclusive.
    const toMillis = end === undefined ? Number.POSITIVE_INFINITY : Dates.endExclusive(end)
    if (start !== undefined && end !== undefined && start.millis > end.millis) {
      return yield* fail(400, `start (${filter.start}) is after end (${filter.end})`)
    }
    return {
      fromMillis,
      toMillis,
      ...(filter.search !== undefined && filter.search !== "" ? { search: filter.search.toLowerCase() } : {}),
      ...(filter.eventName !== undefined && filter.eventName !== "" ? { eventName: filter.eventName } : {}),
      ...(filter.userEmail !== undefined && filter.userEmail !== ""
        ? { userEmail: filter.userEmail.toLowerCase() }
        : {})
    }
  })

const containsText = (value: unknown, needle: string): boolean => {
  if (typeof value === "string") return value.toLowerCase().includes(needle)
  if (typeof value === "number" || typeof value === "boolean") return String(value).toLowerCase().includes(needle)
  if (Array.isArray(value)) return value.some((v) => containsText(v, needle))
  if (isPlainObject(value)) {
    return Object.entries(value).some(([k, v]) => k.toLowerCase().includes(needle) || containsText(v, needle))
  }
  return false
}

/** `search` matches case-insensitively anywhere in the event: every field, attribute names and values. */
const matchesSearch = (event: Domain.AuditLogEvent, needle: string): boolean =>
  containsText(event.id, needle) ||
  event.timestamp.toISOString().toLowerCase().includes(needle) ||
  containsText(event.eventName, needle) ||
  containsText(event.userEmail, needle) ||
  containsText(event.deploymentId, needle) ||
  containsText(event.deploymentName, needle) ||
  containsText(event.ipAddress, needle) ||
  containsText(event.attributes, needle) ||
  JSON.stringify(event.attributes).toLowerCase().includes(needle)

const matches = (event: Domain.AuditLogEvent, selection: AuditLogSelection): boolean =>
  (selection.eventName === undefined || event.eventName === selection.eventName) &&
  (selection.userEmail === undefined || event.userEmail?.toLowerCase() === selection.userEmail) &&
  (selection.search === undefined || matchesSearch(event, selection.search))

/** Events scanned without a match before the export yields control (so a narrow filter over millions of events does not block the server). */
const scanBudget = 20_000

/**
 * Matching events, oldest first, with `null` after every `scanBudget` events
 * that did not match: the seeded events in the range (up to the first at or
 * after its end) merged by time with the generated ones in it, the seeded
 * event first on equal times. One loop pulls both sources (no generator per
 * source), as this runs once per event of a ten-million-event export.
 */
function* selectEvents(
  seeded: ReadonlyArray<Domain.AuditLogEvent>,
  generated: GeneratedAuditLog | undefined,
  selection: AuditLogSelection
): Generator<Domain.AuditLogEvent | null> {
  const { fromMillis, toMillis } = selection
  let next = 0
  /** The next seeded event in the range, if any. */
  const nextSeeded = (): Domain.AuditLogEvent | undefined => {
    while (next < seeded.length) {
      const event = seeded[next++]!
      const t = event.timestamp.getTime()
      if (t >= toMillis) {
        next = seeded.length
        return undefined
      }
      if (t >= fromMillis) return event
    }
    return undefined
  }
  let index = generated === undefined ? 0 : firstIndexAtOrAfter(generated, fromMillis)
  const end = generated === undefined ? 0 : Math.min(firstIndexAtOrAfter(generated, toMillis), generated.count)
  const nextGenerated = (): Domain.AuditLogEvent | undefined =>
    generated !== undefined && index < end ? eventAt(generated, index++) : undefined
  const everything = selection.search === undefined && selection.eventName === undefined &&
    selection.userEmail === undefined
  let x = nextSeeded()
  let y = nextGenerated()
  let skipped = 0
  while (x !== undefined || y !== undefined) {
    let event: Domain.AuditLogEvent
    if (x !== undefined && (y === undefined || x.timestamp.getTime() <= y.timestamp.getTime())) {
      event = x
      x = nextSeeded()
    } else if (y !== undefined) {
      event = y
      y = nextGenerated()
    } else {
      return
    }
    if (everything || matches(event, selection)) {
      skipped = 0
      yield event
    } else if (++skipped >= scanBudget) {
      skipped = 0
      yield null
    }
  }
}

function* withoutPauses<A>(items: Iterable<A | null>): Generator<A> {
  for (const item of items) if (item !== null) yield item
}

/** The CSV is cut into chunks of about this many bytes (core's `AuditLog.csvChunkLength`). */
export const csvChunkLength = AuditLog.csvChunkLength

/**
 * Events as CSV bytes, written by core's `AuditLog.csvChunks` (the export's
 * own encoder, the one the Domain schemas define): the header
 * (`Domain.auditLogColumns`), then one row per event, in chunks of about
 * 64 KiB. A `null` in the input (a long run of events that did not match)
 * yields an empty chunk, a point where a server can let other work run;
 * skip those.
 */
export const csvChunks = (events: Iterable<Domain.AuditLogEvent | null>): Generator<Uint8Array> =>
  AuditLog.csvChunks(events)

/** An export ready to stream: nothing is produced until it is iterated, and each iteration starts afresh. */
export interface AuditLogExport {
  /** The matching events, oldest first. */
  readonly events: () => Generator<Domain.AuditLogEvent>
  /** The CSV file, in chunks of about 64 KiB; an empty chunk marks a pause in a long filtered scan (skip it). */
  readonly csv: () => Generator<Uint8Array>
}

/**
 * `GET /api/v1/audit-logs/export`: needs `AuditLogManage` (or `All`) and the
 * Enterprise plan. Events come oldest first, filtered by `start`/`end`
 * (a date-only `end` includes that day), `search`, `eventName` and
 * `userEmail`, and are produced lazily as the export is read.
 */
export const exportAuditLog = (
  store: MockStore,
  key: Seed.ApiKey,
  selection: AuditLogSelection
): Either.Either<AuditLogExport, MockFailure> =>
  Either.gen(function*() {
    if (!has(key, "AuditLogManage")) {
      return yield* fail(
        403,
        `The API key "${key.name}" lacks the AuditLogManage permission needed to export the audit log (it has: ${
          permissionsOf(key)
        }) — use a key with AuditLogManage or All`
      )
    }
    if (store.plan !== "enterprise") {
      return yield* fail(
        403,
        `Audit log export requires the Enterprise plan with Audit Log enabled; this account is on the "${store.plan}" plan`
      )
    }
    // A snapshot: events added while an export is being read do not change it.
    const seeded = [...store.events]
    const generated = store.generated
    return {
      events: () => withoutPauses(selectEvents(seeded, generated, selection)),
      csv: () => csvChunks(selectEvents(seeded, generated, selection))
    }
  })

// ---------------------------------------------------------------------------
// Recorded arguments
// ---------------------------------------------------------------------------

/** A request's arguments for the call log: the query decoded where valid (else as sent), the token body's fields. */
export const argumentsOf = (
  operation: Api.Operation,
  input: {
    readonly deploymentId?: string
    readonly environmentId?: string
    readonly query?: Readonly<Record<string, unknown>>
    readonly body?: unknown
  }
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  if (input.deploymentId !== undefined) out.deploymentId = input.deploymentId
  if (input.environmentId !== undefined) out.environmentId = input.environmentId
  if (input.query !== undefined) {
    for (const [k, v] of Object.entries(input.query)) if (v !== undefined) out[k] = v
  }
  if (operation === "createMetaSyncToken") {
    const body = input.body
    if (isPlainObject(body)) {
      if ("security_context" in body) out.securityContext = body.security_context
      if ("expires_in" in body) out.expiresIn = body.expires_in
      if ("scopes" in body) out.scopes = body.scopes
    } else if (body !== undefined) {
      out.body = body
    }
  }
  return out
}
