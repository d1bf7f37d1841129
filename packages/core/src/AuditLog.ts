/**
 * The audit-log export at the speed of the wire: CSV bytes to typed events,
 * events to their JSON form, and events to CSV, for the client streams, the
 * CLI, the proxy and the mock.
 *
 * The schemas in `Domain` (`AuditLogEventFromCsvRecord`, `AuditLogEvent`)
 * stay the definition of an event. What is here compiles them for the common
 * case, once per file: the header is looked at once, each row is read
 * straight from the parser's fields (no intermediate record), a canonical
 * ISO timestamp (`2024-01-15T10:30:00.000Z`) is read digit by digit, and the
 * result is the very value the schema would give. Anything else — another
 * timestamp format, columns added or missing, `attributes` that are not a
 * JSON object, any value the schema would reject — goes through the schema
 * itself, so the two cannot disagree on what an event is; the tests check
 * that they give the same events. `csvToNdjson` goes one step further for
 * NDJSON output: rows whose bytes prove the line the schemas would give are
 * copied into it without being decoded at all (see `internal/ndjsonFromCsv`).
 *
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Csv from "./Csv.js"
import { daysInMonth } from "./Dates.js"
import { auditLogColumns, AuditLogEvent, AuditLogEventFromCsvRecord, type AuditLogEventJson } from "./Domain.js"
import { CsvParser, KeyedRowsSink, makeRecordBuilder } from "./internal/csvParser.js"
import { ColumnInterner } from "./internal/interner.js"
import { unsupported, writeJsonQuotesDoubled } from "./internal/jsonCsvWriter.js"
import { NdjsonFromCsv, type Proofs } from "./internal/ndjsonFromCsv.js"
import { maxBytesPerUnit, writeUtf8, writeUtf8QuotesDoubled } from "./internal/utf8Writer.js"

/**
 * A row of the export that is valid CSV but not a valid event (a timestamp
 * that is not a date, `attributes` that are not JSON): says which row
 * (1-based, header = row 1), the event's id and what the schema said.
 *
 * @since 0.2.0
 */
export class AuditLogRowError extends Schema.TaggedError<AuditLogRowError>()("AuditLogRowError", {
  message: Schema.String,
  row: Schema.Number,
  id: Schema.String,
  detail: Schema.String
}) {}

// ---------------------------------------------------------------------------
// CSV → events
// ---------------------------------------------------------------------------

const decodeRecord = Schema.decodeUnknownEither(AuditLogEventFromCsvRecord)

/** Two ASCII digits at `at` as a number, or -1. */
const twoDigits = (text: string, at: number): number => {
  const tens = text.charCodeAt(at) - 48
  const ones = text.charCodeAt(at + 1) - 48
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : -1
}

// The day of the last canonical timestamp read: an export's rows come in time order, so most share it.
let lastDayKey = -1
let lastDayMillis = 0

/**
 * Milliseconds since the epoch of a canonical UTC timestamp
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`, years 1000–9999, every part in range), else
 * `NaN`: the caller then lets the schema (`new Date(text)`) decide. The
 * day's milliseconds are computed once for a run of timestamps of one day.
 *
 * @internal
 */
export const canonicalIsoMillis = (text: string): number => {
  if (
    text.length !== 24 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 ||
    text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58 || text.charCodeAt(19) !== 46 ||
    text.charCodeAt(23) !== 90
  ) return NaN
  const century = twoDigits(text, 0)
  const yearOfCentury = twoDigits(text, 2)
  const month = twoDigits(text, 5)
  const day = twoDigits(text, 8)
  const hours = twoDigits(text, 11)
  const minutes = twoDigits(text, 14)
  const seconds = twoDigits(text, 17)
  const centis = twoDigits(text, 20)
  const millis = text.charCodeAt(22) - 48
  if (
    century < 10 || yearOfCentury < 0 || month < 1 || month > 12 || day < 1 || hours < 0 || hours > 23 ||
    minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59 || centis < 0 || millis < 0 || millis > 9
  ) return NaN
  const dayKey = ((century * 100 + yearOfCentury) * 100 + month) * 100 + day
  if (dayKey !== lastDayKey) {
    const year = century * 100 + yearOfCentury
    if (day > daysInMonth(year, month)) return NaN
    lastDayMillis = Date.UTC(year, month - 1, day)
    lastDayKey = dayKey
  }
  return lastDayMillis + ((hours * 60 + minutes) * 60 + seconds) * 1000 + centis * 10 + millis
}

