/**
 * The Control Plane API's data, as Effect schemas.
 *
 * Each schema's Type is the camelCase domain value; its Encoded side is the
 * wire format of the reference page (snake_case, string ids). Decoding also
 * accepts the variants seen in Cube's published OpenAPI files (integer ids,
 * `items` / array `data` lists, array `api_credentials`) and keeps fields it
 * does not know, so they survive a round trip (forward compatibility).
 * Encoding always produces the reference page's shape.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as Dates from "./Dates.js"

/** Fields a schema does not know are kept, as they came. */
const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** A field that may be absent or `null` on the wire; `null` decodes as absent. */
const optionalNullable = <A, I, R>(schema: Schema.Schema<A, I, R>) => Schema.optionalWith(schema, { nullable: true })

const describeActual = (actual: unknown): string => {
  if (actual === undefined) return "nothing"
  const text = JSON.stringify(actual)
  return text === undefined ? String(actual) : text.length > 40 ? `${text.slice(0, 40)}…` : text
}

/** An id: a string or an integer on the wire, always the string the user types in the domain. */
export const Id = Schema.Union(
  Schema.String,
  Schema.transform(Schema.Int, Schema.String, {
    strict: true,
    decode: (n) => String(n),
    encode: (s) => Number(s)
  })
).annotations({
  identifier: "Id",
  description: "A string id (integers are accepted and turned into strings)",
  message: (issue) => ({ message: `expected string or integer, got ${describeActual(issue.actual)}`, override: true })
})

/**
 * An id the wire carries as an integer (Cube's platform API: deployment ids).
 * Decodes to the same string as `Id`; encoding needs a string of digits.
 */
export const IntegerId = Schema.transformOrFail(Schema.Int, Schema.String, {
  strict: true,
  decode: (n) => ParseResult.succeed(String(n)),
  encode: (s, _, ast) =>
    /^-?\d{1,15}$/.test(s)
      ? ParseResult.succeed(Number(s))
      : ParseResult.fail(
        new ParseResult.Type(ast, s, `an integer id is needed in the platform shape, got ${JSON.stringify(s)}`)
      )
}).annotations({ identifier: "IntegerId" })

/** An ISO 8601 timestamp on the wire, a `Date` in the domain. */
export const Timestamp = Schema.Date.annotations({ identifier: "Timestamp" })

/**
 * A timestamp a server types only as a string: a `Date` when it parses, else
 * the text as sent (so an odd format never fails a call, and is shown as is).
 */
export const LenientTimestamp = Schema.Union(Timestamp, Schema.String).annotations({
  identifier: "LenientTimestamp",
  description: "A date-time; text that is not a date is kept as sent"
})
export type LenientTimestamp = typeof LenientTimestamp.Type

/** The wire shapes a server may answer in (`cube-platform-api.md`). */
export const WireShape = Schema.Literal("reference", "platform").annotations({
  identifier: "WireShape",
  description:
    "`reference`: the Control Plane API page (nested `data.<list>`, `pagination`, string ids); `platform`: Cube's published OpenAPI document (flat `data` + `items`, `pageInfo` cursors, integer deployment ids, credential arrays)"
})
export type WireShape = typeof WireShape.Type

// ---------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------

/**
 * Offset paging facts (`pagination`): each may be missing or `null` on a
 * server that pages by cursor. Typed as the document types them (integers);
 * paging ignores values that make no sense (a negative total).
 */
export const Pagination = Schema.Struct({
  offset: optionalNullable(Schema.Int),
  limit: optionalNullable(Schema.Int),
  total: optionalNullable(Schema.Int)
}, Extra).annotations({ identifier: "Pagination" })
export interface Pagination extends Schema.Schema.Type<typeof Pagination> {}

/** Cursor paging facts (`pageInfo`): follow `endCursor` with `after` while `hasNextPage`. */
export const PageInfo = Schema.Struct({
  hasNextPage: optionalNullable(Schema.Boolean),
  hasPreviousPage: optionalNullable(Schema.Boolean),
  startCursor: optionalNullable(Schema.String),
  endCursor: optionalNullable(Schema.String)
}, Extra).annotations({ identifier: "PageInfo" })
export interface PageInfo extends Schema.Schema.Type<typeof PageInfo> {}

