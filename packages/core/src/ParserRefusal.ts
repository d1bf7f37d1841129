/**
 * What Node's HTTP parser refuses before any handler runs (not HTTP, a
 * `Content-Length` with a `Transfer-Encoding`, headers larger than the server
 * accepts, a request too slow to arrive), answered like every other refusal
 * of the API: a 4xx with an `{"error": ...}` body saying what to send, where
 * Node's own answer is a bare status line. One rule for every server that
 * speaks for the Control Plane (the proxy, the mock):
 * `server.on("clientError", ParserRefusal.answer)`.
 *
 * @since 0.1.0
 */
import type { Duplex } from "node:stream"

/**
 * Status, reason phrase and `error` message for what Node's parser refused,
 * by its error code.
 *
 * @since 0.1.0
 */
export const describe = (code: string | undefined): readonly [status: number, reason: string, error: string] =>
  code === "HPE_HEADER_OVERFLOW"
    ? [
      431,
      "Request Header Fields Too Large",
      "the request's line and headers are larger than the server accepts (16 KB): send a shorter URL or fewer headers"
    ]
    : code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? [408, "Request Timeout", "the request took too long to arrive: send the whole request at once and retry"]
    : [
      400,
      "Bad Request",
      `the request is not valid HTTP/1.1${
        code === undefined ? "" : ` (${code})`
      }: send one request line, well-formed headers (one Content-Length or Transfer-Encoding) and a body that matches them`
    ]

/**
 * A `node:http` server's `clientError` listener: answers the refusal (see
 * `describe`) and closes the connection, as Node does. A connection the
 * client reset, or one whose response has already started, is only closed:
 * there is nothing left to answer on it.
 *
 * @since 0.1.0
 */
export const answer = (error: Error & { readonly code?: string }, socket: Duplex): void => {
  if (error.code === "ECONNRESET" || !socket.writable || responseStarted(socket)) {
    socket.destroy()
    return
  }
  const [status, reason, message] = describe(error.code)
  refuse(socket, status, reason, message)
}

/**
 * Writes a whole refusal straight to a connection that has no response
 * object (a parser error, a `CONNECT`): the status line, JSON and `nosniff`
 * headers and the `{"error": message}` body, then closes it.
 *
 * @since 0.1.0
 */
export const refuse = (socket: Duplex, status: number, reason: string, message: string): void => {
  const body = JSON.stringify({ error: message })
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  )
}

/** A response on this socket that has already sent its headers. */
const responseStarted = (socket: Duplex): boolean => {
  const message: unknown = Reflect.get(socket, "_httpMessage")
  return typeof message === "object" && message !== null && Reflect.get(message, "headersSent") === true
}
