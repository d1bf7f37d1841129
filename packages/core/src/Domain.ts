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
import type { SchemaAST } from "effect"
import { ParseResult, Schema } from "effect"
import * as Dates from "./Dates.js"

/** Fields a schema does not know are kept, as they came. */
const Extra = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/** An id: a string on the wire, tolerated as an integer. */
export const Id = Schema.Union(
  Schema.String,
  Schema.transform(Schema.Int, Schema.String, {
    strict: true,
    decode: (n) => String(n),
    encode: (s) => Number(s)
  })
).annotations({ identifier: "Id", description: "A string id (integers are accepted and turned into strings)" })

/** An ISO 8601 timestamp on the wire, a `Date` in the domain. */
export const Timestamp = Schema.Date.annotations({ identifier: "Timestamp" })

// ---------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------

export const Pagination = Schema.Struct({
  offset: Schema.NonNegativeInt,
  limit: Schema.NonNegativeInt,
  total: Schema.NonNegativeInt
}).annotations({ identifier: "Pagination" })
export interface Pagination extends Schema.Schema.Type<typeof Pagination> {}

/** One page of a list: the items and the server's `pagination` object. */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly pagination: Pagination
}

/**
 * A list response: `{ data: { <key>: [...] }, pagination }` on the wire.
 * Also accepts `{ data: [...] }` and `{ items: [...] }`.
 */
export const ListResponse = <A, I, R>(key: string, item: Schema.Schema<A, I, R>) => {
  const Items = Schema.Array(item)
  const PageType = Schema.Struct({
    items: Schema.Array(Schema.typeSchema(item)),
    pagination: Pagination
  })
  const canonical = Schema.transform(
    Schema.Struct({ data: Schema.Struct({ [key]: Items }), pagination: Pagination }),
    PageType,
    {
      strict: true,
      decode: ({ data, pagination }) => ({ items: data[key] ?? [], pagination }),
      encode: ({ items, pagination }) => ({ data: { [key]: items }, pagination })
    }
  )
  const dataArray = Schema.transform(Schema.Struct({ data: Items, pagination: Pagination }), PageType, {
    strict: true,
    decode: ({ data, pagination }) => ({ items: data, pagination }),
    encode: ({ items, pagination }) => ({ data: items, pagination })
  })
  const itemsArray = Schema.Struct({ items: Items, pagination: Pagination })
  // Encoding picks the first member: the reference page's shape.
  return Schema.Union(canonical, dataArray, itemsArray).annotations({ identifier: `${key}Page` })
}

// ---------------------------------------------------------------------------
// Deployments
// ---------------------------------------------------------------------------

export const Deployment = Schema.Struct(
  {
    id: Id,
    name: Schema.String,
    createdAt: Schema.propertySignature(Timestamp).pipe(Schema.fromKey("created_at"))
  },
  Extra
).annotations({ identifier: "Deployment" })
export type Deployment = typeof Deployment.Type

export const DeploymentList = ListResponse("deployments", Deployment)

// ---------------------------------------------------------------------------
// Environments
// ---------------------------------------------------------------------------

export const EnvironmentType = Schema.Literal("production", "staging", "development").annotations({
  identifier: "EnvironmentType"
})
export type EnvironmentType = typeof EnvironmentType.Type

export const RestCredentials = Schema.Struct({ url: Schema.String }, Extra)
export const SqlCredentials = Schema.Struct(
  {
    host: Schema.String,
    port: Schema.Int,
    database: Schema.optional(Schema.String)
  },
  Extra
)

/** `{ rest: { url }, sql: { host, port } }` on the wire. */
export const ApiCredentials = Schema.Struct(
  {
    rest: Schema.optional(RestCredentials),
    sql: Schema.optional(SqlCredentials)
  },
  Extra
).annotations({ identifier: "ApiCredentials" })
export type ApiCredentials = typeof ApiCredentials.Type

