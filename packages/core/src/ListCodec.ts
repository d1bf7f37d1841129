/**
 * The two lists (`DeploymentList`, `EnvironmentList`) at the speed of the
 * wire: JSON text to a `Page`, and a `Page` to the reference page's body.
 *
 * The schemas in `Domain` stay the definition of a list. What is here is
 * the same decoding and encoding written out for the common case, field for
 * field as the schemas declare them, set up once: the envelope (`data.<key>`,
 * flat `data`, `items`, `pagination`, `pageInfo`, `count`, `totalCount`) and
 * the rows are read by hand, and the result is the very value the schema
 * would give — the same fields, in the same order, extra fields kept. Anything unusual — a value of another type, a row the schema
 * would refuse, a wire field under its domain name (`createdAt`), a
 * `__proto__` key, credentials in Cube's array form — hands the whole body to
 * the schema itself, so the two cannot disagree on what a list is, and every
 * error is the schema's. The tests check that they agree on bodies of both
 * wire shapes generated at random. If a schema's fields ever stop being the
 * ones written out here, the hand path is not used: the schema does all the
 * work.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Types from "effect/Types"
import { canonicalIsoMillis, isoString } from "./AuditLog.js"
import {
  ApiCredentials,
  Deployment,
  DeploymentList,
  Environment,
  EnvironmentList,
  type Page,
  PageInfo,
  Pagination,
  RestCredentials,
  SqlCredentials
} from "./Domain.js"

/**
 * A list's decoder (either wire shape) and encoder (the reference shape).
 *
 * @since 0.2.0
 */
export interface ListCodec<A> {
  /** JSON text of a list response → its `Page`, exactly as `Schema.decodeUnknownEither(Schema.parseJson(list))`. */
  readonly decodeJson: (text: string) => Either.Either<Page<A>, ParseResult.ParseError>
  /** A `Page` → the reference page's body, exactly as `Schema.encodeEither(list)`. */
  readonly encode: (page: Page<A>) => Either.Either<unknown, ParseResult.ParseError>
  /**
   * The compiled path alone: the page, or `undefined` where the schema is asked
   * (what the tests use to check that the common case never needs it).
   *
   * @internal
   */
  readonly decodeCommon: (text: string) => Page<A> | undefined
  /** @internal */
  readonly encodeCommon: (page: Page<A>) => unknown
}

// ---------------------------------------------------------------------------
// Values, as the schemas decode and encode them
// ---------------------------------------------------------------------------

/** What a compiled step returns when the value is not the common case: the schema decides. */
const unusual: unique symbol = Symbol("unusual")
type Unusual = typeof unusual

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype

const string = (value: unknown): string | Unusual => typeof value === "string" ? value : unusual
const int = (value: unknown): number | Unusual =>
  typeof value === "number" && Number.isSafeInteger(value) ? value : unusual
const boolean = (value: unknown): boolean | Unusual => typeof value === "boolean" ? value : unusual
/** `Domain.Id` decoded: a string, or a safe integer as its string. */
const wireId = (value: unknown): string | Unusual =>
  typeof value === "string" ? value : typeof value === "number" && Number.isSafeInteger(value) ? String(value) : unusual
/** `Domain.LenientTimestamp` decoded: a `Date` when `new Date(text)` is one, else the text. */
const lenientTimestamp = (value: unknown): Date | string | Unusual => {
  if (typeof value !== "string") return unusual
  // A canonical ISO timestamp is read digit by digit: the instant `new Date` gives, in half the time.
  const millis = canonicalIsoMillis(value)
  if (millis === millis) return new Date(millis)
  const date = new Date(value)
  return Number.isNaN(date.getTime()) ? value : date
}
/** `Domain.LenientTimestamp` encoded: a valid `Date` as ISO 8601, text as it is. */
const lenientTimestampText = (value: unknown): string | Unusual => {
  if (typeof value === "string") return value
  if (!(value instanceof Date)) return unusual
  const millis = value.getTime()
  return Number.isNaN(millis) ? unusual : isoString(millis)
}

