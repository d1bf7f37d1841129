/**
 * Streaming the audit-log export through the proxy: the upstream body as a
 * web stream with backpressure, passed on as it came (with a cheap check
 * that it does not end inside a quoted field), or converted to NDJSON on the
 * fly by core's `AuditLog` codec, the same typed, schema-checked events the
 * client streams give. Nothing here holds more than a few chunks of the
 * export. Each converter is a self-contained value: the app only picks one.
 *
 * @since 0.1.0
 */
import * as AuditLog from "@cubeplane/core/AuditLog"
import * as Csv from "@cubeplane/core/Csv"
import type { AuditLogEvent } from "@cubeplane/core/Domain"
import type { Readable } from "node:stream"

/** Turns each upstream chunk into output bytes; `end` flushes. Both throw on bad input. */
export interface Converter {
  readonly push: (chunk: Buffer) => Uint8Array | undefined
  readonly end: () => Uint8Array | undefined
}

/**
 * The CSV as it came, byte for byte: core's `Csv.makeRowCounter` follows the
 * quotes as the bytes pass (no decoding), so a file cut inside a quoted field
 * fails the stream and the caller sees an aborted transfer instead of a clean
 * short file. (A cut connection is caught by `streamBody` itself.)
 */
export const csvPassthrough = (): Converter => {
  const counter = Csv.makeRowCounter()
  return {
    push: (chunk) => {
      counter.push(chunk)
      return chunk
    },
    end: () => {
      counter.end()
      return undefined
    }
  }
}

/**
 * CSV → NDJSON on the fly: the upstream's rows decoded to typed events by
 * `AuditLog.makeCsvDecoder` (the Domain schemas, compiled once per file), then
 * written in their JSON form, one batch of lines per upstream chunk.
 */
export const ndjsonConverter = (): Converter => {
  const decoder = AuditLog.makeCsvDecoder()
  const lines = (events: ReadonlyArray<AuditLogEvent>): Uint8Array | undefined =>
    events.length === 0 ? undefined : Buffer.from(AuditLog.ndjsonLines(events))
  return { push: (chunk) => lines(decoder.push(chunk)), end: () => lines(decoder.end()) }
}

/**
 * The upstream body as a web stream with backpressure: the upstream socket is
 * paused whenever a few chunks wait unread, so a slow caller slows the
 * upstream transfer instead of filling the proxy's memory. An upstream cut-off
 * or a conversion error aborts the caller's response (see `onCutOff`).
 */
export const streamBody = (
  source: Readable,
  converter: Converter,
  onCutOff: (error: Error) => "socket destroyed" | "error the stream"
): ReadableStream<Uint8Array> => {
  let done = false
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
        source.on("data", (chunk: Buffer) => {
          if (done) return
          try {
            const out = converter.push(chunk)
            if (out !== undefined && out.byteLength > 0) controller.enqueue(out)
          } catch (error) {
            failWith(error instanceof Error ? error : new Error("bad audit-log data"))
            return
          }
          if ((controller.desiredSize ?? 1) <= 0) source.pause()
        })
        source.once("end", () => {
          if (done) return
          try {
            const out = converter.end()
            if (out !== undefined && out.byteLength > 0) controller.enqueue(out)
          } catch (error) {
            failWith(error instanceof Error ? error : new Error("bad audit-log data"))
            return
          }
          done = true
          controller.close()
        })
        source.once("error", (error) => failWith(error))
        source.once("close", () => {
          if (!source.readableEnded) failWith(new Error("the upstream closed the export before its end"))
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
