/// <reference types="node" />
/**
 * `NodeHttp.make`: one request per connection, the socket read with `onread`
 * into pooled buffers (`bufferPool.ts`), the body framed by `httpWire.ts`.
 *
 * @internal
 */
import * as net from "node:net"
import type * as tls from "node:tls"
import type { Body, Sink } from "../NodeHttp.js"
import type { Exchange, ExchangeRequest, ExchangeResponse } from "../Transport.js"
import { BufferPool, type Slot } from "./bufferPool.js"
import { closeFraming, coded, type Framing, framingOf, malformed, parseHead, requestBytes } from "./httpWire.js"

const maxHeadBytes = 64 * 1024

export const cutOffMessage = "the server closed the connection before the body's end"

/** A cut-off, coded as Node's own client codes one (`ECONNRESET`, "aborted"). */
export const cutOff = (): Error => coded(cutOffMessage, "ECONNRESET")

const release = (): void => undefined

/** How to reach an origin: the `Host` header, and a connection whose reads go to `onread`. */
interface Connect {
  readonly host: string
  readonly open: (onread: net.OnReadOpts) => net.Socket
  /** The event after which the connection is made (and, for TLS, the handshake done). */
  readonly connected: "connect" | "secureConnect"
}

/** TLS settings of every `https:` connection. */
export interface TlsSettings {
  readonly ca?: Array<string | Buffer>
}

const connector = (origin: string, settings: TlsSettings): Connect | Promise<Connect> => {
  const url = new URL(origin)
  const secure = url.protocol === "https:"
  const port = Number(url.port === "" ? (secure ? 443 : 80) : url.port)
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  if (!secure) return { host: url.host, open: (onread) => net.connect({ host, port, onread }), connected: "connect" }
  // TLS is loaded only for an https origin (a few ms of start-up a plain-http run does not pay).
  return import("node:tls").then((tlsModule) => ({
    host: url.host,
    open: (onread) => {
      // `tls.connect` takes `onread` too (Node ≥ 15, when it makes the socket itself); @types/node omits it.
      const options: tls.ConnectionOptions & { readonly onread: net.OnReadOpts } = {
        host,
        port,
        onread,
        ALPNProtocols: ["http/1.1"],
        ...settings,
        ...(net.isIP(host) === 0 ? { servername: host } : {})
      }
      return tlsModule.connect(options)
    },
    connected: "secureConnect"
  }))
}

export const make = (timeoutMs: number, settings: TlsSettings): Exchange<Body> => {
  const pool = new BufferPool()
  return (request) => {
    let connect: Connect | Promise<Connect>
    try {
      connect = connector(request.origin, settings)
    } catch (error) {
      return Promise.reject(error)
    }
    return connect instanceof Promise
      ? connect.then((to) => exchange(pool, timeoutMs, to, request))
      : exchange(pool, timeoutMs, connect, request)
  }
}

const exchange = (
  pool: BufferPool,
  timeoutMs: number,
  connect: Connect,
  request: ExchangeRequest
): Promise<ExchangeResponse<Body>> =>
  new Promise((resolve, reject) => {
    const wire = requestBytes(request, connect.host)
    let phase: "head" | "body" | "done" = "head"
    let headText = ""
    let framing: Framing = closeFraming
    let sink: Sink | undefined
    /** Body bytes read before `start` (copies), and how it ended if it did. */
    const early: Array<Buffer> = []
    let earlyEnd: { readonly error?: Error } | undefined
    let paused = false
    /** The reader dropped the body: nothing more reaches it. */
    let dropped = false
    let connected = false
    /** The buffer the socket reads into next, and the one whose piece is being delivered. */
    let reading: Slot | undefined
    let delivering: Slot | undefined

    const onTimeout = () => {
      if (phase === "head") {
        fail(
          connected
            ? coded(`no response head within ${timeoutMs} ms`, "UND_ERR_HEADERS_TIMEOUT")
            : coded(`no connection within ${timeoutMs} ms`, "UND_ERR_CONNECT_TIMEOUT")
        )
      } else {
        fail(coded(`the server sent nothing for ${timeoutMs} ms`, "UND_ERR_BODY_TIMEOUT"))
      }
    }
    let timer: NodeJS.Timeout | undefined = setTimeout(onTimeout, timeoutMs)
    const stopTimer = () => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
    }
    const startTimer = () => {
      if (timer === undefined && phase !== "done") timer = setTimeout(onTimeout, timeoutMs)
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
        reject(outcome.error ?? coded("the server closed the connection before answering", "UND_ERR_SOCKET"))
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
      // From here the timer bounds each gap in the body, the wait for the reader to take it included.
      stopTimer()
      startTimer()
      resolve({ status: head.status, headers: head.headers, body, text, discard: () => body.destroy() })
      // Read on only once the reader takes the body.
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

    const socket = connect.open({ buffer: nextBuffer, callback: onRead })
    socket.once(connect.connected, () => {
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
      else if (phase === "body") fail(cutOff())
      else finish({})
    }
    socket.once("end", closed)
    socket.once("close", closed)
    socket.write(wire)

    const body: Body = {
      start: (next) => {
        if (sink !== undefined || dropped || phase === "head") return
        sink = next
        paused = false
        // What came with the head (copies); the reader may pause or drop the body meanwhile.
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
              refuse(new Error(`the response is larger than ${maxBytes} bytes`))
              return
            }
            pieces.push(Buffer.from(piece))
          },
          end: () => done(Buffer.concat(pieces, size).toString("utf8")),
          fail: (error) => refuse(error)
        })
      })
  })