/** An `optionalWith({ nullable: true })` field on the wire: missing or `null` is `undefined` (left out). */
const absentOr = <A>(value: unknown, step: (value: unknown) => A | Unusual): A | undefined | Unusual =>
  value === undefined || value === null ? undefined : step(value)

/** An optional field of a domain value: left out is `undefined`; present as `undefined` is for the schema. */
const given = <A>(
  from: Record<string, unknown>,
  key: string,
  step: (value: unknown) => A | Unusual
): A | undefined | Unusual => {
  const value = from[key]
  return value === undefined ? (key in from ? unusual : undefined) : step(value)
}

/** The names a struct knows on the side read, and those that make a field unusual there. */
interface Names {
  readonly known: ReadonlySet<string>
  /** A field's name on the other side (`createdAt` on the wire), or `__proto__`. */
  readonly reserved: ReadonlySet<string>
}

const names = (pairs: ReadonlyArray<readonly [domain: string, wire: string]>): {
  readonly decode: Names
  readonly encode: Names
  readonly domain: ReadonlyArray<string>
} => ({
  decode: {
    known: new Set(pairs.map(([, wire]) => wire)),
    reserved: new Set(["__proto__", ...pairs.filter(([d, w]) => d !== w).map(([domain]) => domain)])
  },
  encode: {
    known: new Set(pairs.map(([domain]) => domain)),
    reserved: new Set(["__proto__", ...pairs.filter(([d, w]) => d !== w).map(([, wire]) => wire)])
  },
  domain: pairs.map(([domain]) => domain)
})

/** Copies the fields a struct does not know (the schemas' `Extra`), after its own, in the order they came. */
const keepExtras = (from: Record<string, unknown>, to: Record<string, unknown>, side: Names): boolean => {
  for (const key in from) {
    if (side.known.has(key)) continue
    if (side.reserved.has(key)) return false
    to[key] = from[key]
  }
  return true
}

// ---------------------------------------------------------------------------
// Paging facts
// ---------------------------------------------------------------------------

const paginationNames = names([["offset", "offset"], ["limit", "limit"], ["total", "total"]])

const decodePagination = (value: unknown): Pagination | Unusual => {
  if (!isPlainObject(value)) return unusual
  const offset = absentOr(value["offset"], int)
  const limit = absentOr(value["limit"], int)
  const total = absentOr(value["total"], int)
  if (offset === unusual || limit === unusual || total === unusual) return unusual
  const out: Types.Mutable<Pagination> = {}
  if (offset !== undefined) out.offset = offset
  if (limit !== undefined) out.limit = limit
  if (total !== undefined) out.total = total
  return keepExtras(value, out, paginationNames.decode) ? out : unusual
}

const encodePagination = (value: Pagination): Record<string, unknown> | Unusual => {
  if (!isPlainObject(value)) return unusual
  const offset = given(value, "offset", int)
  const limit = given(value, "limit", int)
  const total = given(value, "total", int)
  if (offset === unusual || limit === unusual || total === unusual) return unusual
  const out: Record<string, unknown> = {}
  if (offset !== undefined) out["offset"] = offset
  if (limit !== undefined) out["limit"] = limit
  if (total !== undefined) out["total"] = total
  return keepExtras(value, out, paginationNames.encode) ? out : unusual
}

const pageInfoNames = names([
  ["hasNextPage", "hasNextPage"],
  ["hasPreviousPage", "hasPreviousPage"],
  ["startCursor", "startCursor"],
  ["endCursor", "endCursor"]
])

