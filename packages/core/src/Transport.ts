/**
 * The HTTP transport to the Control Plane, in one place: the base URL, the
 * `Authorization` header (`authorizationValue`, default scheme
 * `defaultAuthScheme`, redacted from spans), a per-attempt timeout, retries
 * per `Retry`, an overall deadline, and the status → error mapping of
 * `Errors.fromResponse` with the server's `{"error"}` text
 * (`connectionError`, `statusError`).
 *
 * - `make` runs on an `HttpClient` (fetch, Node, undici — the caller picks):
 *   the typed client (`HttpControlPlane`) is built on its `run`; its `send`
 *   hands back a raw 2xx response with the body unread.
 * - `makeRaw` applies the same header, retry policy and error mapping over a
 *   caller's own `Exchange` — for pass-through callers whose hot path should
 *   not pay for a generic client (the proxy gives undici's request API).
 *
 * Core stays runtime-neutral: no Node API here.
 *
 * @since 0.2.0
 */
import type { HttpClientError, HttpClientResponse } from "@effect/platform"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { ErrorBody } from "./Domain.js"
import type { ControlPlaneError } from "./Errors.js"
import { BadRequest, fromResponse, TransportError, UnexpectedResponse } from "./Errors.js"
import * as Retry from "./Retry.js"

/** How the key is sent: `Authorization: Bearer <key>` or `Authorization: Api-Key <key>`. */
export type AuthScheme = "bearer" | "api-key"

export interface Options {
  /** The Cube Cloud base URL, e.g. `https://acme.cubecloud.dev` (a trailing slash is fine). */
  readonly url: string
  readonly apiKey: Redacted.Redacted<string>
  /** Default: `bearer`, as the reference page and Cube's published API document say; `api-key` is what Cube's Rust CLI sends for `sk-` keys. */
  readonly authScheme?: AuthScheme
  readonly retry?: Retry.RetryOptions
  /** The limit on each attempt (for the export: until the response headers arrive). Default: 30 s. */
  readonly timeout?: Duration.DurationInput
  /** The limit on a whole operation, retries and their waits included (for the export: until the body starts). Default: 2 min. */
  readonly deadline?: Duration.DurationInput
  /** Default: `cubeplane-core`. */
  readonly userAgent?: string
}

export const defaultTimeout: Duration.Duration = Duration.seconds(30)
export const defaultDeadline: Duration.Duration = Duration.minutes(2)
export const defaultUserAgent = "cubeplane-core"

/**
 * `bearer`, for every key: the reference page and Cube's published API
 * document both say `Authorization: Bearer <key>`. (`api-key` stays an
 * override, e.g. `CUBE_AUTH_SCHEME=api-key`.)
 */
export const defaultAuthScheme: AuthScheme = "bearer"

/** The header value, e.g. `Bearer <key>`; the one place a key becomes text. */
export const authorizationValue = (scheme: AuthScheme, apiKey: Redacted.Redacted<string>): string =>
  `${scheme === "bearer" ? "Bearer" : "Api-Key"} ${Redacted.value(apiKey)}`

/** Keeps the `Authorization` header out of spans even if a caller replaced the redacted names. */
const withAuthorizationRedacted = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.locallyWith(
    effect,
    Headers.currentRedactedNames,
    (names) =>
      names.some((name) => typeof name === "string" && name.toLowerCase() === "authorization")
        ? names
        : [...names, "authorization"]
  )

export const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

/** Where and how a request went, for the errors (never the host's credentials, never the key). */
export interface RequestFacts {
  readonly method: string
  readonly path: string
}

export const stripQuery = (path: string): string => path.split("?", 1)[0] ?? path

export const queryParams = (params: Record<string, string | number | undefined>): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  for (const [key, value] of Object.entries(params)) if (value !== undefined) out.push([key, String(value)])
  return out
}

/** Transport codes meaning the connection was never established, so the server never saw the request. */
export const notSentCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** Codes of an HTTP client's own timeouts (undici's connect/headers/body timeouts, a socket's). */
export const timeoutCodes: ReadonlySet<string> = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT"
])

/** The first `code` found along an error's `cause` chain (Node, undici and fetch nest them differently). */
export const errorCode = (error: unknown, depth = 0): string | undefined => {
  if (depth > 5 || typeof error !== "object" || error === null) return undefined
  if ("code" in error && typeof error.code === "string") return error.code
  // An AggregateError (Node tries every address of a host): the first attempt's code.
  if ("errors" in error && Array.isArray(error.errors) && error.errors.length > 0) {
    return errorCode(error.errors[0], depth + 1)
  }
  return "cause" in error ? errorCode(error.cause, depth + 1) : undefined
}