/**
 * The `attributes` column when it is empty (`{}`) or a JSON object, as the
 * schema would decode it; `undefined` for anything else (the schema decides).
 */
const objectFromJson = (text: string): Record<string, unknown> | undefined => {
  if (text === "") return {}
  // `{` first: a JSON object, not an array, string or number; leading spaces go the schema's way.
  if (text.charCodeAt(0) !== 123) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  // An own `__proto__` key (however it was escaped) is a case the schema's record copy treats its own way: let it
  // decide. Nested objects are the record's values, which the schema passes on as they are.
  return Predicate.isRecord(value) && !Object.hasOwn(value, "__proto__") ? value : undefined
}

const nullIfEmpty = (text: string): string | null => text === "" ? null : text

type RowDecoder = (fields: ReadonlyArray<string>, row: number) => AuditLogEvent

/**
 * The decoder of one file's rows, compiled from its header: a direct reader
 * when the header is exactly the export's columns (in any order), else the
 * schema on a header-keyed record.
 */
const compileRowDecoder = (header: ReadonlyArray<string>): RowDecoder => {
  const toRecord = makeRecordBuilder(header)
  const bySchema: RowDecoder = (fields, row) => {
    const record = toRecord(fields)
    const decoded = decodeRecord(record)
    if (Either.isRight(decoded)) return decoded.right
    return rowError(row, record.id ?? "", decoded.left.message)
  }
  const at = auditLogColumns.map((name) => header.indexOf(name))
  if (header.length !== auditLogColumns.length || at.some((k) => k < 0)) return bySchema
  const [id, timestamp, eventName, userEmail, deploymentId, deploymentName, ipAddress, attributes] = at
  return (fields, row) => {
    const millis = canonicalIsoMillis(fields[timestamp!]!)
    const attributesObject = objectFromJson(fields[attributes!]!)
    if (millis !== millis || attributesObject === undefined) return bySchema(fields, row)
    return {
      id: fields[id!]!,
      timestamp: new Date(millis),
      eventName: fields[eventName!]!,
      userEmail: nullIfEmpty(fields[userEmail!]!),
      deploymentId: nullIfEmpty(fields[deploymentId!]!),
      deploymentName: nullIfEmpty(fields[deploymentName!]!),
      ipAddress: nullIfEmpty(fields[ipAddress!]!),
      attributes: attributesObject
    }
  }
}

/**
 * What is wrong with an export's header: a column every event needs is not
 * in it (so no row could be an event; a file of no rows would pass for an
 * empty export). Extra columns and another order are fine. The header's own
 * text is not quoted: it came from whoever sent the file.
 *
 * @internal
 */
export const headerProblem = (header: ReadonlyArray<string>): string | undefined => {
  const missing = auditLogColumns.filter((name) => !header.includes(name))
  if (missing.length === 0) return undefined
  return `the header is not an audit-log export's: it lacks the column${missing.length === 1 ? "" : "s"} ${
    missing.join(", ")
  } (an export's header is ${auditLogColumns.join(",")}); is the file an audit-log export?`
}

const rowError = (row: number, id: string, detail: string): never => {
  throw new AuditLogRowError({
    message: `audit-log row ${row} (event ${JSON.stringify(id)}): ${detail}`,
    row,
    id,
    detail
  })
}

/**
 * The columns whose values repeat from row to row (a few event names, users, deployments and addresses): the
 * parser takes their fields through a bounded cache, so events share one string per value and no event keeps a
 * slice of the text it was read from (see `internal/interner`). Ids, timestamps and attributes are not cached.
 */
const repeatedColumns: ReadonlySet<string> = new Set([
  "event_name",
  "user_email",
  "deployment_id",
  "deployment_name",
  "ip_address"
])

const internRepeatedColumns = (header: ReadonlyArray<string>): Array<ColumnInterner | undefined> =>
  header.map((name) => repeatedColumns.has(name) ? new ColumnInterner() : undefined)

const makeSink = (shareRepeated = true) =>
  new KeyedRowsSink<AuditLogEvent>(
    compileRowDecoder,
    shareRepeated ? internRepeatedColumns : undefined,
    headerProblem
  )

