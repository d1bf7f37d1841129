/**
 * The one place that talks to the real Control Plane.
 *
 * - Requests go out on an undici `Pool` of keep-alive connections and bodies
 *   stay Node streams. undici's request API costs about half the CPU per
 *   request of `node:http`'s `ClientRequest` and a fraction of global
 *   `fetch`'s, and the upstream client is most of what a forwarding proxy
 *   spends per request (see bench/proxy.ts).
 * - Only headers the proxy builds itself go upstream: the REAL key in
 *   `Authorization`, `Accept`, the body's type and length, the request id.
 *   Nothing the caller sent (its key, cookies, …) is copied.
 * - Each attempt has a timeout (`timeout_ms`) to connect, to the response
 *   headers, and then between body chunks; a body paused by a slow caller
 *   never times out.
 * - GETs are retried per core's policy (`Retry`): transport failures, 408,
 *   429 and 5xx, exponential backoff with jitter, honouring `Retry-After` up to
 *   a cap (a server asking for a longer wait gets its answer passed on instead
 *   of a proxy that hangs). The token POST is retried only when it certainly
 *   never reached the server.
 *
 * @since 0.1.0
 */
import type { Operation } from "@cubeplane/core/Api"
import { isRetryableStatus, TransportError } from "@cubeplane/core/Errors"
import * as Errors from "@cubeplane/core/Errors"
import * as HttpControlPlane from "@cubeplane/core/HttpControlPlane"
import * as Retry from "@cubeplane/core/Retry"
import { Duration, Effect, Redacted } from "effect"
import type { IncomingHttpHeaders } from "node:http"
import type { Readable } from "node:stream"
import { Pool } from "undici"
import * as Redact from "./Redact.js"

export interface UpstreamOptions {
  /** The Control Plane's base URL (`CUBE_API_URL`), e.g. `https://acme.cubecloud.dev`. */
  readonly url: string
  /** The real key (`CUBE_API_KEY`). */
  readonly apiKey: Redacted.Redacted<string>
  /** `CUBE_AUTH_SCHEME`; default: core's (`bearer`, as the reference page and Cube's API document say). */
  readonly authScheme?: "bearer" | "api-key" | undefined
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

export interface UpstreamResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** The body, still streaming (a discarded retryable response is never returned). */
  readonly body: Readable
}

/** No usable answer from upstream: the proxy answers 504 for `timeout`, 502 otherwise. */
export class UpstreamFailure extends Error {
  override readonly name = "UpstreamFailure"
  constructor(readonly kind: "timeout" | "connection", message: string) {
    super(message)
  }
}

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
  readonly send: (request: UpstreamRequest) => Promise<UpstreamResponse>
  /** Closes idle upstream connections. */
  readonly close: () => void
  /** Replaces the real key (in any escaped form) by `[REDACTED]`: a last guard on what goes back to callers. */
  readonly redactor: Redact.Redactor
}

/** Failures before a connection existed: the request certainly never reached the server. */
const connectCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])
const timeoutCodes = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"])
/** What a failure was, in words for the caller (undici's own codes mean nothing to them). */
const describe = (code: string | undefined, error: unknown): string =>
  code === "UND_ERR_SOCKET"
    ? "the connection was closed before the answer was complete"
    : code !== undefined && !code.startsWith("UND_ERR")
    ? code
    : error instanceof Error
    ? error.message
    : "error"

const errorCode = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined
  return typeof error.code === "string" ? error.code : undefined
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const headerText = (headers: IncomingHttpHeaders): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {}
  for (const name in headers) {
    const value = headers[name]
    out[name] = Array.isArray(value) ? value[0] : value
  }
  return out
}

