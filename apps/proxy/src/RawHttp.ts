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
import { closeFraming, coded, type Framing, framingOf, malformed, parseHead, requestBytes } from "./HttpWire.js"

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
