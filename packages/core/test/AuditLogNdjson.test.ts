/**
 * `AuditLog.csvToNdjson` writes most rows straight from the CSV bytes: these
 * tests hold it to the plain schema path (`Csv` records, then
 * `Domain.AuditLogEventFromCsvRecord` decoded and `Domain.AuditLogEvent`
 * encoded, then `JSON.stringify`), byte for byte, on awkward inputs cut at
 * random places — and check that they would notice a broken fast path.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck as fc, Schema, Stream } from "effect"
import * as AuditLog from "../src/AuditLog.js"
import { auditLogNdjson } from "../src/ControlPlane.js"
import * as Csv from "../src/Csv.js"
import * as Domain from "../src/Domain.js"
import {
  isCanonicalJsonObject,
  isCanonicalTimestamp,
  type Proofs,
  utf8SequenceLength
} from "../src/internal/ndjsonFromCsv.js"

const utf8 = new TextEncoder()
const decodeBySchema = Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)
const encodeBySchema = Schema.encodeSync(Domain.AuditLogEvent)

/** The NDJSON bytes (as a latin1 string: one character per byte, so bytes are compared, not text), and the error. */
type Outcome = { readonly text: string; readonly error?: { readonly tag: string; readonly row: number } }

const bytesOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1")

/** The definition: CSV records by `Csv.makeDecoder`, each through the schemas, as NDJSON lines. */
const bySchema = (bytes: Uint8Array): Outcome => {
  const decoder = Csv.makeDecoder()
  let text = ""
  let row = 1
  const take = (records: ReadonlyArray<Csv.CsvRecord>): Outcome | undefined => {
    for (const record of records) {
      row++
      const event = decodeBySchema(record)
      if (Either.isLeft(event)) return { text, error: { tag: "AuditLogRowError", row } }
      text += bytesOf(utf8.encode(JSON.stringify(encodeBySchema(event.right)) + "\n"))
    }
    return undefined
  }
  try {
    // A byte at a time: a CsvError comes after the records before it.
    for (let at = 0; at < bytes.length; at++) {
      const stop = take(decoder.push(bytes.subarray(at, at + 1)))
      if (stop !== undefined) return stop
    }
    return take(decoder.end()) ?? { text }
  } catch (error) {
    if (error instanceof Csv.CsvError) return { text, error: { tag: "CsvError", row: error.row } }
    throw error
  }
}

/** The transcoder on `bytes` cut into pieces of `size`. */
const transcoded = (bytes: Uint8Array, size: number, proofs?: Proofs): Outcome => {
  const transcoder = AuditLog.makeNdjsonFromCsv(proofs)
  let text = ""
  for (let at = 0; at < bytes.length && !transcoder.failed; at += size) {
    text += bytesOf(transcoder.push(bytes.subarray(at, at + size)))
  }
  if (!transcoder.failed) text += bytesOf(transcoder.end())
  if (transcoder.failure !== undefined) return { text, error: { tag: "CsvError", row: transcoder.failure.row } }
  const thrown = transcoder.thrown
  if (thrown instanceof AuditLog.AuditLogRowError) return { text, error: { tag: "AuditLogRowError", row: thrown.row } }
  if (thrown !== undefined) throw thrown
  return { text }
}

const file = (rows: ReadonlyArray<ReadonlyArray<string>>, lineEnd = "\r\n"): string =>
  [Domain.auditLogColumns, ...rows].map((fields) => Csv.encodeRow(fields).slice(0, -2) + lineEnd).join("")

const record = (overrides: Partial<Record<(typeof Domain.auditLogColumns)[number], string>> = {}): Array<string> => {
  const values: Record<string, string> = {
    id: "evt_1",
    timestamp: "2024-01-15T10:30:00.000Z",
    event_name: "Logged in",
    user_email: "zoë@example.com",
    deployment_id: "",
    deployment_name: "Analytics, EU (Données)",
    ip_address: "203.0.113.7",
    attributes: "{\"method\":\"password\",\"nested\":{\"a\":[1,2,null]}}",
    ...overrides
  }
  return Domain.auditLogColumns.map((column) => values[column]!)
}