/**
 * One page of a list: its rows and whatever paging facts the server sent —
 * `pagination` (offset paging, the reference page) and/or `pageInfo`
 * (cursor paging, Cube's platform API).
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly pagination?: Pagination | undefined
  readonly pageInfo?: PageInfo | undefined
}

/** The total number of rows across pages, when the server said (a negative one says nothing). */
export const totalOf = (page: Page<unknown>): number | undefined => {
  const total = page.pagination?.total ?? undefined
  return total !== undefined && total >= 0 ? total : undefined
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The list envelope, every part optional: which array holds the rows is decided after. */
const ListEnvelope = Schema.Struct({
  data: Schema.optional(Schema.Unknown),
  items: Schema.optional(Schema.Unknown),
  pagination: optionalNullable(Pagination),
  pageInfo: optionalNullable(PageInfo),
  count: optionalNullable(Schema.Int),
  totalCount: optionalNullable(Schema.Int)
})

interface RowsAt {
  readonly rows: ReadonlyArray<unknown>
  readonly path: readonly [PropertyKey, ...Array<PropertyKey>]
}

/** Where the rows of a list body are: `data.<key>` (reference), flat `data` or `items` (platform). */
const rowsOf = (
  key: string,
  body: typeof ListEnvelope.Type
): Either.Either<RowsAt, string> => {
  const candidates: Array<RowsAt> = []
  if (Array.isArray(body.items)) candidates.push({ rows: body.items, path: ["items"] })
  else if (body.items !== undefined && body.items !== null) return Either.left("items: expected an array")
  if (Array.isArray(body.data)) candidates.push({ rows: body.data, path: ["data"] })
  else if (isRecord(body.data)) {
    const nested = body.data[key]
    if (Array.isArray(nested)) candidates.push({ rows: nested, path: ["data", key] })
    else if (nested !== undefined && nested !== null) return Either.left(`data.${key}: expected an array`)
  } else if (body.data !== undefined && body.data !== null) {
    return Either.left(`data: expected an array or an object with "${key}"`)
  }
  if (candidates.length === 0) return Either.left(`no rows: expected data.${key}, data or items to be an array`)
  // Both arrays should hold the same rows; never let an empty one hide the other's.
  let best = candidates[0]!
  for (const candidate of candidates) if (candidate.rows.length > best.rows.length) best = candidate
  return Either.right(best)
}

/**
 * A list response in either shape, decoded to a `Page`:
 * `{ data: { <key>: [...] }, pagination }` (the reference page) or
 * `{ data: [...], items: [...], pageInfo, pagination, count, totalCount }`
 * (Cube's platform API; `pagination` may be null or absent). Rows come from
 * whichever array holds them. A row that does not decode fails with its path,
 * e.g. `data[3].id`. Encoding gives the reference shape.
 */
export const ListResponse = <A, I>(key: string, item: Schema.Schema<A, I>) => {
  const decodeRows = ParseResult.decodeUnknown(Schema.Array(item))
  const encodeRows = ParseResult.encodeUnknown(Schema.Array(item))
  const PageType = Schema.Struct({
    items: Schema.Array(Schema.typeSchema(item)),
    pagination: Schema.optional(Schema.typeSchema(Pagination)),
    pageInfo: Schema.optional(Schema.typeSchema(PageInfo))
  })
  return Schema.transformOrFail(ListEnvelope, PageType, {
    strict: true,
    decode: (body, options, ast) =>
      Either.match(rowsOf(key, body), {
        onLeft: (message) => ParseResult.fail(new ParseResult.Type(ast, body, message)),
        onRight: ({ path, rows }) =>
          decodeRows(rows, options).pipe(
            ParseResult.mapError((issue) => new ParseResult.Pointer(path, body, issue)),
            ParseResult.map((items) => {
              const pagination = body.pagination ??
                (body.totalCount !== undefined && body.totalCount !== null ? { total: body.totalCount } : undefined)
              return {
                items,
                ...(pagination !== undefined ? { pagination } : {}),
                ...(body.pageInfo !== undefined && body.pageInfo !== null ? { pageInfo: body.pageInfo } : {})
              }
            })
          )
      }),
    encode: (page, options) =>
      encodeRows(page.items, options).pipe(
        ParseResult.map((rows) => ({
          data: { [key]: rows },
          ...(page.pagination !== undefined ? { pagination: page.pagination } : {}),
          ...(page.pageInfo !== undefined ? { pageInfo: page.pageInfo } : {})
        }))
      )
  }).annotations({ identifier: `${key}Page` })
}

/** The reference page's list body: `{ data: { <key>: [...] }, pagination }`. */
export const ReferenceListBody = <A, I, R>(key: string, item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ data: Schema.Struct({ [key]: Schema.Array(item) }), pagination: Pagination })