export const make = (options: UpstreamOptions, events: UpstreamEvents = {}): Upstream => {
  const base = new URL(options.url)
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new Error(`CUBE_API_URL must be an http:// or https:// URL, got ${base.protocol}`)
  }
  const basePath = base.pathname.replace(/\/+$/, "")
  const key = Redacted.value(options.apiKey)
  const scheme = options.authScheme ?? HttpControlPlane.defaultAuthScheme
  const authorization = `${scheme === "api-key" ? "Api-Key" : "Bearer"} ${key}`
  // Idle connections are dropped after 4 s (or sooner when the server's `Keep-Alive: timeout` says
  // so), before a typical server's 5 s keep-alive timeout, so a request rarely lands on a
  // connection the server is closing. A paused body (a slow caller of an export) never times out.
  const pool = new Pool(base.origin, {
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: 4_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connect: { timeout: options.timeoutMs }
  })
  const policy = Retry.policy({
    maxRetries: options.retries,
    baseDelay: Duration.millis(options.retryBaseDelayMs ?? 200),
    maxDelay: Duration.seconds(2),
    maxRetryAfter: Duration.millis(options.maxRetryAfterMs ?? 5_000)
  })
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 5_000

  const attempt = async (req: UpstreamRequest): Promise<UpstreamResponse> => {
    const headers: Record<string, string> = {
      authorization,
      accept: req.accept,
      "user-agent": "cubeplane-proxy/0.1.0",
      "x-request-id": req.requestId
    }
    if (req.body !== undefined) headers["content-type"] = "application/json"
    try {
      const response = await pool.request({
        method: req.method,
        path: basePath + req.path,
        headers,
        body: req.body ?? null
      })
      return { status: response.statusCode, headers: response.headers, body: response.body }
    } catch (error) {
      throw toTransportError(req, error)
    }
  }

  const toTransportError = (req: UpstreamRequest, error: unknown): TransportError => {
    const code = errorCode(error)
    const timeout = code !== undefined && timeoutCodes.has(code)
    return new TransportError({
      method: req.method,
      path: req.path,
      reason: timeout ? "Timeout" : "Connection",
      message: timeout
        ? `the upstream Control Plane did not answer within ${options.timeoutMs} ms`
        : `could not reach the upstream Control Plane (${describe(code, error)})`,
      notSent: code !== undefined && connectCodes.has(code)
    })
  }

  const send = async (req: UpstreamRequest): Promise<UpstreamResponse> => {
    const idempotency: Retry.Idempotency = req.method === "GET" ? "idempotent" : "unsafe"
    for (let retry = 0;; retry++) {
      let failure: Errors.ControlPlaneError
      try {
        const response = await attempt(req)
        const status = response.status
        if (!isRetryableStatus(status)) return response
        events.onAttemptFailed?.(req.operation, status === 429 ? "status_429" : "status_5xx")
        const retryAfterMillis = Retry.retryAfterMillis(headerText(response.headers), Date.now())
        failure = Errors.fromResponse({ status, method: req.method, path: req.path, retryAfterMillis })
        const waitTooLong = retryAfterMillis !== undefined && retryAfterMillis > maxRetryAfterMs
        if (
          req.retry === false || retry >= policy.maxRetries || waitTooLong || !Retry.isRetryable(failure, idempotency)
        ) {
          return response
        }
        response.body.resume()
      } catch (error) {
        if (!(error instanceof TransportError)) throw error
        events.onAttemptFailed?.(req.operation, error.reason === "Timeout" ? "timeout" : "connection")
        if (req.retry === false || retry >= policy.maxRetries || !Retry.isRetryable(error, idempotency)) {
          throw new UpstreamFailure(error.reason === "Timeout" ? "timeout" : "connection", error.message)
        }
        failure = error
      }
      events.onRetry?.(req.operation)
      await sleep(Duration.toMillis(Effect.runSync(Retry.delay(policy, retry, failure))))
    }
  }

  return {
    origin: base.origin,
    send,
    close: () => void pool.destroy().catch(() => undefined),
    redactor: Redact.make(key)
  }
}

/** Reads a whole (small) body, refusing more than `maxBytes`. */
export const readBody = (body: Readable, maxBytes: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    body.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        body.destroy()
        reject(new UpstreamFailure("connection", `the upstream response is larger than ${maxBytes} bytes`))
        return
      }
      chunks.push(chunk)
    })
    body.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)))
    body.once("error", (error) =>
      reject(new UpstreamFailure("connection", `the upstream response was cut off (${error.message})`)))
    body.once("close", () => {
      if (!body.readableEnded) {
        reject(new UpstreamFailure("connection", "the upstream response was cut off"))
      }
    })
  })
