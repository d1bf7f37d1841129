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
import { Effect, Either, Schema, Stream } from "effect"

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
 * The upstream body as a web stream with backpressure: the upstream is read
 * only as fast as the caller reads, so a slow caller slows the upstream
 * transfer instead of filling the proxy's memory. An upstream cut-off or a
 * conversion error aborts the caller's response (see `onCutOff`).
 */
export const streamBody = <E>(
  source: Stream.Stream<Uint8Array, E>,
  converter: Converter,
  onCutOff: (error: Error) => "socket destroyed" | "error the stream"
): ReadableStream<Uint8Array> => {
  const failure = (error: unknown): Error =>
    error instanceof Error ? error : new Error("the upstream closed the export before its end")
  const convert = (run: () => Uint8Array | undefined) => Effect.try({ try: run, catch: (error) => failure(error) })
  const converted = Stream.concat(
    Stream.mapEffect(
      Stream.mapError(source, failure),
      (chunk) => convert(() => converter.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
    ),
    Stream.fromEffect(convert(() => converter.end()))
  ).pipe(
    Stream.filter((chunk): chunk is Uint8Array => chunk !== undefined && chunk.byteLength > 0),
    Stream.catchAll((error) => onCutOff(error) === "socket destroyed" ? Stream.empty : Stream.fail(error))
  )
  return Stream.toReadableStream(converted, { strategy: { highWaterMark: 4 } })
}
