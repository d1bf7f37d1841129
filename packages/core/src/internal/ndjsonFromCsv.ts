/**
 * The audit-log export's CSV bytes straight to its NDJSON bytes, one output
 * buffer per input chunk, for `AuditLog.csvToNdjson`.
 *
 * The slow path is the definition: the CSV parser, the compiled row decoder
 * (which hands anything unusual to the Domain schemas), the JSON form
 * (`AuditLog.toJson`) and `JSON.stringify`. The fast path here writes the
 * same bytes without building text, events or dates, and only for rows it
 * can prove give exactly those bytes:
 *
 * - the header is exactly the export's eight columns, in the export's order;
 * - each row has eight fields, each unquoted or quoted without a doubled
 *   quote (except `attributes`), ended by LF or CRLF;
 * - the text fields need no JSON escape (no `"`, `\` or control character)
 *   and are valid UTF-8 (so `TextDecoder` would not replace anything and no
 *   lone surrogate can occur);
 * - the timestamp is canonical (`YYYY-MM-DDTHH:mm:ss.sssZ`, a real date), so
 *   `toISOString` writes it back as it is;
 * - `attributes` is empty or a JSON object already in `JSON.stringify`'s
 *   form: no whitespace, the escapes `JSON.stringify` writes and no others,
 *   numbers as `String(number)` writes them, no key twice, no key that is an
 *   array index (`JSON.parse` would move it first) and no `__proto__` key —
 *   so `JSON.stringify(JSON.parse(text))` is the text itself.
 *
 * A row that is valid CSV but fails one of these goes through the slow path
 * alone (its bytes are handed to the parser); CSV the fast path does not
 * follow (a field count that differs, a quote out of place, a blank line, a
 * lone CR) hands the rest of the chunk to the parser, which also produces
 * the errors. The fast path resumes at the next chunk that starts at a row.
 *
 * @internal
 */
import { daysInMonth } from "../Dates.js"
import { auditLogColumns } from "../Domain.js"
import { type CsvFailure, CsvParser, type RowSink } from "./csvParser.js"

const QUOTE = 34
const COMMA = 44
const LF = 10
const CR = 13
const BACKSLASH = 92

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0))

/** What comes before each field of a line, in the export's column order. */
const prefixes = [
  "{\"id\":",
  ",\"timestamp\":",
  ",\"event_name\":",
  ",\"user_email\":",
  ",\"deployment_id\":",
  ",\"deployment_name\":",
  ",\"ip_address\":",
  ",\"attributes\":"
].map(ascii)
/** The prefixes as little-endian 32-bit words (written four bytes at a time), and the 0–3 bytes left over. */
const prefixWords = prefixes.map((bytes) =>
  Array.from({ length: bytes.length >> 2 }, (_, k) => new DataView(bytes.buffer).getUint32(4 * k, true))
)
const prefixTails = prefixes.map((bytes) => bytes.subarray(bytes.length & ~3))
/** `null` as one little-endian word. */
const nullWord = new DataView(ascii("null").buffer).getUint32(0, true)
const lineEnd = ascii("}\n")

// What a byte is to a text field: copied as is, the end of an unquoted field, a quote, a character JSON
// escapes, or the first byte of a multi-byte UTF-8 sequence.
const PLAIN = 0
const FIELD_END = 1
const QUOTE_BYTE = 2
const ESCAPED = 3
const MULTI_BYTE = 4
const byteClass = Uint8Array.from({ length: 256 }, (_, b) =>
  b === COMMA || b === LF || b === CR
    ? FIELD_END
    : b === QUOTE
    ? QUOTE_BYTE
    : b < 0x20 || b === BACKSLASH
    ? ESCAPED
    : b >= 0x80
    ? MULTI_BYTE
    : PLAIN)

/** The columns the fast path reads: the export's, in this order only. */
export const fastColumns: ReadonlyArray<string> = auditLogColumns
const TIMESTAMP = auditLogColumns.indexOf("timestamp")
const ATTRIBUTES = auditLogColumns.indexOf("attributes")
/** `user_email`, `deployment_id`, `deployment_name`, `ip_address`: empty is `null`. */
const firstNullable = auditLogColumns.indexOf("user_email")

