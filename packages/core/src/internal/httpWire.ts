/// <reference types="node" />
/**
 * The wire format `NodeHttp` speaks: an HTTP/1.1 request's head, a
 * response's head, and how a response body's end is found (its framing:
 * `Content-Length`, `Transfer-Encoding: chunked` or the close of the
 * connection). Strict where a server could be hostile: bounded lines, a
 * malformed head or chunk size is an error, not a guess.
 *
 * @internal
 */
import type { ExchangeRequest } from "../Transport.js"

/** An error with a code core's transport knows (`Transport.timeoutCodes`, …). */
export const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code })

export const malformed = (what: string): Error =>
  coded(`the server sent a malformed ${what}`, "UND_ERR_RESPONSE_STATUS_CODE")
/** How the body's end is found. `feed` hands the body's bytes to `deliver`; `true` once the body is complete. */
export interface Framing {
  readonly feed: (bytes: Buffer, deliver: (piece: Buffer) => void) => boolean
  /** The close of the connection ends the body (no length given). */
  readonly closeEnds: boolean
}

export const lengthFraming = (length: number): Framing => {
  let remaining = length
  return {
    closeEnds: false,
    feed: (bytes, deliver) => {
      const take = Math.min(remaining, bytes.length)
      if (take > 0) deliver(take === bytes.length ? bytes : bytes.subarray(0, take))
      remaining -= take
      return remaining === 0
    }
  }
}

export const closeFraming: Framing = {
  closeEnds: true,
  feed: (bytes, deliver) => {
    if (bytes.length > 0) deliver(bytes)
    return false
  }
}

const LF = 0x0a
const CR = 0x0d
const maxLine = 8 * 1024

/** `Transfer-Encoding: chunked`: sizes in hex (extensions ignored), data, CRLF, …, `0`, trailers, an empty line. */
export const chunkedFraming = (): Framing => {
  let state: "size" | "data" | "dataEnd" | "trailer" = "size"
  let line = ""
  let remaining = 0
  let crSeen = false
  return {
    closeEnds: false,
    feed: (bytes, deliver) => {
      let at = 0
      const length = bytes.length
      while (at < length) {
        if (state === "data") {
          const take = Math.min(remaining, length - at)
          deliver(bytes.subarray(at, at + take))
          at += take
          remaining -= take
          if (remaining === 0) {
            state = "dataEnd"
            crSeen = false
          }
          continue
        }
        if (state === "dataEnd") {
          const byte = bytes[at++]
          if (byte === CR && !crSeen) crSeen = true
          else if (byte === LF) state = "size"
          else throw malformed("chunked body (no line break after a chunk)")
          continue
        }
        // A size line or a trailer line, possibly split across reads.
        const lf = bytes.indexOf(LF, at)
        const end = lf === -1 ? length : lf
        line += bytes.toString("latin1", at, end)
        if (line.length > maxLine) throw malformed("chunked body (a line too long)")
        if (lf === -1) break
        at = lf + 1
        const text = line.endsWith("\r") ? line.slice(0, -1) : line
        line = ""
        if (state === "size") {
          const hex = (text.split(";")[0] ?? "").trim()
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw malformed("chunked body (a bad chunk size)")
          remaining = parseInt(hex, 16)
          state = remaining === 0 ? "trailer" : "data"
        } else if (text === "") {
          return true
        }
      }
      return false
    }
  }
}

export interface Head {
  readonly status: number
  readonly headers: Record<string, string>
}

export const parseHead = (text: string): Head => {
  const lines = text.split("\r\n")
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? "")
  if (status === null) throw malformed("status line")
  const headers: Record<string, string> = {}
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(":")
    if (colon <= 0) throw malformed("header line")
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    const before = headers[name]
    headers[name] = before === undefined ? value : `${before}, ${value}`
  }
  return { status: Number(status[1]), headers }
}

export const framingOf = (head: Head): Framing => {
  if (head.status === 204 || head.status === 304) return lengthFraming(0)
  const encoding = head.headers["transfer-encoding"]
  if (encoding !== undefined && /(?:^|,)\s*chunked\s*$/i.test(encoding)) return chunkedFraming()
  const length = head.headers["content-length"]
  if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) throw malformed("Content-Length")
    return lengthFraming(Number(length))
  }
  return closeFraming
}

const lineBreak = /[\r\n]/

/** The request's head (and body). Header values never appear in an error: one is the key. */
export const requestBytes = (request: ExchangeRequest, host: string): string => {
  if (/[\s]/.test(request.path) || !request.path.startsWith("/")) {
    throw new Error("the request path must start with / and hold no whitespace")
  }
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `Host: ${host}`]
  for (const name in request.headers) {
    const value = request.headers[name]!
    if (lineBreak.test(name) || lineBreak.test(value)) throw new Error(`the ${name} header holds a line break`)
    const lower = name.toLowerCase()
    if (lower === "host" || lower === "connection" || lower === "content-length") continue
    lines.push(`${name}: ${value}`)
  }
  lines.push("Connection: close")
  if (request.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(request.body)}`)
  return `${lines.join("\r\n")}\r\n\r\n${request.body ?? ""}`
}
