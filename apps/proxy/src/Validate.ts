/**
 * Validation of the four operations with core's schemas: the query
 * (`Domain.PageQuery`, `EnvironmentQuery`, `AuditLogQuery`), the path ids and
 * the token body (`Json.parse` with size and depth limits, then
 * `Domain.MetaSyncTokenInput`). What comes out is the exact request the
 * proxy will make upstream, rebuilt from validated values only; anything
 * wrong is a 400 (413 for a body too large) saying what.
 *
 * @since 0.2.0
 */
import * as Api from "@cubeplane/core/Api"
import * as Domain from "@cubeplane/core/Domain"
import * as Json from "@cubeplane/core/Json"
import * as Pagination from "@cubeplane/core/Pagination"
import { Effect, Either, ParseResult, Schema, SchemaAST } from "effect"
import type { Call } from "./Call.js"
import { fail } from "./Call.js"
import type { Refused, Step } from "./Pipeline.js"
import { refuse } from "./Pipeline.js"
import type * as Policy from "./Policy.js"

/** Largest token request body accepted. */
export const maxBodyBytes = 64 * 1024
/** Deepest nesting of a token request body (the body object is level 1). */
export const maxBodyDepth = 32
/** Items on a page the proxy cuts from a filtered list when the caller gives no `limit` (the API's default). */
const defaultLimit = 20
/** A filtered page holds at most what one upstream page may (core's page size). */
const pageLimit = (limit: number | undefined): number => Math.min(limit ?? defaultLimit, Pagination.defaultPageSize)

export interface ListRequest {
  readonly operation: "listDeployments" | "listEnvironments"
  readonly access: Policy.Access
  readonly itemsKey: "deployments" | "environments"
  /** Path and query for upstream, rebuilt from the validated values only. */
  readonly upstreamPath: string
  /** The list's path and type filter without paging, for lists the proxy filters itself. */
  readonly listBase: string
  /** Client paging, for lists the proxy filters itself. */
  readonly page: { readonly offset: number; readonly limit: number }
}

export interface TokenRequest {
  readonly operation: "createMetaSyncToken"
  readonly access: Policy.Access & { readonly operation: "createMetaSyncToken" }
  readonly upstreamPath: string
  /** The body as core's schema decoded it: what the policy checks is what is sent. */
  readonly body: Domain.MetaSyncTokenInput
}

export interface ExportRequest {
  readonly operation: "exportAuditLog"
  readonly access: Policy.Access
  readonly upstreamPath: string
  readonly format: "csv" | "ndjson"
}

/** A validation: at once, except where a body must be read. */
type Checked<R> = Step<R>

const formatIssue = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "invalid input"
  const where = issue.path.length === 0 ? "" : `${issue.path.map(String).join(".")}: `
  if (issue._tag === "Missing") return `${where}is required`
  if (issue._tag === "Unexpected") {
    return `unknown field ${JSON.stringify(issue.path.map(String).join("."))}: the proxy checks and forwards only ${
      tokenFields.join(", ")
    }`
  }
  return `${where}${issue.message}`
}

/** The token body's fields, as sent: the wire names of core's `MetaSyncTokenInput`. */
const tokenBody = SchemaAST.encodedAST(Domain.MetaSyncTokenInput.ast)
const tokenFields = SchemaAST.isTypeLiteral(tokenBody)
  ? tokenBody.propertySignatures.map((field) => String(field.name))
  : []

const decodePageQuery = Schema.decodeUnknownEither(Domain.PageQuery)
const decodeEnvironmentQuery = Schema.decodeUnknownEither(Domain.EnvironmentQuery)
const decodeAuditLogQuery = Schema.decodeUnknownEither(Domain.AuditLogQuery)
// A field the policy does not know is refused rather than dropped: the caller learns it was not sent.
const decodeTokenInput = Schema.decodeUnknownEither(Domain.MetaSyncTokenInput, { onExcessProperty: "error" })

const idPattern = /^[A-Za-z0-9_.:-]{1,128}$/
const badId = (name: string, value: string): string | undefined =>
  idPattern.test(value) ? undefined : `${name} must be 1 to 128 letters, digits, "_", "-", "." or ":"`

/** The query string as single values, or the name of the first parameter given twice or not allowed here. */
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

export const queryString = (entries: ReadonlyArray<readonly [string, string | number | undefined]>): string => {
  const params = new URLSearchParams()
  for (const [name, value] of entries) if (value !== undefined) params.set(name, String(value))
  const text = params.toString()
  return text === "" ? "" : `?${text}`
}

const pageParams = new Set(["offset", "limit"])
const environmentParams = new Set(["offset", "limit", "type"])
const auditParams = new Set(["start", "end", "search", "eventName", "userEmail", "format"])

const bad = (call: Call, error: string) => refuse(fail(call, 400, error))

// The most common request of all, `GET /api/v1/deployments` without a query, validates to this.
const plainDeploymentsList: ListRequest = {
  operation: "listDeployments",
  access: { operation: "listDeployments" },
  itemsKey: "deployments",
  upstreamPath: Api.paths.deployments,
  listBase: Api.paths.deployments,
  page: { offset: 0, limit: defaultLimit }
}

