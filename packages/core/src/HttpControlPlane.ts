/**
 * The `ControlPlane` service over HTTP.
 *
 * `make` builds the service from an `HttpClient` it leaves as a requirement,
 * so the caller picks the transport (`FetchHttpClient.layer` anywhere,
 * `NodeHttpClient.layerUndici` on Node). Every request gets the base URL, the
 * `Authorization` header (`Bearer <key>` or `Api-Key <key>`, redacted from
 * spans and logs), a per-attempt timeout, retries per `Retry`, and an overall
 * deadline. Responses are decoded with the `Domain` schemas; every failure is
 * one of the typed errors of `Errors`, none of which carries the key.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { ControlPlane, HttpControlPlane } from "@cubeplane/core"
 * import { Effect, Layer, Stream } from "effect"
 *
 * const Live = HttpControlPlane.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))
 * const program = Effect.flatMap(ControlPlane, (cp) => Stream.runCollect(cp.deployments()))
 * Effect.runPromise(Effect.provide(program, Live))
 * ```
 *
 * @since 0.1.0
 */
import type { HttpClientError, HttpClientResponse } from "@effect/platform"
import { Headers, HttpClient, HttpClientRequest, UrlParams } from "@effect/platform"
import { Clock, Config, Duration, Effect, Either, Layer, Option, ParseResult, Redacted, Schema, Stream } from "effect"
import type * as ConfigError from "effect/ConfigError"
import type { ControlPlaneService } from "./ControlPlane.js"
import { ControlPlane, make as makeService } from "./ControlPlane.js"
import type { AuditLogFilter, EnvironmentListOptions, PageOptions } from "./Domain.js"
import {
  DeploymentList,
  EnvironmentList,
  ErrorBody,
  MetaSyncTokenInput,
  MetaSyncTokenResponse,
  pageOptionsProblem
} from "./Domain.js"
import type { ControlPlaneError } from "./Errors.js"
import { BadRequest, firstIssue, fromResponse, TransportError, UnexpectedResponse } from "./Errors.js"
import { paths } from "./Paths.js"
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

const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

/** Where and how a request went, for the errors (never the host's credentials, never the key). */
interface RequestFacts {
  readonly method: string
  readonly path: string
}

const stripQuery = (path: string): string => path.split("?", 1)[0] ?? path

const queryParams = (params: Record<string, string | number | undefined>): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  for (const [key, value] of Object.entries(params)) if (value !== undefined) out.push([key, String(value)])
  return out
}

/** Transport codes meaning the connection was never established, so the server never saw the request. */
const notSentCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** The first `code` found along an error's `cause` chain (Node, undici and fetch nest them differently). */
const errorCode = (error: unknown, depth = 0): string | undefined => {
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
const redactTokens = (text: string, body: string): string => {
  let out = text
  for (const [, token] of body.matchAll(/"token"\s*:\s*"([^"]+)"/g)) {
    if (token !== undefined) out = out.split(token).join("<redacted>")
  }
  return out
}

/** A parse error as a `detail`, cut to what helps. */
const describeParseError = (error: ParseResult.ParseError, body: string): string => {
  const detail = redactTokens(ParseResult.TreeFormatter.formatErrorSync(error), body)
  return detail.length > maxDetailLength ? `${detail.slice(0, maxDetailLength)}…` : detail
}

/** The start of a body that did not decode, for `--verbose` (tokens blanked). */
const excerptOf = (body: string): string =>
  redactTokens(body.length > maxExcerptLength ? `${body.slice(0, maxExcerptLength)}…` : body, body)

const describeCode = (code: string | undefined): string => {
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
    default:
      return `the connection failed (${code})`
  }
}

const decodeErrorBody = Schema.decodeUnknownEither(Schema.parseJson(ErrorBody))
// Built once: a decoder compiles its schema, and `parseJson` makes a new schema each call.
const decodeDeploymentList = Schema.decodeUnknown(Schema.parseJson(DeploymentList))
const decodeEnvironmentList = Schema.decodeUnknown(Schema.parseJson(EnvironmentList))
const decodeMetaSyncToken = Schema.decodeUnknown(Schema.parseJson(MetaSyncTokenResponse))

/**
 * Builds the service. `HttpClient.HttpClient` stays a requirement.
 */
