import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck as fc, Schema, Stream } from "effect"
import * as AuditLog from "../src/AuditLog.js"
import * as Csv from "../src/Csv.js"
import * as Domain from "../src/Domain.js"

const utf8 = new TextEncoder()
const bySchema = Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)
const encodeBySchema = Schema.encodeSync(Domain.AuditLogEvent)
const encodeRecordBySchema = Schema.encodeSync(Domain.AuditLogEventFromCsvRecord)

/** A CSV file of `records` (header = the keys of the first), cut into pieces of `size` bytes. */
const csvFile = (records: ReadonlyArray<Record<string, string>>, size = 7): Array<Uint8Array> => {
  const columns = Object.keys(records[0]!)
  const text = Csv.encodeRow(columns) + records.map((record) => Csv.encodeRow(columns.map((c) => record[c]!))).join("")
  const bytes = utf8.encode(text)
  const pieces: Array<Uint8Array> = []
  for (let at = 0; at < bytes.length; at += size) pieces.push(bytes.subarray(at, at + size))
  return pieces
}

const decodeAll = (pieces: ReadonlyArray<Uint8Array>): Array<Domain.AuditLogEvent> => {
  const decoder = AuditLog.makeCsvDecoder()
  const events = pieces.flatMap((piece) => decoder.push(piece))
  return [...events, ...decoder.end()]
}

const schemaEvents = (records: ReadonlyArray<Record<string, string>>): Array<Domain.AuditLogEvent> =>
  records.map((record) => Either.getOrThrow(bySchema(record)))

const row = (overrides: Partial<Record<(typeof Domain.auditLogColumns)[number], string>> = {}) => ({
  id: "evt_1",
  timestamp: "2024-01-15T10:30:00.000Z",
  event_name: "Logged in",
  user_email: "zoë@example.com",
  deployment_id: "",
  deployment_name: "",
  ip_address: "203.0.113.7",
  attributes: "{\"method\":\"password\",\"nested\":{\"a\":[1,2,null]}}",
  ...overrides
})

// Timestamps: canonical ones, and every other shape the schema (`new Date`) may accept or reject.
const timestamps = [
  "2024-01-15T10:30:00.000Z",
  "1970-01-01T00:00:00.000Z",
  "9999-12-31T23:59:59.999Z",
  "2024-02-29T12:00:00.000Z", // leap day
  "2023-02-29T12:00:00.000Z", // not a leap year: `new Date` rolls it over to March 1
  "2024-02-30T00:00:00.000Z",
  "2024-04-31T00:00:00.000Z",
  "2024-13-01T00:00:00.000Z",
  "2024-01-15T24:00:00.000Z",
  "0999-01-01T00:00:00.000Z",
  "0050-06-01T00:00:00.000Z",
  "2024-01-15T10:30:00Z",
  "2024-01-15T10:30:00.123+02:00",
  "2024-01-15 10:30:00",
  "2024-01-15",
  "2024-01-15T10:30:00.000z",
  "2024-01-1XT10:30:00.000Z",
  "not a date",
  ""
]

const attributeTexts = [
  "",
  "{}",
  "{\"a\":1}",
  " {\"a\":1}",
  "[1,2]",
  "null",
  "\"text\"",
  "42",
  "{not json",
  "{\"__proto__\":{\"polluted\":true},\"b\":2}",
  "{\"1\":\"x\",\"a\":\"y\",\"0\":\"z\"}"
]