export const deployments = (call: Call): Checked<ListRequest> => {
  const url = call.c.req.url
  if (!url.includes("?")) return plainDeploymentsList
  const query = readQuery(url, pageParams)
  if ("error" in query) return bad(call, query.error)
  const decoded = decodePageQuery(query.values)
  if (Either.isLeft(decoded)) return bad(call, formatIssue(decoded.left))
  const { limit, offset } = decoded.right
  return {
    operation: "listDeployments",
    access: { operation: "listDeployments" },
    itemsKey: "deployments",
    upstreamPath: Api.paths.deployments + queryString([["offset", offset], ["limit", limit]]),
    listBase: Api.paths.deployments,
    page: { offset: offset ?? 0, limit: pageLimit(limit) }
  }
}

export const environments = (call: Call): Checked<ListRequest> => {
  const deploymentId = call.c.req.param("deployment_id") ?? ""
  const idError = badId("deployment_id", deploymentId)
  if (idError !== undefined) return bad(call, idError)
  const query = readQuery(call.c.req.url, environmentParams)
  if ("error" in query) return bad(call, query.error)
  const decoded = decodeEnvironmentQuery(query.values)
  if (Either.isLeft(decoded)) return bad(call, formatIssue(decoded.left))
  const { limit, offset, type } = decoded.right
  const base = Api.paths.environments(deploymentId)
  return {
    operation: "listEnvironments",
    access: { operation: "listEnvironments", deploymentId },
    itemsKey: "environments",
    upstreamPath: base + queryString([["type", type], ["offset", offset], ["limit", limit]]),
    listBase: base + queryString([["type", type]]),
    page: { offset: offset ?? 0, limit: pageLimit(limit) }
  }
}

/** Reads a request body, stopping at `max` bytes. */
const readRequestBody = async (request: Request, max: number): Promise<string | "too large" | "not utf-8"> => {
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
  // JSON is UTF-8 (RFC 8259): bytes that are not are refused, not replaced by U+FFFD and forwarded.
  try {
    return utf8.decode(Buffer.concat(chunks, size))
  } catch {
    return "not utf-8"
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const token = (call: Call): Checked<TokenRequest> => {
  const deploymentId = call.c.req.param("deployment_id") ?? ""
  const environmentId = call.c.req.param("environment_id") ?? ""
  const idError = badId("deployment_id", deploymentId) ?? badId("environment_id", environmentId)
  if (idError !== undefined) return bad(call, idError)
  const query = readQuery(call.c.req.url, new Set())
  if ("error" in query) return bad(call, query.error)
  return Effect.promise(() => readRequestBody(call.c.req.raw, maxBodyBytes).catch(() => undefined)).pipe(
    Effect.flatMap((text): Effect.Effect<TokenRequest, Refused> => {
      if (text === undefined) return Effect.fail(bad(call, "the request body could not be read"))
      if (text === "too large") {
        return Effect.fail(refuse(fail(call, 413, `the body is larger than ${maxBodyBytes / 1024} KB`)))
      }
      if (text === "not utf-8") return Effect.fail(bad(call, "the body is not valid UTF-8: send JSON in UTF-8"))
      // Bounded parsing: no body too deep to check or encode, no `__proto__` / `constructor` keys.
      const parsed = Json.parse(text, { maxLength: maxBodyBytes, maxDepth: maxBodyDepth })
      if (Either.isLeft(parsed)) {
        return Effect.fail(bad(call, `${parsed.left}: send {"security_context": {...}, "expires_in": seconds}`))
      }
      if (!isRecord(parsed.right)) return Effect.fail(bad(call, "the body must be a JSON object"))
      const decoded = decodeTokenInput(parsed.right)
      if (Either.isLeft(decoded)) return Effect.fail(bad(call, formatIssue(decoded.left)))
      const body = decoded.right
      return Effect.succeed({
        operation: "createMetaSyncToken",
        access: {
          operation: "createMetaSyncToken",
          deploymentId,
          environmentId,
          token: { expiresIn: body.expiresIn, securityContext: body.securityContext, scopes: body.scopes }
        },
        upstreamPath: Api.paths.metaSyncToken(deploymentId, environmentId),
        body
      })
    })
  )
}

export const auditLog = (call: Call): Checked<ExportRequest> => {
  const query = readQuery(call.c.req.url, auditParams)
  if ("error" in query) return bad(call, query.error)
  const { format, ...filters } = query.values
  if (format !== undefined && format !== "csv" && format !== "ndjson") {
    return bad(call, `format must be csv or ndjson, got "${format}"`)
  }
  const decoded = decodeAuditLogQuery(filters)
  if (Either.isLeft(decoded)) return bad(call, formatIssue(decoded.left))
  const { end, eventName, search, start, userEmail } = decoded.right
  return {
    operation: "exportAuditLog",
    access: { operation: "exportAuditLog" },
    upstreamPath: Api.paths.auditLogExport + queryString([
      ["start", start],
      ["end", end],
      ["search", search],
      ["eventName", eventName],
      ["userEmail", userEmail]
    ]),
    format: format === "ndjson" ? "ndjson" : "csv"
  }
}