/** Cube's platform list body: `{ data: [...], items: [...], pageInfo, pagination, count, totalCount }`. */
export const PlatformListBody = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({
    data: Schema.Array(item),
    items: Schema.Array(item),
    pageInfo: Schema.NullOr(PageInfo),
    pagination: Schema.optional(Schema.NullOr(Pagination)),
    count: Schema.optional(Schema.NullOr(Schema.Int)),
    totalCount: Schema.optional(Schema.NullOr(Schema.Int))
  })

// ---------------------------------------------------------------------------
// Deployments
// ---------------------------------------------------------------------------

const deploymentFields = {
  name: optionalNullable(Schema.String),
  createdAt: optionalNullable(LenientTimestamp).pipe(Schema.fromKey("created_at")),
  /** Cube's platform API: the deployment's URL. */
  deploymentUrl: optionalNullable(Schema.String),
  /** Cube's platform API: how far the deployment's set-up got (`ready`, `demo`, `project`, …). */
  creationStep: optionalNullable(Schema.String)
}

/**
 * A deployment: an id and, where the server sends them, `name`,
 * `created_at` (reference page), `deploymentUrl` and `creationStep`
 * (Cube's platform API). Encodes to the reference page's shape (string id).
 */
export const Deployment = Schema.Struct({ id: Id, ...deploymentFields }, Extra).annotations({
  identifier: "Deployment"
})
export type Deployment = typeof Deployment.Type

/** A deployment in Cube's platform shape: the id is an integer on the wire. */
export const PlatformDeployment = Schema.Struct({ id: IntegerId, ...deploymentFields }, Extra).annotations({
  identifier: "PlatformDeployment"
})

export const DeploymentList = ListResponse("deployments", Deployment)

// ---------------------------------------------------------------------------
// Environments
// ---------------------------------------------------------------------------

export const EnvironmentType = Schema.Literal("production", "staging", "development").annotations({
  identifier: "EnvironmentType"
})
export type EnvironmentType = typeof EnvironmentType.Type

/** The REST endpoint of an environment. Every field may be missing or `null` on the wire. */
export const RestCredentials = Schema.Struct({
  url: optionalNullable(Schema.String),
  version: optionalNullable(Schema.Int)
}, Extra)
export type RestCredentials = typeof RestCredentials.Type

/** The SQL endpoint of an environment. Every field may be missing or `null` on the wire. */
export const SqlCredentials = Schema.Struct({
  host: optionalNullable(Schema.String),
  port: optionalNullable(Schema.Int),
  database: optionalNullable(Schema.String),
  version: optionalNullable(Schema.Int)
}, Extra)
export type SqlCredentials = typeof SqlCredentials.Type

/** `{ rest: { url }, sql: { host, port } }`: the reference page's form, and the domain's. */
export const ApiCredentials = Schema.Struct(
  {
    rest: optionalNullable(RestCredentials),
    sql: optionalNullable(SqlCredentials)
  },
  Extra
).annotations({ identifier: "ApiCredentials" })
export type ApiCredentials = typeof ApiCredentials.Type

/** One entry of Cube's platform form: `{ type, version, url, host, port, database }`, any of the last four null. */
export const CredentialEntry = Schema.Struct(
  {
    type: Schema.String,
    version: optionalNullable(Schema.Int),
    url: Schema.optional(Schema.NullOr(Schema.String)),
    host: Schema.optional(Schema.NullOr(Schema.String)),
    port: Schema.optional(Schema.NullOr(Schema.Int)),
    database: Schema.optional(Schema.NullOr(Schema.String))
  },
  Extra
).annotations({ identifier: "CredentialEntry" })

const credentialFields = ["url", "host", "port", "database"] as const