export const make = (options: Options): Effect.Effect<ControlPlaneService, never, HttpClient.HttpClient> =>
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
      if (error._tag === "RequestError") {
        const code = errorCode(error.cause)
        const notSent = error.reason === "InvalidUrl" || (code !== undefined && notSentCodes.has(code))
        const what = error.reason === "InvalidUrl"
          ? `the URL ${origin} is invalid — check CUBE_API_URL`
          : describeCode(code)
        return new TransportError({
          ...facts,
          reason: "Connection",
          notSent,
          message: `Could not reach the Control Plane API at ${origin} (${facts.method} ${facts.path}): ${what}`
        })
      }
      return bodyError(facts)(error)
    }

    const bodyError = (facts: RequestFacts) => (error: HttpClientError.HttpClientError): TransportError =>
      new TransportError({
        ...facts,
        reason: "Body",
        message: `The connection dropped while reading the response to ${facts.method} ${facts.path}: ${
          describeCode(errorCode(error.cause))
        }`
      })

    const statusError = (facts: RequestFacts, response: HttpClientResponse.HttpClientResponse) =>
      Effect.gen(function*() {
        const body = yield* Effect.orElseSucceed(response.text, () => "")
        const serverMessage = Either.getOrUndefined(decodeErrorBody(body))?.error
        const now = yield* Clock.currentTimeMillis
        return fromResponse({
          ...facts,
          status: response.status,
          serverMessage,
          requestId: response.headers["x-request-id"],
          retryAfterMillis: Retry.retryAfterMillis(response.headers, now)
        })
      })

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
            : Effect.flatMap(statusError(facts, response), Effect.fail)
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
        : attempt(request, facts, onOk).pipe(Retry.retry(retryPolicy, idempotency))
      return attempts.pipe(
        Effect.timeoutFail({
          duration: deadline,
          onTimeout: () =>
            new TransportError({
              ...facts,
              reason: "Deadline",
              message: `${facts.method} ${facts.path} gave up: no answer within ${
                Duration.format(deadline)
              }, retries included`
            })
        }),
        withAuthorizationRedacted,
        Effect.withSpan(`ControlPlane ${facts.method} ${stripQuery(facts.path)}`, {
          attributes: { "http.request.method": facts.method }
        })
      )
    }

    const decodeJson = <A>(decode: (body: string) => Effect.Effect<A, ParseResult.ParseError>, facts: RequestFacts) => {
      return (response: HttpClientResponse.HttpClientResponse): Effect.Effect<A, ControlPlaneError> =>
        response.text.pipe(
          Effect.mapError(bodyError(facts)),
          Effect.flatMap((text) =>
            Effect.mapError(decode(text), (error) => {
              const requestId = response.headers["x-request-id"]
              return new UnexpectedResponse({
                ...facts,
                status: response.status,
                message: `Unexpected response from ${facts.method} ${stripQuery(facts.path)}: ${
                  redactTokens(firstIssue(error), text)
                }`,
                detail: describeParseError(error, text),
                excerpt: excerptOf(text),
                ...(requestId !== undefined ? { requestId } : {})
              })
            })
          )
        )
    }

    const get = (path: string, params: Record<string, string | number | undefined>) => {
      const urlParams = queryParams(params)
      const query = UrlParams.toString(UrlParams.fromInput(urlParams))
      const facts: RequestFacts = { method: "GET", path: query === "" ? path : `${path}?${query}` }
      const request = HttpClientRequest.get(path, { urlParams, acceptJson: true })
      return { facts, request }
    }

    /** A list request's query; `offset`/`limit` and `first`/`after` are never mixed (servers refuse it). */
    const listQuery = (path: string, options: PageOptions, extra: Record<string, string | undefined> = {}) => {
      const { facts, request } = get(path, {
        offset: options.offset,
        limit: options.limit,
        first: options.first,
        after: options.after,
        ...extra
      })
      const problem = pageOptionsProblem(options)
      return { facts, request, problem }
    }

    const list = <A>(
      query: ReturnType<typeof listQuery>,
      decode: (body: string) => Effect.Effect<A, ParseResult.ParseError>
    ): Effect.Effect<A, ControlPlaneError> =>
      query.problem !== undefined
        ? Effect.fail(
          new BadRequest({
            ...query.facts,
            status: 400,
            message: `Invalid list request (not sent): ${query.problem}`
          })
        )
        : run(query.request, query.facts, "idempotent", decodeJson(decode, query.facts))

    const listDeployments = (options: PageOptions = {}) =>
      list(listQuery(paths.deployments, options), decodeDeploymentList)

    const listEnvironments = (deploymentId: string, options: EnvironmentListOptions = {}) =>
      list(listQuery(paths.environments(deploymentId), options, { type: options.type }), decodeEnvironmentList)

    const encodeTokenInput = Schema.encode(MetaSyncTokenInput)
    const createMetaSyncToken: ControlPlaneService["createMetaSyncToken"] = (deploymentId, environmentId, input) => {
      const facts: RequestFacts = { method: "POST", path: paths.metaSyncToken(deploymentId, environmentId) }
      return encodeTokenInput(input).pipe(
        Effect.mapError((error) =>
          new BadRequest({
            ...facts,
            status: 400,
            message: `Invalid token request (not sent): ${ParseResult.TreeFormatter.formatErrorSync(error)}`
          })
        ),
        Effect.flatMap((body) =>
          run(
            HttpClientRequest.post(facts.path, { acceptJson: true }).pipe(HttpClientRequest.bodyUnsafeJson(body)),
            facts,
            "unsafe",
            decodeJson(decodeMetaSyncToken, facts)
          )
        )
      )
    }

    const exportAuditLog = (filter: AuditLogFilter = {}) => {
      const { facts, request } = get(paths.auditLogExport, {
        start: filter.start,
        end: filter.end,
        search: filter.search,
        eventName: filter.eventName,
        userEmail: filter.userEmail
      })
      const csvRequest = HttpClientRequest.setHeader(request, "accept", "text/csv")
      // The status is checked (and retried) before the first byte is emitted; a body that
      // stops early fails the stream, so a consumer never mistakes a cut for the end.
      return Stream.unwrapScoped(
        run(csvRequest, facts, "idempotent", Effect.succeed).pipe(
          Effect.map((response) => Stream.mapError(response.stream, bodyError(facts)))
        )
      )
    }

    return makeService({ listDeployments, listEnvironments, createMetaSyncToken, exportAuditLog })
  })

