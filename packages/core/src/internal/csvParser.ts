/**
 * The incremental CSV scanner behind `Csv.ts`.
 *
 * It is a resumable state machine over decoded text: between two chunks it keeps
 * only the fields of the row in progress and the raw text of the field in
 * progress, so memory does not grow with the input. Within a chunk it finds
 * field ends with `indexOf` (native, vectorised) and remembers the next
 * delimiter / LF / CR / quote positions until they are passed, so every
 * character is looked at a small constant number of times.
 *
 * Errors are returned as plain data (`CsvFailure`), not thrown, so a caller can
 * still emit the rows completed before the bad one; `Csv.ts` turns them into
 * `CsvError`s.
 *
 * @internal
 */

/** @internal */
export interface CsvFailure {
  readonly message: string
  readonly row: number
  readonly column: number
}

/**
 * What to do with each completed row. `fields` is a scratch array owned by the
 * parser: only its first `count` entries belong to this row, and it is reused
 * for the next row, so a sink must copy what it keeps.
 *
 * @internal
 */
export interface RowSink<A> {
  /** Completed outputs, taken (and replaced) by the caller after each write. */
  out: Array<A>
  onRow(fields: Array<string>, count: number, row: number): CsvFailure | undefined
  onEnd(rows: number): CsvFailure | undefined
  /**
   * Columns (by index) whose fields are taken through a `ColumnInterner`
   * (repeated values become one shared string); read for every field, so a
   * sink may set it when it has seen the header.
   */
  readonly picks?: ReadonlyArray<ColumnInterner | undefined>
}

import type { ColumnInterner } from "./interner.js"

const QUOTE = 34
const LF = 10
const CR = 13

// Where the scanner stopped when a chunk ran out.
const FIELD_START = 0 // at the start of a field (or of a row when `col === 0`)
const UNQUOTED = 1 // inside an unquoted field; `buf` holds its text so far
const QUOTED = 2 // inside a quoted field; `buf` holds its raw text so far
const QUOTED_QUOTE = 3 // a quote inside a quoted field was the last character: closing or first of `""`?
const AFTER_CR = 4 // a row ended with CR as the last character: skip an LF that may follow

/** Bytes decoded to text at a time (at most 32 KiB of two-byte text: a young-generation string). */
const decodePiece = 16 * 1024

/** @internal */
export const validateDelimiter = (delimiter: string): string => {
  if (delimiter.length !== 1 || delimiter === "\"" || delimiter === "\r" || delimiter === "\n") {
    throw new RangeError(
      `CSV delimiter must be a single character other than a quote, CR or LF, got ${JSON.stringify(delimiter)}`
    )
  }
  return delimiter
}

/** The bytes end with the start of a multi-byte UTF-8 sequence that is not complete (or may not be). */
const endsInsideSequence = (bytes: Uint8Array): boolean => {
  for (let k = 1; k <= 3 && k <= bytes.length; k++) {
    const b = bytes[bytes.length - k]!
    if (b < 0x80) return false
    if (b >= 0xc0) return (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) > k
  }
  return false
}

/** @internal */
export class CsvParser<A> {
  private readonly decoder = new TextDecoder("utf-8")
  private readonly delimiter: string
  private readonly delimiterCode: number
  private readonly strictQuotes: boolean
  /** Fields of the row in progress (scratch, reused across rows). */
  private readonly row: Array<string> = []
  private col = 0
  private mode = FIELD_START
  /** Text of the field in progress when a chunk ended inside it (unescaped, for quoted fields). */
  private buf = ""
  /** Rows completed so far; the row in progress is `rows + 1`. */
  private rows = 0
  /** Empty lines seen but not yet emitted: they are rows only if more data follows. */
  private blankLines = 0
  private failure: CsvFailure | undefined = undefined
  /** The last bytes fed may have ended inside a UTF-8 sequence, which the decoder then holds. */
  private decoderMayHold = false

  constructor(readonly sink: RowSink<A>, delimiter: string, strictQuotes: boolean) {
    this.delimiter = validateDelimiter(delimiter)
    this.delimiterCode = delimiter.charCodeAt(0)
    this.strictQuotes = strictQuotes
  }

  /** Rows completed so far (the header is row 1). */
  get rowCount(): number {
    return this.rows
  }

  /**
   * Counts rows another reader handled (so that the row numbers of later
   * errors stay right). Only between rows (`atRowBoundary`).
   */
  skipRows(count: number): void {
    this.rows += count
  }

  /**
   * True when the last bytes fed ended a row and nothing is pending (no field,
   * no blank line, no CR waiting for its LF, no failure): the next byte starts a row.
   */
  atRowBoundary(): boolean {
    return this.col === 0 && this.mode === FIELD_START && this.blankLines === 0 && this.failure === undefined &&
      !this.decoderMayHold
  }