/**
 * Cube's platform form, `[{ type: "rest", url, … }, { type: "sql", host, port, … }]`,
 * ⇄ the domain's object keyed by type. Nulls decode as absent; where a type
 * appears more than once, the highest `version` is kept. Encoding writes the
 * four endpoint fields of every entry, `null` where there is no value.
 */
export const ApiCredentialsFromArray = Schema.transform(
  Schema.Array(CredentialEntry),
  Schema.typeSchema(ApiCredentials),
  {
    strict: false,
    decode: (entries) => {
      const out: Record<string, Record<string, unknown>> = {}
      for (const entry of entries) {
        const value: Record<string, unknown> = {}
        for (const [field, v] of Object.entries(entry)) if (field !== "type" && v !== null) value[field] = v
        const previous = out[entry.type]
        const version = (x: Record<string, unknown> | undefined) => typeof x?.version === "number" ? x.version : 0
        if (previous === undefined || version(value) >= version(previous)) out[entry.type] = value
      }
      return out
    },
    encode: (credentials) =>
      Object.entries(credentials).flatMap(([type, value]) => {
        if (!isRecord(value)) return []
        const entry: Record<string, unknown> = { type, version: 1, ...value }
        for (const field of credentialFields) if (entry[field] === undefined) entry[field] = null
        return [entry]
      })
  }
).annotations({ identifier: "ApiCredentialsArray" })

const environmentFields = {
  id: Id,
  name: optionalNullable(Schema.String),
  type: Schema.String.annotations({ description: "production, staging or development (others are kept)" }),
  branch: Schema.optional(Schema.NullOr(Schema.String)),
  user: Schema.optional(Schema.NullOr(Schema.String))
}

/**
 * An environment: id and type, and where present name, branch, user and
 * `api_credentials` in either form (the reference page's object or Cube's
 * platform array). Encodes to the reference page's shape.
 */
export const Environment = Schema.Struct(
  {
    ...environmentFields,
    apiCredentials: optionalNullable(Schema.Union(ApiCredentials, ApiCredentialsFromArray)).pipe(
      Schema.fromKey("api_credentials")
    )
  },
  Extra
).annotations({ identifier: "Environment" })
export type Environment = typeof Environment.Type

/** An environment in Cube's platform shape: `api_credentials` as an array of entries. */
export const PlatformEnvironment = Schema.Struct(
  {
    ...environmentFields,
    apiCredentials: optionalNullable(ApiCredentialsFromArray).pipe(Schema.fromKey("api_credentials"))
  },
  Extra
).annotations({ identifier: "PlatformEnvironment" })

export const EnvironmentList = ListResponse("environments", Environment)

// ---------------------------------------------------------------------------
// Meta-sync tokens
// ---------------------------------------------------------------------------

export const SecurityContext = Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
  identifier: "SecurityContext",
  description: "Claims embedded at the root of the token; controls data model visibility"
})
export type SecurityContext = typeof SecurityContext.Type

/** The POST body of `tokens-for-meta-sync`. */
export const MetaSyncTokenInput = Schema.Struct({
  securityContext: Schema.propertySignature(SecurityContext).pipe(Schema.fromKey("security_context")),
  expiresIn: Schema.optional(
    Schema.Int.pipe(Schema.positive({
      message: (issue) => `Expected a whole number of seconds ≥ 1, actual ${String(issue.actual)}`
    })).annotations({
      description: "Token lifetime in seconds. The server decides the default and the maximum."
    })
  ).pipe(Schema.fromKey("expires_in")),
  scopes: Schema.optional(Schema.Array(Schema.String))
}).annotations({ identifier: "MetaSyncTokenInput" })
export type MetaSyncTokenInput = typeof MetaSyncTokenInput.Type

const MetaSyncTokenFields = Schema.Struct(
  {
    token: Schema.Redacted(Schema.String),
    createdAt: optionalNullable(LenientTimestamp).pipe(Schema.fromKey("created_at")),
    expiresAt: optionalNullable(LenientTimestamp).pipe(Schema.fromKey("expires_at")),
    securityContext: optionalNullable(SecurityContext).pipe(Schema.fromKey("security_context")),
    scopes: optionalNullable(Schema.Array(Schema.String))
  },
  Extra
)