/**
 * CSV bytes to events, oldest first as the file has them, in bounded memory:
 * one output chunk per input chunk. A malformed file fails with a
 * `CsvError`, a row that is not an event with an `AuditLogRowError`; the
 * events before it are emitted first.
 *
 * @since 0.2.0
 */
export const decodeCsv = <E, R>(
  self: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<AuditLogEvent, E | Csv.CsvError | AuditLogRowError, R> =>
  Csv.decodeWith(
    makeSink,
    undefined,
    (thrown) => thrown instanceof AuditLogRowError ? Channel.fail(thrown) : Channel.failCause(Cause.die(thrown))
  )(self)

/**
 * The synchronous core of `decodeCsv`, without Effect: feed it bytes, get
 * the events they completed.
 *
 * @since 0.2.0
 */
export interface CsvEventDecoder {
  /** Feed bytes, get the events they completed. Throws `CsvError` or `AuditLogRowError`. */
  push(chunk: Uint8Array): Array<AuditLogEvent>
  /** End of input: the last events, or throws (a truncated file, a bad last row). */
  end(): Array<AuditLogEvent>
}

/** @since 0.2.0 */
export const makeCsvDecoder = (): CsvEventDecoder => {
  const sink = makeSink()
  const parser = new CsvParser(sink, ",", true)
  const take = (failure: ReturnType<typeof parser.end>): Array<AuditLogEvent> => {
    if (failure !== undefined) throw new Csv.CsvError(failure)
    const out = sink.out
    sink.out = []
    return out
  }
  return {
    push: (chunk) => take(parser.write(chunk)),
    end: () => take(parser.end())
  }
}

/**
 * `makeCsvDecoder` for a reader that wants the events before a bad row
 * first: `push` and `end` return the events completed up to a failure, which
 * is then kept in `failure` (and nothing more is read).
 *
 * @internal
 */
export interface CsvEventReader {
  push(chunk: Uint8Array): Array<AuditLogEvent>
  end(): Array<AuditLogEvent>
  readonly failure: Csv.CsvError | AuditLogRowError | undefined
}

/**
 * `shareRepeated: false` leaves the repeated columns' values as the parser
 * cut them (the same values; only memory differs): for a reader whose
 * events are handed over one at a time and usually die young, where the
 * interner's lookups (about 5% of the CPU time at 1,000,000 events) buy
 * nothing.
 *
 * @internal
 */
export const makeCsvEventReader = (options?: { readonly shareRepeated?: boolean }): CsvEventReader => {
  const sink = makeSink(options?.shareRepeated ?? true)
  const parser = new CsvParser(sink, ",", true)
  let failure: Csv.CsvError | AuditLogRowError | undefined
  const take = (step: () => ReturnType<typeof parser.end>): Array<AuditLogEvent> => {
    if (failure !== undefined) return []
    try {
      const stopped = step()
      if (stopped !== undefined) failure = new Csv.CsvError(stopped)
    } catch (thrown) {
      if (!(thrown instanceof AuditLogRowError)) throw thrown
      failure = thrown
    }
    const out = sink.out
    sink.out = []
    return out
  }
  return {
    push: (chunk) => take(() => parser.write(chunk)),
    end: () => take(() => parser.end()),
    get failure() {
      return failure
    }
  }
}

// ---------------------------------------------------------------------------
// events → JSON form
// ---------------------------------------------------------------------------

const encodeBySchema = Schema.encodeSync(AuditLogEvent)

const pad2 = Array.from({ length: 100 }, (_, n) => n < 10 ? `0${n}` : `${n}`)
const pad3 = Array.from({ length: 1000 }, (_, n) => n < 10 ? `00${n}` : n < 100 ? `0${n}` : `${n}`)
const dayMillis = 86_400_000
// Year 10000: `toISOString` switches to six-digit years there.
const maxCanonicalMillis = 253_402_300_800_000

let cachedDay = NaN
let cachedDayPrefix = ""

/**
 * `date.toISOString()` for the dates of an export (1970 to 9999): the date
 * part is computed once per day, the time from integer arithmetic, which is
 * several times faster than `toISOString` on every event.
 *
 * @internal
 */
export const isoString = (millis: number): string => {
  if (!(millis >= 0 && millis < maxCanonicalMillis)) return new Date(millis).toISOString()
  const day = Math.floor(millis / dayMillis)
  if (day !== cachedDay) {
    cachedDayPrefix = new Date(day * dayMillis).toISOString().slice(0, 11)
    cachedDay = day
  }
  let rest = millis - day * dayMillis
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / 60_000)
  rest -= minutes * 60_000
  const seconds = Math.floor(rest / 1000)
  return `${cachedDayPrefix}${pad2[hours]}:${pad2[minutes]}:${pad2[seconds]}.${pad3[rest - seconds * 1000]}Z`
}

