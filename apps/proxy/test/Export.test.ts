/**
 * The proxy's NDJSON conversion is core's transcoder: the schema's JSON lines
 * of every event however the upstream cuts its chunks, and a malformed export
 * stops after the lines before the bad row (the caller's transfer is then cut).
 */
import * as Csv from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as Export from "../src/Export.js"

const header = Csv.encodeRow(Domain.auditLogColumns)
const row = (k: number) =>
  Csv.encodeRow([
    `evt_${k}`,
    new Date(Date.UTC(2024, 0, 1) + k * 1000).toISOString(),
    k % 2 === 0 ? "Logged in" : "Updated deployment \"Prod\"",
    k % 3 === 0 ? "" : "zoë@example.com",
    k % 2 === 0 ? "" : "123",
    k % 2 === 0 ? "" : "Analytics, EU",
    "203.0.113.7",
    JSON.stringify(k % 4 === 0 ? { note: "line one\nline two" } : { k })
  ])

/** The converter fed `text` in pieces of `size` bytes: what it emitted, and what it threw. */
const convert = (text: string, size: number) => {
  const bytes = Buffer.from(text)
  const converter = Export.ndjsonConverter()
  const out: Array<Uint8Array> = []
  const emit = (piece: Uint8Array) => out.push(piece)
  let thrown: unknown
  try {
    for (let at = 0; at < bytes.length; at += size) converter.push(bytes.subarray(at, at + size), emit)
    converter.end(emit)
  } catch (error) {
    thrown = error
  }
  return { text: Buffer.concat(out).toString("utf8"), thrown }
}

/** The schema path's lines: each record decoded to an event and encoded in its wire form. */
const schemaLines = (text: string) => {
  const decoder = Csv.makeDecoder()
  const encode = Schema.encodeSync(Domain.AuditLogEvent)
  return [...decoder.push(Buffer.from(text)), ...decoder.end()].map((record) =>
    JSON.stringify(encode(Either.getOrThrow(Schema.decodeUnknownEither(Domain.AuditLogEventFromCsvRecord)(record))))
    + "\n"
  ).join("")
}

describe("Export.ndjsonConverter", () => {
  const csv = header + Array.from({ length: 200 }, (_, k) => row(k)).join("")

  it("emits the schema's lines byte for byte, however the chunks are cut", () => {
    const expected = schemaLines(csv)
    for (const size of [1, 7, 100, 4096, csv.length]) {
      const { text, thrown } = convert(csv, size)
      expect(thrown).toBeUndefined()
      expect(text).toBe(expected)
    }
  })

  it("a row that is not an event: the lines before it, then it throws, naming the event", () => {
    const bad = header + Array.from({ length: 50 }, (_, k) => row(k)).join("")
      + "evt_bad,yesterday,Logged in,a@example.com,,,203.0.113.7,{}\r\n" + row(50)
    for (const size of [13, 4096]) {
      const { text, thrown } = convert(bad, size)
      expect(thrown).toBeInstanceOf(Error)
      expect(thrown).toMatchObject({ message: expect.stringContaining("evt_bad") })
      expect(text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line).id)).toEqual(
        Array.from({ length: 50 }, (_, k) => `evt_${k}`)
      )
    }
  })

  it("a file that ends inside a quoted field throws", () => {
    const { thrown } = convert(header + row(0) + "evt_cut,2024-01-01T00:00:00.000Z,\"half", 64)
    expect(thrown).toBeInstanceOf(Error)
  })
})
