/**
 * Streaming CSV (RFC 4180 plus the variants real exports use), as used by the
 * audit-log export: bytes in, header-keyed records out, and back.
 *
 * Decoding keeps only the row in progress between chunks, so memory does not
 * grow with the file, and emits every record completed by an input chunk as
 * one output chunk. The same decoder is available without Effect as
 * `makeDecoder`, for code that converts CSV on the fly.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { type CsvFailure, CsvParser, RecordsSink, type RowSink, RowsSink } from "./internal/csvParser.js"
import * as CsvScan from "./internal/csvScan.js"

/**
 * A malformed or truncated CSV: says which row (1-based, header = row 1) and
 * column (1-based; 0 where not tracked, as by `makeRowCounter`) and what was wrong.
 *
 * @since 0.1.0
 */
export class CsvError extends Schema.TaggedError<CsvError>()("CsvError", {
  message: Schema.String,
  row: Schema.Number,
  column: Schema.Number
}) {}

/** @since 0.1.0 */
export type CsvRecord = Readonly<Record<string, string>>

/** @since 0.1.0 */
export interface DecodeOptions {
  /** A single character other than a quote, CR or LF (anything else throws a `RangeError`). Default `","`. */
  readonly delimiter?: string
  /**
   * Keep a quote inside an unquoted field as a literal character (`5'10"`)
   * instead of failing. Default `false`: such a quote usually means the file
   * was cut or concatenated wrongly, and RFC 4180 does not allow it.
   */
  readonly relaxQuotes?: boolean
}

/**
 * The synchronous core of `decode`: feed it bytes as they arrive.
 *
 * @since 0.1.0
 */
export interface CsvDecoder {
  /** Feed bytes, get the records they completed. Throws `CsvError` on malformed input. */
  push(chunk: Uint8Array): Array<CsvRecord>
  /** End of input: the remaining records, or throws `CsvError` (for example, a truncated quoted field). */
  end(): Array<CsvRecord>
}

const makeParser = <A>(sink: RowSink<A>, options: DecodeOptions | undefined): CsvParser<A> =>
  new CsvParser(sink, options?.delimiter ?? ",", options?.relaxQuotes !== true)

const takeOutput = <A>(sink: RowSink<A>): Array<A> => {
  const out = sink.out
  sink.out = []
  return out
}

/**
 * Bytes to records keyed by the header row, without Effect.
 *
 * @since 0.1.0
 */
export const makeDecoder = (options?: DecodeOptions): CsvDecoder => {
  const sink = new RecordsSink()
  const parser = makeParser(sink, options)
  const orThrow = (failure: CsvFailure | undefined): Array<CsvRecord> => {
    if (failure !== undefined) throw new CsvError(failure)
    return takeOutput(sink)
  }
  return {
    push: (chunk) => orThrow(parser.write(chunk)),
    end: () => orThrow(parser.end())
  }
}

/**
 * Bytes to whatever `makeSink` builds from rows, as a stream: one output
 * chunk per input chunk; rows completed before a malformed one are still
 * emitted, then the stream fails with the `CsvError`. A sink that throws
 * (say, a row that does not decode) fails the stream with what it threw,
 * after the rows it completed before.
 *
 * @internal
 */
export const decodeWith = <A, E2 = never>(
  makeSink: () => RowSink<A>,
  options: DecodeOptions | undefined,
  rethrow: (thrown: unknown) => Channel.Channel<never, unknown, E2, unknown, never, unknown> = (thrown) =>
    Channel.failCause(Cause.die(thrown))
) =>
<E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<A, E | E2 | CsvError, R> =>
  Stream.pipeThroughChannel(
    self,
    Channel.suspend(() => {
      const sink = makeSink()
      const parser = makeParser(sink, options)
      const emit = (
        failure: CsvFailure | undefined
      ): Channel.Channel<Chunk.Chunk<A>, unknown, CsvError, unknown, void, unknown> => {
        const out = takeOutput(sink)
        const written = out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        return failure === undefined ? written : Channel.zipRight(written, Channel.fail(new CsvError(failure)))
      }
      const emitThenDie = (thrown: unknown) => Channel.zipRight(emit(undefined), rethrow(thrown))
      const loop: Channel.Channel<Chunk.Chunk<A>, Chunk.Chunk<Uint8Array>, E | E2 | CsvError, E, void, unknown> =
        Channel
          .readWithCause({
            onInput: (chunk: Chunk.Chunk<Uint8Array>) => {
              let failure: CsvFailure | undefined
              try {
                for (const bytes of chunk) {
                  failure = parser.write(bytes)
                  if (failure !== undefined) break
                }
              } catch (thrown) {
                return emitThenDie(thrown)
              }
              return failure === undefined ? Channel.flatMap(emit(undefined), () => loop) : emit(failure)
            },
            onFailure: Channel.failCause,
            onDone: () => {
              let failure: CsvFailure | undefined
              try {
                failure = parser.end()
              } catch (thrown) {
                return emitThenDie(thrown)
              }
              return emit(failure)
            }
          })
      return loop
    })
  )