const decodePageInfo = (value: unknown): PageInfo | Unusual => {
  if (!isPlainObject(value)) return unusual
  const hasNextPage = absentOr(value["hasNextPage"], boolean)
  const hasPreviousPage = absentOr(value["hasPreviousPage"], boolean)
  const startCursor = absentOr(value["startCursor"], string)
  const endCursor = absentOr(value["endCursor"], string)
  if (hasNextPage === unusual || hasPreviousPage === unusual || startCursor === unusual || endCursor === unusual) {
    return unusual
  }
  const out: Types.Mutable<PageInfo> = {}
  if (hasNextPage !== undefined) out.hasNextPage = hasNextPage
  if (hasPreviousPage !== undefined) out.hasPreviousPage = hasPreviousPage
  if (startCursor !== undefined) out.startCursor = startCursor
  if (endCursor !== undefined) out.endCursor = endCursor
  return keepExtras(value, out, pageInfoNames.decode) ? out : unusual
}

const encodePageInfo = (value: PageInfo): Record<string, unknown> | Unusual => {
  if (!isPlainObject(value)) return unusual
  const hasNextPage = given(value, "hasNextPage", boolean)
  const hasPreviousPage = given(value, "hasPreviousPage", boolean)
  const startCursor = given(value, "startCursor", string)
  const endCursor = given(value, "endCursor", string)
  if (hasNextPage === unusual || hasPreviousPage === unusual || startCursor === unusual || endCursor === unusual) {
    return unusual
  }
  const out: Record<string, unknown> = {}
  if (hasNextPage !== undefined) out["hasNextPage"] = hasNextPage
  if (hasPreviousPage !== undefined) out["hasPreviousPage"] = hasPreviousPage
  if (startCursor !== undefined) out["startCursor"] = startCursor
  if (endCursor !== undefined) out["endCursor"] = endCursor
  return keepExtras(value, out, pageInfoNames.encode) ? out : unusual
}

// ---------------------------------------------------------------------------
// Deployments
// ---------------------------------------------------------------------------

const deploymentNames = names([
  ["id", "id"],
  ["name", "name"],
  ["createdAt", "created_at"],
  ["deploymentUrl", "deploymentUrl"],
  ["creationStep", "creationStep"]
])

const decodeDeployment = (value: unknown): Deployment | Unusual => {
  if (!isPlainObject(value)) return unusual
  const id = wireId(value["id"])
  const name = absentOr(value["name"], string)
  const createdAt = absentOr(value["created_at"], lenientTimestamp)
  const deploymentUrl = absentOr(value["deploymentUrl"], string)
  const creationStep = absentOr(value["creationStep"], string)
  if (
    id === unusual || name === unusual || createdAt === unusual || deploymentUrl === unusual ||
    creationStep === unusual
  ) return unusual
  const out: Types.Mutable<Deployment> = { id }
  if (name !== undefined) out.name = name
  if (createdAt !== undefined) out.createdAt = createdAt
  if (deploymentUrl !== undefined) out.deploymentUrl = deploymentUrl
  if (creationStep !== undefined) out.creationStep = creationStep
  return keepExtras(value, out, deploymentNames.decode) ? out : unusual
}

const encodeDeployment = (value: Deployment): Record<string, unknown> | Unusual => {
  if (!isPlainObject(value)) return unusual
  const id = string(value.id)
  const name = given(value, "name", string)
  const createdAt = given(value, "createdAt", lenientTimestampText)
  const deploymentUrl = given(value, "deploymentUrl", string)
  const creationStep = given(value, "creationStep", string)
  if (
    id === unusual || name === unusual || createdAt === unusual || deploymentUrl === unusual ||
    creationStep === unusual
  ) return unusual
  const out: Record<string, unknown> = { id }
  if (name !== undefined) out["name"] = name
  if (createdAt !== undefined) out["created_at"] = createdAt
  if (deploymentUrl !== undefined) out["deploymentUrl"] = deploymentUrl
  if (creationStep !== undefined) out["creationStep"] = creationStep
  return keepExtras(value, out, deploymentNames.encode) ? out : unusual
}

