/**
 * Typed errors: one class per failure a caller handles differently.
 *
 * Each says what happened in words a user can act on (`message`) and carries
 * the facts: the HTTP method and path (never the host's credentials, never
 * the API key), the status, the server's own `error` text and, when the
 * server sent one, its request id.
 *
 * @since 0.1.0
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

const RequestFacts = {
  /** A sentence a user can act on. */
  message: Schema.String,
  /** `GET`, `POST`, … */
  method: Schema.String,
  /** The request path with its query string, e.g. `/api/v1/deployments?limit=100`. */
  path: Schema.String,
  /** The server's `error` text, when it sent one. */
  serverMessage: Schema.optional(Schema.String),
  /** The server's request id (`x-request-id`), when it sent one. */
  requestId: Schema.optional(Schema.String)
}

/** 400 or 422 (or any other 4xx without its own class): the request was wrong. Do not retry as is. */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  ...RequestFacts,
  status: Schema.Number
}) {}

/** 401: the API key is missing, malformed, unknown or expired. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  ...RequestFacts,
  status: Schema.Literal(401)
}) {}

/** 403: the key is valid but not allowed (permission, deployment scope, or plan). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  ...RequestFacts,
  status: Schema.Literal(403)
}) {}

/** 404: the deployment, environment or path does not exist. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  ...RequestFacts,
  status: Schema.Literal(404)
}) {}

/** 429: too many requests. `retryAfterMillis` is what the server asked for, if it said. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  ...RequestFacts,
  status: Schema.Literal(429),
  retryAfterMillis: Schema.optional(Schema.Number)
}) {}

/** 5xx (and 408): the server failed. GETs are retried before this reaches you. */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  ...RequestFacts,
  status: Schema.Number,
  retryAfterMillis: Schema.optional(Schema.Number)
}) {}

/** No usable response: connection refused or reset, DNS, a timeout, or the overall deadline. */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  message: Schema.String,
  method: Schema.String,
  path: Schema.String,
  reason: Schema.Literal("Connection", "Timeout", "Deadline", "Body"),
  /**
   * `true` when the connection was never established (refused, unknown host,
   * connect timeout), so the server certainly did not see the request: the
   * only failure after which a non-idempotent request (the token POST) may be retried.
   */
  notSent: Schema.optional(Schema.Boolean),
  /**
   * The HTTP client's error code, when it gave one (`ECONNREFUSED`, `ENOTFOUND`,
   * `CERT_HAS_EXPIRED`, `UND_ERR_HEADERS_TIMEOUT`, …).
   */
  code: Schema.optional(Schema.String)
}) {}

/** A response that does not match the API's schema: says what was wrong. */
export class UnexpectedResponse extends Schema.TaggedError<UnexpectedResponse>()("UnexpectedResponse", {
  message: Schema.String,
  method: Schema.String,
  path: Schema.String,
  status: Schema.Number,
  /** What did not match, e.g. the schema's parse error or the CSV row and column. */
  detail: Schema.String,
  /** The start of the body as received (tokens blanked), for `--verbose`. */
  excerpt: Schema.optional(Schema.String),
  requestId: Schema.optional(Schema.String)
}) {}

/** `data[3].id` from `["data", 3, "id"]`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) =>
      typeof key === "number"
        ? `${out}[${key}]`
        : out === ""
        ? String(key)
        : `${out}.${String(key)}`,
    ""
  )

const expected = /^Expected (.+), actual (.+)$/s

/**
 * The first problem of a parse error in one line, naming the field and index:
 * `data[3].id: expected string or integer, got null`. Alternatives at the same
 * place (a field that may be a string or null) are joined with `or`.
 */
