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
import type { HttpClientResponse } from "@effect/platform"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { ControlPlaneService } from "./ControlPlane.js"
import { ControlPlane, make as makeService } from "./ControlPlane.js"
import type { AuditLogFilter, Deployment, Environment, EnvironmentListOptions, Page, PageOptions } from "./Domain.js"
import { MetaSyncTokenInput, MetaSyncTokenResponse, pageOptionsProblem } from "./Domain.js"
import type { ControlPlaneError } from "./Errors.js"
import { BadRequest, firstIssue, UnexpectedResponse } from "./Errors.js"
import * as ListCodec from "./ListCodec.js"
import { paths } from "./Paths.js"
import type { AuthScheme, Options, RequestFacts } from "./Transport.js"
import * as Transport from "./Transport.js"
import {
  defaultAuthScheme,
  describeParseError,
  excerptOf,
  isHttpUrl,
  queryParams,
  redactTokens,
  stripQuery
} from "./Transport.js"

export type { AuthScheme, Options } from "./Transport.js"
export {
  authorizationValue,
  defaultAuthScheme,
  defaultDeadline,
  defaultTimeout,
  defaultUserAgent
} from "./Transport.js"

// Built once: a decoder compiles its schema, and `parseJson` makes a new schema each call.
// Lists decode with the schemas compiled for the common case (exactly their results and errors).
const decodeDeploymentList = (body: string): Effect.Effect<Page<Deployment>, ParseResult.ParseError> =>
  ListCodec.deployments.decodeJson(body)
const decodeEnvironmentList = (body: string): Effect.Effect<Page<Environment>, ParseResult.ParseError> =>
  ListCodec.environments.decodeJson(body)
const decodeMetaSyncToken = Schema.decodeUnknown(Schema.parseJson(MetaSyncTokenResponse))

/**
 * Builds the service. `HttpClient.HttpClient` stays a requirement.
 */
export const make = (options: Options): Effect.Effect<ControlPlaneService, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const { bodyError, run } = yield* Transport.make(options)

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
      const { facts, request } = get(paths.auditLogExport, exportQuery(filter))
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

/** The export's query parameters, in the order sent. */
const exportQuery = (filter: AuditLogFilter) => ({
  start: filter.start,
  end: filter.end,
  search: filter.search,
  eventName: filter.eventName,
  userEmail: filter.userEmail
})

/**
 * The export's path with its query, exactly as `exportAuditLog` sends it: for
 * callers that fetch the CSV through `Transport.makeRaw` (the bytes passed on
 * as they come, on a client of their own).
 *
 * @since 0.2.0
 */
export const auditLogExportPath = (filter: AuditLogFilter = {}): string => {
  const query = UrlParams.toString(UrlParams.fromInput(queryParams(exportQuery(filter))))
  return query === "" ? paths.auditLogExport : `${paths.auditLogExport}?${query}`
}

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