const maxDetailLength = 2_000
const maxExcerptLength = 600

/** Tokens a body carried, blanked: a malformed token response must not leak the JWT into logs. */
export const redactTokens = (text: string, body: string): string => {
  let out = text
  for (const [, token] of body.matchAll(/"token"\s*:\s*"([^"]+)"/g)) {
    if (token !== undefined) out = out.split(token).join("<redacted>")
  }
  return out
}

/** A parse error as a `detail`, cut to what helps. */
export const describeParseError = (error: ParseResult.ParseError, body: string): string => {
  const detail = redactTokens(ParseResult.TreeFormatter.formatErrorSync(error), body)
  return detail.length > maxDetailLength ? `${detail.slice(0, maxDetailLength)}…` : detail
}

/** The start of a body that did not decode, for `--verbose` (tokens blanked). */
export const excerptOf = (body: string): string =>
  redactTokens(body.length > maxExcerptLength ? `${body.slice(0, maxExcerptLength)}…` : body, body)

export const describeCode = (code: string | undefined): string => {
  switch (code) {
    case undefined:
      return "the connection failed"
    case "ECONNREFUSED":
      return "connection refused (ECONNREFUSED)"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `unknown host (${code})`
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return `the connection was reset (${code})`
    case "CERT_HAS_EXPIRED":
    case "CERT_NOT_YET_VALID":
      return `the server's TLS certificate is expired or not yet valid (${code}): check the URL and this machine's clock`
    case "ERR_TLS_CERT_ALTNAME_INVALID":
    case "HOSTNAME_MISMATCH":
      return `the server's TLS certificate is for another host name (${code}): check the URL's host`
    case "ERR_SSL_WRONG_VERSION_NUMBER":
    case "ERR_SSL_PACKET_LENGTH_TOO_LONG":
    case "EPROTO":
      return `the TLS handshake failed (${code}): if the server serves plain HTTP, use an http:// URL`
    default:
      return Retry.tlsCodes.has(code)
        ? `the server's TLS certificate is not trusted (${code}): if a private CA or a TLS-inspecting proxy signs it, ` +
          "give Node that CA's PEM file with NODE_EXTRA_CA_CERTS=/path/to/ca.pem"
        : `the connection failed (${code})`
  }
}

/** A request whose answer is passed through: path with query, the `Accept` type, an optional JSON body. */
export interface RawRequest {
  readonly method: "GET" | "POST"
  /** Path and query, e.g. `/api/v1/deployments?limit=5`. */
  readonly path: string
  readonly accept: string
  /** A JSON text, sent with `Content-Type: application/json`. */
  readonly body?: string
  /** Extra headers (e.g. `x-request-id`); never `authorization`, which the transport sets. */
  readonly headers?: Readonly<Record<string, string>>
  /** `false`: one attempt only (readiness probes). */
  readonly retry?: false
}

export interface Transport {
  /** Where requests go (no credentials in it). */
  readonly origin: string
  /** Attempts of `request`, retried per the policy, within the deadline; `onOk` reads a 2xx answer. */
  readonly run: <A>(
    request: HttpClientRequest.HttpClientRequest,
    facts: RequestFacts,
    idempotency: Retry.Idempotency,
    onOk: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, ControlPlaneError>
  ) => Effect.Effect<A, ControlPlaneError>
  /**
   * The raw 2xx response to `request`, its body unread; anything else is the
   * `ControlPlaneError` its status maps to. GETs are retried per the policy;
   * a POST only when it certainly never reached the server.
   */
  readonly send: (request: RawRequest) => Effect.Effect<HttpClientResponse.HttpClientResponse, ControlPlaneError>
  /** A failure reading a body (the connection dropped), as a `TransportError`. */
  readonly bodyError: (facts: RequestFacts) => (error: HttpClientError.HttpClientError) => TransportError
}

const decodeErrorBody = Schema.decodeUnknownEither(Schema.parseJson(ErrorBody))

/**
 * A request that got no answer, as the `TransportError` a caller can act on:
 * the HTTP client's own timeouts are `Timeout`, the rest `Connection`
 * (`notSent` when the connection was never made). `cause` is what the client
 * threw or failed with; its `code` (along the `cause` chain) decides.
 */