// `YYYY-MM-DDT` of the last day written by `writeIsoString`.
let cachedBytesDay = NaN
const cachedDayPrefixBytes = new Uint8Array(11)

/** Two ASCII digits of `n` (0–99) into `bytes` at `at`. */
const writeTwoDigits = (bytes: Uint8Array, at: number, n: number): void => {
  const tens = (n / 10) | 0
  bytes[at] = 48 + tens
  bytes[at + 1] = 48 + n - tens * 10
}

/**
 * `isoString(millis)` written as ASCII into `bytes` from `at` (room: 27
 * bytes); returns the new end. The same day cache and arithmetic, with no
 * string built for dates of an export (1970 to 9999).
 *
 * @internal
 */
export const writeIsoString = (bytes: Uint8Array, at: number, millis: number): number => {
  if (!(millis >= 0 && millis < maxCanonicalMillis)) return writeUtf8(bytes, at, new Date(millis).toISOString())
  const day = Math.floor(millis / dayMillis)
  if (day !== cachedBytesDay) {
    const prefix = new Date(day * dayMillis).toISOString()
    for (let k = 0; k < 11; k++) cachedDayPrefixBytes[k] = prefix.charCodeAt(k)
    cachedBytesDay = day
  }
  for (let k = 0; k < 11; k++) bytes[at + k] = cachedDayPrefixBytes[k]!
  at += 11
  let rest = millis - day * dayMillis
  const hours = Math.floor(rest / 3_600_000)
  rest -= hours * 3_600_000
  const minutes = Math.floor(rest / 60_000)
  rest -= minutes * 60_000
  const seconds = Math.floor(rest / 1000)
  rest -= seconds * 1000
  writeTwoDigits(bytes, at, hours)
  bytes[at + 2] = 58 // :
  writeTwoDigits(bytes, at + 3, minutes)
  bytes[at + 5] = 58
  writeTwoDigits(bytes, at + 6, seconds)
  bytes[at + 8] = 46 // .
  const hundreds = (rest / 100) | 0
  bytes[at + 9] = 48 + hundreds
  writeTwoDigits(bytes, at + 10, rest - hundreds * 100)
  bytes[at + 12] = 90 // Z
  return at + 13
}

const knownFieldCount = 8

/** Attributes with an own `__proto__` key: the schema's record copy treats that key its own way, so it decides. */
const hasOwnProtoKey = (attributes: object): boolean => Object.hasOwn(attributes, "__proto__")

/** True when the event has the eight fields of the schema and no others (no columns the schema did not know). */
const hasOnlyKnownFields = (event: AuditLogEvent): boolean => {
  let count = 0
  for (const _key in event) count++
  return count === knownFieldCount
}

/**
 * An event in its JSON form (snake_case, `null` where there is no value):
 * what `Schema.encode(Domain.AuditLogEvent)` gives, fields in the same order,
 * built directly when the event has only the schema's fields and a valid
 * date, else by the schema.
 *
 * @since 0.2.0
 */
export const toJson = (event: AuditLogEvent): AuditLogEventJson => {
  const millis = event.timestamp.getTime()
  if (millis !== millis || !hasOnlyKnownFields(event) || hasOwnProtoKey(event.attributes)) {
    return encodeBySchema(event)
  }
  return {
    id: event.id,
    timestamp: isoString(millis),
    event_name: event.eventName,
    user_email: event.userEmail,
    deployment_id: event.deploymentId,
    deployment_name: event.deploymentName,
    ip_address: event.ipAddress,
    attributes: event.attributes
  }
}

/**
 * Events as NDJSON text, one JSON form per line, for a batch at a time.
 *
 * @since 0.2.0
 */
export const ndjsonLines = (events: Iterable<AuditLogEvent>): string => {
  let text = ""
  for (const event of events) text += JSON.stringify(toJson(event)) + "\n"
  return text
}

// ---------------------------------------------------------------------------
// CSV → NDJSON
// ---------------------------------------------------------------------------