// ---------------------------------------------------------------------------
// Environments (credentials in the reference page's object form; Cube's array form is the schema's)
// ---------------------------------------------------------------------------

const restNames = names([["url", "url"], ["version", "version"]])
const sqlNames = names([["host", "host"], ["port", "port"], ["database", "database"], ["version", "version"]])
const credentialsNames = names([["rest", "rest"], ["sql", "sql"]])

const decodeRest = (value: unknown): RestCredentials | Unusual => {
  if (!isPlainObject(value)) return unusual
  const url = absentOr(value["url"], string)
  const version = absentOr(value["version"], int)
  if (url === unusual || version === unusual) return unusual
  const out: Types.Mutable<RestCredentials> = {}
  if (url !== undefined) out.url = url
  if (version !== undefined) out.version = version
  return keepExtras(value, out, restNames.decode) ? out : unusual
}

const encodeRest = (value: unknown): Record<string, unknown> | Unusual => {
  if (!isPlainObject(value)) return unusual
  const url = given(value, "url", string)
  const version = given(value, "version", int)
  if (url === unusual || version === unusual) return unusual
  const out: Record<string, unknown> = {}
  if (url !== undefined) out["url"] = url
  if (version !== undefined) out["version"] = version
  return keepExtras(value, out, restNames.encode) ? out : unusual
}

const decodeSql = (value: unknown): SqlCredentials | Unusual => {
  if (!isPlainObject(value)) return unusual
  const host = absentOr(value["host"], string)
  const port = absentOr(value["port"], int)
  const database = absentOr(value["database"], string)
  const version = absentOr(value["version"], int)
  if (host === unusual || port === unusual || database === unusual || version === unusual) return unusual
  const out: Types.Mutable<SqlCredentials> = {}
  if (host !== undefined) out.host = host
  if (port !== undefined) out.port = port
  if (database !== undefined) out.database = database
  if (version !== undefined) out.version = version
  return keepExtras(value, out, sqlNames.decode) ? out : unusual
}

const encodeSql = (value: unknown): Record<string, unknown> | Unusual => {
  if (!isPlainObject(value)) return unusual
  const host = given(value, "host", string)
  const port = given(value, "port", int)
  const database = given(value, "database", string)
  const version = given(value, "version", int)
  if (host === unusual || port === unusual || database === unusual || version === unusual) return unusual
  const out: Record<string, unknown> = {}
  if (host !== undefined) out["host"] = host
  if (port !== undefined) out["port"] = port
  if (database !== undefined) out["database"] = database
  if (version !== undefined) out["version"] = version
  return keepExtras(value, out, sqlNames.encode) ? out : unusual
}

const decodeCredentials = (value: unknown): ApiCredentials | Unusual => {
  if (!isPlainObject(value)) return unusual
  const rest = absentOr(value["rest"], decodeRest)
  const sql = absentOr(value["sql"], decodeSql)
  if (rest === unusual || sql === unusual) return unusual
  const out: Types.Mutable<ApiCredentials> = {}
  if (rest !== undefined) out.rest = rest
  if (sql !== undefined) out.sql = sql
  return keepExtras(value, out, credentialsNames.decode) ? out : unusual
}

const encodeCredentials = (value: unknown): Record<string, unknown> | Unusual => {
  if (!isPlainObject(value)) return unusual
  const rest = given(value, "rest", encodeRest)
  const sql = given(value, "sql", encodeSql)
  if (rest === unusual || sql === unusual) return unusual
  const out: Record<string, unknown> = {}
  if (rest !== undefined) out["rest"] = rest
  if (sql !== undefined) out["sql"] = sql
  return keepExtras(value, out, credentialsNames.encode) ? out : unusual
}

const environmentNames = names([
  ["id", "id"],
  ["name", "name"],
  ["type", "type"],
  ["branch", "branch"],
  ["user", "user"],
  ["apiCredentials", "api_credentials"]
])