const CredentialEntry = Schema.Struct(
  {
    type: Schema.String,
    url: Schema.optional(Schema.String),
    host: Schema.optional(Schema.String),
    port: Schema.optional(Schema.Int),
    database: Schema.optional(Schema.String)
  },
  Extra
)

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

/** The array variant: `[{ type: "rest", url }, { type: "sql", host, port }]`. */
const ApiCredentialsFromArray = Schema.transform(Schema.Array(CredentialEntry), Schema.typeSchema(ApiCredentials), {
  strict: false,
  decode: (entries) => {
    const out: Record<string, unknown> = {}
    for (const { type, ...rest } of entries) out[type] = rest
    return out
  },
  encode: (credentials) =>
    Object.entries(credentials).map(([type, value]) => ({ type, ...(isObject(value) ? value : {}) }))
})

export const Environment = Schema.Struct(
  {
    id: Id,
    name: Schema.optional(Schema.String),
    type: Schema.String,
    branch: Schema.optional(Schema.NullOr(Schema.String)),
    user: Schema.optional(Schema.NullOr(Schema.String)),
    apiCredentials: Schema.optional(Schema.Union(ApiCredentials, ApiCredentialsFromArray)).pipe(
      Schema.fromKey("api_credentials")
    )
  },
  Extra
).annotations({ identifier: "Environment" })
export type Environment = typeof Environment.Type

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
    Schema.Int.pipe(Schema.positive()).annotations({
      description: "Token lifetime in seconds. Default: 86400. The server decides the maximum."
    })
  ).pipe(Schema.fromKey("expires_in")),
  scopes: Schema.optional(Schema.Array(Schema.String))
}).annotations({ identifier: "MetaSyncTokenInput" })
export type MetaSyncTokenInput = typeof MetaSyncTokenInput.Type

const MetaSyncTokenFields = Schema.Struct(
  {
    token: Schema.Redacted(Schema.String),
    createdAt: Schema.propertySignature(Timestamp).pipe(Schema.fromKey("created_at")),
    expiresAt: Schema.propertySignature(Timestamp).pipe(Schema.fromKey("expires_at")),
    securityContext: Schema.optional(SecurityContext).pipe(Schema.fromKey("security_context"))
  },
  Extra
)

/**
 * A minted token. `token` is `Redacted`: it does not print in logs or errors;
 * `Redacted.value(token.token)` is the JWT.
 */
export const MetaSyncToken = MetaSyncTokenFields.annotations({ identifier: "MetaSyncToken" })
export type MetaSyncToken = typeof MetaSyncToken.Type

/** `{ data: { token, created_at, expires_at } }` on the wire (a bare object is accepted too). */
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

/** `offset` / `limit` of a list request. */
export interface PageOptions {
  /** Items to skip. Default: 0. */
  readonly offset?: number
  /** Items per page. Default: the server's (20); servers may cap it (the mock caps at 100). */
  readonly limit?: number
}

export interface EnvironmentListOptions extends PageOptions {
  readonly type?: EnvironmentType
}

/** How a stream walks the pages of a list. */
export interface StreamOptions {
  /** Where to start. Default: 0. */
  readonly offset?: number
  /** Items to ask for per request. Default: 100. */
  readonly pageSize?: number
  /**
   * Pages fetched ahead of the consumer once `total` is known, still emitted in
   * order. Default: 1 (strictly sequential: nothing is fetched before it is pulled).
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

/** Query-string schemas shared by the HTTP client, the mock and the proxy. */
export const NonNegativeIntFromString = Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative())
export const PositiveIntFromString = Schema.NumberFromString.pipe(Schema.int(), Schema.positive())

export const PageQuery = Schema.Struct({
  offset: Schema.optional(
    NonNegativeIntFromString.annotations({ description: "an integer ≥ 0 (items to skip; default 0)" })
  ),
  limit: Schema.optional(
    PositiveIntFromString.annotations({ description: "an integer ≥ 1 (items per page; default 20)" })
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
