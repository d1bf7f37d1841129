/**
 * The HTTP client of the CSV export's raw path: Node's own `http`/`https`
 * request as a core `Transport.Exchange`, the body handed back as the Node
 * stream it is. Core's `Transport.makeRaw` puts the `Authorization` header,
 * the retry policy, the deadline and the status → error mapping around it
 * (as the proxy does with undici); this file only moves bytes.
 *
 * Why not fetch: reading a body through a web stream and an Effect stream
 * costs a few promises and fibers per 64 KB chunk, several times what the
 * copy itself costs (see BENCHMARKS.md, "Audit-log export"); `node:http`
 * is built in, so the bundle does not grow.
 */
import type * as Transport from "@cubeplane/core/Transport"
import * as http from "node:http"

/** A response body, read whole (an error body), refusing more than `maxBytes`. */
const readText = (body: http.IncomingMessage, maxBytes: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    let size = 0
    body.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) {
        body.destroy()
        reject(new Error(`the response is larger than ${maxBytes} bytes`))
        return
      }
      chunks.push(chunk)
    })
    body.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    body.once("error", reject)
  })

const headerRecord = (headers: http.IncomingHttpHeaders): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {}
  for (const name in headers) {
    const value = headers[name]
    out[name] = Array.isArray(value) ? value[0] : value
  }
  return out
}

/** A request that got no answer within `timeoutMs`: its code is one core's `connectionError` reads as a timeout. */
const timedOut = (timeoutMs: number) =>
  Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })

/**
 * The exchange: one connection per request (`agent: false`, so nothing keeps
 * the process alive afterwards), the attempt bounded by `timeoutMs` from
 * the request until the response headers (as core's `make` bounds it). The
 * body has no time limit, like the fetch path's: a slow export is not cut.
 */
export const make = (timeoutMs: number): Transport.Exchange<http.IncomingMessage> => async (request) => {
  // TLS is loaded only for an https URL (a few ms of start-up a plain-http run does not pay).
  const client = request.url.startsWith("https:") ? await import("node:https") : http
  return new Promise((resolve, reject) => {
    const outgoing = client.request(request.url, {
      method: request.method,
      headers: request.body === undefined
        ? request.headers
        : { ...request.headers, "content-length": String(Buffer.byteLength(request.body)) },
      agent: false
    })
    const timer = setTimeout(() => outgoing.destroy(timedOut(timeoutMs)), timeoutMs)
    outgoing.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    outgoing.once("response", (body) => {
      clearTimeout(timer)
      // Until its reader attaches, an error of the body (a reset) is kept in `body.errored`
      // for the reader to find, instead of being an uncaught 'error' event.
      body.on("error", () => undefined)
      resolve({
        status: body.statusCode ?? 0,
        headers: headerRecord(body.headers),
        body,
        text: (maxBytes) => readText(body, maxBytes),
        discard: () => void body.destroy()
      })
    })
    outgoing.end(request.body)
  })
}
