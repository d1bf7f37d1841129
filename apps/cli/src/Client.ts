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
import * as HttpControlPlane from "@cubeplane/core/HttpControlPlane"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as UrlParams from "@effect/platform/UrlParams"
import { Effect, Layer } from "effect"
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