/**
 * A minted token. `token` is `Redacted`: it does not print in logs or errors;
 * `Redacted.value(token.token)` is the JWT. `created_at`/`expires_at` are
 * `Date`s when they parse (a server may type them only as strings).
 */
export const MetaSyncToken = MetaSyncTokenFields.annotations({ identifier: "MetaSyncToken" })
export type MetaSyncToken = typeof MetaSyncToken.Type

/** `{ data: { token, created_at, expires_at, security_context? } }` on the wire (a bare object is accepted too). */
export const MetaSyncTokenResponse = Schema.Union(
  Schema.transform(Schema.Struct({ data: MetaSyncTokenFields }), Schema.typeSchema(MetaSyncTokenFields), {
    strict: true,
    decode: (wire) => wire.data,
    encode: (token) => ({ data: token })
  }),
  MetaSyncTokenFields
).annotations({ identifier: "MetaSyncTokenResponse" })

// ---------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------

/** The CSV columns of an audit-log export, in order (cube-facts.md). */
export const auditLogColumns = [
  "id",
  "timestamp",
  "event_name",
  "user_email",
  "deployment_id",
  "deployment_name",
  "ip_address",
  "attributes"
] as const

const Attributes = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * An audit-log event. Encoded: the JSON form (snake_case, `null` where there
 * is no value, `attributes` an object) used by the seed file and NDJSON output.
 */
export const AuditLogEvent = Schema.Struct(
  {
    id: Id,
    timestamp: Timestamp,
    eventName: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("event_name")),
    userEmail: Schema.propertySignature(Schema.NullOr(Schema.String)).pipe(Schema.fromKey("user_email")),
    deploymentId: Schema.propertySignature(Schema.NullOr(Id)).pipe(Schema.fromKey("deployment_id")),
    deploymentName: Schema.propertySignature(Schema.NullOr(Schema.String)).pipe(Schema.fromKey("deployment_name")),
    ipAddress: Schema.propertySignature(Schema.NullOr(Schema.String)).pipe(Schema.fromKey("ip_address")),
    attributes: Attributes
  },
  Extra
).annotations({ identifier: "AuditLogEvent" })
export type AuditLogEvent = typeof AuditLogEvent.Type
export type AuditLogEventJson = typeof AuditLogEvent.Encoded

const ParseOk = ParseResult.succeed
const ParseFail = (ast: SchemaAST.AST, actual: unknown, message: string) =>
  ParseResult.fail(new ParseResult.Type(ast, actual, message))

const nullable = new Set(["user_email", "deployment_id", "deployment_name", "ip_address"])

/** A CSV record (header-keyed strings) ⇄ the JSON form: empty → null, `attributes` JSON text ⇄ object. */
const CsvRecordToJson = Schema.transformOrFail(
  Schema.Record({ key: Schema.String, value: Schema.String }),
  Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  {
    strict: true,
    decode: (record, _, ast) => {
      const out: Record<string, unknown> = {}
      for (const key in record) {
        const value = record[key]!
        if (key === "attributes") {
          if (value === "") {
            out[key] = {}
            continue
          }
          try {
            out[key] = JSON.parse(value)
          } catch {
            return ParseFail(ast, record, `attributes is not JSON: ${value.slice(0, 80)}`)
          }
        } else {
          out[key] = nullable.has(key) && value === "" ? null : value
        }
      }
      return ParseOk(out)
    },
    encode: (json) => {
      const out: Record<string, string> = {}
      for (const key in json) {
        const value = json[key]
        out[key] = value === null || value === undefined
          ? ""
          : typeof value === "string"
          ? value
          : JSON.stringify(value)
      }
      return ParseOk(out)
    }
  }
)

/** One row of the CSV export, keyed by the header, ⇄ the domain event. Unknown columns are kept as strings. */
export const AuditLogEventFromCsvRecord = Schema.compose(CsvRecordToJson, AuditLogEvent, { strict: false })
  .annotations({ identifier: "AuditLogEventFromCsvRecord" })

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/**
 * Which page of a list to ask for: by offset (`offset` / `limit`, the
 * reference page) or by cursor (`first` / `after`, Cube's platform API).
 * A request never mixes the two: servers refuse that.
 */
