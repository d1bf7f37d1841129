/**
 * Streaming the audit-log export through the proxy: the upstream body with
 * backpressure — written straight to the Node response, or as a web stream
 * elsewhere — passed on as it came (with a cheap check that it does not end
 * inside a quoted field), or converted to NDJSON on the
 * fly by core's `AuditLog` transcoder, the JSON lines of the same typed,
 * schema-checked events the client streams give. Nothing here holds more than a few chunks of the
 * export. Each converter is a self-contained value: the app only picks one.
 *
 * @since 0.1.0
 */
import * as AuditLog from "@cubeplane/core/AuditLog"
import * as Csv from "@cubeplane/core/Csv"
import type { Body } from "@cubeplane/core/NodeHttp"
import type { ServerResponse } from "node:http"

/** Where a converter puts its output: zero, one or more pieces per input chunk, in order. */
export type Emit = (bytes: Uint8Array) => void

/** Turns each upstream chunk into output bytes, handed to `emit`; `end` flushes. Both throw on bad input. */
export interface Converter {
  readonly push: (chunk: Buffer, emit: Emit) => void
  readonly end: (emit: Emit) => void
  /** It may keep views of an input chunk after its push (then reused memory is copied for it). */
  readonly keepsInput?: boolean
}

/**
 * The CSV as it came, byte for byte: core's `Csv.makeQuoteCheck` follows the
 * quotes as the bytes pass (their parity, nothing decoded, no rows counted),
 * so a file cut inside a quoted field fails the stream and the caller sees an
 * aborted transfer instead of a clean short file. (A cut connection is caught
 * by `streamBody` / `pipeToNode` themselves.) It keeps no view of a chunk:
 * the chunks it passes on are written before their memory is reused.
 */
export const csvPassthrough = (): Converter => {
  const check = Csv.makeQuoteCheck()
  return {
    push: (chunk, emit) => {
      check.push(chunk)
      emit(chunk)
    },
    end: () => check.end()
  }
}

/**
 * CSV → NDJSON on the fly: core's `AuditLog.makeCsvNdjsonTranscoder` (the
 * lines of the typed events, byte for byte what the Domain schemas give —
 * copied straight from the CSV bytes where the bytes prove the line, decoded
 * and encoded by the schemas otherwise), one batch of lines per upstream
 * chunk, as the CLI's `--format ndjson` writes them. A malformed export
 * throws after the lines before the bad row.
 */
export const ndjsonConverter = (): Converter => {
  const transcoder = AuditLog.makeCsvNdjsonTranscoder()
  const lines = (bytes: Uint8Array, emit: Emit): void => {
    if (bytes.byteLength > 0) emit(bytes)
    if (transcoder.failure !== undefined) throw transcoder.failure
  }
  return {
    push: (chunk, emit) => lines(transcoder.push(chunk), emit),
    end: (emit) => lines(transcoder.end(), emit),
    keepsInput: true
  }
}

const asError = (error: unknown): Error => error instanceof Error ? error : new Error("bad audit-log data")

/**
 * `converter`'s view of `source`'s chunks: a chunk whose memory the source
 * reuses is copied first when the converter may keep views of its input
 * past a push (`keepsInput`, the NDJSON transcoder's partial rows).
 */
const inputOf = (source: Body, converter: Converter) =>
  source.reusesMemory && converter.keepsInput === true
    ? (chunk: Buffer) => Buffer.from(chunk)
    : (chunk: Buffer) => chunk

/**
 * The upstream body as a web stream with backpressure: the upstream is
 * paused whenever a few chunks wait unread, so a slow caller slows the
 * upstream transfer instead of filling the proxy's memory. An upstream cut-off
 * or a conversion error aborts the caller's response (see `onCutOff`). For
 * runtimes without a Node response (`app.request`); under Node, `pipeToNode`.
 */