/** One event's NDJSON line: what `ndjsonLines` writes for it. */
const ndjsonLine = (event: AuditLogEvent): string => JSON.stringify(toJson(event)) + "\n"

/** @internal */
export const makeNdjsonFromCsv = (proofs?: Proofs): NdjsonFromCsv<AuditLogEvent> =>
  new NdjsonFromCsv(
    (onHeader) =>
      new KeyedRowsSink<AuditLogEvent>(
        (header) => {
          onHeader(header)
          return compileRowDecoder(header)
        },
        undefined,
        headerProblem
      ),
    ndjsonLine,
    proofs
  )

/**
 * The export's CSV bytes as NDJSON bytes: the same lines as `decodeCsv`
 * then `ndjsonLines` (the Domain schemas' events in their JSON form), one
 * output chunk per input chunk, in bounded memory. Rows whose bytes provably
 * give the same line (the export's columns, canonical timestamps,
 * `attributes` already in `JSON.stringify`'s form, text that needs no
 * escape) are copied field by field into the line without being decoded;
 * every other row goes through the decoder and the schemas. Fails as
 * `decodeCsv` does, after the lines of the rows before the bad one.
 * `onRows`, if given, is told how many events were written so far after
 * each output chunk (the lines before a failure included).
 *
 * @since 0.2.0
 */
export const csvToNdjson = <E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  /** Told the number of events written so far, after each output chunk (for a progress line). */
  onRows?: (rows: number) => void
): Stream.Stream<Uint8Array, E | Csv.CsvError | AuditLogRowError, R> =>
  Stream.pipeThroughChannel(
    self,
    Channel.suspend(() => {
      const transcoder = makeCsvNdjsonTranscoder()
      const emit = (
        out: Array<Uint8Array>
      ): Channel.Channel<Chunk.Chunk<Uint8Array>, unknown, Csv.CsvError | AuditLogRowError, unknown, void, unknown> => {
        onRows?.(transcoder.rows)
        const written = out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        const failure = transcoder.failure
        return failure === undefined ? written : Channel.zipRight(written, Channel.fail(failure))
      }
      const loop: Channel.Channel<
        Chunk.Chunk<Uint8Array>,
        Chunk.Chunk<Uint8Array>,
        E | Csv.CsvError | AuditLogRowError,
        E,
        void,
        unknown
      > = Channel.readWithCause({
        onInput: (chunk: Chunk.Chunk<Uint8Array>) =>
          Channel.suspend(() => {
            const out: Array<Uint8Array> = []
            for (const bytes of chunk) {
              const lines = transcoder.push(bytes)
              if (lines.length > 0) out.push(lines)
              if (transcoder.failure !== undefined) break
            }
            return transcoder.failure !== undefined ? emit(out) : Channel.flatMap(emit(out), () => loop)
          }),
        onFailure: Channel.failCause,
        onDone: () =>
          Channel.suspend(() => {
            const lines = transcoder.end()
            return emit(lines.length > 0 ? [lines] : [])
          })
      })
      return loop
    })
  )

/**
 * The synchronous core of `csvToNdjson`, without Effect: for a caller that
 * moves the bytes itself (say, from a Node socket into a file, one call per
 * chunk as it arrives). The same lines, the same failures.
 *
 * @since 0.2.0
 */
export interface CsvNdjsonTranscoder {
  /**
   * Feed CSV bytes; returns the NDJSON lines of the rows they completed (a
   * new buffer each call). At a failure, the lines before it, and the
   * failure is kept in `failure`: nothing more is read.
   */
  push(chunk: Uint8Array): Uint8Array
  /** End of input: the last lines (a truncated file or a bad last row: see `failure`). */
  end(): Uint8Array
  /** Events written so far (in the lines returned), for a progress line. */
  readonly rows: number
  /** Why the export stopped: malformed CSV (`CsvError`) or a row that is not an event (`AuditLogRowError`). */
  readonly failure: Csv.CsvError | AuditLogRowError | undefined
}

/**
 * A new transcoder for one export (see `csvToNdjson`). Anything else thrown
 * while reading (a bug, not bad input) is thrown by `push` or `end`.
 *
 * @since 0.2.0
 */
