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
import { Cause, Channel, Chunk, Schema, Stream } from "effect"
import { type CsvFailure, CsvParser, RecordsSink, type RowSink, RowsSink } from "./internal/csvParser.js"

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

const CR = 13

// Bytes of a 4-byte word, compared all at once: `zeroBytes(word ^ 0x22222222)` has the high bit
// of each byte that is a quote (0x22) set, and no other bit (no carry crosses a byte: 0x7f + 0x7f
// < 0x100); 0x0a0a0a0a does the same for LF. The numbers are written inline, not as module
// constants: a bundler (esbuild, as the CLI's) turns those into mutable variables, which the
// JIT reads on every use, and these loops run for every 4 bytes of an export.
const zeroBytes = (word: number): number => ~(((word & 0x7f7f7f7f) + 0x7f7f7f7f) | word | 0x7f7f7f7f)
/** 1 if `marks` (high bits of bytes only) has an odd number of them. */
const parity = (marks: number): number => {
  let folded = marks >>> 7
  folded ^= folded >>> 16
  folded ^= folded >>> 8
  return folded & 1
}

/** Below this many bytes, a chunk is scanned byte by byte (a word view costs more than it saves). */
const minWordScan = 64

class RowCounter implements CsvRowCounter {
  private lines = 0
  private quoted = 0
  // Bytes seen before the current chunk, where the row in progress starts, and the byte before the chunk.
  private offset = 0
  private lineStart = 0
  private previous = -1

  /** The exact rule, byte by byte, over `chunk[from..to)`. */
  private scan(chunk: Uint8Array, from: number, to: number): void {
    let inQuotes = this.quoted
    let rows = this.lines
    let start = this.lineStart
    const base = this.offset
    // 0x22 a quote, 0x0a LF, 0x0d CR (inline: see `zeroBytes`).
    for (let i = from; i < to; i++) {
      const byte = chunk[i]!
      if (byte === 0x22) inQuotes ^= 1
      else if (byte === 0x0a && inQuotes === 0) {
        const at = base + i
        // Not a row: an empty line, or one that holds only a CR.
        if (at > start && !(at === start + 1 && (i > 0 ? chunk[i - 1] : this.previous) === 0x0d)) rows++
        start = at + 1
      }
    }
    this.quoted = inQuotes
    this.lines = rows
    this.lineStart = start
  }

  push(chunk: Uint8Array): number {
    const length = chunk.length
    // Four bytes at a time where the chunk allows an aligned word view. A word without a LF
    // (most of them) only adds its quotes: their marks are XOR-folded, and the parity of the fold
    // (that of their count) flips the quote state once, before the next word with a LF, which
    // goes through `scan` byte by byte.
    // The word arithmetic is written out here rather than called (`zeroBytes`, `parity`): in a
    // bundle that loads this module lazily (the CLI's), esbuild makes those functions mutable
    // variables, and calling them cost this loop ~15%. Whether a word holds a LF at all needs
    // less than marking each LF: `(x - 0x01010101) & ~x & 0x80808080` is non-zero exactly when
    // some byte of `x` is zero (a borrow only runs on from a zero byte).
    const head = Math.min(length, (4 - (chunk.byteOffset & 3)) & 3)
    const count = (length - head) >> 2
    if (length < minWordScan) this.scan(chunk, 0, length)
    else {
      this.scan(chunk, 0, head)
      const words = new Int32Array(chunk.buffer, chunk.byteOffset + head, count)
      let marks = 0
      for (let w = 0; w < count; w++) {
        const word = words[w]!
        const lf = word ^ 0x0a0a0a0a
        if (((lf - 0x01010101) & ~lf & 0x80808080) !== 0) {
          let folded = marks >>> 7
          folded ^= folded >>> 16
          folded ^= folded >>> 8
          this.quoted ^= folded & 1
          marks = 0
          const at = head + (w << 2)
          this.scan(chunk, at, at + 4)
        } else {
          const quote = word ^ 0x22222222
          marks ^= ~(((quote & 0x7f7f7f7f) + 0x7f7f7f7f) | quote | 0x7f7f7f7f)
        }
      }
      this.quoted ^= parity(marks)
      this.scan(chunk, head + (count << 2), length)
    }
    if (length > 0) this.previous = chunk[length - 1]!
    this.offset += length
    return this.records()
  }

  end(): number {
    const row = this.lines + 1
    if (this.quoted === 1) {
      throw new CsvError({
        message:
          `CSV row ${row}: the input ended inside a quoted field (missing closing quote; is the file truncated?)`,
        row,
        column: 0
      })
    }
    // A last row without a line end (and not just a CR).
    if (this.offset > this.lineStart && !(this.offset === this.lineStart + 1 && this.previous === CR)) this.lines++
    this.lineStart = this.offset
    return this.records()
  }

  private records(): number {
    return Math.max(0, this.lines - 1)
  }
}

/**
 * A `CsvRowCounter`: a line end (LF, or CRLF) outside quotes ends a row;
 * blank lines are not rows. One pass over the bytes, read a 4-byte word at a
 * time (only a word with a LF is looked at byte by byte), no text decoding,
 * so it keeps up with the network. It does not check what `decode` checks
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
 * parity: the quote bytes of each 4-byte word are marked and folded
 * together by XOR, no branch per byte, several times cheaper than counting
 * rows.
 *
 * @since 0.2.0
 */
export const makeQuoteCheck = (): CsvQuoteCheck => {
  let odd = 0
  const bytewise = (chunk: Uint8Array, from: number, to: number) => {
    for (let i = from; i < to; i++) if (chunk[i] === 0x22) odd ^= 1
  }
  return {
    push: (chunk) => {
      const length = chunk.length
      if (length < minWordScan) return bytewise(chunk, 0, length)
      const head = (4 - (chunk.byteOffset & 3)) & 3
      const count = (length - head) >> 2
      bytewise(chunk, 0, head)
      const words = new Int32Array(chunk.buffer, chunk.byteOffset + head, count)
      // The XOR of every word's quote marks has as many marks, modulo 2, as all of them together.
      let marks = 0
      for (let w = 0; w < count; w++) marks ^= zeroBytes(words[w]! ^ 0x22222222)
      odd ^= parity(marks)
      bytewise(chunk, head + (count << 2), length)
    },
    end: () => {
      if (odd === 1) {
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
