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
import * as NodeHttp from "@cubeplane/core/NodeHttp"
import * as Transport from "@cubeplane/core/Transport"
import { Cause, Context, Duration, Effect, Layer, Redacted } from "effect"
import type { Readable } from "node:stream"
import { Pool } from "undici"
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

/** The upstream's 2xx answer, its body a Node stream not read yet. */
export type UpstreamResponse = Transport.ExchangeResponse<Readable>

/** The export's 2xx answer, its body not read yet (core's `NodeHttp.Body`). */
export type ExportResponse = NodeHttp.Response

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
  /**
   * The same for a long body (the audit-log export), read by core's `NodeHttp` into
   * reused buffers; with a given `exchange` (tests), its Node stream.
   */
  readonly sendExport: (request: UpstreamRequest) => Effect.Effect<ExportResponse, ControlPlaneError>
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

const firstValue = (value: string | Array<string> | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value

/** Node's header object with one value per name. */
const headerRecord = (headers: Record<string, string | Array<string> | undefined>) => {
  const out: Record<string, string | undefined> = {}
  for (const name in headers) out[name] = firstValue(headers[name])
  return out
}

/**
 * undici's request API on a `Pool` of keep-alive connections: about half the
 * CPU per request of `node:http`'s client and a fraction of a generic
 * `HttpClient`'s, which is most of what a forwarding proxy spends per request.
 */
export const undiciExchange = (
  options: UpstreamOptions
): { exchange: Transport.Exchange<Readable>; close: () => void } => {
  // Idle connections are dropped after 4 s (or sooner when the server's `Keep-Alive: timeout` says
  // so), before a typical server's 5 s keep-alive timeout, so a request rarely lands on a
  // connection the server is closing. A paused body (a slow caller of an export) never times out.
  const pool = new Pool(new URL(options.url).origin, {
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: { timeout: options.timeoutMs }
  })
  const exchange: Transport.Exchange<Readable> = async (request) => {
    const response = await pool.request({
      method: request.method,
      path: request.path,
      headers: request.headers,
      body: request.body ?? null
    })
    const body = response.body
    return {
      status: response.statusCode,
      headers: headerRecord(response.headers),
      body,
      text: (maxBytes) => readAll(body, maxBytes).then((bytes) => bytes.toString("utf8")),
      discard: () => void body.resume()
    }
  }
  return { exchange, close: () => void pool.destroy().catch(() => undefined) }
}

/**
 * The upstream of `options`. `exchange` replaces undici (tests give an
 * in-memory one); everything else — auth, retries, error mapping — is core's.
 */
export const make = (
  options: UpstreamOptions,
  events: UpstreamEvents = {},
  exchange?: Transport.Exchange<Readable>
): Upstream => {
  const base = new URL(options.url)
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new Error(`CUBE_API_URL must be an http:// or https:// URL, got ${base.protocol}`)
  }
  const undici = exchange === undefined ? undiciExchange(options) : undefined
  const client = exchange ?? undici?.exchange ?? (() => Promise.reject(new Error("no HTTP client")))
  // Each attempt, counted for the metrics by request id.
  const attempts = new Map<string, { readonly operation: Operation; count: number }>()
  const counted = <B>(client: Transport.Exchange<B>): Transport.Exchange<B> => async (request) => {
    const entry = attempts.get(request.headers["x-request-id"] ?? "")
    if (entry !== undefined && ++entry.count > 1) events.onRetry?.(entry.operation)
    const response = await client(request)
    const status = response.status
    if (entry !== undefined && (status === 429 || status === 408 || status >= 500)) {
      events.onAttemptFailed?.(entry.operation, status === 429 ? "status_429" : "status_5xx")
    }
    return response
  }
  // The export's client: core's reused-buffer one, or the given exchange's bodies as `NodeHttp.Body`s.
  const exportClient: Transport.Exchange<NodeHttp.Body> = exchange === undefined
    ? NodeHttp.make({ timeout: Duration.millis(options.timeoutMs) })
    : (request) => exchange(request).then((response) => ({ ...response, body: NodeHttp.fromReadable(response.body) }))
  const transportOptions: Transport.Options = {
    url: options.url,
    apiKey: options.apiKey,
    ...(options.authScheme === undefined ? {} : { authScheme: options.authScheme }),
    timeout: Duration.millis(options.timeoutMs),
    userAgent: "cubeplane-proxy/0.2.0",
    retry: {
      maxRetries: options.retries,
      baseDelay: Duration.millis(options.retryBaseDelayMs ?? 200),
      maxDelay: Duration.seconds(2),
      maxRetryAfter: Duration.millis(options.maxRetryAfterMs ?? 5_000),
      beyondMaxRetryAfter: "give-up"
    }
  }
  const transport = Transport.makeRaw(transportOptions, counted(client))
  const exportTransport = Transport.makeRaw(transportOptions, counted(exportClient))

  const sendOn = <B>(
    raw: Transport.RawTransport<B>
  ) =>
  (request: UpstreamRequest): Effect.Effect<Transport.ExchangeResponse<B>, ControlPlaneError> => {
    attempts.set(request.requestId, { operation: request.operation, count: 0 })
    return raw.send({
      method: request.method,
      path: request.path,
      accept: request.accept,
      headers: { "x-request-id": request.requestId },
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.retry === false ? { retry: false } : {})
    }).pipe(
      Effect.onExit((exit) =>
        Effect.sync(() => {
          attempts.delete(request.requestId)
          if (exit._tag === "Failure") {
            const error = Cause.failureOption(exit.cause)
            if (error._tag === "Some" && error.value._tag === "TransportError") {
              events.onAttemptFailed?.(
                request.operation,
                error.value.reason === "Connection" ? "connection" : "timeout"
              )
            }
          }
        })
      )
    )
  }

  const send = sendOn(transport)
  const sendExport = sendOn(exportTransport)

  return {
    origin: base.origin,
    send,
    sendExport,
    close: () => undici?.close(),
    redactor: Redact.make(Redacted.value(options.apiKey))
  }
}

/** Reads a whole (small) body, refusing more than `maxBytes`. */
const readAll = (body: Readable, maxBytes: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    body.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        body.destroy()
        reject(new Error(`the upstream response is larger than ${maxBytes} bytes`))
        return
      }
      chunks.push(chunk)
    })
    body.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)))
    body.once("error", (error: Error) => reject(new Error(`the upstream response was cut off (${error.message})`)))
    body.once("close", () => {
      if (!body.readableEnded) reject(new Error("the upstream response was cut off"))
    })
  })

/** Reads a whole (small) 2xx body, refusing more than `maxBytes`. */
export const readBody = (response: UpstreamResponse, maxBytes: number): Effect.Effect<Uint8Array, TransportError> =>
  Effect.tryPromise({
    try: () => readAll(response.body, maxBytes),
    catch: (error) =>
      new TransportError({
        method: "GET",
        path: "(upstream body)",
        reason: "Body",
        message: error instanceof Error ? error.message : "the upstream response was cut off"
      })
  })