  /** Feeds bytes; completed rows go to `sink`. Returns the failure, if any (and keeps returning it). */
  write(bytes: Uint8Array): CsvFailure | undefined {
    if (this.failure !== undefined) return this.failure
    // Decoded a piece at a time: a 64 KiB chunk with one non-ASCII character is a 128 KiB two-byte string,
    // which V8 allocates in its large-object space, outside the young generation, so every chunk's text
    // would stay in memory until a full collection (hundreds of MiB on a fast download).
    for (let at = 0; at < bytes.length; at += decodePiece) {
      const text = this.decoder.decode(
        at === 0 && bytes.length <= decodePiece ? bytes : bytes.subarray(at, at + decodePiece),
        { stream: true }
      )
      if (text.length > 0) {
        const failure = this.scan(text)
        if (failure !== undefined) return (this.failure = failure)
      }
    }
    if (bytes.length > 0) this.decoderMayHold = endsInsideSequence(bytes)
    return undefined
  }

  /** End of input: completes the last row, or fails if the input ended inside quotes. */
  end(): CsvFailure | undefined {
    if (this.failure !== undefined) return this.failure
    const text = this.decoder.decode()
    if (text.length > 0) {
      const failure = this.scan(text)
      if (failure !== undefined) return (this.failure = failure)
    }
    let failure: CsvFailure | undefined
    switch (this.mode) {
      case FIELD_START: {
        // `a,b` + EOF right after a delimiter: the last field is empty.
        if (this.col > 0) failure = this.endField("")
        break
      }
      case UNQUOTED: {
        failure = this.endField(this.buf)
        break
      }
      case QUOTED: {
        failure = this.fail(
          "the input ended inside a quoted field (missing closing quote; is the file truncated?)",
          this.col + 1
        )
        break
      }
      case QUOTED_QUOTE: {
        failure = this.endField(this.buf)
        break
      }
    }
    this.buf = ""
    this.mode = FIELD_START
    // Trailing empty lines are not rows.
    this.blankLines = 0
    return (this.failure = failure ?? this.sink.onEnd(this.rows))
  }

  /** A field the fast path did not take (quoted, or cut by a chunk's end), through its column's interner if any. */
  private picked(col: number, field: string): string {
    const picks = this.sink.picks
    const pick = picks === undefined ? undefined : picks[col]
    return pick === undefined ? field : pick.intern(field)
  }

  private endField(field: string): CsvFailure | undefined {
    field = this.picked(this.col, field)
    this.row[this.col++] = field
    const count = this.col
    this.col = 0
    return this.sink.onRow(this.row, count, ++this.rows)
  }

  private fail(problem: string, column: number): CsvFailure {
    const row = this.rows + 1
    return { message: `CSV row ${row}, column ${column}: ${problem}`, row, column }
  }

  private flushBlankLines(): CsvFailure | undefined {
    for (; this.blankLines > 0; this.blankLines--) {
      this.row[0] = ""
      const failure = this.sink.onRow(this.row, 1, ++this.rows)
      if (failure !== undefined) return failure
    }
    return undefined
  }