/** The service over HTTP; provide an `HttpClient` (fetch, Node, undici) under it. */
export const layer = (options: Options): Layer.Layer<ControlPlane, never, HttpClient.HttpClient> =>
  Layer.effect(ControlPlane, make(options))

/**
 * `CUBE_API_URL`, `CUBE_API_KEY` and `CUBE_AUTH_SCHEME` (`bearer` | `api-key`;
 * default `bearer`), the names Cube's official CLI reads.
 */
export const config: Config.Config<{
  readonly url: string
  readonly apiKey: Redacted.Redacted<string>
  readonly authScheme: AuthScheme
}> = Config.all({
  url: Config.string("CUBE_API_URL").pipe(
    Config.validate({
      message: "CUBE_API_URL must be an http(s) URL, e.g. https://acme.cubecloud.dev",
      validation: isHttpUrl
    })
  ),
  apiKey: Config.redacted("CUBE_API_KEY").pipe(
    Config.validate({ message: "CUBE_API_KEY is empty", validation: (key) => Redacted.value(key).trim() !== "" })
  ),
  authScheme: Config.option(
    Config.string("CUBE_AUTH_SCHEME").pipe(
      Config.map((scheme) => scheme.trim().toLowerCase()),
      Config.validate({
        message: "CUBE_AUTH_SCHEME must be `bearer` or `api-key`",
        validation: (scheme): scheme is AuthScheme => scheme === "bearer" || scheme === "api-key"
      })
    )
  )
}).pipe(
  Config.map(({ apiKey, authScheme, url }) => ({
    url,
    apiKey,
    authScheme: Option.getOrElse(authScheme, () => defaultAuthScheme)
  }))
)

/**
 * The service configured from the environment (`config`); the other options as given.
 * Fails with a `ConfigError` naming the missing or invalid variable.
 */
export const layerConfig = (
  options: Omit<Options, "url" | "apiKey" | "authScheme"> = {}
): Layer.Layer<ControlPlane, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(config, (fromEnv) => layer({ ...options, ...fromEnv })))