export const connectionError = (
  facts: RequestFacts,
  cause: unknown,
  origin: string,
  timeout: Duration.Duration
): TransportError => {
  const code = errorCode(cause)
  if (code !== undefined && timeoutCodes.has(code)) {
    // The HTTP client's own per-attempt timeout (e.g. undici's), not a refused connection.
    return new TransportError({
      ...facts,
      reason: "Timeout",
      notSent: code === "UND_ERR_CONNECT_TIMEOUT",
      code,
      message: `${facts.method} ${facts.path} timed out: no answer within ${
        Duration.format(timeout)
      } (per attempt, ${code})`
    })
  }
  return new TransportError({
    ...facts,
    reason: "Connection",
    // A TLS handshake that failed sent nothing either.
    notSent: code !== undefined && (notSentCodes.has(code) || Retry.tlsCodes.has(code)),
    ...(code === undefined ? {} : { code }),
    message: `Could not reach the Control Plane API at ${origin} (${facts.method} ${facts.path}): ${describeCode(code)}`
  })
}

/**
 * A body that stopped before its end (the connection dropped, was reset or
 * timed out): `cause` is what the HTTP client failed with; its `code` names it.
 */
export const bodyDropped = (facts: RequestFacts, cause: unknown): TransportError => {
  const code = errorCode(cause)
  return new TransportError({
    ...facts,
    reason: "Body",
    message: `The connection dropped while reading the response to ${facts.method} ${facts.path}: ${
      describeCode(code)
    }`,
    ...(code === undefined ? {} : { code })
  })
}

/** The whole operation (retries and their waits included) took longer than `deadline`. */
const deadlineError = (facts: RequestFacts, deadline: Duration.Duration): TransportError =>
  new TransportError({
    ...facts,
    reason: "Deadline",
    message: `${facts.method} ${facts.path} gave up: no answer within ${Duration.format(deadline)}, retries included`
  })

/** A non-2xx answer as core's typed error, with the server's `{"error"}` text, request id and `Retry-After`. */
export const statusError = (
  facts: RequestFacts,
  status: number,
  headers: Readonly<Record<string, string | undefined>>,
  body: string,
  nowMillis: number
): ControlPlaneError =>
  fromResponse({
    ...facts,
    status,
    serverMessage: Either.getOrUndefined(decodeErrorBody(body))?.error,
    requestId: headers["x-request-id"],
    retryAfterMillis: Retry.retryAfterMillis(headers, nowMillis)
  })