/**
 * Four bytes (a little-endian word) of an unquoted text field that need no
 * look: none is a comma, a quote, a backslash, a control character (CR and
 * LF among them) or a byte ≥ 0x80. Word-at-a-time tests: `(v - 0x01010101)
 * & ~v & 0x80808080` is non-zero when a byte of `v` is 0 (`v` XOR a repeated
 * byte: when a byte equals it), `(w - 0x20202020) & ~w` when a byte is below
 * 0x20. The numbers are written out: in the CLI's bundle, module constants
 * become variables, read at every use.
 */
const isPlainUnquoted = (word: number): boolean => {
  const comma = word ^ 0x2c2c2c2c
  const quote = word ^ 0x22222222
  const backslash = word ^ 0x5c5c5c5c
  return ((word | ((word - 0x20202020) & ~word) | ((comma - 0x01010101) & ~comma) |
    ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) & 0x80808080) === 0
}

/** As `isPlainUnquoted`, inside quotes: a comma needs no look there. */
const isPlainQuoted = (word: number): boolean => {
  const quote = word ^ 0x22222222
  const backslash = word ^ 0x5c5c5c5c
  return ((word | ((word - 0x20202020) & ~word) | ((quote - 0x01010101) & ~quote) |
    ((backslash - 0x01010101) & ~backslash)) & 0x80808080) === 0
}

const digit = (bytes: Uint8Array, at: number): number => {
  const d = bytes[at]! - 48
  return d >= 0 && d <= 9 ? d : -100_000
}

/** `YYYY-MM-DDTHH:mm:ss.sssZ` at `at`, years 1000–9999, every part in range (as `AuditLog.canonicalIsoMillis`). */
export const isCanonicalTimestamp = (bytes: Uint8Array, at: number): boolean => {
  if (
    bytes[at + 4] !== 45 || bytes[at + 7] !== 45 || bytes[at + 10] !== 84 || bytes[at + 13] !== 58 ||
    bytes[at + 16] !== 58 || bytes[at + 19] !== 46 || bytes[at + 23] !== 90
  ) return false
  const year = digit(bytes, at) * 1000 + digit(bytes, at + 1) * 100 + digit(bytes, at + 2) * 10 + digit(bytes, at + 3)
  const month = digit(bytes, at + 5) * 10 + digit(bytes, at + 6)
  const day = digit(bytes, at + 8) * 10 + digit(bytes, at + 9)
  const hours = digit(bytes, at + 11) * 10 + digit(bytes, at + 12)
  const minutes = digit(bytes, at + 14) * 10 + digit(bytes, at + 15)
  const seconds = digit(bytes, at + 17) * 10 + digit(bytes, at + 18)
  const millis = digit(bytes, at + 20) * 100 + digit(bytes, at + 21) * 10 + digit(bytes, at + 22)
  if (
    year < 1000 || month < 1 || month > 12 || day < 1 || hours < 0 || hours > 23 || minutes < 0 || minutes > 59 ||
    seconds < 0 || seconds > 59 || millis < 0
  ) return false
  return day <= daysInMonth(year, month)
}

/**
 * The length of the well-formed UTF-8 sequence of a non-ASCII lead byte at
 * `at` (2–4), or 0: not well-formed (an overlong form, a surrogate, a stray
 * continuation byte, beyond U+10FFFF, or cut by `end`).
 */
export const utf8SequenceLength = (bytes: Uint8Array, at: number, end: number): number => {
  const lead = bytes[at]!
  let length: number
  let low = 0x80
  let high = 0xbf
  if (lead >= 0xc2 && lead <= 0xdf) length = 2
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3
    if (lead === 0xe0) low = 0xa0
    else if (lead === 0xed) high = 0x9f
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4
    if (lead === 0xf0) low = 0x90
    else if (lead === 0xf4) high = 0x8f
  } else return 0
  if (at + length > end) return 0
  const second = bytes[at + 1]!
  if (second < low || second > high) return 0
  for (let k = 2; k < length; k++) {
    const next = bytes[at + k]!
    if (next < 0x80 || next > 0xbf) return 0
  }
  return length
}

const isHexLower = (byte: number): boolean => (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102)

