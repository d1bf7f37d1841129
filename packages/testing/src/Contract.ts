/**
 * The mock's view of core's contract (`Api.ControlPlaneApi`, an `HttpApi`):
 * the routes the server registers (method, path, operation) come from
 * reflecting it, and each operation's path, query and body are decoded
 * with the schemas its endpoint declares. A change to the contract changes
 * the mock with no second edit: a new path or method is routed, a changed
 * query schema validates, and a new operation fails the type check of the
 * mock's rule table until it has a rule.
 *
 * @since 0.2.0
 */
import { Api, Dates } from "@cubeplane/core"
import type { HttpApiEndpoint } from "@effect/platform"
import * as HttpApi from "@effect/platform/HttpApi"
import type { HttpMethod } from "@effect/platform/HttpMethod"
import { Either, Option, Schema } from "effect"
import { issuesOf } from "./internal/issues.js"
import { MockFailure } from "./MockStore.js"

/** One endpoint of the contract, as the server routes it. */
export interface Route {
  readonly operation: Api.Operation
  readonly method: HttpMethod
  /** `:param` style, as Hono writes it. */
  readonly path: string
  /** Whether the endpoint takes a (JSON) body. */
  readonly hasPayload: boolean
}

const isOperation = Schema.is(Api.Operation)

/** Every endpoint of `Api.ControlPlaneApi`, in declaration order. */
export const routes: ReadonlyArray<Route> = (() => {
  const out: Array<Route> = []
  HttpApi.reflect(Api.ControlPlaneApi, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, payloads }) => {
      if (!isOperation(endpoint.name)) {
        throw new Error(`The contract declares ${endpoint.name}, an operation the mock does not know`)
      }
      out.push({
        operation: endpoint.name,
        method: endpoint.method,
        path: endpoint.path,
        hasPayload: payloads.size > 0
      })
    }
  })
  return out
})()

/** The methods each path answers (for 405 and `Allow`). */
export const methodsByPath: ReadonlyMap<string, ReadonlyArray<HttpMethod>> = (() => {
  const out = new Map<string, Array<HttpMethod>>()
  for (const route of routes) out.set(route.path, [...(out.get(route.path) ?? []), route.method])
  return out
})()

type Endpoints = HttpApiEndpoint.HttpApiEndpoint.Any

/** The contract's endpoint named `name`, with its types (found by name: no cast). */
const endpointNamed = <E extends Endpoints, N extends Api.Operation>(
  endpoints: Readonly<Record<string, E>>,
  name: N
): HttpApiEndpoint.HttpApiEndpoint.WithName<E, N> => {
  const found = Object.values(endpoints).find((e): e is HttpApiEndpoint.HttpApiEndpoint.WithName<E, N> =>
    e.name === name
  )
  if (found === undefined) throw new Error(`The contract has no endpoint ${name}`)
  return found
}

export const endpoints = {
  listDeployments: endpointNamed(Api.DeploymentsGroup.endpoints, "listDeployments"),
  listEnvironments: endpointNamed(Api.DeploymentsGroup.endpoints, "listEnvironments"),
  createMetaSyncToken: endpointNamed(Api.TokensGroup.endpoints, "createMetaSyncToken"),
  exportAuditLog: endpointNamed(Api.AuditLogGroup.endpoints, "exportAuditLog")
} as const

// ---------------------------------------------------------------------------
// Decoding, with the messages the mock has always answered
// ---------------------------------------------------------------------------

/** Query parameters as they arrive (the first value of each). */
export type Query = Readonly<Record<string, string | undefined>>

export const definedOnly = (query: Query): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(query)) if (v !== undefined) out[k] = v
  return out
}

const parameterHints: Record<string, string> = {
  offset: "an integer ≥ 0 (items to skip; default 0)",
  limit: "an integer ≥ 1 (items per page; default 20, at most 100)",
  first: "an integer ≥ 1 (cursor paging: items per page; default 20, at most 100)",
  type: "one of production, staging, development",
  start: Dates.examples,
  end: Dates.examples
}

/** A query decoder from an endpoint's `urlParams` schema: a 400 naming each bad parameter. */
export const queryDecoder = <A, I>(schema: Option.Option<Schema.Schema<A, I>>) => {
  const decode = Option.map(schema, (s) => Schema.decodeUnknownEither(s, { errors: "all", onExcessProperty: "ignore" }))
  return (query: Query): Either.Either<A | Record<string, never>, MockFailure> => {
    if (Option.isNone(decode)) return Either.right({})
    return Either.mapLeft(decode.value(definedOnly(query)), (error) => {
      const problems = issuesOf(error).map(({ message, path }) => {
        const hint = parameterHints[path]
        return hint !== undefined
          ? `${path} must be ${hint}, got ${JSON.stringify(query[path] ?? "")}`
          : `${path}: ${message}`
      })
      return new MockFailure({ status: 400, error: `Invalid query: ${problems.join("; ")}` })
    })
  }
}

/** A path decoder from an endpoint's `path` schema (ids are strings: only a missing one fails). */
export const pathDecoder = <A, I>(schema: Option.Option<Schema.Schema<A, I>>) => {
  const decode = Option.map(schema, (s) => Schema.decodeUnknownEither(s, { onExcessProperty: "ignore" }))
  return (params: Readonly<Record<string, string>>): Either.Either<A | Record<string, never>, MockFailure> =>
    Option.isNone(decode) ? Either.right({}) : Either.mapLeft(
      decode.value(params),
      (error) =>
        new MockFailure({
          status: 400,
          error: `Invalid path: ${issuesOf(error).map((i) => `${i.path}: ${i.message}`).join("; ")}`
        })
    )
}
