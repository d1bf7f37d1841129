/**
 * A small HTTP/1.1 client for the audit-log export: one request per
 * connection (`Connection: close`), the socket read with `onread` into
 * 64 KiB buffers taken from a pool and given back once every write of them
 * is done, so a long export allocates no memory per read (why that matters:
 * `ExportBody.ts`). Bodies framed by `Content-Length`,
 * `Transfer-Encoding: chunked` or the close of the connection; a connection
 * that closes before its framing's end is a cut-off, never a clean end.
 *
 * Bounds per attempt, like undici's: connecting and the response head within
 * `timeoutMs`, then each gap between reads of the body (not while the
 * caller's side has paused it). Core's transport (`Transport.makeRaw`) does
 * the rest — the key header, retries, status → error.
 *
 * Only the export goes through here; everything else uses undici.
 *
 * @since 0.2.0
 */
import type * as Transport from "@cubeplane/core/Transport"
import * as net from "node:net"
import * as tls from "node:tls"
import { cutOffMessage, type ExportBody, type ExportSink } from "./ExportBody.js"

const readSize = 64 * 1024
const maxHeadBytes = 64 * 1024
/** Idle buffers kept for later transfers (4 MiB). */
const maxPooled = 64

interface Slot {
  readonly buffer: Buffer
  /** Writes of views of it not done yet. */
  holds: number
  /** The socket reads (or may read) into it. */
  reading: boolean
}

/** Buffers for socket reads, shared by every transfer of one client. */
class BufferPool {
  private readonly free: Array<Slot> = []
  take(): Slot {
    const slot = this.free.pop() ?? { buffer: Buffer.allocUnsafeSlow(readSize), holds: 0, reading: false }
    slot.reading = true
    return slot
  }
  /** Back to the pool once nothing reads into it or writes from it. */
  settle(slot: Slot): void {
    if (!slot.reading && slot.holds === 0 && this.free.length < maxPooled) this.free.push(slot)
  }
}

/** An error with a code core's transport knows (`Transport.timeoutCodes`, …). */
const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code })

const malformed = (what: string): Error =>
  coded(`the upstream sent a malformed ${what}`, "UND_ERR_RESPONSE_STATUS_CODE")

/** How the body's end is found. `feed` hands the body's bytes to `deliver`; `true` once the body is complete. */
interface Framing {
  readonly feed: (bytes: Buffer, deliver: (piece: Buffer) => void) => boolean
  /** The close of the connection ends the body (no length given). */
  readonly closeEnds: boolean
}

