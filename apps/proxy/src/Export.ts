/**
 * Streaming the audit-log export through the proxy: the upstream body as a
 * web stream with backpressure, checked on the way by core's CSV decoder, or
 * converted by it to NDJSON on the fly. Nothing here holds more than a few
 * chunks of the export.
 *
 * @since 0.1.0
 */
import * as Csv from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { Either, Schema } from "effect"
import type { Readable } from "node:stream"

const decodeCsvEvent = Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)
const encodeEvent = Schema.encodeEither(Domain.AuditLogEvent)

/** Turns each upstream chunk into output bytes; `end` flushes. Both throw on bad input. */
export interface Converter {
  readonly push: (chunk: Buffer) => Uint8Array | undefined
  readonly end: () => Uint8Array | undefined
}

/**
 * The CSV as it came, checked on the way by core's decoder: a file cut inside
 * a row (a truncated quoted field, a short row) fails the stream, so the
 * caller sees an aborted transfer instead of a clean short file.
 */
export const csvChecker = (): Converter => {
  const decoder = Csv.makeDecoder()
  return {
    push: (chunk) => {
      decoder.push(chunk)
      return chunk
    },
    end: () => {
      decoder.end()
      return undefined
    }
  }
}

/** CSV → NDJSON on the fly: one JSON audit event (core's JSON form) per line. */
export const ndjsonConverter = (): Converter => {
  const decoder = Csv.makeDecoder()
  const lines = (records: ReadonlyArray<Csv.CsvRecord>): Uint8Array | undefined => {
    if (records.length === 0) return undefined
    let text = ""
    for (const record of records) {
      const event = decodeCsvEvent(record)
      if (Either.isLeft(event)) throw new Error(`audit-log row ${event.left.message}`)
      const json = encodeEvent(event.right)
      if (Either.isLeft(json)) throw new Error(`audit-log row ${json.left.message}`)
      text += `${JSON.stringify(json.right)}\n`
    }
    return Buffer.from(text)
  }
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