/** Key positions of the objects being checked (start, end pairs), for the duplicate check. */
const maxKeys = 64
const maxDepth = 32
let keyStack = new Int32Array(2 * maxKeys * 4)

/**
 * End of the JSON string at `at` (a quote) in `JSON.stringify`'s form, or -1.
 * Escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, and `\u00xx` (lowercase)
 * for the other control characters — the only ones `JSON.stringify` writes
 * for well-formed text.
 */
const canonicalStringEnd = (bytes: Uint8Array, at: number, end: number): number => {
  let i = at + 1
  while (i < end) {
    const b = bytes[i]!
    if (b === QUOTE) return i + 1
    if (b === BACKSLASH) {
      if (i + 1 >= end) return -1
      const e = bytes[i + 1]!
      if (e === QUOTE || e === BACKSLASH || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2
        continue
      }
      // \u00XX for a control character without a short escape (not \b \t \n \f \r).
      if (
        e === 117 && i + 5 < end && bytes[i + 2] === 48 && bytes[i + 3] === 48 && (bytes[i + 4] === 48 ||
          bytes[i + 4] === 49) &&
        isHexLower(bytes[i + 5]!)
      ) {
        const h = bytes[i + 5]!
        const code = (bytes[i + 4] === 49 ? 16 : 0) + (h <= 57 ? h - 48 : h - 87)
        if (code === 8 || code === 9 || code === 10 || code === 12 || code === 13) return -1
        i += 6
        continue
      }
      return -1
    }
    if (b < 0x20) return -1
    if (b < 0x80) {
      i++
      continue
    }
    const length = utf8SequenceLength(bytes, i, end)
    if (length === 0) return -1
    i += length
  }
  return -1
}

/** Number text `[at, end)` is what `String(Number(text))` writes? */
const isCanonicalNumber = (bytes: Uint8Array, at: number, end: number): boolean => {
  let i = at
  if (bytes[i] === 45) i++
  // The common case, a small integer: 0, or no leading zero and at most 15 digits.
  if (end - i <= 15 && end > i) {
    let integer = true
    for (let k = i; k < end; k++) {
      const b = bytes[k]!
      if (b < 48 || b > 57) {
        integer = false
        break
      }
    }
    if (integer) return (bytes[i] !== 48 || end - i === 1) && !(i > at && end - i === 1 && bytes[i] === 48)
  }
  let text = ""
  for (let k = at; k < end; k++) text += String.fromCharCode(bytes[k]!)
  // JSON's grammar first (Number() also takes "0x1", "1.", ".5", "Infinity"…), then the round trip.
  return /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/.test(text) && String(Number(text)) === text
}

const isNumberByte = (b: number): boolean =>
  (b >= 48 && b <= 57) || b === 45 || b === 43 || b === 46 || b === 101 || b === 69

/** A key `JSON.parse` would not keep in place or as is: an array index (all digits) or `__proto__`. */
const isAwkwardKey = (bytes: Uint8Array, start: number, end: number): boolean => {
  // `start` and `end` are the quotes.
  let digits = true
  for (let k = start + 1; k < end - 1; k++) {
    const b = bytes[k]!
    if (b < 48 || b > 57) {
      digits = false
      break
    }
  }
  if (digits && end - start > 2) return true
  if (end - start !== 11) return false
  const proto = "__proto__"
  for (let k = 0; k < 9; k++) if (bytes[start + 1 + k] !== proto.charCodeAt(k)) return false
  return true
}

const sameBytes = (bytes: Uint8Array, a: number, b: number, length: number): boolean => {
  for (let k = 0; k < length; k++) if (bytes[a + k] !== bytes[b + k]) return false
  return true
}

/**
 * End of the JSON value at `at` in `JSON.stringify`'s form (see the module
 * comment), or -1 for anything else, including valid JSON in another form.
 */
