/**
 * `audit-logs export`: the CSV is copied byte for byte with a correct
 * progress count, and NDJSON is the schema's JSON form of every event.
 */
import * as Csv from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Schema, Stream } from "effect"
import { copyCsv, ndjson } from "../src/handlers/audit-logs.js"
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

  it.effect("from the CSV bytes: the schema's lines byte for byte, however the bytes arrive, and every row counted", () =>
    Effect.gen(function*() {
      const decoder = Csv.makeDecoder()
      const encode = Schema.encodeSync(Domain.AuditLogEvent)
      const expected = [...decoder.push(bytes), ...decoder.end()].map((record) =>
        JSON.stringify(encode(Either.getOrThrow(Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)(record))))
        + "\n"
      ).join("")
      for (const [size, perChunk] of [[1, 7], [97, 1], [4096, 3], [bytes.length, 1]] as const) {
        const updates: Array<number> = []
        const out = yield* ndjson(pieces(size, perChunk), (rows) => Effect.sync(() => updates.push(rows))).pipe(
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray)
        )
        expect(Buffer.concat(out).toString("utf8")).toBe(expected)
        expect(updates.at(-1)).toBe(300)
        for (let k = 1; k < updates.length; k++) expect(updates[k]!).toBeGreaterThanOrEqual(updates[k - 1]!)
      }
    }))

  it.effect("a malformed row: the lines before it, then the export's UnexpectedResponse naming the event", () =>
    Effect.gen(function*() {
      const broken = csv.replace("2024-01-01T00:00:05.000Z", "yesterday")
      const out = yield* ndjson(Stream.make(utf8.encode(broken)), () => Effect.void).pipe(
        Stream.either,
        Stream.runCollect,
        Effect.map(Chunk.toReadonlyArray)
      )
      const lines = Buffer.concat(out.filter(Either.isRight).map((item) => item.right)).toString("utf8")
      expect(lines.split("\n").filter((line) => line !== "")).toHaveLength(5)
      const error = out.find(Either.isLeft)?.left
      expect(error?._tag).toBe("UnexpectedResponse")
      expect(error?.message).toContain("the audit-log CSV is malformed (event \"evt_5\"")
    }))
})