export const streamBody = (
  source: Body,
  converter: Converter,
  onCutOff: (error: Error) => "socket destroyed" | "error the stream"
): ReadableStream<Uint8Array> => {
  let done = false
  const input = inputOf(source, converter)
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const failWith = (error: Error) => {
          if (done) return
          done = true
          source.destroy()
          if (onCutOff(error) === "socket destroyed") controller.close()
          else controller.error(error)
        }
        // The stream's reader takes each piece later: a piece of reused memory is copied.
        const enqueue: Emit = (bytes) => {
          if (bytes.byteLength > 0) controller.enqueue(source.reusesMemory ? Buffer.from(bytes) : bytes)
        }
        source.start({
          chunk: (chunk) => {
            if (done) return
            try {
              converter.push(input(chunk), enqueue)
            } catch (error) {
              failWith(asError(error))
              return
            }
            if ((controller.desiredSize ?? 1) <= 0) source.pause()
          },
          end: () => {
            if (done) return
            try {
              converter.end(enqueue)
            } catch (error) {
              failWith(asError(error))
              return
            }
            done = true
            controller.close()
          },
          fail: failWith
        })
      },
      pull() {
        source.resume()
      },
      cancel() {
        done = true
        source.destroy()
      }
    },
    { highWaterMark: 4 }
  )
}

/**
 * The upstream body written straight to the caller's Node response, with
 * the same backpressure, cut-off and conversion rules as `streamBody` but
 * no web stream in between (each of those costs a few promises per chunk,
 * more than the copy itself): the upstream is paused while the caller's
 * socket is full. Each write holds the memory of the chunk it came from
 * until it is done (`Body.hold`), so the upstream's read buffers are
 * reused, not allocated per read. On a cut-off or a conversion error the
 * caller's connection is destroyed (`onCutOff`), so the transfer ends
 * without its final chunk — or, when not one byte had gone out yet (the head
 * is written with the first bytes), answered 502 `{"error"}`; if the caller
 * goes away, the upstream transfer is dropped. `onHead` is told, once, the
 * status the caller got: 200 when the head went out with the first bytes (or
 * at a clean end), 502 for the answer above, 499 when the caller went away
 * before either (nginx's "client closed request").
 */
export const pipeToNode = (
  source: Body,
  converter: Converter,
  response: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  /**
   * Told of the failure: `answered` when nothing had been sent (the caller gets a 502 `{"error"}`
   * whose `error` is the text it returns), `cut` when the caller's connection is cut.
   */
  onCutOff: (error: Error, outcome: "answered" | "cut") => string,
  /** The status the caller got, once it is decided (see above). */
  onHead: (status: number) => void = () => undefined
): void => {
  let done = false
  // The head goes out with the first bytes: until then a failure can still be a proper answer.
  let headed = false
  let told = false
  const tell = (sent: number) => {
    if (told) return
    told = true
    onHead(sent)
  }
  const head = () => {
    headed = true
    response.writeHead(status, headers)
    tell(status)
  }
  const input = inputOf(source, converter)
  const failWith = (error: Error) => {
    if (done) return
    done = true
    source.destroy()
    if (!headed && !response.headersSent) {
      // Nothing was sent (an upstream stalled or cut before its first bytes came through): a 502.
      const body = JSON.stringify({ error: onCutOff(error, "answered") })
      const kept = Object.entries(headers).filter(([name]) => name.toLowerCase() !== "content-disposition")
      response.writeHead(502, {
        ...Object.fromEntries(kept),
        "Content-Type": "application/json",
        "Content-Length": String(Buffer.byteLength(body)),
        Connection: "close"
      })
      response.end(body)
      tell(502)
      return
    }
    onCutOff(error, "cut")
    response.destroy()
  }
  let full = false
  const write: Emit = (bytes) => {
    if (bytes.byteLength === 0) return
    if (!headed) head()
    if (!response.write(bytes, source.hold())) full = true
  }
  response.on("drain", () => {
    full = false
    if (!done) source.resume()
  })
  const gone = () => {
    // The caller went away (or the response finished): nothing more to send.
    if (!headed) tell(499)
    if (done) return
    done = true
    source.destroy()
  }
  // The caller may have left while the proxy waited for the upstream's head: its "close" came already. (A
  // response with no socket yet is not gone: a pipelined request's answer gets the socket once the one before
  // it is finished, and what is written meanwhile waits, with backpressure, in the response.)
  if (response.destroyed || response.socket?.destroyed === true) return gone()
  response.once("close", gone)
  source.start({
    chunk: (chunk) => {
      if (done) return
      try {
        converter.push(input(chunk), write)
      } catch (error) {
        failWith(asError(error))
        return
      }
      if (full) source.pause()
    },
    end: () => {
      if (done) return
      try {
        converter.end(write)
      } catch (error) {
        failWith(asError(error))
        return
      }
      done = true
      if (!headed) head()
      response.end()
    },
    fail: failWith
  })
}