const canonicalValueEnd = (bytes: Uint8Array, at: number, end: number, depth: number, keyBase: number): number => {
  if (at >= end) return -1
  const b = bytes[at]!
  if (b === 123) {
    if (depth >= maxDepth) return -1
    let i = at + 1
    if (bytes[i] === 125) return i + 1
    let keys = 0
    for (;;) {
      if (i >= end || bytes[i] !== QUOTE) return -1
      const keyEnd = canonicalStringEnd(bytes, i, end)
      if (keyEnd < 0 || isAwkwardKey(bytes, i, keyEnd)) return -1
      const keyLength = keyEnd - i
      for (let k = 0; k < keys; k++) {
        const otherStart = keyStack[keyBase + 2 * k]!
        if (keyStack[keyBase + 2 * k + 1]! - otherStart === keyLength && sameBytes(bytes, otherStart, i, keyLength)) {
          return -1
        }
      }
      if (keys >= maxKeys) return -1
      if (keyBase + 2 * keys + 2 > keyStack.length) {
        const grown = new Int32Array(keyStack.length * 2)
        grown.set(keyStack)
        keyStack = grown
      }
      keyStack[keyBase + 2 * keys] = i
      keyStack[keyBase + 2 * keys + 1] = keyEnd
      keys++
      if (keyEnd >= end || bytes[keyEnd] !== 58) return -1
      i = canonicalValueEnd(bytes, keyEnd + 1, end, depth + 1, keyBase + 2 * keys)
      if (i < 0 || i >= end) return -1
      const next = bytes[i]!
      if (next === 125) return i + 1
      if (next !== COMMA) return -1
      i++
    }
  }
  if (b === 91) {
    if (depth >= maxDepth) return -1
    let i = at + 1
    if (bytes[i] === 93) return i + 1
    for (;;) {
      i = canonicalValueEnd(bytes, i, end, depth + 1, keyBase)
      if (i < 0 || i >= end) return -1
      const next = bytes[i]!
      if (next === 93) return i + 1
      if (next !== COMMA) return -1
      i++
    }
  }
  if (b === QUOTE) return canonicalStringEnd(bytes, at, end)
  if (b === 116) {
    return at + 4 <= end && bytes[at + 1] === 114 && bytes[at + 2] === 117 && bytes[at + 3] === 101
      ? at + 4
      : -1
  }
  if (b === 102) {
    return at + 5 <= end && bytes[at + 1] === 97 && bytes[at + 2] === 108 && bytes[at + 3] === 115 &&
        bytes[at + 4] === 101
      ? at + 5
      : -1
  }
  if (b === 110) {
    return at + 4 <= end && bytes[at + 1] === 117 && bytes[at + 2] === 108 && bytes[at + 3] === 108
      ? at + 4
      : -1
  }
  if (b === 45 || (b >= 48 && b <= 57)) {
    let i = at + 1
    while (i < end && isNumberByte(bytes[i]!)) i++
    return isCanonicalNumber(bytes, at, i) ? i : -1
  }
  return -1
}

/**
 * `[start, end)` is a JSON object exactly as `JSON.stringify(JSON.parse(text))`
 * would write it, and one the schema keeps as it is (no `__proto__` or
 * array-index key, no key twice)?
 */
export const isCanonicalJsonObject = (bytes: Uint8Array, start: number, end: number): boolean =>
  bytes[start] === 123 && canonicalValueEnd(bytes, start, end, 0, 0) === end

/**
 * What the fast path relies on to prove a row gives the slow path's line.
 * Replaceable only so that the tests can check that they catch a broken proof.
 */
export interface Proofs {
  readonly timestamp: typeof isCanonicalTimestamp
  readonly utf8SequenceLength: typeof utf8SequenceLength
  readonly jsonObject: typeof isCanonicalJsonObject
}

const defaultProofs: Proofs = { timestamp: isCanonicalTimestamp, utf8SequenceLength, jsonObject: isCanonicalJsonObject }

// How `scan` stopped.
const DONE = 0 // every row of the chunk went out
const CUT = 1 // the chunk ends inside the row at `stop`: keep its bytes for the next chunk
const UNUSUAL = 2 // the row at `stop` is CSV the fast path does not follow: the parser takes the rest

/** Rows longer than this (without their end in sight) go to the parser instead of being held. */
const maxPendingRow = 1 << 20