/** An `optional(NullOr(…))` field: missing is left out, `null` is kept. */
const nullOr = <A>(step: (value: unknown) => A | Unusual) => (value: unknown): A | null | Unusual =>
  value === null ? null : step(value)

const decodeEnvironment = (value: unknown): Environment | Unusual => {
  if (!isPlainObject(value)) return unusual
  const id = wireId(value["id"])
  const name = absentOr(value["name"], string)
  const type = string(value["type"])
  const branch = given(value, "branch", nullOr(string))
  const user = given(value, "user", nullOr(string))
  const apiCredentials = absentOr(value["api_credentials"], decodeCredentials)
  if (
    id === unusual || name === unusual || type === unusual || branch === unusual || user === unusual ||
    apiCredentials === unusual
  ) return unusual
  // `name` is declared before `type`: the schema gives the fields in that order.
  const out: Types.Mutable<Environment> = name === undefined ? { id, type } : { id, name, type }
  if (branch !== undefined) out.branch = branch
  if (user !== undefined) out.user = user
  if (apiCredentials !== undefined) out.apiCredentials = apiCredentials
  return keepExtras(value, out, environmentNames.decode) ? out : unusual
}

const encodeEnvironment = (value: Environment): Record<string, unknown> | Unusual => {
  if (!isPlainObject(value)) return unusual
  const id = string(value.id)
  const name = given(value, "name", string)
  const type = string(value.type)
  const branch = given(value, "branch", nullOr(string))
  const user = given(value, "user", nullOr(string))
  const apiCredentials = given(value, "apiCredentials", encodeCredentials)
  if (
    id === unusual || name === unusual || type === unusual || branch === unusual || user === unusual ||
    apiCredentials === unusual
  ) return unusual
  const out: Record<string, unknown> = { id }
  if (name !== undefined) out["name"] = name
  out["type"] = type
  if (branch !== undefined) out["branch"] = branch
  if (user !== undefined) out["user"] = user
  if (apiCredentials !== undefined) out["api_credentials"] = apiCredentials
  return keepExtras(value, out, environmentNames.encode) ? out : unusual
}

/** Whether the compiled structs still name exactly the schemas' fields; if not, the schemas do all the work. */
const sameFields = (
  compiled: { readonly domain: ReadonlyArray<string> },
  schema: { readonly fields: Readonly<Record<string, unknown>> }
): boolean => {
  const fields = Object.keys(schema.fields)
  return fields.length === compiled.domain.length && compiled.domain.every((name) => fields.includes(name))
}

const pagingCompiled = sameFields(paginationNames, Pagination) && sameFields(pageInfoNames, PageInfo)

// ---------------------------------------------------------------------------
// The list envelope
// ---------------------------------------------------------------------------

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const optionalInt = (value: unknown): number | undefined | Unusual => absentOr(value, int)