export const makeCsvNdjsonTranscoder = (): CsvNdjsonTranscoder => {
  const transcoder = makeNdjsonFromCsv()
  let failure: Csv.CsvError | AuditLogRowError | undefined
  const settle = (lines: Uint8Array): Uint8Array => {
    if (failure === undefined) {
      if (transcoder.failure !== undefined) failure = new Csv.CsvError(transcoder.failure)
      else if (transcoder.thrown instanceof AuditLogRowError) failure = transcoder.thrown
      else if (transcoder.thrown !== undefined) throw transcoder.thrown
    }
    return lines
  }
  return {
    push: (chunk) => settle(transcoder.push(chunk)),
    end: () => settle(transcoder.end()),
    get rows() {
      // The transcoder counts the header as a row.
      return Math.max(0, transcoder.rowCount - 1)
    },
    get failure() {
      return failure
    }
  }
}

// ---------------------------------------------------------------------------
// events → CSV
// ---------------------------------------------------------------------------

const encodeRecordBySchema = Schema.encodeSync(AuditLogEventFromCsvRecord)

/** The header line of the export (`Domain.auditLogColumns`, CRLF). */
export const csvHeader: string = Csv.encodeRow(auditLogColumns)

const optionalField = (value: string | null): string => value === null ? "" : Csv.encodeField(value)

/**
 * One event as a CSV line of the export (CRLF): the text encoding it with
 * `Domain.AuditLogEventFromCsvRecord` and `Csv.encodeRow` gives, written
 * directly when the date is valid and, if not, by the schema.
 *
 * @since 0.2.0
 */
export const csvLine = (event: AuditLogEvent): string => {
  const millis = event.timestamp.getTime()
  if (millis !== millis || hasOwnProtoKey(event.attributes)) {
    const record = encodeRecordBySchema(event)
    return Csv.encodeRow(auditLogColumns.map((column) => record[column] ?? ""))
  }
  const attributes = JSON.stringify(event.attributes)
  return `${Csv.encodeField(event.id)},${isoString(millis)},${Csv.encodeField(event.eventName)},${
    optionalField(event.userEmail)
  },${optionalField(event.deploymentId)},${optionalField(event.deploymentName)},${optionalField(event.ipAddress)},${
    attributes === "{}" ? attributes : `"${attributes.replaceAll("\"", "\"\"")}"`
  }\r\n`
}

/** The export's CSV is cut into chunks of about this many bytes. */
export const csvChunkLength = 64 * 1024

const comma = 0x2c
const quote = 0x22

/** A CSV field (`Csv.encodeField`'s text) as UTF-8 into `bytes` from `at`; returns the new end. */
const writeField = (bytes: Uint8Array, at: number, field: string): number => {
  if (!Csv.needsQuotes(field)) return writeUtf8(bytes, at, field)
  bytes[at] = quote
  at = writeUtf8QuotesDoubled(bytes, at + 1, field)
  bytes[at] = quote
  return at + 1
}

const writeOptionalField = (bytes: Uint8Array, at: number, field: string | null): number =>
  field === null ? at : writeField(bytes, at, field)

/** Room for a line's fields besides their text: 14 quotes, 7 commas, CRLF and a timestamp of up to 27 bytes. */
const lineOverhead = 64

const textLength = (field: string | null): number => field === null ? 0 : field.length

/** Bytes always enough for a line's fields before `attributes` (and the line's end). */
const fieldsRoom = (event: AuditLogEvent): number =>
  maxBytesPerUnit * (event.id.length + event.eventName.length + textLength(event.userEmail) +
      textLength(event.deploymentId) + textLength(event.deploymentName) + textLength(event.ipAddress)) + lineOverhead

/** The fields of `csvLine(event)` before `attributes`, each followed by its comma (`millis`: the valid date). */
const writeFields = (bytes: Uint8Array, at: number, event: AuditLogEvent, millis: number): number => {
  at = writeField(bytes, at, event.id)
  bytes[at++] = comma
  at = writeIsoString(bytes, at, millis)
  bytes[at++] = comma
  at = writeField(bytes, at, event.eventName)
  bytes[at++] = comma
  at = writeOptionalField(bytes, at, event.userEmail)
  bytes[at++] = comma
  at = writeOptionalField(bytes, at, event.deploymentId)
  bytes[at++] = comma
  at = writeOptionalField(bytes, at, event.deploymentName)
  bytes[at++] = comma
  at = writeOptionalField(bytes, at, event.ipAddress)
  bytes[at++] = comma
  return at
}

const writeLineEnd = (bytes: Uint8Array, at: number): number => {
  bytes[at] = 0x0d
  bytes[at + 1] = 0x0a
  return at + 2
}

/**
 * The bytes of `csvLine(event)` from `at`, for an event `csvLine` writes
 * directly (a valid date, `millis`; no own `__proto__` attribute), its
 * attributes written as JSON straight into the bytes; returns the new end
 * (past `bytes.length` if the line did not fit), or `unsupported` when the
 * attributes are not plain data (then `writeLine` with their
 * `JSON.stringify` text). The caller makes room for `fieldsRoom(event)`.
 */
const writeLineDirect = (bytes: Uint8Array, at: number, event: AuditLogEvent, millis: number): number => {
  const start = writeFields(bytes, at, event, millis)
  bytes[start] = quote
  const end = writeJsonQuotesDoubled(bytes, start + 1, event.attributes)
  if (end === unsupported || end > bytes.length) return end
  // `{}` goes unquoted, as `Csv.encodeField` writes it: `"{}` becomes `{}`.
  if (end === start + 3) {
    bytes[start] = 0x7b // {
    bytes[start + 1] = 0x7d // }
    return writeLineEnd(bytes, start + 2)
  }
  bytes[end] = quote
  return writeLineEnd(bytes, end + 1)
}

