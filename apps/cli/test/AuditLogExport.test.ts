/**
 * `audit-logs export`: the CSV is copied byte for byte with a correct
 * progress count, and NDJSON is the schema's JSON form of every event.
 */
import * as Csv from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Schema, Stream } from "effect"
import { copyCsv, ndjsonThrough } from "../src/handlers/audit-logs.js"
import * as Output from "../src/Output.js"
import * as Progress from "../src/Progress.js"
import * as Views from "../src/Views.js"

const utf8 = new TextEncoder()

const csv = Csv.encodeRow(Domain.auditLogColumns) +
  Array.from({ length: 300 }, (_, k) =>
    Csv.encodeRow([
      `evt_${k}`,
      new Date(Date.UTC(2024, 0, 1) + k * 1000).toISOString(),
      k % 2 === 0 ? "Logged in" : "Updated deployment configuration",
      k % 3 === 0 ? "" : "zoë@example.com",
      k % 2 === 0 ? "" : "123",
      k % 2 === 0 ? "" : "Analytics, EU (Données)",
      "203.0.113.7",
      JSON.stringify(k % 4 === 0 ? { note: "line one\nline two, \"quoted\"" } : { k })
    ])).join("")
const bytes = utf8.encode(csv)

/** The bytes in pieces of `size`, `perChunk` pieces per stream chunk. */
const pieces = (size: number, perChunk: number): Stream.Stream<Uint8Array> => {
  const all: Array<Uint8Array> = []
  for (let at = 0; at < bytes.length; at += size) all.push(bytes.subarray(at, at + size))
  return Stream.fromIterable(all).pipe(Stream.rechunk(perChunk))
}

describe("audit-logs export --out (CSV): copyCsv", () => {
  it.effect("passes the bytes on unchanged and reports every record and byte", () =>
    Effect.gen(function*() {
      for (const [size, perChunk] of [[1, 7], [97, 1], [4096, 3], [bytes.length, 1]] as const) {
        const updates: Array<[number, number]> = []
        const out = yield* copyCsv(
          pieces(size, perChunk),
          (rows, size) => Effect.sync(() => updates.push([rows, size]))
        )
          .pipe(Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
        expect(Buffer.concat(out).equals(Buffer.from(bytes))).toBe(true)
        expect(updates.at(-1)).toEqual([300, bytes.length])
        // Never ahead of the truth, never going back.
        for (let k = 1; k < updates.length; k++) {
          expect(updates[k]![0]).toBeGreaterThanOrEqual(updates[k - 1]![0])
          expect(updates[k]![1]).toBeGreaterThanOrEqual(updates[k - 1]![1])
        }
        expect(Progress.line(updates.at(-1)![0], updates.at(-1)![1], 1000)).toContain("300 rows")
      }
    }))

  it.effect("a file cut inside a quoted field fails, saying how far it got", () =>
    Effect.gen(function*() {
      const cutAt = csv.indexOf("line one")
      const error = yield* copyCsv(Stream.make(utf8.encode(csv.slice(0, cutAt))), () => Effect.void).pipe(
        Stream.runDrain,
        Effect.flip
      )
      expect(error.message).toMatch(/cut off after \d+ rows/)
    }))
})

describe("audit-logs export --format ndjson", () => {
  it.effect("each line is the schema's JSON form of the event (Views.auditLogEvent.toJson = the schema)", () =>
    Effect.gen(function*() {
      const decoder = Csv.makeDecoder()
      const records = [...decoder.push(bytes), ...decoder.end()]
      const events = records.map((record) =>
        Either.getOrThrow(Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)(record))
      )
      const text = (yield* Stream.runCollect(
        Output.list(Views.auditLogEvent, "ndjson", { color: false })(Stream.fromIterable(events))
      )).pipe(Chunk.join(""))
      const encode = Schema.encodeSync(Domain.AuditLogEvent)
      expect(text).toBe(events.map((event) => JSON.stringify(encode(event)) + "\n").join(""))
    }))

  /** `ndjsonThrough` on the bytes cut into pieces of `size`, as the socket would deliver them. */
  const through = (input: Uint8Array, size: number) => {
    const updates: Array<[number, number]> = []
    const step = ndjsonThrough((rows, bytes) => updates.push([rows, bytes]))
    const out: Array<Uint8Array> = []
    let stopped = step.stopped()
    for (let at = 0; at < input.length && stopped === undefined; at += size) {
      out.push(step.chunk(Buffer.from(input.subarray(at, at + size))))
      stopped = step.stopped()
    }
    if (stopped === undefined) {
      out.push(step.end())
      stopped = step.stopped()
    }
    return { text: Buffer.concat(out).toString("utf8"), updates, stopped }
  }

  it("from the CSV bytes: the schema's lines byte for byte, however the bytes arrive, every row and byte counted", () => {
    const decoder = Csv.makeDecoder()
    const encode = Schema.encodeSync(Domain.AuditLogEvent)
    const expected = [...decoder.push(bytes), ...decoder.end()].map((record) =>
      JSON.stringify(encode(Either.getOrThrow(Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)(record))))
      + "\n"
    ).join("")
    for (const size of [1, 97, 4096, bytes.length]) {
      const { stopped, text, updates } = through(bytes, size)
      expect(stopped).toBeUndefined()
      expect(text).toBe(expected)
      expect(updates.at(-1)).toEqual([300, bytes.length])
      // Never ahead of the truth, never going back.
      for (let k = 1; k < updates.length; k++) {
        expect(updates[k]![0]).toBeGreaterThanOrEqual(updates[k - 1]![0])
        expect(updates[k]![1]).toBeGreaterThanOrEqual(updates[k - 1]![1])
      }
    }
  })

  it("a malformed row: the lines before it, then the export's UnexpectedResponse naming the event", () => {
    const broken = utf8.encode(csv.replace("2024-01-01T00:00:05.000Z", "yesterday"))
    for (const size of [64, broken.length]) {
      const { stopped, text } = through(broken, size)
      expect(text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line).id)).toEqual(
        ["evt_0", "evt_1", "evt_2", "evt_3", "evt_4"]
      )
      expect(stopped?._tag).toBe("UnexpectedResponse")
      expect(stopped?.message).toContain("the audit-log CSV is malformed (event \"evt_5\"")
    }
  })

  it("a file cut inside a quoted field: every line before the cut, then the export's UnexpectedResponse", () => {
    const cut = utf8.encode(csv.slice(0, csv.indexOf("line one")))
    const { stopped, text } = through(cut, 4096)
    const lines = text.split("\n").filter((line) => line !== "")
    expect(lines.map((line) => JSON.parse(line).id)).toEqual(lines.map((_, k) => `evt_${k}`))
    expect(stopped?.message).toMatch(/the audit-log CSV is malformed \(row \d+/)
  })
})