const make = <A, I>(
  key: string,
  schema: Schema.Schema<Page<A>, I>,
  row: {
    readonly compiled: boolean
    readonly decode: (value: unknown) => A | Unusual
    readonly encode: (value: A) => Record<string, unknown> | Unusual
  }
): ListCodec<A> => {
  const decodeBySchema = Schema.decodeUnknownEither(Schema.parseJson(schema))
  const encodeBySchema = Schema.encodeEither(schema)
  if (!row.compiled || !pagingCompiled) {
    return {
      decodeJson: decodeBySchema,
      encode: encodeBySchema,
      decodeCommon: () => undefined,
      encodeCommon: () => undefined
    }
  }

  /** The `Page` of a parsed body, or `unusual`: `ListResponse`'s decode, step for step. */
  const decodeBody = (body: unknown): Page<A> | Unusual => {
    if (!isRecord(body)) return unusual
    const pagination = absentOr(body["pagination"], decodePagination)
    const pageInfo = absentOr(body["pageInfo"], decodePageInfo)
    const count = optionalInt(body["count"])
    const totalCount = optionalInt(body["totalCount"])
    if (pagination === unusual || pageInfo === unusual || count === unusual || totalCount === unusual) return unusual
    // Where the rows are (`rowsOf`): the longest of `items`, flat `data` and `data.<key>`, the first on a tie.
    const items = body["items"]
    const data = body["data"]
    let rows: ReadonlyArray<unknown> | undefined
    if (Array.isArray(items)) rows = items
    else if (items !== undefined && items !== null) return unusual
    if (Array.isArray(data)) {
      if (rows === undefined || data.length > rows.length) rows = data
    } else if (isRecord(data)) {
      const nested = data[key]
      if (Array.isArray(nested)) {
        if (rows === undefined || nested.length > rows.length) rows = nested
      } else if (nested !== undefined && nested !== null) return unusual
    } else if (data !== undefined && data !== null) return unusual
    if (rows === undefined) return unusual
    const decoded: Array<A> = new Array(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const item = row.decode(rows[i])
      if (item === unusual) return unusual
      decoded[i] = item
    }
    const paging = pagination ?? (totalCount === undefined ? undefined : { total: totalCount })
    return paging === undefined
      ? pageInfo === undefined ? { items: decoded } : { items: decoded, pageInfo }
      : pageInfo === undefined
      ? { items: decoded, pagination: paging }
      : { items: decoded, pagination: paging, pageInfo }
  }

  const decodeCommon = (text: string): Page<A> | undefined => {
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return undefined
    }
    const page = decodeBody(body)
    return page === unusual ? undefined : page
  }

  const decodeJson = (text: string): Either.Either<Page<A>, ParseResult.ParseError> => {
    const page = decodeCommon(text)
    return page === undefined ? decodeBySchema(text) : Either.right(page)
  }

  /** The reference body of a page, or `unusual`: `ListResponse`'s encode, step for step. */
  const encodeBody = (page: Page<A>): Record<string, unknown> | Unusual => {
    const items = page.items
    if (!Array.isArray(items)) return unusual
    const rows: Array<unknown> = new Array(items.length)
    for (let i = 0; i < items.length; i++) {
      const encoded = row.encode(items[i])
      if (encoded === unusual) return unusual
      rows[i] = encoded
    }
    const body: Record<string, unknown> = { data: { [key]: rows } }
    if (page.pagination !== undefined) {
      const pagination = encodePagination(page.pagination)
      if (pagination === unusual) return unusual
      body["pagination"] = pagination
    }
    if (page.pageInfo !== undefined) {
      const pageInfo = encodePageInfo(page.pageInfo)
      if (pageInfo === unusual) return unusual
      body["pageInfo"] = pageInfo
    }
    return body
  }

  const encode = (page: Page<A>): Either.Either<unknown, ParseResult.ParseError> => {
    const body = encodeBody(page)
    return body === unusual ? encodeBySchema(page) : Either.right(body)
  }

  return {
    decodeJson,
    encode,
    decodeCommon,
    encodeCommon: (page) => {
      const body = encodeBody(page)
      return body === unusual ? undefined : body
    }
  }
}

/**
 * `Domain.DeploymentList`, compiled.
 *
 * @since 0.2.0
 */
export const deployments: ListCodec<Deployment> = make("deployments", DeploymentList, {
  compiled: sameFields(deploymentNames, Deployment),
  decode: decodeDeployment,
  encode: encodeDeployment
})

/**
 * `Domain.EnvironmentList`, compiled (credentials in Cube's array form go through the schema).
 *
 * @since 0.2.0
 */
export const environments: ListCodec<Environment> = make("environments", EnvironmentList, {
  compiled: sameFields(environmentNames, Environment) && sameFields(credentialsNames, ApiCredentials) &&
    sameFields(restNames, RestCredentials) && sameFields(sqlNames, SqlCredentials),
  decode: decodeEnvironment,
  encode: encodeEnvironment
})