/** The transport; `HttpClient.HttpClient` stays a requirement. */
export const make = (options: Options): Effect.Effect<Transport, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = options.url.replace(/\/+$/, "")
    const origin = (() => {
      try {
        return new URL(baseUrl).origin
      } catch {
        return baseUrl
      }
    })()
    // A URL that cannot work fails every operation at once, without retries.
    const invalidUrl = isHttpUrl(baseUrl) ? undefined : `the base URL is not an http(s) URL — check CUBE_API_URL`
    const scheme = options.authScheme ?? defaultAuthScheme
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)
    const deadline = Duration.decode(options.deadline ?? defaultDeadline)
    const retryPolicy = Retry.policy(options.retry)
    // The policy's two schedules, built once: not per request.
    const retrying = {
      idempotent: Retry.retry(retryPolicy, "idempotent"),
      unsafe: Retry.retry(retryPolicy, "unsafe")
    }

    const client = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest((request) =>
        request.pipe(
          HttpClientRequest.prependUrl(baseUrl),
          HttpClientRequest.setHeader("authorization", authorizationValue(scheme, options.apiKey)),
          HttpClientRequest.setHeader("user-agent", options.userAgent ?? defaultUserAgent)
        )
      )
    )

    const transportError = (facts: RequestFacts) => (error: HttpClientError.HttpClientError): ControlPlaneError => {
      if (error._tag === "RequestError" && error.reason === "Encode") {
        return new BadRequest({
          ...facts,
          status: 400,
          message: `Invalid request body for ${facts.method} ${facts.path} (not sent)`
        })
      }
      if (error._tag === "RequestError" && error.reason === "InvalidUrl") {
        return new TransportError({
          ...facts,
          reason: "Connection",
          notSent: true,
          message:
            `Could not reach the Control Plane API at ${origin} (${facts.method} ${facts.path}): the URL ${origin} is invalid — check CUBE_API_URL`
        })
      }
      if (error._tag === "RequestError") return connectionError(facts, error.cause, origin, timeout)
      return bodyError(facts)(error)
    }

    const bodyError = (facts: RequestFacts) => (error: HttpClientError.HttpClientError): TransportError =>
      bodyDropped(facts, error.cause)

    const responseError = (facts: RequestFacts, response: HttpClientResponse.HttpClientResponse) =>
      Effect.zipWith(
        Effect.orElseSucceed(response.text, () => ""),
        Clock.currentTimeMillis,
        (body, now) => statusError(facts, response.status, response.headers, body, now)
      )

    /** One attempt: send, check the status, then `onOk`; all within the per-attempt timeout. */
    const attempt = <A>(
      request: HttpClientRequest.HttpClientRequest,
      facts: RequestFacts,
      onOk: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, ControlPlaneError>
    ): Effect.Effect<A, ControlPlaneError> =>
      client.execute(request).pipe(
        Effect.mapError(transportError(facts)),
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300
            ? onOk(response)
            : Effect.flatMap(responseError(facts, response), Effect.fail)
        ),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new TransportError({
              ...facts,
              reason: "Timeout",
              message: `${facts.method} ${facts.path} timed out: no complete answer within ${
                Duration.format(timeout)
              } (per attempt)`
            })
        })
      )

    /** Attempts, retried per the policy, within the overall deadline. */
    const run = <A>(
      request: HttpClientRequest.HttpClientRequest,
      facts: RequestFacts,
      idempotency: Retry.Idempotency,
      onOk: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, ControlPlaneError>
    ): Effect.Effect<A, ControlPlaneError> => {
      const attempts = invalidUrl !== undefined
        ? Effect.fail(
          new TransportError({
            ...facts,
            reason: "Connection",
            notSent: true,
            message: `Cannot send ${facts.method} ${facts.path}: ${invalidUrl}`
          })
        )
        : attempt(request, facts, onOk).pipe(retrying[idempotency])
      return attempts.pipe(
        Effect.timeoutFail({ duration: deadline, onTimeout: () => deadlineError(facts, deadline) }),
        withAuthorizationRedacted,
        Effect.withSpan(`ControlPlane ${facts.method} ${stripQuery(facts.path)}`, {
          attributes: { "http.request.method": facts.method },
          // The span's name says where it is; a stack trace per request costs more than it tells.
          captureStackTrace: false
        })
      )
    }

    const send = (raw: RawRequest): Effect.Effect<HttpClientResponse.HttpClientResponse, ControlPlaneError> => {
      const facts: RequestFacts = { method: raw.method, path: raw.path }
      let request = raw.method === "GET" ? HttpClientRequest.get(raw.path) : HttpClientRequest.post(raw.path)
      request = HttpClientRequest.setHeaders(request, { ...raw.headers, accept: raw.accept })
      if (raw.body !== undefined) request = HttpClientRequest.bodyText(request, raw.body, "application/json")
      const idempotency: Retry.Idempotency = raw.method === "GET" ? "idempotent" : "unsafe"
      return raw.retry === false
        ? attempt(request, facts, Effect.succeed).pipe(withAuthorizationRedacted)
        : run(request, facts, idempotency, Effect.succeed)
    }

    return { origin, run, send, bodyError }
  })

// ---------------------------------------------------------------------------
// Pass-through on a caller's own HTTP client
// ---------------------------------------------------------------------------