const lengthFraming = (length: number): Framing => {
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

const closeFraming: Framing = {
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
const chunkedFraming = (): Framing => {
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

interface Head {
  readonly status: number
  readonly headers: Record<string, string>
}

const parseHead = (text: string): Head => {
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

const framingOf = (head: Head): Framing => {
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
const requestBytes = (request: Transport.ExchangeRequest, host: string): string => {
  if (/[\s]/.test(request.path) || !request.path.startsWith("/")) {
    throw new Error("the upstream path must start with / and hold no whitespace")
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

const release = (): void => undefined

export interface RawHttpOptions {
  /** The upstream's base URL (only its origin is used). */
  readonly url: string
  /** Connecting and the response head, then each gap between body reads. */
  readonly timeoutMs: number
}

/** The client: core's `Exchange` with `ExportBody` bodies. */
export const make = (options: RawHttpOptions): Transport.Exchange<ExportBody> => {
  const base = new URL(options.url)
  const secure = base.protocol === "https:"
  const port = Number(base.port === "" ? (secure ? 443 : 80) : base.port)
  const host = base.hostname.startsWith("[") ? base.hostname.slice(1, -1) : base.hostname
  const pool = new BufferPool()

  return (request) =>
    new Promise<Transport.ExchangeResponse<ExportBody>>((resolve, reject) => {
      const wire = requestBytes(request, base.host)
      let phase: "head" | "body" | "done" = "head"
      let headText = ""
      let framing: Framing = closeFraming
      let sink: ExportSink | undefined
      /** Body bytes read before `start` (copies), and how it ended if it did. */
      const early: Array<Buffer> = []
      let earlyEnd: { readonly error?: Error } | undefined
      let paused = false
      /** The consumer dropped the body: nothing more reaches it. */
      let dropped = false
      let connected = false
      /** The buffer the socket reads into next, and the one whose chunk is being delivered. */
      let reading: Slot | undefined
      let delivering: Slot | undefined

      const onTimeout = () => {
        if (phase === "head") {
          fail(
            connected
              ? coded(`no response head within ${options.timeoutMs} ms`, "UND_ERR_HEADERS_TIMEOUT")
              : coded(`no connection within ${options.timeoutMs} ms`, "UND_ERR_CONNECT_TIMEOUT")
          )
        } else {
          fail(coded(`the upstream sent nothing for ${options.timeoutMs} ms`, "UND_ERR_BODY_TIMEOUT"))
        }
      }
      let timer: NodeJS.Timeout | undefined = setTimeout(onTimeout, options.timeoutMs)
      const stopTimer = () => {
        if (timer !== undefined) clearTimeout(timer)
        timer = undefined
      }
      const startTimer = () => {
        if (timer === undefined && phase !== "done") timer = setTimeout(onTimeout, options.timeoutMs)
      }

      const deliver = (piece: Buffer) => {
        if (sink !== undefined) sink.chunk(piece)
        else early.push(Buffer.from(piece))
      }

      const finish = (outcome: { readonly error?: Error }) => {
        if (phase === "done") return
        const wasHead = phase === "head"
        phase = "done"
        stopTimer()
        socket.destroy()
        if (wasHead) {
          reject(outcome.error ?? coded("the upstream closed the connection before answering", "UND_ERR_SOCKET"))
          return
        }
        const current = sink
        sink = undefined
        if (current === undefined) earlyEnd = outcome
        else if (outcome.error === undefined) current.end()
        else current.fail(outcome.error)
      }
      const fail = (error: Error) => finish({ error })

      const readBody = (bytes: Buffer, slot: Slot | undefined) => {
        delivering = slot
        try {
          if (framing.feed(bytes, deliver)) finish({})
        } finally {
          delivering = undefined
        }
      }

      const readHead = (bytes: Buffer) => {
        const before = headText.length
        headText += bytes.toString("latin1")
        const end = headText.indexOf("\r\n\r\n")
        if (end === -1) {
          if (headText.length > maxHeadBytes) throw malformed("response head (too long)")
          return
        }
        const head = parseHead(headText.slice(0, end))
        const rest = bytes.subarray(end + 4 - before)
        headText = ""
        if (head.status >= 100 && head.status < 200) {
          // An interim answer (100 Continue, 103 Early Hints): the real one follows.
          if (rest.length > 0) readHead(rest)
          return
        }
        framing = framingOf(head)
        phase = "body"
        // From here the timer bounds each gap in the body, the wait for the caller to take it included.
        stopTimer()
        startTimer()
        resolve({ status: head.status, headers: head.headers, body, text, discard: () => body.destroy() })
        // Read on only once the caller takes the body.
        paused = true
        if (rest.length > 0) readBody(rest, undefined)
      }

      const onRead = (nread: number): boolean => {
        const slot = reading
        if (slot === undefined) return false
        try {
          if (phase === "head") readHead(slot.buffer.subarray(0, nread))
          else if (phase === "body") {
            timer?.refresh()
            readBody(slot.buffer.subarray(0, nread), slot)
          }
        } catch (error) {
          fail(error instanceof Error ? error : new Error(String(error)))
        } finally {
          slot.reading = false
          pool.settle(slot)
          reading = undefined
        }
        return phase !== "done" && !paused
      }
      const nextBuffer = (): Buffer => {
        const slot = pool.take()
        reading = slot
        return slot.buffer
      }

      const onread: net.OnReadOpts = { buffer: nextBuffer, callback: onRead }
      // `tls.connect` takes `onread` too (Node ≥ 15, when it makes the socket itself); @types/node omits it.
      const secureOptions: tls.ConnectionOptions & { readonly onread: net.OnReadOpts } = {
        host,
        port,
        onread,
        ALPNProtocols: ["http/1.1"],
        ...(net.isIP(host) === 0 ? { servername: host } : {})
      }
      const socket: net.Socket = secure ? tls.connect(secureOptions) : net.connect({ host, port, onread })
      socket.once(secure ? "secureConnect" : "connect", () => {
        connected = true
      })
      socket.on("error", (error) => fail(error))
      const closed = () => {
        if (reading !== undefined) {
          reading.reading = false
          pool.settle(reading)
          reading = undefined
        }
        if (phase === "body" && framing.closeEnds) finish({})
        else if (phase === "body") fail(new Error(cutOffMessage))
        else finish({})
      }
      socket.once("end", closed)
      socket.once("close", closed)
      socket.write(wire)

      const body: ExportBody = {
        start: (next) => {
          if (sink !== undefined || dropped || phase === "head") return
          sink = next
          paused = false
          // What came with the head (copies); the consumer may pause or drop the body meanwhile.
          for (const piece of early.splice(0)) {
            if (dropped) return
            next.chunk(piece)
          }
          if (dropped) return
          if (earlyEnd !== undefined) {
            sink = undefined
            if (earlyEnd.error === undefined) next.end()
            else next.fail(earlyEnd.error)
            return
          }
          if (!paused) {
            startTimer()
            socket.resume()
          }
        },
        pause: () => {
          if (phase !== "body" || paused) return
          paused = true
          stopTimer()
          socket.pause()
        },
        resume: () => {
          if (phase !== "body" || !paused || sink === undefined) return
          paused = false
          startTimer()
          socket.resume()
        },
        destroy: () => {
          dropped = true
          sink = undefined
          phase = "done"
          stopTimer()
          socket.destroy()
        },
        hold: () => {
          const slot = delivering
          if (slot === undefined) return release
          slot.holds++
          let held = true
          return () => {
            if (!held) return
            held = false
            slot.holds--
            pool.settle(slot)
          }
        },
        reusesMemory: true
      }

      const text = (maxBytes: number): Promise<string> =>
        new Promise((done, refuse) => {
          const pieces: Array<Buffer> = []
          let size = 0
          body.start({
            chunk: (piece) => {
              size += piece.length
              if (size > maxBytes) {
                body.destroy()
                refuse(new Error(`the upstream response is larger than ${maxBytes} bytes`))
                return
              }
              pieces.push(Buffer.from(piece))
            },
            end: () => done(Buffer.concat(pieces, size).toString("utf8")),
            fail: (error) => refuse(error)
          })
        })
    })
}