// Attributes texts: canonical ones the fast path copies, and near misses it must hand to the schema.
const attributeTexts = [
  "",
  "{}",
  "{\"a\":1}",
  "{\"a\":-1,\"b\":0,\"c\":1.5,\"d\":1e+21,\"e\":123456789012345}",
  "{\"a\":1.0}",
  "{\"a\":1E5}",
  "{\"a\":-0}",
  "{\"a\":01}",
  "{\"a\":12345678901234567890}",
  "{\"a\":0.1}",
  "{\"a\":.5}",
  "{ \"a\":1}",
  "{\"a\": 1}",
  "{\"a\":1 }",
  " {\"a\":1}",
  "{\"a\":1}\n",
  "{\"a\":1,\"a\":2}",
  "{\"b\":1,\"a\":{\"b\":2,\"b\":3}}",
  "{\"1\":\"x\",\"a\":\"y\",\"0\":\"z\"}",
  "{\"a\":{\"2\":1,\"1\":2}}",
  "{\"01\":1}",
  "{\"__proto__\":{\"polluted\":true},\"b\":2}",
  "{\"a\":{\"__proto__\":1}}",
  "{\"a\":\"\\/\"}",
  "{\"a\":\"\\u0041\"}",
  "{\"a\":\"\\u001f\\u0000\\n\\t\\\"\\\\\"}",
  "{\"a\":\"\\u000a\"}",
  "{\"a\":\"\\u001F\"}",
  "{\"a\":\"\\ud800\"}",
  "{\"a\":\"\\ud83d\\ude00\"}",
  "{\"a\":\"😀 渡辺 é\"}",
  "{\"a\":\"tab\there\"}",
  "{\"a\":[]}",
  "{\"a\":[1,[2,[3,{}]]],\"b\":true,\"c\":false,\"d\":null}",
  "{\"a\":tru}",
  "{\"a\":nul}",
  "{\"a\":[1,]}",
  "{\"a\":1,}",
  "{\"a\"}",
  "{\"a\":\"unterminated}",
  "[1,2]",
  "null",
  "\"text\"",
  "42",
  "{not json",
  JSON.stringify({ deep: JSON.parse("[".repeat(40) + "1" + "]".repeat(40)) }),
  JSON.stringify(Object.fromEntries(Array.from({ length: 80 }, (_, k) => [`k${k}`, k])))
]

const timestamps = [
  "2024-01-15T10:30:00.000Z",
  "1970-01-01T00:00:00.000Z",
  "9999-12-31T23:59:59.999Z",
  "1000-01-01T00:00:00.000Z",
  "2024-02-29T12:00:00.000Z",
  "2023-02-29T12:00:00.000Z",
  "2024-04-31T00:00:00.000Z",
  "2024-13-01T00:00:00.000Z",
  "2024-01-15T24:00:00.000Z",
  "0999-01-01T00:00:00.000Z",
  "2024-01-15T10:30:00Z",
  "2024-01-15T10:30:00.123+02:00",
  "2024-01-15 10:30:00",
  "2024-01-15T10:30:00.000z",
  "2024-01-1XT10:30:00.000Z",
  "not a date",
  ""
]

const texts = [
  "",
  "plain",
  "Zoë, \"quoted\"",
  "back\\slash",
  "line\r\nbreak",
  "line\nbreak",
  "tab\there",
  "\u0000nul",
  "\u007fdel",
  "渡辺's sandbox",
  "😀",
  "\u2028\u2029",
  "\ufeffbom",
  " lead",
  "trail "
]

const same = (bytes: Uint8Array, sizes: ReadonlyArray<number> = [1, 2, 3, 7, 64, 1 << 20]) => {
  const expected = bySchema(bytes)
  for (const size of sizes) expect(transcoded(bytes, size), `pieces of ${size}`).toStrictEqual(expected)
}

