/**
 * The one place that talks to the real Control Plane: core's `Transport`
 * (base URL, the real key in `Authorization`, per-attempt timeout, core's
 * retry policy, status → `ControlPlaneError` with the server's `{"error"}`
 * text) over an undici `Pool` of keep-alive connections.
 *
 * - Only headers the proxy builds itself go upstream: `Authorization` (set by
 *   core), `Accept`, the body's type, the request id. Nothing the caller sent
 *   (its key, cookies, …) is copied.
 * - undici bounds each attempt: connecting and the response headers within
 *   `timeout_ms`, then each gap between body chunks; a body paused by a slow
 *   caller never times out.
 * - GETs are retried per core's policy; the token POST only when it certainly
 *   never reached the server. A `Retry-After` longer than the proxy is willing
 *   to wait is passed on to the caller instead of hanging.
 *
 * @since 0.1.0
 */
import type { Operation } from "@cubeplane/core/Api"
import type { ControlPlaneError } from "@cubeplane/core/Errors"
import { TransportError } from "@cubeplane/core/Errors"
import * as Transport from "@cubeplane/core/Transport"
import type { HttpClientResponse } from "@effect/platform"
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Pool } from "@effect/platform-node/Undici"
import { Chunk, Context, Duration, Effect, Layer, Redacted, Stream } from "effect"
import * as Redact from "./Redact.js"

export interface UpstreamOptions {
  /** The Control Plane's base URL (`CUBE_API_URL`), e.g. `https://acme.cubecloud.dev`. */
  readonly url: string
  /** The real key (`CUBE_API_KEY`). */
  readonly apiKey: Redacted.Redacted<string>
  /** `CUBE_AUTH_SCHEME`; default: core's (`bearer`). */
  readonly authScheme?: Transport.AuthScheme | undefined
  /** Per-attempt timeout: to the response headers, then between body chunks. */
  readonly timeoutMs: number
  /** Retries of a GET after the first attempt. */
  readonly retries: number
  /** The first backoff wait. Default: 200 ms. */
  readonly retryBaseDelayMs?: number
  /** The longest `Retry-After` the proxy waits out itself; a longer one is passed to the caller. Default: 5 s. */
  readonly maxRetryAfterMs?: number
}

export interface UpstreamRequest {
  readonly operation: Operation
  readonly method: "GET" | "POST"
  /** Path and query, e.g. `/api/v1/deployments?limit=5`. */
  readonly path: string
  readonly body?: string
  readonly accept: string
  readonly requestId: string
  /** `false`: one attempt only (readiness probes). */
  readonly retry?: false
}

export type UpstreamResponse = HttpClientResponse.HttpClientResponse

export interface UpstreamEvents {
  readonly onRetry?: (operation: Operation) => void
  readonly onAttemptFailed?: (
    operation: Operation,
    kind: "timeout" | "connection" | "status_5xx" | "status_429"
  ) => void
}

export interface Upstream {
  /** Where requests go (no credentials in it). */
  readonly origin: string
  /** The 2xx answer, its body unread; any other answer or failure as core's typed error. */
  readonly send: (request: UpstreamRequest) => Effect.Effect<UpstreamResponse, ControlPlaneError>
  /** Closes idle upstream connections. */
  readonly close: () => void
  /** Replaces the real key (in any escaped form) by `[REDACTED]`: a last guard on what goes back to callers. */
  readonly redactor: Redact.Redactor
}

/** The upstream as a service. */
export class ControlPlaneUpstream extends Context.Tag("cubeplane-proxy/ControlPlaneUpstream")<
  ControlPlaneUpstream,
  Upstream
>() {}

export const layer = (upstream: Upstream): Layer.Layer<ControlPlaneUpstream> =>
  Layer.succeed(ControlPlaneUpstream, upstream)

/** The undici client the proxy runs on: keep-alive connections with per-attempt timeouts. */
const undiciClient = (options: UpstreamOptions): { client: HttpClient.HttpClient; close: () => void } => {
  // Idle connections are dropped after 4 s (or sooner when the server's `Keep-Alive: timeout` says
  // so), before a typical server's 5 s keep-alive timeout, so a request rarely lands on a
  // connection the server is closing.
  const pool = new Pool(new URL(options.url).origin, {
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    connect: { timeout: options.timeoutMs }
  })
  // @effect/platform's undici client turns undici's own timeouts off per request; put them back:
  // to the response headers, then each gap between body chunks (a body paused by a slow caller
  // is not a gap: undici only counts while it wants data).
  const timed = pool.compose((dispatch) => (request, handler) =>
    dispatch({ ...request, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs }, handler)
  )
  return { client: NodeHttpClient.makeUndici(timed), close: () => void pool.destroy().catch(() => undefined) }
}

/**
 * The upstream of `options`. `client` replaces the undici client (tests give
 * an in-memory one); everything else — auth, retries, error mapping — is core's.
 */
