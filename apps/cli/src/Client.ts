/**
 * The `ControlPlane` service for one CLI run: core's `HttpControlPlane` over
 * `fetch` (no extra HTTP stack in the bundle), with each request and response
 * shown under `--verbose` — method, path, status and request id, never the
 * `Authorization` header.
 *
 * Like every handler module, loaded only when a command runs, so
 * `cubeplane --help` does not load the HTTP client or the schemas.
 */
import { ControlPlane } from "@cubeplane/core/ControlPlane"
import type { AuditLogFilter } from "@cubeplane/core/Domain"
import type { ControlPlaneError, TransportError } from "@cubeplane/core/Errors"
import * as HttpControlPlane from "@cubeplane/core/HttpControlPlane"
import * as NodeHttp from "@cubeplane/core/NodeHttp"
import * as Transport from "@cubeplane/core/Transport"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Credentials } from "./Credentials.js"

export { ControlPlane }

export const userAgent = "cubeplane-cli/0.1.0"

const pathOf = (url: string, urlParams: UrlParams.UrlParams): string => {
  let path = url
  try {
    path = new URL(url).pathname
  } catch {
    // Not absolute: already a path.
  }
  const query = UrlParams.toString(urlParams)
  return query === "" ? path : `${path}?${query}`
}

/** `fetch`, and with `--verbose` a line on stderr per request and per response. */
const httpClient = (log: ((line: string) => Effect.Effect<void>) | undefined): Layer.Layer<HttpClient.HttpClient> =>
  log === undefined
    ? FetchHttpClient.layer
    : Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (client) =>
        client.pipe(
          HttpClient.tapRequest((request) => log(`→ ${request.method} ${pathOf(request.url, request.urlParams)}`)),
          HttpClient.tap((response) => {
            const requestId = response.headers["x-request-id"]
            return log(
              `← ${response.status} ${response.request.method} ${
                pathOf(response.request.url, response.request.urlParams)
              }${requestId !== undefined ? ` (request id ${requestId})` : ""}`
            )
          })
        ))
    ).pipe(Layer.provide(FetchHttpClient.layer))

/** The service for these credentials. */
export const layer = (
  credentials: Credentials,
  log: ((line: string) => Effect.Effect<void>) | undefined
): Layer.Layer<ControlPlane> =>
  HttpControlPlane.layer({
    url: credentials.url,
    apiKey: credentials.apiKey,
    userAgent,
    ...(credentials.authScheme !== undefined ? { authScheme: credentials.authScheme } : {})
  }).pipe(Layer.provide(httpClient(log)))

/** The CSV export's answer, its body not read yet (read into reused buffers: see `NodeBody`). */
export interface CsvExport {
  readonly body: NodeHttp.Body
  /** A failure reading `body` (the connection dropped), as core's `TransportError`. */
  readonly bodyError: (cause: unknown) => TransportError
}

/**
 * The CSV export as the server sends it, for a byte-for-byte copy: core's raw
 * transport (`Transport.makeRaw`: the same key header, retries, deadline and
 * status → error mapping as the service, the same URL as its
 * `exportAuditLog`) on core's `NodeHttp` (HTTP/1.1 read into a few reused
 * 64 KiB buffers: no allocation per read), with the same `--verbose` lines
 * as the service's requests. Each attempt is bounded by core's default
 * timeout until the answer's head, then per gap in the body (a stalled
 * connection fails; a slow one does not).
 */
export const exportCsv = (
  credentials: Credentials,
  log: ((line: string) => Effect.Effect<void>) | undefined
) =>
(filter: AuditLogFilter): Effect.Effect<CsvExport, ControlPlaneError> => {
  const exchange = NodeHttp.make()
  const logged: Transport.Exchange<NodeHttp.Body> = log === undefined ? exchange : async (request) => {
    const path = pathOf(request.path, UrlParams.empty)
    Effect.runSync(log(`→ ${request.method} ${path}`))
    const response = await exchange(request)
    const requestId = response.headers["x-request-id"]
    Effect.runSync(
      log(
        `← ${response.status} ${request.method} ${path}${requestId !== undefined ? ` (request id ${requestId})` : ""}`
      )
    )
    return response
  }
  const transport = Transport.makeRaw({
    url: credentials.url,
    apiKey: credentials.apiKey,
    userAgent,
    deadline: Transport.defaultDeadline,
    ...(credentials.authScheme !== undefined ? { authScheme: credentials.authScheme } : {})
  }, logged)
  const path = HttpControlPlane.auditLogExportPath(filter)
  return Effect.map(
    transport.send({ method: "GET", path, accept: "text/csv" }),
    (response) => ({
      body: response.body,
      bodyError: (cause) => Transport.bodyDropped({ method: "GET", path }, cause)
    })
  )
}
