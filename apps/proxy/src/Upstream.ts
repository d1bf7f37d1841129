/**
 * The one place that talks to the real Control Plane.
 *
 * - Requests go out on `node:http`/`node:https` with a keep-alive agent and
 *   bodies stay Node streams: global `fetch` costs several times the CPU per
 *   request, which would make the proxy the bottleneck (see bench/proxy.ts).
 * - Only headers the proxy builds itself go upstream: the REAL key in
 *   `Authorization`, `Accept`, the body's type and length, the request id.
 *   Nothing the caller sent (its key, cookies, …) is copied.
 * - Each attempt has a timeout (`timeout_ms`, from request to response
 *   headers and then between body chunks).
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
import * as Retry from "@cubeplane/core/Retry"
import { Duration, Effect, Redacted } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import type { Readable } from "node:stream"

export interface UpstreamOptions {
  /** The Control Plane's base URL (`CUBE_API_URL`), e.g. `https://acme.cubecloud.dev`. */
  readonly url: string
  /** The real key (`CUBE_API_KEY`). */
  readonly apiKey: Redacted.Redacted<string>
  /** `CUBE_AUTH_SCHEME`; default: `api-key` for keys starting `sk-`, else `bearer` (as Cube's CLI does). */
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
  readonly headers: http.IncomingHttpHeaders
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
  /** Text with the real key replaced by `[REDACTED]`: a last guard on what goes back to callers. */
  readonly redact: (text: string) => string
  readonly redactBytes: (bytes: Buffer) => Buffer
}

const connectCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

const errorCode = (error: unknown): string | undefined => {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined
  return typeof error.code === "string" ? error.code : undefined
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const headerText = (headers: http.IncomingHttpHeaders): Record<string, string | undefined> => {
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
  const secure = base.protocol === "https:"
  const basePath = base.pathname.replace(/\/+$/, "")
  const key = Redacted.value(options.apiKey)
  const scheme = options.authScheme ?? (key.startsWith("sk-") ? "api-key" : "bearer")
  const authorization = `${scheme === "api-key" ? "Api-Key" : "Bearer"} ${key}`
  // Idle sockets are dropped before a typical server's 5 s keep-alive timeout, so a
  // request rarely lands on a socket the server is closing.
  const agentOptions = {
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 64,
    timeout: 4_000,
    scheduling: "lifo" as const
  }
  const agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions)
  const request = secure ? https.request : http.request
  const policy = Retry.policy({
    maxRetries: options.retries,
    baseDelay: Duration.millis(options.retryBaseDelayMs ?? 200),
    maxDelay: Duration.seconds(2),
    maxRetryAfter: Duration.millis(options.maxRetryAfterMs ?? 5_000)
  })
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 5_000

  const attempt = (req: UpstreamRequest): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {
        authorization,
        accept: req.accept,
        "user-agent": "cubeplane-proxy/0.1.0",
        "x-request-id": req.requestId
      }
      if (req.body !== undefined) {
        headers["content-type"] = "application/json"
        headers["content-length"] = Buffer.byteLength(req.body)
      }
      let settled = false
      const outgoing = request({
        agent,
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port,
        method: req.method,
        path: basePath + req.path,
        headers
      })
      outgoing.setTimeout(options.timeoutMs, () => {
        outgoing.destroy(new UpstreamFailure("timeout", `no answer within ${options.timeoutMs} ms`))
      })
      outgoing.once("response", (response) => {
        settled = true
        resolve(response)
      })
      outgoing.once("error", (error) => {
        if (settled) return
        settled = true
        reject(toTransportError(req, error, outgoing.reusedSocket))
      })
      outgoing.end(req.body)
    })

  const toTransportError = (req: UpstreamRequest, error: unknown, reusedSocket: boolean): TransportError => {
    const code = errorCode(error)
    const timeout = error instanceof UpstreamFailure && error.kind === "timeout"
    return new TransportError({
      method: req.method,
      path: req.path,
      reason: timeout ? "Timeout" : "Connection",
      message: timeout
        ? `the upstream Control Plane did not answer within ${options.timeoutMs} ms`
        : `could not reach the upstream Control Plane (${code ?? (error instanceof Error ? error.message : "error")})`,
      // A stale keep-alive socket reset before any answer: the server never read the
      // request (Node's documented retry case for reused sockets).
      notSent: (code !== undefined && connectCodes.has(code)) || (reusedSocket && code === "ECONNRESET")
    })
  }

  const send = async (req: UpstreamRequest): Promise<UpstreamResponse> => {
    const idempotency: Retry.Idempotency = req.method === "GET" ? "idempotent" : "unsafe"
    for (let retry = 0;; retry++) {
      let failure: Errors.ControlPlaneError
      try {
        const response = await attempt(req)
        const status = response.statusCode ?? 502
        if (!isRetryableStatus(status)) return { status, headers: response.headers, body: response }
        events.onAttemptFailed?.(req.operation, status === 429 ? "status_429" : "status_5xx")
        const retryAfterMillis = Retry.retryAfterMillis(headerText(response.headers), Date.now())
        failure = Errors.fromResponse({ status, method: req.method, path: req.path, retryAfterMillis })
        const waitTooLong = retryAfterMillis !== undefined && retryAfterMillis > maxRetryAfterMs
        if (
          req.retry === false || retry >= policy.maxRetries || waitTooLong || !Retry.isRetryable(failure, idempotency)
        ) {
          return { status, headers: response.headers, body: response }
        }
        response.resume()
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

  const keyBytes = Buffer.from(key)
  const redact = (text: string): string => key === "" ? text : text.split(key).join("[REDACTED]")
  return {
    origin: base.origin,
    send,
    close: () => agent.destroy(),
    redact,
    redactBytes: (bytes) =>
      keyBytes.length > 0 && bytes.includes(keyBytes) ? Buffer.from(redact(bytes.toString("utf8"))) : bytes
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