  // The hot loop. Kept in one function with locals so V8 keeps everything in registers;
  // the state is written back to `this` only when the chunk runs out or a row ends.
  private scan(text: string): CsvFailure | undefined {
    const n = text.length
    const delimiter = this.delimiter
    const delimiterCode = this.delimiterCode
    const strictQuotes = this.strictQuotes
    const row = this.row
    const sink = this.sink
    let col = this.col
    let mode = this.mode
    let i = 0
    // Next positions of each special character at or after the current field; `n` = none left.
    let nextDelimiter = -1
    let nextLF = -1
    let nextCR = -1
    let nextQuote = -1

    if (mode === AFTER_CR) {
      if (text.charCodeAt(0) === LF) i = 1
      mode = FIELD_START
    }

    for (;;) {
      let field = ""
      // Index of the character that ends `field`: a delimiter, CR or LF (always < n).
      let end = 0
      if (mode === FIELD_START) {
        if (i >= n) break
        const c = text.charCodeAt(i)
        if (col === 0) {
          if (c === LF || c === CR) {
            this.blankLines++
            if (c === LF || (i + 1 < n && text.charCodeAt(i + 1) === LF)) {
              i += c === LF ? 1 : 2
            } else if (i + 1 < n) {
              i += 1
            } else {
              i = n
              mode = AFTER_CR
              break
            }
            continue
          }
          if (this.blankLines > 0) {
            this.col = col
            const failure = this.flushBlankLines()
            if (failure !== undefined) return failure
          }
        }
        if (c === QUOTE) {
          mode = QUOTED
          i++
          this.buf = ""
        } else {
          // Fast path: an unquoted field ends at the nearest delimiter, LF or CR.
          if (nextDelimiter < i) {
            nextDelimiter = text.indexOf(delimiter, i)
            if (nextDelimiter === -1) nextDelimiter = n
          }
          if (nextLF < i) {
            nextLF = text.indexOf("\n", i)
            if (nextLF === -1) nextLF = n
          }
          if (nextCR < i) {
            nextCR = text.indexOf("\r", i)
            if (nextCR === -1) nextCR = n
          }
          end = nextDelimiter < nextLF ? nextDelimiter : nextLF
          if (nextCR < end) end = nextCR
          if (strictQuotes) {
            if (nextQuote < i) {
              nextQuote = text.indexOf("\"", i)
              if (nextQuote === -1) nextQuote = n
            }
            if (nextQuote < end) {
              this.col = col
              return this.fail(
                "a quote inside an unquoted field (a field that contains quotes must be quoted, with quotes doubled)",
                col + 1
              )
            }
          }
          if (end === n) {
            this.buf = text.slice(i)
            mode = UNQUOTED
            break
          }
          const picks = sink.picks
          const pick = picks === undefined ? undefined : picks[col]
          field = pick === undefined ? text.slice(i, end) : pick.take(text, i, end)
        }
      } else if (mode === UNQUOTED) {
        // Resuming an unquoted field cut by the previous chunk (i === 0 here).
        end = text.indexOf(delimiter)
        if (end === -1) end = n
        const lf = text.indexOf("\n")
        if (lf !== -1 && lf < end) end = lf
        const cr = text.indexOf("\r")
        if (cr !== -1 && cr < end) end = cr
        if (strictQuotes) {
          const quote = text.indexOf("\"")
          if (quote !== -1 && quote < end) {
            this.col = col
            return this.fail(
              "a quote inside an unquoted field (a field that contains quotes must be quoted, with quotes doubled)",
              col + 1
            )
          }
        }
        if (end === n) {
          this.buf += text
          break
        }
        field = this.picked(col, this.buf + text.slice(0, end))
        this.buf = ""
        mode = FIELD_START
      } else if (mode === QUOTED_QUOTE) {
        // The previous chunk ended on a quote inside a quoted field (i === 0 here).
        if (text.charCodeAt(0) === QUOTE) {
          this.buf += "\""
          i = 1
          mode = QUOTED
        } else {
          field = this.picked(col, this.buf)
          this.buf = ""
          mode = FIELD_START
          end = 0
          const t = text.charCodeAt(0)
          if (t !== delimiterCode && t !== LF && t !== CR) {
            this.col = col
            return this.fail("unexpected character after a closing quote (expected a delimiter or a line end)", col + 1)
          }
        }
      }
      if (mode === QUOTED) {
        // Step from quote to quote: a doubled quote is one literal quote, any other
        // quote closes the field. Unescaping as we go costs half of a `replaceAll` after.
        let value = this.buf
        let from = i
        let q = text.indexOf("\"", i)
        for (;;) {
          if (q === -1) {
            this.buf = value + text.slice(from)
            i = n
            break
          }
          if (q + 1 === n) {
            this.buf = value + text.slice(from, q)
            mode = QUOTED_QUOTE
            i = n
            break
          }
          if (text.charCodeAt(q + 1) !== QUOTE) break
          value += text.slice(from, q + 1)
          from = q + 2
          q = text.indexOf("\"", from)
        }
        if (i === n) break
        field = this.picked(col, value + text.slice(from, q))
        this.buf = ""
        mode = FIELD_START
        end = q + 1
        const t = text.charCodeAt(end)
        if (t !== delimiterCode && t !== LF && t !== CR) {
          this.col = col
          return this.fail("unexpected character after a closing quote (expected a delimiter or a line end)", col + 1)
        }
      }

      // `field` is complete and `text[end]` is what ended it.
      row[col++] = field
      const t = text.charCodeAt(end)
      if (t === delimiterCode) {
        i = end + 1
        continue
      }
      const count = col
      col = 0
      this.col = 0
      const failure = sink.onRow(row, count, ++this.rows)
      if (failure !== undefined) return failure
      if (t === LF) {
        i = end + 1
      } else if (end + 1 < n) {
        i = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
      } else {
        mode = AFTER_CR
        break
      }
    }
    this.col = col
    this.mode = mode
    return undefined
  }
}

/** Rows as fresh arrays of fields, header included, no field-count check. @internal */
export class RowsSink implements RowSink<ReadonlyArray<string>> {
  out: Array<ReadonlyArray<string>> = []
  onRow(fields: Array<string>, count: number): undefined {
    this.out.push(fields.slice(0, count))
  }
  onEnd(): undefined {}
}