/**
 * Bytes to records keyed by the header row. The header row is required; a
 * data row with a different field count than the header is a `CsvError`
 * naming the row. Unknown columns are kept (they are just keys).
 *
 * @since 0.1.0
 */
export const decode = (
  options?: DecodeOptions
): <E, R>(self: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<CsvRecord, E | CsvError, R> =>
  decodeWith(() => new RecordsSink(), options)

/**
 * Bytes to raw rows (arrays of fields), header included. Rows may differ in length.
 *
 * @since 0.1.0
 */
export const decodeRows = (
  options?: DecodeOptions
): <E, R>(self: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<ReadonlyArray<string>, E | CsvError, R> =>
  decodeWith(() => new RowsSink(), options)

/**
 * Counts the records of a CSV as its bytes pass, without decoding them, for
 * code that copies a file as it is (a download, a passthrough) and wants a
 * progress count and a cheap end-of-file check.
 *
 * @since 0.2.0
 */
export interface CsvRowCounter {
  /** Feed bytes as they pass (not copied, not kept); returns the records completed so far. */
  push(chunk: Uint8Array): number
  /**
   * End of input: the number of records (rows after the header; a last row
   * without a line end counts). Throws a `CsvError` if the input ended inside
   * a quoted field, the mark of a file cut short.
   */
  end(): number
}

class RowCounter implements CsvRowCounter {
  private readonly scanner = CsvScan.lineScanner()

  push(chunk: Uint8Array): number {
    return Math.max(0, this.scanner.push(chunk) - 1)
  }

  end(): number {
    const { lines, quoted } = this.scanner.finish()
    if (quoted) {
      // The row cut short is the last one, which `lines` already counts.
      const row = lines
      throw new CsvError({
        message:
          `CSV row ${row}: the input ended inside a quoted field (missing closing quote; is the file truncated?)`,
        row,
        column: 0
      })
    }
    return Math.max(0, lines - 1)
  }
}

/**
 * A `CsvRowCounter`: a line end (LF, or CRLF) outside quotes ends a row;
 * blank lines are not rows. One pass over the bytes, no text decoding: 16
 * bytes at a time with WebAssembly SIMD where it runs (4 bytes at a time in
 * JavaScript where it does not), so it keeps up with the network. It does not check what `decode` checks
 * (field counts, characters after a closing quote, the delimiter): use it
 * where the bytes are passed on as they are. Its `CsvError` names the row;
 * its column is 0 (not tracked).
 *
 * @since 0.2.0
 */
export const makeRowCounter = (): CsvRowCounter => new RowCounter()

/**
 * The end-of-file check of `CsvRowCounter` without the count: whether the
 * bytes so far end inside a quoted field. For code that passes a CSV on
 * and wants a file cut inside a field to fail, but shows no progress.
 *
 * @since 0.2.0
 */
export interface CsvQuoteCheck {
  /** Feed bytes as they pass (not copied, not kept). */
  push(chunk: Uint8Array): void
  /** End of input: throws a `CsvError` (row 0: not counted) if the input ended inside a quoted field. */
  end(): void
}

/**
 * A `CsvQuoteCheck`: the quote state of a CSV is the parity of its quote
 * characters (a doubled quote flips it twice), so this only needs that
 * parity: the quote bytes are marked 16 at a time (WebAssembly SIMD; 4 at a
 * time in JavaScript where it does not run) and folded together by XOR, no
 * branch per byte, several times cheaper than counting rows.
 *
 * @since 0.2.0
 */
export const makeQuoteCheck = (): CsvQuoteCheck => {
  const scanner = CsvScan.quoteScanner()
  return {
    push: (chunk) => scanner.push(chunk),
    end: () => {
      if (scanner.quoted()) {
        throw new CsvError({
          message: "CSV: the input ended inside a quoted field (missing closing quote; is the file truncated?)",
          row: 0,
          column: 0
        })
      }
    }
  }
}

/**
 * Whether a field is written quoted: when it contains a comma, a quote, CR
 * or LF, or starts or ends with a space or tab (many readers trim unquoted
 * fields). The one rule for `encodeField` and the byte writer of
 * `AuditLog.csvChunks`.
 *
 * @internal
 */
export const needsQuotes = (field: string): boolean => {
  const length = field.length
  if (length === 0) return false
  const first = field.charCodeAt(0)
  const last = field.charCodeAt(length - 1)
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return true
  for (let k = 0; k < length; k++) {
    const unit = field.charCodeAt(k)
    // `"` `,` LF CR
    if (unit === 0x22 || unit === 0x2c || unit === 0x0a || unit === 0x0d) return true
  }
  return false
}

/**
 * One field as CSV: quoted (quotes inside doubled) only when it contains a
 * comma, a quote, CR or LF, or starts or ends with a space or tab.
 *
 * @since 0.2.0
 */
export const encodeField = (field: string): string => needsQuotes(field) ? `"${field.replaceAll("\"", "\"\"")}"` : field

/**
 * One row as a CSV line with a CRLF terminator. A field is quoted only when it
 * contains a comma, a quote, CR or LF, or starts or ends with a space or tab;
 * quotes inside are doubled. A row of one empty field is written as `""` so
 * that it is not read back as a blank line.
 *
 * @since 0.1.0
 */
export const encodeRow = (fields: ReadonlyArray<string>): string => {
  if (fields.length === 1 && fields[0] === "") return "\"\"\r\n"
  let line = ""
  for (let k = 0; k < fields.length; k++) {
    if (k > 0) line += ","
    line += encodeField(fields[k]!)
  }
  return line + "\r\n"
}

type EncodableRecord = Readonly<Record<string, string | null | undefined>>

// Text chunks are cut at about this many UTF-16 units, whatever the input chunking.
const targetChunkLength = 64 * 1024

const encodeChunk = (columns: ReadonlyArray<string>, records: Chunk.Chunk<EncodableRecord>): Chunk.Chunk<string> => {
  const out: Array<string> = []
  const fields: Array<string> = new Array(columns.length)
  let text = ""
  for (const record of records) {
    for (let k = 0; k < columns.length; k++) {
      const value = record[columns[k]!]
      fields[k] = typeof value === "string" ? value : ""
    }
    text += encodeRow(fields)
    if (text.length >= targetChunkLength) {
      out.push(text)
      text = ""
    }
  }
  if (text.length > 0) out.push(text)
  return Chunk.unsafeFromArray(out)
}

/**
 * Records to CSV text: the header row first (the given columns, in that
 * order), then one line per record. Missing, `null` and `undefined` values
 * become empty fields; keys not in `columns` are left out. Emitted in chunks
 * of at most about 64 KiB, never the whole file at once.
 *
 * @since 0.1.0
 */
export const encode = (
  columns: ReadonlyArray<string>
) =>
<E, R>(self: Stream.Stream<EncodableRecord, E, R>): Stream.Stream<string, E, R> =>
  Stream.concat(
    Stream.sync(() => encodeRow(columns)),
    Stream.mapChunks(self, (records) => encodeChunk(columns, records))
  )

/**
 * Records to CSV as UTF-8 bytes; see `encode`.
 *
 * @since 0.1.0
 */
export const encodeBytes = (
  columns: ReadonlyArray<string>
) =>
<E, R>(self: Stream.Stream<EncodableRecord, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.encodeText(encode(columns)(self))
