/**
 * One request on its way through the proxy: what the access log and the
 * metrics report about it, the headers every answer to it carries, and the
 * ways to answer it. The steps' own results travel in their return types
 * (see `Pipeline.ts`); `Call` only gathers facts for the log.
 *
 * @since 0.2.0
 */
import type { Operation } from "@cubeplane/core/Api"
import type { Context } from "hono"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Keys from "./Keys.js"

// Under @hono/node-server the Node request is at hand: its headers are already parsed, which
// is cheaper than the web `Headers` the fetch `Request` would build. `app.request` has none.
// The Node response is there too, for a body written straight to it (the export; see `Export.pipeToNode`).
export type AppEnv = { Bindings: { incoming?: IncomingMessage; outgoing?: ServerResponse } }
export type Ctx = Context<AppEnv>

export class Call {
  operation: Operation | undefined = undefined
  keyName: string | undefined = undefined
  /** The key the caller sent (known or not): never echoed or logged (see `Keys.hide`). */
  presented: string | undefined = undefined
  cacheResult: "HIT" | "MISS" | undefined = undefined
  upstreamStatus: number | undefined = undefined
  error: string | undefined = undefined
  /**
   * The status the caller got when the answer was written to its socket by the handler itself (an export
   * piped to the Node response): the `Response` handed to Hono then only says "already sent".
   */
  sentStatus: number | undefined = undefined
  /** The answer of the request's program, once it has one (see `App.execute`). */
  answer: Response | undefined = undefined
  /** `performance.now()` when the request came in, for its duration. */
  started = 0
  constructor(
    readonly c: Ctx,
    readonly requestId: string,
    /** Headers every answer to this request carries (request id, rate limit, cache); the answer adds its own. */
    readonly headers: Record<string, string>
  ) {}

  header(name: string): string | undefined {
    const incoming = this.c.env?.incoming
    return incoming === undefined ? this.c.req.header(name) : headerValue(incoming.headers[name])
  }
}

export const headerValue = (value: string | Array<string> | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value

const jsonTypes = /^application\/json\s*(;|$)/i
const csvTypes = /^text\/csv\s*(;|$)/i

/**
 * The `Content-Type` of a body passed on from the upstream: its own when it is the type the
 * operation answers with (JSON, or CSV for the export; its parameters kept), that type otherwise.
 * A body served as `text/html` from the proxy's origin would be a page run by whoever controls
 * the upstream.
 */
export const passedType = (value: string | Array<string> | undefined, kind: "json" | "csv"): string => {
  const type = headerValue(value)
  if (kind === "json") return type !== undefined && jsonTypes.test(type) ? type : "application/json"
  return type !== undefined && csvTypes.test(type) ? type : "text/csv; charset=utf-8"
}

/**
 * Every answer is built here as a `Response` with a plain header object:
 * @hono/node-server writes those straight to the socket, without the web
 * `Headers` object `c.header()` / `c.json()` would allocate.
 */
export const reply = (call: Call, status: number, body: BodyInit | null, headers: Record<string, string>): Response => {
  const all = call.headers
  for (const name in headers) all[name] = headers[name]!
  return new Response(body, { status, headers: all })
}

export const jsonType: Readonly<Record<string, string>> = { "Content-Type": "application/json" }

/** An `{"error": ...}` answer (and the error the access log names). */
export const fail = (
  call: Call,
  status: number,
  error: string,
  headers?: Record<string, string>,
  extra?: Record<string, unknown>
): Response => {
  // Messages echo what the caller sent (a path, a query value): a key in it is not echoed, nor logged.
  const message = Keys.hide(error, call.presented)
  call.error = message
  const body = JSON.stringify(extra === undefined ? { error: message } : { error: message, ...extra })
  return reply(call, status, body, headers === undefined ? { ...jsonType } : { ...jsonType, ...headers })
}

/** Bytes as a response body: Node's pooled buffers are ArrayBuffer-backed; anything else is copied. */
export const bodyBytes = (bytes: Uint8Array): Uint8Array<ArrayBuffer> =>
  isArrayBufferBacked(bytes) ? bytes : new Uint8Array(bytes)

const isArrayBufferBacked = (bytes: Uint8Array): bytes is Uint8Array<ArrayBuffer> => bytes.buffer instanceof ArrayBuffer