export const make = (
  options: UpstreamOptions,
  events: UpstreamEvents = {},
  client?: HttpClient.HttpClient
): Upstream => {
  const base = new URL(options.url)
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new Error(`CUBE_API_URL must be an http:// or https:// URL, got ${base.protocol}`)
  }
  const undici = client === undefined ? undiciClient(options) : undefined
  const http = client ?? undici?.client ?? HttpClient.make(() => Effect.die("no HTTP client"))
  // Each attempt, seen by the client under the transport: counted for the metrics by request id.
  const attempts = new Map<string, { readonly operation: Operation; count: number }>()
  const counted = http.pipe(
    HttpClient.tapRequest((request) =>
      Effect.sync(() => {
        const entry = attempts.get(request.headers["x-request-id"] ?? "")
        if (entry === undefined) return
        entry.count++
        if (entry.count > 1) events.onRetry?.(entry.operation)
      })
    ),
    HttpClient.tap((response) =>
      Effect.sync(() => {
        if (response.status === 429 || response.status === 408 || response.status >= 500) {
          const entry = attempts.get(response.request.headers["x-request-id"] ?? "")
          if (entry !== undefined) {
            events.onAttemptFailed?.(entry.operation, response.status === 429 ? "status_429" : "status_5xx")
          }
        }
      })
    )
  )
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 5_000
  const transport = Effect.runSync(
    Transport.make({
      url: options.url,
      apiKey: options.apiKey,
      ...(options.authScheme === undefined ? {} : { authScheme: options.authScheme }),
      timeout: Duration.millis(options.timeoutMs),
      // Retries and their waits included; a stuck attempt is cut by `timeout` first.
      deadline: Duration.millis(options.timeoutMs * (options.retries + 1) + maxRetryAfterMs * options.retries),
      userAgent: "cubeplane-proxy/0.2.0",
      // undici bounds each attempt (see `undiciClient`); test clients answer at once.
      clientTimeouts: true,
      retry: {
        maxRetries: options.retries,
        baseDelay: Duration.millis(options.retryBaseDelayMs ?? 200),
        maxDelay: Duration.seconds(2),
        maxRetryAfter: Duration.millis(maxRetryAfterMs),
        beyondMaxRetryAfter: "give-up"
      }
    }).pipe(Effect.provideService(HttpClient.HttpClient, counted))
  )

  const send = (request: UpstreamRequest): Effect.Effect<UpstreamResponse, ControlPlaneError> =>
    Effect.suspend(() => {
      attempts.set(request.requestId, { operation: request.operation, count: 0 })
      return transport.send({
        method: request.method,
        path: request.path,
        accept: request.accept,
        headers: { "x-request-id": request.requestId },
        ...(request.body === undefined ? {} : { body: request.body }),
        ...(request.retry === false ? { retry: false } : {})
      })
    }).pipe(
      Effect.tapError((error) =>
        Effect.sync(() => {
          if (error._tag === "TransportError") {
            events.onAttemptFailed?.(request.operation, error.reason === "Connection" ? "connection" : "timeout")
          }
        })
      ),
      Effect.ensuring(Effect.sync(() => attempts.delete(request.requestId)))
    )

  return {
    origin: base.origin,
    send,
    close: () => undici?.close(),
    redactor: Redact.make(Redacted.value(options.apiKey))
  }
}

/** Reads a whole (small) body, refusing more than `maxBytes`. */
export const readBody = (
  response: UpstreamResponse,
  maxBytes: number
): Effect.Effect<Uint8Array, TransportError> => {
  const facts = { method: response.request.method, path: response.request.url }
  const declared = Number(response.headers["content-length"] ?? Number.NaN)
  if (Number.isInteger(declared) && declared <= maxBytes) {
    // A length within bounds: read it in one go (cheaper than a stream of chunks).
    return Effect.map(
      Effect.mapError(
        response.arrayBuffer,
        () => new TransportError({ ...facts, reason: "Body", message: "the upstream response was cut off" })
      ),
      (buffer) => new Uint8Array(buffer)
    )
  }
  return response.stream.pipe(
    Stream.mapError(() =>
      new TransportError({ ...facts, reason: "Body", message: "the upstream response was cut off" })
    ),
    Stream.runFoldEffect({ chunks: Chunk.empty<Uint8Array>(), size: 0 }, (state, chunk) => {
      const size = state.size + chunk.byteLength
      return size > maxBytes
        ? Effect.fail(
          new TransportError({
            ...facts,
            reason: "Body",
            message: `the upstream response is larger than ${maxBytes} bytes`
          })
        )
        : Effect.succeed({ chunks: Chunk.append(state.chunks, chunk), size })
    }),
    Effect.map(({ chunks, size }) => {
      if (Chunk.size(chunks) === 1) return Chunk.unsafeGet(chunks, 0)
      const out = new Uint8Array(size)
      let at = 0
      for (const chunk of chunks) {
        out.set(chunk, at)
        at += chunk.byteLength
      }
      return out
    })
  )
}