export const firstIssue = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const first = issues[0]
  if (first === undefined) return "the body does not match the API's schema"
  const samePlace = issues.filter((issue) => formatPath(issue.path) === formatPath(first.path))
  const alternatives = samePlace.map((issue) => expected.exec(issue.message)).filter((m) => m !== null)
  const where = first.path.length === 0 ? "the body" : formatPath(first.path)
  if (alternatives.length === samePlace.length && alternatives.length > 0) {
    const kinds = [...new Set(alternatives.map((m) => m[1]!))].filter((kind) => kind !== "undefined")
    return `${where}: expected ${kinds.join(" or ")}, got ${alternatives[0]![2]}`
  }
  const message = first.message.replace(/\s+/g, " ").trim()
  const oneLine = message.length > 200 ? `${message.slice(0, 200)}…` : message
  return `${where}: ${oneLine}`
}

/** Every error the `ControlPlane` service can fail with. */
export type ControlPlaneError =
  | BadRequest
  | Unauthorized
  | Forbidden
  | NotFound
  | RateLimited
  | ServerError
  | TransportError
  | UnexpectedResponse

export const ControlPlaneError = Schema.Union(
  BadRequest,
  Unauthorized,
  Forbidden,
  NotFound,
  RateLimited,
  ServerError,
  TransportError,
  UnexpectedResponse
)

/** What a non-2xx response means, in one place for the client, the mock and the proxy. */
export interface ResponseFacts {
  readonly status: number
  readonly method: string
  readonly path: string
  readonly serverMessage?: string | undefined
  readonly requestId?: string | undefined
  readonly retryAfterMillis?: number | undefined
}

const suffix = (serverMessage: string | undefined) => (serverMessage ? `: ${serverMessage}` : "")

/** ` — ${hint}`, unless the server's message already gives that advice (no "check X — check X"). */
const advice = (serverMessage: string | undefined, hint: string) =>
  serverMessage?.toLowerCase().includes(hint.toLowerCase()) === true ? "" : ` — ${hint}`

/** Maps a non-2xx status to its error class, with a message that says what to do. */
export const fromResponse = (facts: ResponseFacts): ControlPlaneError => {
  const { method, path, requestId, retryAfterMillis, serverMessage, status } = facts
  const base = {
    method,
    path,
    ...(serverMessage !== undefined ? { serverMessage } : {}),
    ...(requestId !== undefined ? { requestId } : {})
  }
  const retry = retryAfterMillis !== undefined ? { retryAfterMillis } : {}
  switch (status) {
    case 401:
      return new Unauthorized({
        ...base,
        status,
        message: `Unauthorized: the API key was rejected${suffix(serverMessage)}${
          advice(serverMessage, "check CUBE_API_KEY")
        }`
      })
    case 403:
      return new Forbidden({
        ...base,
        status,
        message: `Forbidden: the API key is not allowed to ${method} ${stripQuery(path)}${
          suffix(serverMessage)
        } — check the key's permissions and deployment scope`
      })
    case 404:
      return new NotFound({
        ...base,
        status,
        message: `Not found: ${method} ${stripQuery(path)}${
          suffix(serverMessage)
        } — check the deployment and environment ids`
      })
    case 429:
      return new RateLimited({
        ...base,
        ...retry,
        status,
        message: `Rate limited${suffix(serverMessage)}${
          retryAfterMillis !== undefined ? ` — retry after ${Math.ceil(retryAfterMillis / 1000)}s` : ""
        }`
      })
  }
  if (status >= 500 || status === 408) {
    return new ServerError({
      ...base,
      ...retry,
      status,
      message: `Server error ${status} from ${method} ${stripQuery(path)}${suffix(serverMessage)}`
    })
  }
  return new BadRequest({
    ...base,
    status,
    message: `Bad request (${status}) to ${method} ${stripQuery(path)}${suffix(serverMessage)}`
  })
}

const stripQuery = (path: string) => {
  const index = path.indexOf("?")
  return index === -1 ? path : path.slice(0, index)
}

/** Statuses worth retrying a GET on: 408, 429 and 5xx. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500