type RecordBuilder = (fields: ReadonlyArray<string>) => Readonly<Record<string, string>>

/**
 * Rows keyed by the first row: the header is checked (no name twice) and
 * handed to `compile` once, and every later row, which must have as many
 * fields, goes through the builder it returned. A builder may throw to stop
 * the parse at that row (the rows before it are in `out`).
 *
 * @internal
 */
export class KeyedRowsSink<A> implements RowSink<A> {
  out: Array<A> = []
  picks: ReadonlyArray<ColumnInterner | undefined> = []
  private width = 0
  private build: ((fields: ReadonlyArray<string>, row: number) => A) | undefined = undefined

  constructor(
    private readonly compile: (header: ReadonlyArray<string>) => (fields: ReadonlyArray<string>, row: number) => A,
    /** Given the header, the interner of each column whose values repeat (see `RowSink.picks`). */
    private readonly pickColumns?: (header: ReadonlyArray<string>) => ReadonlyArray<ColumnInterner | undefined>,
    /** What is wrong with a header no row could be read by (the parse stops at row 1), or `undefined`. */
    private readonly checkHeader?: (header: ReadonlyArray<string>) => string | undefined
  ) {}

  onRow(fields: Array<string>, count: number, row: number): CsvFailure | undefined {
    if (this.build !== undefined) {
      if (count !== this.width) {
        const column = count < this.width ? count + 1 : this.width + 1
        return {
          message: `CSV row ${row}, column ${column}: the row has ${count} field${
            count === 1 ? "" : "s"
          } but the header has ${this.width}`,
          row,
          column
        }
      }
      this.out.push(this.build(fields, row))
      return undefined
    }
    const header = fields.slice(0, count)
    const seen = new Set<string>()
    for (let k = 0; k < count; k++) {
      const name = header[k]!
      if (seen.has(name)) {
        return {
          message: `CSV row ${row}, column ${k + 1}: the header names the column ${
            JSON.stringify(name)
          } twice, so records keyed by column name would lose a value`,
          row,
          column: k + 1
        }
      }
      seen.add(name)
    }
    const problem = this.checkHeader?.(header)
    if (problem !== undefined) return { message: `CSV row ${row}: ${problem}`, row, column: 1 }
    this.width = count
    this.build = this.compile(header)
    if (this.pickColumns !== undefined) this.picks = this.pickColumns(header)
    return undefined
  }

  onEnd(rows: number): CsvFailure | undefined {
    if (rows === 0) {
      return { message: "CSV row 1, column 1: the input is empty; expected a header row", row: 1, column: 1 }
    }
    return undefined
  }
}

/** Records keyed by the first row; every later row must have as many fields. @internal */
export class RecordsSink extends KeyedRowsSink<Readonly<Record<string, string>>> {
  constructor() {
    super(makeRecordBuilder)
  }
}

const isRecordBuilder = (u: unknown): u is RecordBuilder => typeof u === "function"

/**
 * Builds records with one object literal whose keys are the header, so every
 * record of a file shares one V8 hidden class and the stores are monomorphic.
 * Where code generation is not allowed (a CSP without `unsafe-eval`,
 * Cloudflare Workers) it falls back to assigning keys in a loop, which still
 * yields one shape per file, only more slowly.
 *
 * @internal
 */
export const makeRecordBuilder = (header: ReadonlyArray<string>): RecordBuilder => {
  try {
    // A literal `"__proto__": v` would set the prototype; a computed key defines an own property.
    const properties = header.map((name, k) => {
      const key = JSON.stringify(name)
      return name === "__proto__" ? `[${key}]: f[${k}]` : `${key}: f[${k}]`
    })
    const builder: unknown = new Function("f", `"use strict"; return {${properties.join(", ")}}`)
    if (isRecordBuilder(builder)) return builder
  } catch {
    // fall through to the interpreter-friendly builder
  }
  return makeLoopRecordBuilder(header)
}

/** @internal */
export const makeLoopRecordBuilder = (header: ReadonlyArray<string>): RecordBuilder => {
  const width = header.length
  if (header.includes("__proto__")) {
    return (fields) => {
      const record: Record<string, string> = {}
      for (let k = 0; k < width; k++) {
        Object.defineProperty(record, header[k]!, {
          value: fields[k]!,
          enumerable: true,
          writable: true,
          configurable: true
        })
      }
      return record
    }
  }
  return (fields) => {
    const record: Record<string, string> = {}
    for (let k = 0; k < width; k++) record[header[k]!] = fields[k]!
    return record
  }
}
