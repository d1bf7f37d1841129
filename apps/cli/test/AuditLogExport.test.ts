/**
 * `audit-logs export`: the CSV is copied byte for byte with a correct
 * progress count, and NDJSON is the schema's JSON form of every event.
 */
import * as Csv from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Schema, Stream } from "effect"
import { csvThrough, ndjsonThrough } from "../src/handlers/audit-logs.js"
import type * as NodeBody from "../src/NodeBody.js"
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

/**
 * A `Through` fed the bytes in pieces of `size`, as the socket would deliver
 * them, until it stops: what it wrote, the progress it told, its failure.
 */
const runThrough = <E>(
  make: (onProgress: (rows: number, bytes: number) => void) => NodeBody.Through<E>,
  input: Uint8Array,
  size: number
) => {
  const updates: Array<[number, number]> = []
  const step = make((rows, bytes) => updates.push([rows, bytes]))
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
  return { bytes: Buffer.concat(out), updates, stopped }
}

/** Progress is never ahead of the truth and never goes back. */
const expectMonotonic = (updates: ReadonlyArray<readonly [number, number]>) => {
  for (let k = 1; k < updates.length; k++) {
    expect(updates[k]![0]).toBeGreaterThanOrEqual(updates[k - 1]![0])
    expect(updates[k]![1]).toBeGreaterThanOrEqual(updates[k - 1]![1])
  }
}

describe("audit-logs export --format csv (stdout or --out): csvThrough", () => {
  it("passes the bytes on unchanged and reports every record and byte", () => {
    for (const size of [1, 97, 4096, bytes.length]) {
      const { bytes: out, stopped, updates } = runThrough(csvThrough, bytes, size)
      expect(stopped).toBeUndefined()
      expect(out.equals(Buffer.from(bytes))).toBe(true)
      expect(updates.at(-1)).toEqual([300, bytes.length])
      expectMonotonic(updates)
      expect(Progress.line(updates.at(-1)![0], updates.at(-1)![1], 1000)).toContain("300 rows")
    }
  })

  it("a file cut inside a quoted field stops, saying how far it got", () => {
    const cutAt = csv.indexOf("line one")
    const { stopped } = runThrough(csvThrough, utf8.encode(csv.slice(0, cutAt)), 64)
    expect(stopped?.message).toMatch(/cut off after \d+ rows .* try again/)
  })
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

  const through = (input: Uint8Array, size: number) => {
    const { bytes: out, stopped, updates } = runThrough(ndjsonThrough, input, size)
    return { text: out.toString("utf8"), updates, stopped }
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
      expectMonotonic(updates)
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
