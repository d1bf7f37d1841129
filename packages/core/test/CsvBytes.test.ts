/**
 * The byte writers behind `AuditLog.csvChunks` against what they stand for:
 * `TextEncoder` for UTF-8, the old regular expression for the quoting rule,
 * `JSON.stringify` (quotes doubled) for the attributes column, and the
 * schema's CSV line for whole chunks.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc, Schema } from "effect"
import * as AuditLog from "../src/AuditLog.js"
import * as Csv from "../src/Csv.js"
import * as Domain from "../src/Domain.js"
import { maxDepth, unsupported, writeJsonQuotesDoubled } from "../src/internal/jsonCsvWriter.js"
import { maxBytesPerUnit, writeUtf8, writeUtf8QuotesDoubled } from "../src/internal/utf8Writer.js"

const utf8 = new TextEncoder()
const decoder = new TextDecoder()
const encodeRecordBySchema = Schema.encodeSync(Domain.AuditLogEventFromCsvRecord)

/** Any UTF-16 text: lone surrogates, pairs, controls, quotes. */
const anyText = fc.oneof(
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("", "\"", "\\", "\ud800", "\udc00x", "a\ud83d\ude00b", "\u0000\u001f\u007f", "zoë, 渡辺 \"q\"")
)

const written = (write: (bytes: Uint8Array, at: number) => number, room: number): Uint8Array => {
  // Bytes before `at` must stay as they were.
  const bytes = new Uint8Array(room + 3).fill(0xaa)
  const end = write(bytes, 3)
  expect(Array.from(bytes.subarray(0, 3))).toStrictEqual([0xaa, 0xaa, 0xaa])
  return bytes.subarray(3, end)
}

describe("utf8Writer: the bytes TextEncoder gives", () => {
  it("writeUtf8 and writeUtf8QuotesDoubled, within maxBytesPerUnit per code unit", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const room = maxBytesPerUnit * text.length
        expect(written((b, at) => writeUtf8(b, at, text), room)).toStrictEqual(utf8.encode(text))
        expect(written((b, at) => writeUtf8QuotesDoubled(b, at, text), room)).toStrictEqual(
          utf8.encode(text.replaceAll("\"", "\"\""))
        )
      }),
      { numRuns: 3000 }
    )
  })
})

describe("Csv.needsQuotes: the quoting rule", () => {
  const rule = /[",\r\n]|^[ \t]|[ \t]$/
  it("agrees with the regular expression it replaced", () => {
    const text = fc.oneof(anyText, fc.stringOf(fc.constantFrom("a", " ", "\t", ",", "\"", "\r", "\n", "é")))
    fc.assert(
      fc.property(text, (field) => {
        expect(Csv.needsQuotes(field)).toBe(rule.test(field))
      }),
      { numRuns: 3000 }
    )
  })
})

describe("jsonCsvWriter: JSON.stringify's text, quotes doubled", () => {
  const expected = (value: unknown) => utf8.encode(JSON.stringify(value).replaceAll("\"", "\"\""))
  const write = (value: unknown, room: number) => {
    const bytes = new Uint8Array(room)
    return { bytes, end: writeJsonQuotesDoubled(bytes, 0, value) }
  }

  it("writes every JSON value itself, byte for byte", () => {
    const key = fc.oneof(anyText, fc.constantFrom("0", "10", "2", "-1", "__proto__x", "toJSONx"))
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        anyText,
        fc.double(),
        fc.integer(),
        fc.constantFrom(0, -0, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 1e21, 1e-7, NaN, Infinity, -Infinity),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("value")),
        fc.dictionary(key, tie("value"))
      )
    })).value
    fc.assert(
      fc.property(fc.dictionary(key, json), (value) => {
        const { bytes, end } = write(value, 1 << 20)
        expect(end).not.toBe(unsupported)
        expect(bytes.subarray(0, end)).toStrictEqual(expected(value))
      }),
      { numRuns: 2000 }
    )
  })

  it("leaves out what JSON.stringify leaves out (undefined, functions, symbols), null in arrays", () => {
    const holed: Array<number> = []
    holed[1] = 2
    const value = {
      a: undefined,
      b: () => 1,
      c: Symbol("s"),
      [Symbol("k")]: 1,
      d: [undefined, () => 1, Symbol("t"), 1],
      e: Object.assign(Object.create(null), { x: 1 }),
      f: holed, // a hole at 0
      3: "integer keys first",
      g: "last"
    }
    const { bytes, end } = write(value, 4096)
    expect(decoder.decode(bytes.subarray(0, end))).toBe(JSON.stringify(value).replaceAll("\"", "\"\""))
  })

  it("leaves to JSON.stringify what it does not write itself", () => {
    class Point {
      constructor(readonly x: number) {}
    }
    let cyclic: Record<string, unknown> = {}
    cyclic = { self: cyclic }
    cyclic.self = cyclic
    let deep: unknown = 1
    for (let k = 0; k <= maxDepth; k++) deep = [deep]
    const cases: ReadonlyArray<unknown> = [
      { at: new Date(0) },
      { p: new Point(1) },
      { n: Object(1) },
      { s: Object("s") },
      { big: 1n },
      { custom: { toJSON: () => "x" } },
      { list: Object.assign([1], { toJSON: () => "y" }) },
      { map: new Map([[1, 2]]) },
      cyclic,
      { deep },
      undefined
    ]
    for (const value of cases) expect(write(value, 4096).end, String(value)).toBe(unsupported)
  })

  it("answers an end past the buffer when the value does not fit, without writing past it", () => {
    const value = { text: "x".repeat(1000), list: Array.from({ length: 100 }, (_, k) => k) }
    const full = expected(value)
    for (const room of [0, 10, 500, full.length - 1]) {
      const { end } = write(value, room)
      expect(end).toBeGreaterThan(room)
    }
    const { bytes, end } = write(value, full.length)
    expect(bytes.subarray(0, end)).toStrictEqual(full)
  })
})