/** @internal */
export class NdjsonFromCsv<A> {
  private readonly parser: CsvParser<A>
  /** Rows completed (the header is row 1), by either path. */
  private rows = 0
  /** The header is the export's, in order: rows may take the fast path. */
  private fastHeader = false
  /** Bytes of a row the last chunk cut (fast path only). */
  private pending: Uint8Array | undefined = undefined
  private out = new Uint8Array(0)
  /** `out`, to write four bytes at a time. */
  private outView = new DataView(this.out.buffer)
  private pos = 0
  private stop = 0
  /** A row error the slow path threw (what the row decoder throws), or a CSV failure. */
  failure: CsvFailure | undefined = undefined
  thrown: unknown = undefined
  private readonly encoder = new TextEncoder()

  /**
   * @param makeSink the slow path's row sink; it must call `onHeader` with the header when it sees it.
   * @param line an event as its NDJSON line (with its `\n`).
   * @param proofs the checks the fast path relies on (the tests break them on purpose).
   */
  constructor(
    makeSink: (onHeader: (header: ReadonlyArray<string>) => void) => RowSink<A>,
    private readonly line: (item: A) => string,
    private readonly proofs: Proofs = defaultProofs
  ) {
    this.parser = new CsvParser(
      makeSink((header) => {
        this.fastHeader = header.length === fastColumns.length && header.every((name, k) => name === fastColumns[k])
      }),
      ",",
      true
    )
  }

  /** True once a failure was met: nothing more is read. */
  get failed(): boolean {
    return this.failure !== undefined || this.thrown !== undefined
  }

  /** Rows completed so far, the header included. */
  get rowCount(): number {
    return this.rows
  }

  /** Feed CSV bytes; returns the NDJSON of the rows they completed (up to a failure, then see `failed`). */
  push(chunk: Uint8Array): Uint8Array {
    if (this.failed) return new Uint8Array(0)
    this.out = new Uint8Array(2 * (chunk.length + (this.pending?.length ?? 0)) + 4096)
    this.outView = new DataView(this.out.buffer)
    this.pos = 0
    try {
      let rest = chunk
      while (rest.length > 0 && !this.failed) {
        const pending = this.pending
        if (pending === undefined) {
          this.process(rest)
          break
        }
        // The row the last chunk cut: completed with this chunk's bytes up to its first LF (more if that LF
        // was inside quotes), so the rest of the chunk is read where it is, not copied.
        const lf = rest.indexOf(LF)
        const cut = lf === -1 ? rest.length : lf + 1
        const piece = new Uint8Array(pending.length + cut)
        piece.set(pending)
        piece.set(rest.subarray(0, cut), pending.length)
        this.pending = undefined
        rest = rest.subarray(cut)
        this.process(piece)
      }
    } catch (thrown) {
      this.thrown = thrown
    }
    return this.out.subarray(0, this.pos)
  }

  /** One piece of input: the fast path where it may go, the parser elsewhere. */
  private process(bytes: Uint8Array): void {
    const n = bytes.length
    let at = 0
    if (!this.fastHeader || !this.parser.atRowBoundary()) {
      // Before the header (its line alone, if it is all here), or after CSV the fast path did not follow.
      const headerEnd = this.rows === 0 ? bytes.indexOf(LF) + 1 : 0
      at = headerEnd > 0 ? headerEnd : n
      this.slow(bytes, 0, at)
    }
    if (at >= n || this.failed) return
    if (!this.fastHeader || !this.parser.atRowBoundary()) return this.slow(bytes, at, n)
    const how = this.scan(bytes, at, n)
    if (how === CUT) {
      if (n - this.stop > maxPendingRow) this.slow(bytes, this.stop, n)
      else this.pending = bytes.slice(this.stop)
    } else if (how === UNUSUAL) this.slow(bytes, this.stop, n)
  }

  /** End of input: the last rows' NDJSON (up to a failure, then see `failed`). */
  end(): Uint8Array {
    if (this.failed) return new Uint8Array(0)
    this.out = new Uint8Array(4096)
    this.outView = new DataView(this.out.buffer)
    this.pos = 0
    try {
      const pending = this.pending
      this.pending = undefined
      if (pending !== undefined) this.slow(pending, 0, pending.length)
      if (!this.failed) {
        let failure: ReturnType<typeof this.parser.end>
        try {
          failure = this.parser.end()
        } finally {
          this.take()
        }
        if (failure !== undefined) this.failure = failure
      }
    } catch (thrown) {
      this.thrown = thrown
    }
    return this.out.subarray(0, this.pos)
  }

