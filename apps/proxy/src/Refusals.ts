/**
 * Requests refused before the app sees them, answered like every other
 * refusal — a 4xx/5xx with an `{"error": ...}` body saying what to do and
 * `nosniff` — where Node or @hono/node-server would answer with no body, or
 * not at all: what Node's parser refuses (not HTTP, a header too long, a
 * request too slow to arrive), `CONNECT`, an `Expect` other than
 * `100-continue`, a request target or `Host` that cannot be read as a URL,
 * a transfer coding other than `chunked`, and a path with `.`/`..` segments.
 * The connection is closed after each: what follows on it cannot be trusted
 * to be framed as the caller meant.
 *
 * @since 0.2.0
 */
import * as ParserRefusal from "@cubeplane/core/ParserRefusal"
import type * as http from "node:http"
import type { Socket } from "node:net"

/** The answer on a Node response, the connection closed after it. */
const onResponse = (response: http.ServerResponse, status: number, message: string): void => {
  const body = JSON.stringify({ error: message })
  response.shouldKeepAlive = false
  response.writeHead(status, {
    "Content-Type": "application/json",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": String(Buffer.byteLength(body)),
    Connection: "close"
  })
  response.end(body)
}

/** Node's answers without a body (or no answer at all), replaced on `server`. */
export const install = (server: http.Server): void => {
  // What Node's parser refuses: core's answer, the same as the mock's.
  server.on("clientError", ParserRefusal.answer)
  // No tunnels: without a listener Node drops the connection without a word.
  server.on("connect", (_request: http.IncomingMessage, socket: Socket) => {
    ParserRefusal.refuse(
      socket,
      405,
      "Method Not Allowed",
      "CONNECT is not supported: this is an API server, not a tunnel"
    )
  })
  server.on("checkExpectation", (_request: http.IncomingMessage, response: http.ServerResponse) => {
    onResponse(response, 417, "the only Expect this server meets is `100-continue`: send the request without it")
  })
}

/**
 * @hono/node-server's answer when it cannot build a URL from the request (a
 * missing or second `Host`, a backslash in the path, `OPTIONS *`): its
 * messages are its own fixed text, never the caller's.
 */
export const unreadableRequest = (error: unknown): Response => {
  const said = error instanceof Error && /^[A-Za-z :/0-9]{1,80}$/.test(error.message) ? ` (${error.message})` : ""
  return new Response(
    JSON.stringify({
      error:
        `the request's target or Host header cannot be read as a URL${said}: send an origin-form path (/api/v1/…) and one Host header`
    }),
    {
      status: 400,
      headers: { "Content-Type": "application/json", "X-Content-Type-Options": "nosniff", Connection: "close" }
    }
  )
}

/**
 * The checks before the app: a transfer coding other than `chunked` (Node
 * reads `gzip, chunked` as chunked and hands on the still-coded body, which
 * this server does not decode: RFC 9112 says 501), and dot segments in the
 * path (`/a/../b`, `%2e%2e`), which the URL parser resolves: the proxy would
 * route a path other than the one a filter in front of it saw.
 */
export const guard = (listener: http.RequestListener): http.RequestListener => (request, response) => {
  const coding = request.headers["transfer-encoding"]
  if (coding !== undefined && coding.trim().toLowerCase() !== "chunked") {
    return onResponse(
      response,
      501,
      "the only transfer coding this server reads is `chunked`: send the body without others"
    )
  }
  const url = request.url ?? ""
  if ((url.includes(".") || url.includes("%")) && hasDotSegment(url)) {
    return onResponse(response, 400, "the path has `.` or `..` segments: send the path without them (/api/v1/…)")
  }
  return listener(request, response)
}

/** Whether the path of a request target has a `.` or `..` segment, written plainly or with `%2e`. */
export const hasDotSegment = (target: string): boolean => {
  const query = target.indexOf("?")
  const path = query === -1 ? target : target.slice(0, query)
  for (const segment of path.split("/")) {
    const plain = segment.length <= 6 ? segment.replace(/%2e/gi, ".") : segment
    if (plain === "." || plain === "..") return true
  }
  return false
}