describe("AuditLog.makeCsvDecoder: the same events as the Domain schema", () => {
  it("on every timestamp shape: a valid one gives the schema's event, an invalid one the schema's error", () => {
    for (const timestamp of timestamps) {
      const record = row({ timestamp })
      const expected = bySchema(record)
      const pieces = csvFile([record])
      if (Either.isRight(expected)) {
        expect(decodeAll(pieces), timestamp).toStrictEqual([expected.right])
      } else {
        expect(() => decodeAll(pieces), timestamp).toThrow(expected.left.message)
      }
    }
  })

  it("on every kind of attributes text", () => {
    for (const attributes of attributeTexts) {
      const record = row({ attributes })
      const expected = bySchema(record)
      if (Either.isRight(expected)) {
        expect(decodeAll(csvFile([record])), attributes).toStrictEqual([expected.right])
      } else {
        expect(() => decodeAll(csvFile([record])), attributes).toThrow(AuditLog.AuditLogRowError)
      }
    }
  })

  it("columns in another order, extra columns and missing columns", () => {
    const reordered = Object.fromEntries(Object.entries(row()).reverse())
    expect(decodeAll(csvFile([reordered]))).toStrictEqual(schemaEvents([reordered]))
    const extra = { ...row(), region: "eu", user_email: "" }
    const decoded = decodeAll(csvFile([extra]))
    expect(decoded).toStrictEqual(schemaEvents([extra]))
    expect(decoded[0]!["region"]).toBe("eu")
    // A column every event needs is missing: no row could be an event, so the header is refused (row 1).
    const { ip_address: _, ...missing } = row()
    expect(() => decodeAll(csvFile([missing]))).toThrow(
      /CSV row 1: the header is not an audit-log export's: it lacks the column ip_address/
    )
  })

  it("a header that is not an export's fails even with no rows: no empty export from another file", () => {
    const bytes = (text: string) => [new TextEncoder().encode(text)]
    for (const text of ["<!doctype html>\n", "garbage\r\n", "error,message\r\n", "id,timestamp\r\n"]) {
      expect(() => decodeAll(bytes(text)), text).toThrow(Csv.CsvError)
      expect(() => decodeAll(bytes(text)), text).toThrow(/the header is not an audit-log export's/)
      const transcoder = AuditLog.makeCsvNdjsonTranscoder()
      const lines = [...transcoder.push(bytes(text)[0]!), ...transcoder.end()]
      expect({ text, lines, failure: transcoder.failure?.message }).toEqual({
        text,
        lines: [],
        failure: expect.stringMatching(/^CSV row 1: the header is not an audit-log export's: it lacks the column/)
      })
    }
    // The header alone (an export with no events) is an empty export, not an error.
    expect(decodeAll(bytes(Domain.auditLogColumns.join(",") + "\r\n"))).toEqual([])
    const empty = AuditLog.makeCsvNdjsonTranscoder()
    empty.push(new TextEncoder().encode(Domain.auditLogColumns.join(",") + "\r\n"))
    empty.end()
    expect(empty.failure).toBeUndefined()
  })

  it("random events, cut at random places", () => {
    const field = fc.oneof(fc.constant(""), fc.string(), fc.constantFrom("Zoë, \"quoted\"", "line\r\nbreak", "渡辺"))
    const record = fc.record({
      id: fc.string({ minLength: 1 }),
      timestamp: fc.oneof(
        fc.date({ min: new Date(-1e13), max: new Date(3e14), noInvalidDate: true }).map((date) => date.toISOString()),
        fc.constantFrom(...timestamps.filter((text) => Either.isRight(bySchema(row({ timestamp: text })))))
      ),
      event_name: fc.string(),
      user_email: field,
      deployment_id: field,
      deployment_name: field,
      ip_address: field,
      attributes: fc.oneof(
        fc.constant(""),
        fc.dictionary(fc.string(), fc.jsonValue()).map((value) => JSON.stringify(value))
      )
    })
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (rs, size) => {
        expect(decodeAll(csvFile(rs, size))).toStrictEqual(schemaEvents(rs))
      }),
      { numRuns: 200 }
    )
  })

  it("a bad row: the events before it are emitted, then an AuditLogRowError naming the row and the event", () =>
    Effect.gen(function*() {
      const records = [row({ id: "a" }), row({ id: "b", timestamp: "yesterday" }), row({ id: "c" })]
      const out = yield* Stream.fromIterable(csvFile(records, 1000)).pipe(
        AuditLog.decodeCsv,
        Stream.either,
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      expect(out.filter(Either.isRight).map((item) => item.right.id)).toEqual(["a"])
      const error = out.find(Either.isLeft)?.left
      expect(error).toBeInstanceOf(AuditLog.AuditLogRowError)
      expect(error).toMatchObject({ _tag: "AuditLogRowError", row: 3, id: "b" })
      expect(error?.message).toContain("audit-log row 3 (event \"b\")")
    }).pipe(Effect.runPromise))

  it("malformed CSV is a CsvError, as from Csv.decode", () =>
    Effect.gen(function*() {
      const text = Csv.encodeRow(Domain.auditLogColumns) + "evt_1,2024-01-15T10:30:00.000Z,x\r\n"
      const error = yield* Stream.make(utf8.encode(text)).pipe(AuditLog.decodeCsv, Stream.runDrain, Effect.flip)
      expect(error._tag).toBe("CsvError")
      expect(error).toMatchObject({ row: 2 })
    }).pipe(Effect.runPromise))
})

describe("AuditLog.toJson: what Schema.encode(Domain.AuditLogEvent) gives", () => {
  const events = [
    ...schemaEvents([row(), row({ deployment_id: "123", deployment_name: "My, \"Deployment\"", user_email: "" })]),
    ...schemaEvents([{ ...row(), region: "eu" }]),
    { ...schemaEvents([row()])[0]!, attributes: JSON.parse("{\"__proto__\":{\"x\":1},\"b\":2}") },
    ...schemaEvents(timestamps.map((timestamp) => row({ timestamp })).filter((r) => Either.isRight(bySchema(r))))
  ]

  it("field for field and key order, extra fields included", () => {
    for (const event of events) {
      expect(AuditLog.toJson(event)).toStrictEqual(encodeBySchema(event))
      expect(JSON.stringify(AuditLog.toJson(event))).toBe(JSON.stringify(encodeBySchema(event)))
    }
    expect(AuditLog.ndjsonLines(events)).toBe(
      events.map((event) => JSON.stringify(encodeBySchema(event)) + "\n").join("")
    )
  })

  it("an invalid date fails as the schema does", () => {
    const event = { ...events[0]!, timestamp: new Date(NaN) }
    expect(() => AuditLog.toJson(event)).toThrow()
  })

  it("isoString is toISOString for any date, in and out of the fast range", () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (millis) => {
        expect(AuditLog.isoString(millis)).toBe(new Date(millis).toISOString())
      }),
      { numRuns: 2000 }
    )
    for (const millis of [0, 1, 86_399_999, 86_400_000, 253_402_300_799_999, 253_402_300_800_000, -1]) {
      expect(AuditLog.isoString(millis)).toBe(new Date(millis).toISOString())
    }
  })

  it("canonicalIsoMillis agrees with new Date wherever it answers", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(-3e13), max: new Date(2.6e14), noInvalidDate: true }), (date) => {
        const text = date.toISOString()
        const millis = AuditLog.canonicalIsoMillis(text)
        if (!Number.isNaN(millis)) expect(millis).toBe(date.getTime())
        if (date.getUTCFullYear() >= 1000 && date.getUTCFullYear() <= 9999) expect(millis).toBe(date.getTime())
      }),
      { numRuns: 2000 }
    )
    for (const text of timestamps) {
      const millis = AuditLog.canonicalIsoMillis(text)
      if (!Number.isNaN(millis)) expect(millis, text).toBe(new Date(text).getTime())
    }
  })
})