describe("AuditLog.csvChunks: the schema's lines, byte for byte", () => {
  const schemaLine = (event: Domain.AuditLogEvent) => {
    const record = encodeRecordBySchema(event)
    return Csv.encodeRow(Domain.auditLogColumns.map((column) => record[column] ?? ""))
  }
  const concat = (chunks: ReadonlyArray<Uint8Array>) => {
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const chunk of chunks) {
      all.set(chunk, at)
      at += chunk.length
    }
    return all
  }
  const field = fc.oneof(fc.constant(null), anyText, fc.constantFrom(" lead", "trail\t", "a,b", "\"q\"", "x\ny"))
  const attributes = fc.oneof(
    { weight: 10, arbitrary: fc.dictionary(anyText, fc.jsonValue({ maxDepth: 3 })) },
    // Not plain data: JSON.stringify's own way.
    fc.constant({ at: new Date(Date.UTC(2024, 0, 1)) }),
    fc.constant({ nested: { toJSON: () => ({ replaced: "\"yes\"" }) } }),
    fc.constant(Object.assign(Object.create(null), { bare: "null prototype" })),
    // Long enough to cross a chunk's end: written again from JSON.stringify's text.
    fc.integer({ min: 5_000, max: 30_000 }).map((n) => ({ pad: "é\"".repeat(n) })),
    fc.constant({})
  )
  const event = fc.record({
    id: anyText,
    timestamp: fc.date({ min: new Date(-1e14), max: new Date(3e14), noInvalidDate: true }),
    eventName: anyText,
    userEmail: field,
    deploymentId: field,
    deploymentName: field,
    ipAddress: field,
    attributes
  })

  it("whatever the events, with pauses among them", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof({ weight: 10, arbitrary: event }, fc.constant(null)), { maxLength: 30 }),
        (items) => {
          const chunks = [...AuditLog.csvChunks(items)]
          const events = items.filter((item): item is Domain.AuditLogEvent => item !== null)
          expect(concat(chunks)).toStrictEqual(utf8.encode(AuditLog.csvHeader + events.map(schemaLine).join("")))
          // A pause cuts a chunk: one chunk per pause at least, plus the end.
          expect(chunks.length).toBeGreaterThanOrEqual(items.length - events.length)
          for (const chunk of chunks.slice(0, -1)) expect(chunk.length).toBeLessThan(AuditLog.csvChunkLength + 200_000)
        }
      ),
      { numRuns: 60 }
    )
  })

  it("many plain events: lines written in place across chunk ends", () => {
    const events = Array.from({ length: 5000 }, (_, k): Domain.AuditLogEvent => ({
      id: `evt_${k}`,
      timestamp: new Date(Date.UTC(2024, 0, 1) + k * 997),
      eventName: k % 3 === 0 ? "Created deployment" : "Logged in",
      userEmail: k % 5 === 0 ? null : "zoë@example.com",
      deploymentId: k % 2 === 0 ? "124" : null,
      deploymentName: k % 2 === 0 ? "Analytics, EU (Données)" : null,
      ipAddress: `203.0.113.${k % 255}`,
      attributes: k % 7 === 0 ? {} : { branch: "渡辺/experiment", note: "line one\nline two, \"quoted\"", n: k - 2500 }
    }))
    const chunks = [...AuditLog.csvChunks(events)]
    expect(decoder.decode(concat(chunks))).toBe(AuditLog.csvHeader + events.map(schemaLine).join(""))
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(AuditLog.csvChunkLength)
      expect(chunk.length).toBeLessThan(AuditLog.csvChunkLength + 400)
    }
  })
})