  /** The parser (and the schemas) on `[from, to)`; its events go out as lines. */
  private slow(bytes: Uint8Array, from: number, to: number): void {
    if (from >= to) return
    this.parser.skipRows(this.rows - this.parser.rowCount)
    let failure: ReturnType<typeof this.parser.write>
    try {
      failure = this.parser.write(bytes.subarray(from, to))
    } finally {
      // A row the schemas refuse throws: the rows before it in this piece still go out first.
      this.take()
    }
    this.rows = this.parser.rowCount
    if (failure !== undefined) this.failure = failure
  }

  /** The slow path's completed events, as lines. */
  private take(): void {
    const sink = this.parser.sink
    const items = sink.out
    if (items.length === 0) return
    sink.out = []
    for (const item of items) {
      const text = this.line(item)
      this.ensure(3 * text.length)
      this.pos += this.encoder.encodeInto(text, this.out.subarray(this.pos)).written
    }
  }

  private ensure(room: number): void {
    if (this.out.length - this.pos >= room) return
    const grown = new Uint8Array(Math.max(2 * this.out.length, this.pos + room + 4096))
    grown.set(this.out.subarray(0, this.pos))
    this.out = grown
    this.outView = new DataView(grown.buffer)
  }

  /**
   * The fast path over the rows from `start`: every row it can prove is
   * written directly, every other complete row by `slow`. Returns how it
   * stopped; `stop` is the row it stopped at.
   */
  private scan(bytes: Uint8Array, start: number, n: number): number {
    const { jsonObject, timestamp, utf8SequenceLength } = this.proofs
    const input = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let rowStart = start
    while (rowStart < n) {
      // A row's line is at most its bytes plus the keys and nulls.
      this.ensure(n - rowStart + 256)
      const out = this.out
      const view = this.outView
      const rowPos = this.pos
      let pos = rowPos
      let i = rowStart
      let slow = false
      for (let c = 0; c < 8; c++) {
        const words = prefixWords[c]!
        for (let k = 0; k < words.length; k++) {
          view.setUint32(pos, words[k]!, true)
          pos += 4
        }
        const tail = prefixTails[c]!
        for (let k = 0; k < tail.length; k++) out[pos++] = tail[k]!
        if (i >= n) {
          this.stop = rowStart
          return CUT
        }
        if (bytes[i] === QUOTE) {
          i++
          if (c === ATTRIBUTES) {
            // Unquote (`""` → `"`) into the output, then check the JSON there.
            const valueStart = pos
            for (;;) {
              if (i >= n) {
                this.stop = rowStart
                return CUT
              }
              const b = bytes[i]!
              if (b === QUOTE) {
                if (i + 1 >= n) {
                  this.stop = rowStart
                  return CUT
                }
                if (bytes[i + 1] !== QUOTE) {
                  i++
                  break
                }
                i += 2
              } else i++
              out[pos++] = b
            }
            if (pos === valueStart) {
              out[pos++] = 123
              out[pos++] = 125
            } else if (!jsonObject(out, valueStart, pos)) slow = true
          } else {
            // A quoted text field: copied between JSON quotes when it needs no escape.
            const valueStart = pos
            out[pos++] = QUOTE
            for (;;) {
              if (i + 4 <= n) {
                const word = input.getUint32(i, true)
                if (isPlainQuoted(word)) {
                  view.setUint32(pos, word, true)
                  pos += 4
                  i += 4
                  continue
                }
              }
              if (i >= n) {
                this.stop = rowStart
                return CUT
              }
              const b = bytes[i]!
              if (b === QUOTE) {
                if (i + 1 >= n) {
                  this.stop = rowStart
                  return CUT
                }
                if (bytes[i + 1] !== QUOTE) {
                  i++
                  break
                }
                // A quote in the value: JSON escapes it.
                slow = true
                i += 2
              } else if (b >= 0x80) {
                const length = utf8SequenceLength(bytes, i, n)
                if (length === 0) {
                  slow = true
                  i++
                } else {
                  for (let k = 0; k < length; k++) out[pos++] = bytes[i + k]!
                  i += length
                }
              } else {
                if (b < 0x20 || b === BACKSLASH) slow = true
                out[pos++] = b
                i++
              }
            }
            if (c === TIMESTAMP) slow = true
            else if (c >= firstNullable && pos === valueStart + 1) {
              pos = valueStart
              view.setUint32(pos, nullWord, true)
              pos += 4
            } else out[pos++] = QUOTE
          }
        } else {
          // An unquoted field ends at a comma, CR or LF; a quote in it is an error the parser reports.
          const fieldStart = i
          if (c === TIMESTAMP) {
            if (i + 24 <= n && timestamp(bytes, i)) {
              out[pos++] = QUOTE
              for (let k = 0; k < 24; k += 4) view.setUint32(pos + k, input.getUint32(i + k, true), true)
              pos += 24
              out[pos++] = QUOTE
              i += 24
            } else {
              while (i < n) {
                const b = bytes[i]!
                if (b === COMMA || b === LF || b === CR) break
                if (b === QUOTE) {
                  this.stop = rowStart
                  return UNUSUAL
                }
                i++
              }
              slow = true
            }
          } else if (c === ATTRIBUTES) {
            while (i < n) {
              const b = bytes[i]!
              if (b === COMMA || b === LF || b === CR) break
              if (b === QUOTE) {
                this.stop = rowStart
                return UNUSUAL
              }
              i++
            }
            // Unquoted, only `{}` (or nothing) is an object in canonical form.
            if (
              i === fieldStart || (i === fieldStart + 2 && bytes[fieldStart] === 123 && bytes[fieldStart + 1] === 125)
            ) {
              out[pos++] = 123
              out[pos++] = 125
            } else slow = true
          } else {
            // Copied as it is while checked: four bytes at a time while none of them needs a look, else
            // byte by byte (a row found slow is written again). The word loop is written out here and in the
            // quoted field: one helper for both made the whole transcoder ~15% slower.
            const valueStart = pos
            out[pos++] = QUOTE
            while (i < n) {
              if (i + 4 <= n) {
                const word = input.getUint32(i, true)
                if (isPlainUnquoted(word)) {
                  view.setUint32(pos, word, true)
                  pos += 4
                  i += 4
                  continue
                }
              }
              const b = bytes[i]!
              const kind = byteClass[b]!
              if (kind === PLAIN) {
                out[pos++] = b
                i++
                continue
              }
              if (kind === FIELD_END) break
              if (kind === MULTI_BYTE) {
                const length = utf8SequenceLength(bytes, i, n)
                if (length === 0) {
                  slow = true
                  i++
                } else {
                  for (let k = 0; k < length; k++) out[pos++] = bytes[i + k]!
                  i += length
                }
                continue
              }
              if (kind === QUOTE_BYTE) {
                this.stop = rowStart
                return UNUSUAL
              }
              // ESCAPED
              slow = true
              i++
            }
            if (c >= firstNullable && pos === valueStart + 1) {
              pos = valueStart
              view.setUint32(pos, nullWord, true)
              pos += 4
            } else out[pos++] = QUOTE
          }
        }
        // What ends the field: a comma, or the line end after the last one.
        if (i >= n) {
          this.stop = rowStart
          return CUT
        }
        const t = bytes[i]!
        if (c < ATTRIBUTES) {
          if (t !== COMMA) {
            this.stop = rowStart
            return UNUSUAL
          }
          i++
        } else if (t === LF) i++
        else if (t === CR) {
          if (i + 1 >= n) {
            this.stop = rowStart
            return CUT
          }
          if (bytes[i + 1] !== LF) {
            this.stop = rowStart
            return UNUSUAL
          }
          i += 2
        } else {
          this.stop = rowStart
          return UNUSUAL
        }
      }
      if (slow) {
        this.pos = rowPos
        this.slow(bytes, rowStart, i)
        if (this.failed) return DONE
      } else {
        out[pos++] = lineEnd[0]!
        out[pos++] = lineEnd[1]!
        this.pos = pos
        this.rows++
      }
      rowStart = i
    }
    return DONE
  }
}