/** One attempt as an `Exchange` makes it: an absolute URL and the headers to send, auth included. */
export interface ExchangeRequest {
  readonly method: "GET" | "POST"
  readonly url: string
  /** The URL's origin, and its path with the query (for clients bound to an origin, like a connection pool). */
  readonly origin: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

/** An answer with its body unread: `B` is the client's own body (a Node stream, a web stream, …). */
export interface ExchangeResponse<B> {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: B
  /** The body as text, at most `maxBytes` (error bodies). */
  readonly text: (maxBytes: number) => Promise<string>
  /** Drops the body (a discarded retryable answer). */
  readonly discard: () => void
}

/**
 * The HTTP client of a pass-through caller, bounding each attempt itself
 * (connect, headers, body gaps); a failure rejects with the client's error,
 * whose `code` `connectionError` reads. The proxy gives undici here, which
 * keeps its hot path off the generic `HttpClient` (see bench/proxy.ts).
 */
export type Exchange<B> = (request: ExchangeRequest) => Promise<ExchangeResponse<B>>

export interface RawTransport<B> {
  readonly origin: string
  /**
   * The 2xx answer to `request`, its body unread; any other answer is the
   * `ControlPlaneError` its status maps to, after core's retry policy (GETs;
   * a POST only when it certainly never reached the server).
   */
  readonly send: (request: RawRequest) => Effect.Effect<ExchangeResponse<B>, ControlPlaneError>
}

/** Largest error body read for its `{"error"}` text. */
const maxErrorBodyBytes = 64 * 1024

/**
 * A raw body is handed on as its bytes, so it must be the bytes themselves:
 * `makeRaw` asks for `Accept-Encoding: identity`, and a 2xx that comes
 * compressed anyway (`Content-Encoding: gzip`, `br`, …) is refused — passed
 * on, it would reach its reader as unreadable bytes that no check on the way
 * (a redactor, a CSV check) could look into. `undefined`: the body is plain.
 */
const encodedBody = <B>(
  response: ExchangeResponse<B>,
  facts: RequestFacts
): Effect.Effect<never, UnexpectedResponse> | undefined => {
  const encoding = response.headers["content-encoding"]?.trim().toLowerCase()
  if (encoding === undefined || encoding === "" || encoding === "identity") return undefined
  response.discard()
  const detail = `\`Content-Encoding: ${encoding.slice(0, 40)}\` although \`Accept-Encoding: identity\` was asked for`
  return Effect.fail(
    new UnexpectedResponse({
      ...facts,
      status: response.status,
      detail,
      message: `${facts.method} ${facts.path}: a compressed body (${detail}), which a pass-through cannot read`
    })
  )
}

/**
 * The transport on `exchange`: the same base URL, `Authorization`, retry
 * policy and status → error mapping as `make`, for callers that pass bodies
 * through. Per-attempt timeouts are the exchange's (`options.timeout` only
 * names them in errors); `options.deadline`, if given, bounds the whole
 * operation (retries and their waits included, until the answer's headers)
 * as in `make`.
 */
export const makeRaw = <B>(options: Options, exchange: Exchange<B>): RawTransport<B> => {
  const baseUrl = options.url.replace(/\/+$/, "")
  // A URL that cannot work fails every operation at once, without retries (as `make` does).
  const validUrl = isHttpUrl(baseUrl)
  const origin = validUrl ? new URL(baseUrl).origin : baseUrl
  const basePath = baseUrl.slice(origin.length)
  const timeout = Duration.decode(options.timeout ?? defaultTimeout)
  const deadline = options.deadline === undefined ? undefined : Duration.decode(options.deadline)
  const retryPolicy = Retry.policy(options.retry)
  // The policy's two schedules, built once: not per request.
  const retryGet = Retry.retry(retryPolicy, "idempotent")
  const retryPost = Retry.retry(retryPolicy, "unsafe")
  const fixed = {
    authorization: authorizationValue(options.authScheme ?? defaultAuthScheme, options.apiKey),
    "user-agent": options.userAgent ?? defaultUserAgent,
    // The body is passed on as its bytes: it must come as they are (see `encodedBody`).
    "accept-encoding": "identity"
  }

  const attempt = (raw: RawRequest, facts: RequestFacts): Effect.Effect<ExchangeResponse<B>, ControlPlaneError> =>
    Effect.flatMap(
      Effect.tryPromise({
        try: () =>
          exchange({
            method: raw.method,
            url: baseUrl + raw.path,
            origin,
            path: basePath + raw.path,
            headers: raw.body === undefined
              ? { ...raw.headers, ...fixed, accept: raw.accept }
              : { ...raw.headers, ...fixed, accept: raw.accept, "content-type": "application/json" },
            ...(raw.body === undefined ? {} : { body: raw.body })
          }),
        catch: (cause) => connectionError(facts, cause, origin, timeout)
      }),
      (response) =>
        response.status >= 200 && response.status < 300
          ? encodedBody(response, facts) ?? Effect.succeed(response)
          : Effect.flatMap(
            Effect.zipWith(
              Effect.promise(() => response.text(maxErrorBodyBytes).catch(() => "")),
              Clock.currentTimeMillis,
              (body, now) => statusError(facts, response.status, response.headers, body, now)
            ),
            Effect.fail
          )
    )

  return {
    origin,
    send: (raw) => {
      const facts: RequestFacts = { method: raw.method, path: raw.path }
      if (!validUrl) {
        return Effect.fail(
          new TransportError({
            ...facts,
            reason: "Connection",
            notSent: true,
            message:
              `Cannot send ${facts.method} ${facts.path}: the base URL is not an http(s) URL — check CUBE_API_URL`
          })
        )
      }
      const once = attempt(raw, facts)
      const attempts = raw.retry === false
        ? once
        : raw.method === "GET"
        ? retryGet(once)
        : retryPost(once)
      return deadline === undefined
        ? attempts
        : Effect.timeoutFail(attempts, { duration: deadline, onTimeout: () => deadlineError(facts, deadline) })
    }
  }
}