describe("AuditLog.csvLine / csvChunks: the CSV the schema and Csv.encodeRow give", () => {
  const schemaLine = (event: Domain.AuditLogEvent) => {
    const record = encodeRecordBySchema(event)
    return Csv.encodeRow(Domain.auditLogColumns.map((column) => record[column] ?? ""))
  }

  it("line for line, byte for byte", () => {
    const field = fc.oneof(fc.constant(null), fc.string(), fc.constantFrom(" lead", "trail\t", "a,b", "\"q\"", "x\ny"))
    fc.assert(
      fc.property(
        fc.record({
          id: fc.string(),
          timestamp: fc.date({ min: new Date(-1e14), max: new Date(3e14), noInvalidDate: true }),
          eventName: fc.string(),
          userEmail: field,
          deploymentId: field,
          deploymentName: field,
          ipAddress: field,
          attributes: fc.dictionary(fc.string(), fc.jsonValue())
        }),
        (event) => {
          expect(AuditLog.csvLine(event)).toBe(schemaLine(event))
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("chunks: the header, every line, cut at about 64 KiB, a null cutting a chunk early", () => {
    const events = Array.from(
      { length: 2000 },
      (_, k) =>
        Either.getOrThrow(bySchema(row({ id: `evt_${k}`, attributes: JSON.stringify({ k, pad: "x".repeat(50) }) })))
    )
    const withPause = [...events.slice(0, 3), null, ...events.slice(3)]
    const chunks = [...AuditLog.csvChunks(withPause)]
    const decoder = new TextDecoder()
    const texts = chunks.map((chunk) => decoder.decode(chunk))
    expect(texts.join("")).toBe(Csv.encodeRow(Domain.auditLogColumns) + events.map(schemaLine).join(""))
    expect(texts[0]).toBe(AuditLog.csvHeader + events.slice(0, 3).map(schemaLine).join(""))
    expect(texts.length).toBeGreaterThan(2)
    for (const chunk of chunks.slice(1, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(AuditLog.csvChunkLength)
      expect(chunk.length).toBeLessThan(AuditLog.csvChunkLength + 400)
    }
    // And it reads back as the same events.
    expect(decodeAll(chunks)).toStrictEqual(events)
  })
})

describe("AuditLog decoder, repeated columns through the bounded interner: still the schema's events", () => {
  // Values of the repeated columns: short and long (13+ characters: the cached ones), quotes, commas, line
  // breaks, non-ASCII, and pairs equal up to one character at either end (the interner hashes a few characters).
  const pool = [
    "",
    "Logged in",
    "Generated webhook token for Git repository",
    "Generated webhook token for Git repositorx",
    "xenerated webhook token for Git repository",
    "zoë.martin@example.com",
    "k.watanabe@example.jp",
    "渡辺 <k.watanabe@example.jp>",
    "Analytics, EU (Données)",
    "say \"hi\", twice \"\"",
    "line one\r\nline two, long enough",
    "203.0.113.213",
    "203.0.113.214",
    "2001:db8::ff00:42:8329",
    "123",
    "a".repeat(200)
  ]
  const repeated = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.string() })
  const record = fc.record({
    id: fc.string({ minLength: 1 }),
    timestamp: fc.oneof(
      fc.constantFrom("2024-01-15T10:30:00.000Z", "2024-01-15T23:59:59.999Z", "2024-01-16T00:00:00.000Z"),
      fc.date({ min: new Date(0), max: new Date(2e12), noInvalidDate: true }).map((date) => date.toISOString())
    ),
    event_name: repeated,
    user_email: repeated,
    deployment_id: repeated,
    deployment_name: repeated,
    ip_address: repeated,
    attributes: fc.constantFrom("", "{}", "{\"build\":1,\"status\":\"queued\"}", "{\"note\":\"a \\\"b\\\"\"}")
  })

  it("files of many rows drawn from a few values, cut at random places", () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 300 }), (rs, size) => {
        expect(decodeAll(csvFile(rs, size))).toStrictEqual(schemaEvents(rs))
      }),
      { numRuns: 60 }
    )
  })

  it("a bad row after cached values: the events before it, then the schema's error for that row", () => {
    const bad = fc.constantFrom(
      { timestamp: "yesterday" },
      { attributes: "{not json" },
      { attributes: "[1,2]" },
      { timestamp: "2023-02-30T00:00:00.000Z", attributes: "{}" }
    )
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 200 }), bad, fc.nat(), (rs, override, at) => {
        const k = at % rs.length
        const records = rs.map((r, j) => j === k ? { ...r, ...override } : r)
        const expected = bySchema(records[k]!)
        const pieces = csvFile(records, 97)
        if (Either.isRight(expected)) {
          expect(decodeAll(pieces)).toStrictEqual(schemaEvents(records))
          return
        }
        const reader = AuditLog.makeCsvEventReader()
        const events = [...pieces.flatMap((piece) => reader.push(piece)), ...reader.end()]
        expect(events).toStrictEqual(schemaEvents(records.slice(0, k)))
        expect(reader.failure).toBeInstanceOf(AuditLog.AuditLogRowError)
        expect(reader.failure).toMatchObject({ row: k + 2, id: records[k]!.id, detail: expected.left.message })
      }),
      { numRuns: 60 }
    )
  })

  it("all-unique long values (the cache rests): the same events", () => {
    const records = Array.from({ length: 6000 }, (_, k) =>
      row({
        id: `evt_${k}`,
        event_name: `Event number ${k} of the unique run`,
        user_email: `user.${k}.somebody@example.com`,
        ip_address: `2001:db8::${k.toString(16)}:1`,
        deployment_name: k % 3 === 0 ? "" : `Deployment ${k}, unique`
      }))
    expect(decodeAll(csvFile(records, 4096))).toStrictEqual(schemaEvents(records))
  })

  it("a run of timestamps in one day, then other days: canonicalIsoMillis reuses the day only when it is the same", () => {
    fc.assert(
      fc.property(
        fc.array(fc.date({ min: new Date(1.7e12), max: new Date(1.7e12 + 3 * 86_400_000), noInvalidDate: true }), {
          minLength: 1,
          maxLength: 50
        }),
        (dates) => {
          for (const date of dates) expect(AuditLog.canonicalIsoMillis(date.toISOString())).toBe(date.getTime())
        }
      ),
      { numRuns: 300 }
    )
    // A valid day, then an impossible one that shares nothing with it but the month.
    expect(AuditLog.canonicalIsoMillis("2023-02-28T10:00:00.000Z")).toBe(Date.UTC(2023, 1, 28, 10))
    expect(AuditLog.canonicalIsoMillis("2023-02-29T10:00:00.000Z")).toBeNaN()
    expect(AuditLog.canonicalIsoMillis("2023-02-28T10:00:00.001Z")).toBe(Date.UTC(2023, 1, 28, 10, 0, 0, 1))
  })
})