describe("AuditLog.csvToNdjson: the schema path's NDJSON, byte for byte", () => {
  it("every kind of attributes text, timestamp and text field", () => {
    same(utf8.encode(file(attributeTexts.map((attributes, k) => record({ id: `a${k}`, attributes })))))
    for (const attributes of attributeTexts) same(utf8.encode(file([record({ attributes }), record()])), [1, 5, 4096])
    for (const timestamp of timestamps) same(utf8.encode(file([record(), record({ timestamp })])), [3, 4096])
    for (const text of texts) {
      for (const column of ["id", "event_name", "user_email", "deployment_id", "deployment_name", "ip_address"]) {
        same(utf8.encode(file([record({ [column]: text }), record()])), [2, 4096])
      }
    }
  })

  it("line ends, blank lines, a last row without a line end, a BOM", () => {
    const rows = [record({ id: "a" }), record({ id: "b", attributes: "" }), record({ id: "c" })]
    for (const lineEnd of ["\r\n", "\n", "\r"]) same(utf8.encode(file(rows, lineEnd)))
    const text = file(rows)
    same(utf8.encode(text.slice(0, -2)))
    same(utf8.encode(text.slice(0, -1)))
    same(utf8.encode(text + "\r\n\r\n"))
    same(utf8.encode(text.replace("\r\nevt", "\r\n\r\nevt")))
    same(utf8.encode("\ufeff" + text))
    same(utf8.encode(file([], "\r\n")))
    same(utf8.encode(""))
  })

  it("bytes that are not UTF-8 are read as TextDecoder reads them", () => {
    const text = file([record({ id: "XX" }), record({ deployment_name: "\"YY\"", attributes: "{\"a\":\"ZZ\"}" })])
    const bad = [[0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xe6, 0xb8], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x8f]]
    for (const sequence of bad) {
      const bytes = utf8.encode(text)
      const at = bytes.indexOf(0x58) // "X": a field
      const patched = new Uint8Array([...bytes.subarray(0, at), ...sequence, ...bytes.subarray(at + 2)])
      same(patched, [1, 3, 4096])
      const inAttributes = bytes.indexOf(0x5a) // "Z": inside the attributes JSON
      same(new Uint8Array([...bytes.subarray(0, inAttributes), ...sequence, ...bytes.subarray(inAttributes + 2)]))
    }
  })

  it("other headers (another order, extra or missing columns) and malformed CSV: the parser decides", () => {
    const reordered = [...Domain.auditLogColumns].reverse()
    same(utf8.encode([reordered, [...record()].reverse()].map((fields) => Csv.encodeRow(fields)).join("")))
    same(
      utf8.encode([[...Domain.auditLogColumns, "region"], [...record(), "eu"]].map((f) => Csv.encodeRow(f)).join(""))
    )
    const valid = file([record({ id: "a" }), record({ id: "b" })])
    for (
      const broken of [
        valid + "evt_3,2024-01-15T10:30:00.000Z,x\r\n",
        valid + "evt_3,2024-01-15T10:30:00.000Z,a,b,c,d,e,{},extra\r\n",
        valid + "evt_3,2024-01-15T10:30:00.000Z,a\"b,,,,,{}\r\n",
        valid + "evt_3,2024-01-15T10:30:00.000Z,\"a\"b,,,,,{}\r\n",
        valid + "evt_3,2024-01-15T10:30:00.000Z,a,,,,,\"{\"\"a\"\":1}\r\n",
        valid.replace("evt_1", "evt_1\r\nstray"),
        "id,id\r\na,b\r\n"
      ]
    ) same(utf8.encode(broken))
  })

  it("rows the schema refuses: the lines before them, then the same error on the same row", () => {
    same(utf8.encode(file([record({ id: "a" }), record({ id: "b", timestamp: "yesterday" }), record({ id: "c" })])))
    same(utf8.encode(file([record({ id: "a" }), record({ attributes: "[1]" })])))
  })

  const awkwardText = fc.oneof(
    { weight: 3, arbitrary: fc.string() },
    { weight: 2, arbitrary: fc.string({ unit: "binary" }) },
    { weight: 2, arbitrary: fc.constantFrom(...texts) }
  )
  const awkwardAttributes = fc.oneof(
    fc.constant(""),
    fc.dictionary(fc.string({ unit: "binary" }), fc.jsonValue()).map((value) => JSON.stringify(value)),
    fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }).map((value) => JSON.stringify(value, null, 1)),
    fc.constantFrom(...attributeTexts),
    // A canonical text with one character changed: a near miss the proof must catch.
    fc.tuple(
      fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 1 }).map((value) => JSON.stringify(value)),
      fc.nat(),
      fc.constantFrom(" ", "\"", "\\", "0", "1", "-", ".", "e", "{", "}", "[", "]", ",", ":", "\n", "a")
    ).map(([text, at, char]) => text.slice(0, at % text.length) + char + text.slice(at % text.length + 1))
  )
  const awkwardRow = fc.record({
    id: awkwardText,
    timestamp: fc.oneof(
      fc.date({ min: new Date(-1e13), max: new Date(3e14), noInvalidDate: true }).map((date) => date.toISOString()),
      fc.constantFrom(...timestamps)
    ),
    event_name: awkwardText,
    user_email: awkwardText,
    deployment_id: awkwardText,
    deployment_name: awkwardText,
    ip_address: awkwardText,
    attributes: awkwardAttributes
  }).map((values) => Domain.auditLogColumns.map((column) => values[column]))
  // Sometimes with bytes that are not UTF-8 spliced in (TextEncoder only writes well-formed UTF-8).
  const notUtf8 = fc.constantFrom([0xff], [0xc0, 0x80], [0x80], [0xed, 0xa0, 0x80], [0xe6, 0xb8], [0xf4, 0x90, 0x80])
  const awkwardFile = fc.tuple(
    fc.array(awkwardRow, { minLength: 1, maxLength: 12 }),
    fc.constantFrom("\r\n", "\n"),
    fc.option(fc.tuple(fc.nat(), notUtf8), { freq: 3 })
  ).map(([rows, lineEnd, splice]) => {
    const bytes = utf8.encode(file(rows, lineEnd))
    if (splice === null) return bytes
    // Into a data row, on a byte that is not a quote, comma or line end, so the CSV keeps its shape.
    const header = bytes.indexOf(10) + 1
    let at = header + (splice[0] % (bytes.length - header))
    while (at < bytes.length && [34, 44, 10, 13].includes(bytes[at]!)) at++
    if (at >= bytes.length) return bytes
    return new Uint8Array([...bytes.subarray(0, at), ...splice[1], ...bytes.subarray(at + 1)])
  })

  const property = (proofs?: Proofs) =>
    fc.property(awkwardFile, fc.integer({ min: 1, max: 300 }), (bytes, size) => {
      expect(transcoded(bytes, size, proofs)).toStrictEqual(bySchema(bytes))
    })

  it("random awkward files, cut at random places", () => {
    fc.assert(property(), {
      numRuns: Number(process.env["NDJSON_RUNS"] ?? 400),
      // Found by this property (seed 1259583064): the header's CRLF cut between chunks sends the next rows to
      // the parser, and a refused row there took the lines decoded before it in the same piece with it.
      examples: [[
        new Uint8Array([
          ...utf8.encode("id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"),
          ...utf8.encode(",1970-01-01T00:00:00.000Z,,,,\u{10000},渡辺's sandbox,\"{\"\"       \"\":{},\"\""),
          0xc0, // not UTF-8: this row goes to the parser
          0x80,
          ...utf8.encode("  \"\":[false]}\"\r\n,1970-01-01T00:00:00.000Z,,,,,\u0000,\" \"\"  \"\":[]}\"\r\n")
        ]),
        87
      ]]
    })
  })

  it("the property notices a fast path that trusts what it should check", () => {
    const broken: ReadonlyArray<[string, Proofs]> = [
      ["any attributes", {
        timestamp: isCanonicalTimestamp,
        utf8SequenceLength,
        jsonObject: (bytes, start) => bytes[start] === 123
      }],
      ["any 24-character timestamp", { timestamp: () => true, utf8SequenceLength, jsonObject: isCanonicalJsonObject }],
      ["any non-ASCII byte", {
        timestamp: isCanonicalTimestamp,
        utf8SequenceLength: () => 1,
        jsonObject: isCanonicalJsonObject
      }]
    ]
    for (const [name, proofs] of broken) {
      // Only whether it fails matters: no shrinking (slow on a busy machine).
      expect(fc.check(property(proofs), { numRuns: 400, endOnFailure: true }).failed, name).toBe(true)
    }
  })

  it("as a stream: the lines before a bad row, then its error", () =>
    Effect.gen(function*() {
      const bytes = utf8.encode(file([record({ id: "a" }), record({ id: "b", timestamp: "yesterday" }), record()]))
      const out = yield* Stream.make(bytes.subarray(0, 50), bytes.subarray(50)).pipe(
        AuditLog.csvToNdjson,
        Stream.either,
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      const lines = Buffer.concat(out.filter(Either.isRight).map((item) => item.right))
      expect(bytesOf(lines)).toBe(bySchema(bytes).text)
      const text = lines.toString("utf8")
      expect(text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line).id)).toEqual(["a"])
      const error = out.find(Either.isLeft)?.left
      expect(error).toBeInstanceOf(AuditLog.AuditLogRowError)
      expect(error).toMatchObject({ row: 3, id: "b" })
      const malformed = yield* Stream.make(utf8.encode(file([record()]) + "x,y\r\n")).pipe(
        AuditLog.csvToNdjson,
        Stream.runDrain,
        Effect.flip
      )
      expect(malformed).toMatchObject({ _tag: "CsvError", row: 3 })
    }).pipe(Effect.runPromise))

  it("ControlPlane.auditLogNdjson: the same lines, and a bad row as an UnexpectedResponse naming the export", () =>
    Effect.gen(function*() {
      const bytes = utf8.encode(file([record({ id: "a" }), record({ id: "b", timestamp: "yesterday" }), record()]))
      const out = yield* Stream.make(bytes).pipe(
        auditLogNdjson("/api/v1/audit-logs/export"),
        Stream.either,
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      const lines = Buffer.concat(out.filter(Either.isRight).map((item) => item.right)).toString("utf8")
      expect(lines.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line).id)).toEqual(["a"])
      const error = out.find(Either.isLeft)?.left
      expect(error).toMatchObject({ _tag: "UnexpectedResponse", path: "/api/v1/audit-logs/export", status: 200 })
      expect(error?.message).toContain("the audit-log CSV is malformed")
      expect(error?.message).toContain("\"b\"")
    }).pipe(Effect.runPromise))

  it("counts the events written, for a progress line", () =>
    Effect.gen(function*() {
      const counts: Array<number> = []
      const bytes = utf8.encode(file(Array.from({ length: 50 }, (_, k) => record({ id: `e${k}` }))))
      const pieces = Array.from({ length: Math.ceil(bytes.length / 512) }, (_, k) =>
        bytes.subarray(512 * k, 512 * k + 512))
      yield* AuditLog.csvToNdjson(Stream.fromIterable(pieces).pipe(Stream.rechunk(1)), (rows) =>
        counts.push(rows))
        .pipe(Stream.runDrain)
      expect(counts.at(-1)).toBe(50)
      expect(counts).toStrictEqual([...counts].sort((a, b) => a - b))
    }).pipe(Effect.runPromise))
})