/** `writeLineDirect` with the attributes' `JSON.stringify` text; the caller makes room for `lineRoom`. */
const writeLine = (
  bytes: Uint8Array,
  at: number,
  event: AuditLogEvent,
  millis: number,
  attributes: string
): number => {
  at = writeFields(bytes, at, event, millis)
  if (attributes === "{}") {
    bytes[at] = 0x7b // {
    bytes[at + 1] = 0x7d // }
    at += 2
  } else {
    bytes[at] = quote
    at = writeUtf8QuotesDoubled(bytes, at + 1, attributes)
    bytes[at++] = quote
  }
  return writeLineEnd(bytes, at)
}

/** Bytes always enough for `writeLine` of this event. */
const lineRoom = (event: AuditLogEvent, attributes: string): number =>
  fieldsRoom(event) + maxBytesPerUnit * attributes.length

/**
 * Events as the export's CSV bytes: the header, then one line per event, in
 * chunks of about 64 KiB, produced as the events are pulled (nothing is
 * held). A `null` among the events cuts the chunk there (an empty chunk if
 * nothing was pending): a point where a server may let other work run.
 * Each line is the bytes of `csvLine(event)` in UTF-8, written field by
 * field straight into the chunk (no string is built for the line), or, for
 * the events `csvLine` leaves to the schema, encoded from `csvLine` itself.
 *
 * @since 0.2.0
 */
export function* csvChunks(events: Iterable<AuditLogEvent | null>): Generator<Uint8Array> {
  const encoder = new TextEncoder()
  // A chunk and the line that crosses its end.
  const size = csvChunkLength + 16 * 1024
  let out = new Uint8Array(Math.max(size, maxBytesPerUnit * csvHeader.length))
  let at = encoder.encodeInto(csvHeader, out).written
  for (const event of events) {
    if (event === null) {
      yield out.subarray(0, at)
      out = new Uint8Array(size)
      at = 0
      continue
    }
    const millis = event.timestamp.getTime()
    if (millis !== millis || hasOwnProtoKey(event.attributes)) {
      // The schema's line.
      const line = csvLine(event)
      const room = maxBytesPerUnit * line.length
      if (out.length - at < room) {
        if (at > 0) yield out.subarray(0, at)
        out = new Uint8Array(Math.max(size, room))
        at = 0
      }
      at += encoder.encodeInto(line, out.subarray(at)).written
    } else {
      const end = out.length - at < fieldsRoom(event) ? unsupported : writeLineDirect(out, at, event, millis)
      if (end !== unsupported && end <= out.length) {
        at = end
      } else {
        // Attributes that are not plain data, or a line that did not fit: again, from JSON.stringify's text.
        const attributes = JSON.stringify(event.attributes)
        const room = lineRoom(event, attributes)
        if (out.length - at < room) {
          if (at > 0) yield out.subarray(0, at)
          out = new Uint8Array(Math.max(size, room))
          at = 0
        }
        at = writeLine(out, at, event, millis, attributes)
      }
    }
    if (at >= csvChunkLength) {
      yield out.subarray(0, at)
      out = new Uint8Array(size)
      at = 0
    }
  }
  if (at > 0) yield out.subarray(0, at)
}