export interface PageOptions {
  /** Items to skip. Default: 0. */
  readonly offset?: number
  /** Items per page. Default: the server's (20); servers may cap it (the mock caps at 100). */
  readonly limit?: number
  /** Cursor paging: items per page. */
  readonly first?: number
  /** Cursor paging: the previous page's `pageInfo.endCursor`. */
  readonly after?: string
}

export interface EnvironmentListOptions extends PageOptions {
  readonly type?: EnvironmentType
}

/** Why a `PageOptions` cannot be sent as it is, or `undefined` when it can. */
export const pageOptionsProblem = (options: PageOptions): string | undefined =>
  (options.first !== undefined || options.after !== undefined) &&
    (options.offset !== undefined || options.limit !== undefined)
    ? "offset/limit and first/after cannot be mixed in one request: page by offset (offset, limit) or by cursor (first, after)"
    : undefined

/** How a stream walks the pages of a list. */
export interface StreamOptions {
  /** Where to start. Default: 0. */
  readonly offset?: number
  /** Start after this cursor (a `pageInfo.endCursor`) instead of at an offset. */
  readonly after?: string
  /** Items to ask for per request. Default: 100. */
  readonly pageSize?: number
  /**
   * Pages fetched ahead of the consumer once `total` is known, still emitted in
   * order. Only for servers that page by offset; cursor pages are fetched one
   * after the other. Default: 1 (strictly sequential: nothing is fetched before it is pulled).
   */
  readonly concurrency?: number
}

export interface EnvironmentStreamOptions extends StreamOptions {
  readonly type?: EnvironmentType
}

/** Filters of the audit-log export. `start`/`end`: ISO 8601 dates or date-times. */
export interface AuditLogFilter {
  readonly start?: string
  readonly end?: string
  readonly search?: string
  readonly eventName?: string
  readonly userEmail?: string
}

/**
 * A count in a query string as people write one: decimal digits, nothing
 * else. `Schema.NumberFromString` alone reads what `Number()` reads, so
 * `0x10`, ` 5`, `1e1` and `+3` would pass as 16, 5, 10 and 3.
 */
const DecimalDigits = Schema.String.pipe(
  Schema.pattern(/^[0-9]{1,15}$/, {
    message: (issue) =>
      `Expected a whole number in at most 15 decimal digits (e.g. 20), actual ${JSON.stringify(issue.actual)}`
  })
)

/** Query-string schemas shared by the HTTP client, the mock and the proxy. */
export const NonNegativeIntFromString = Schema.compose(DecimalDigits, Schema.NumberFromString).pipe(
  Schema.int(),
  Schema.nonNegative()
)
export const PositiveIntFromString = Schema.compose(DecimalDigits, Schema.NumberFromString).pipe(
  Schema.int(),
  Schema.positive()
)

export const PageQuery = Schema.Struct({
  offset: Schema.optional(
    NonNegativeIntFromString.annotations({ description: "an integer ≥ 0 (items to skip; default 0)" })
  ),
  limit: Schema.optional(
    PositiveIntFromString.annotations({ description: "an integer ≥ 1 (items per page; default 20)" })
  ),
  first: Schema.optional(
    PositiveIntFromString.annotations({ description: "an integer ≥ 1 (cursor paging: items per page)" })
  ),
  after: Schema.optional(
    Schema.String.annotations({ description: "cursor paging: the previous page's pageInfo.endCursor" })
  )
})

export const EnvironmentQuery = Schema.Struct({
  ...PageQuery.fields,
  type: Schema.optional(EnvironmentType)
})

export const AuditLogQuery = Schema.Struct({
  start: Schema.optional(
    Dates.DateOrDateTime.annotations({ description: "Start of the range (ISO 8601 date or date-time)" })
  ),
  end: Schema.optional(
    Dates.DateOrDateTime.annotations({ description: "End of the range (ISO 8601); a date includes that whole day" })
  ),
  search: Schema.optional(Schema.String.annotations({ description: "Full-text search across event data" })),
  eventName: Schema.optional(Schema.String.annotations({ description: "Exact event name, e.g. `Logged in`" })),
  userEmail: Schema.optional(Schema.String.annotations({ description: "Exact user email (case-insensitive)" }))
})

/** The body of every error response: `{ "error": "..." }`. */
export const ErrorBody = Schema.Struct({ error: Schema.String }).annotations({ identifier: "ErrorBody" })
export type ErrorBody = typeof ErrorBody.Type