describe("AuditLog.makeCsvNdjsonTranscoder: csvToNdjson without a stream", () => {
  /** The transcoder on `bytes` cut into pieces of `size`, as a caller moving the bytes itself would use it. */
  const bySync = (bytes: Uint8Array, size: number) => {
    const transcoder = AuditLog.makeCsvNdjsonTranscoder()
    let text = ""
    const counts: Array<number> = []
    for (let at = 0; at < bytes.length && transcoder.failure === undefined; at += size) {
      text += bytesOf(transcoder.push(bytes.subarray(at, at + size)))
      counts.push(transcoder.rows)
    }
    if (transcoder.failure === undefined) text += bytesOf(transcoder.end())
    counts.push(transcoder.rows)
    return { text, failure: transcoder.failure, counts }
  }

  it("the schema path's lines, every event counted, whatever the pieces", () => {
    const bytes = utf8.encode(file(Array.from({ length: 40 }, (_, k) => record({ id: `e${k}` }))))
    for (const size of [1, 33, 512, bytes.length]) {
      const { counts, failure, text } = bySync(bytes, size)
      expect(failure).toBeUndefined()
      expect(text).toBe(bySchema(bytes).text)
      expect(counts.at(-1)).toBe(40)
      expect(counts).toStrictEqual([...counts].sort((a, b) => a - b))
    }
  })

  it("a bad row or malformed CSV: the lines before it, then the failure kept, and nothing more read", () => {
    const bad = utf8.encode(file([record({ id: "a" }), record({ id: "b", timestamp: "yesterday" }), record()]))
    for (const size of [7, bad.length]) {
      const { failure, text } = bySync(bad, size)
      expect(text).toBe(bySchema(bad).text)
      expect(failure).toBeInstanceOf(AuditLog.AuditLogRowError)
      expect(failure).toMatchObject({ row: 3, id: "b" })
    }
    const malformed = bySync(utf8.encode(file([record()]) + "x,y\r\n"), 5)
    expect(malformed.failure).toMatchObject({ _tag: "CsvError", row: 3 })
    expect(malformed.text.split("\n").filter((line) => line !== "")).toHaveLength(1)
    const transcoder = AuditLog.makeCsvNdjsonTranscoder()
    transcoder.push(bad)
    expect(transcoder.push(utf8.encode(Csv.encodeRow(record({ id: "later" })))).length).toBe(0)
    expect(transcoder.end().length).toBe(0)
  })
})
