/**
 * Decodes one CSV file with one parser and prints one JSON line:
 * `{ rows, checksum, errors, ms, maxRssMb }`. Run in its own process by `bench/csv.ts`
 * so that peak RSS belongs to this parser alone.
 *
 *   node --import tsx lib/csv-worker.ts <parser> <file>
 *
 * Every parser streams the file from `fs.createReadStream` (64 KiB chunks),
 * produces header-keyed records, counts them and sums the length of their
 * `attributes` field (the multi-line, quote-heavy one): the checksum shows the
 * parsers agree on the values, not only on the row count.
 */
import * as Csv from "@cubeplane/core/Csv"
import { parse as csvParse } from "csv-parse"
import { Effect, Stream } from "effect"
import { once } from "node:events"
import { createReadStream } from "node:fs"
import Papa from "papaparse"
import { type CsvParserName, csvParserNames, type CsvWorkerResult } from "./csv-parsers.js"

interface Tally {
  rows: number
  checksum: number
  /** Errors the parser reported without stopping (papaparse only). */
  errors?: number
}

type AuditRecord = Readonly<Record<string, string | undefined>>

const tally = (into: Tally, record: AuditRecord): void => {
  into.rows++
  into.checksum += record["attributes"]?.length ?? -1_000_000
}

const parsers: Record<CsvParserName, (file: string) => Promise<Tally>> = {
  /** No parsing: the cost of reading the file, and the RSS of Node + tsx + the libraries. */
  "read only (no parsing)": async (file) => {
    let bytes = 0
    for await (const chunk of createReadStream(file)) {
      if (chunk instanceof Uint8Array) bytes += chunk.length
    }
    return { rows: 0, checksum: bytes }
  },

  /** The synchronous core, as a non-Effect caller (a proxy, a script) would use it. */
  "cubeplane makeDecoder": async (file) => {
    const result = { rows: 0, checksum: 0 }
    const decoder = Csv.makeDecoder()
    for await (const chunk of createReadStream(file)) {
      if (!(chunk instanceof Uint8Array)) throw new TypeError("expected bytes")
      for (const record of decoder.push(chunk)) tally(result, record)
    }
    for (const record of decoder.end()) tally(result, record)
    return result
  },

  /** The Effect stream, fed from the same Node read stream, folded into the tally. */
  "cubeplane Csv.decode (Effect Stream)": (file) =>
    Stream.fromAsyncIterable(createReadStream(file), (cause) => cause).pipe(
      Stream.filter((chunk): chunk is Uint8Array => chunk instanceof Uint8Array),
      Csv.decode(),
      Stream.runFold({ rows: 0, checksum: 0 }, (result, record) => {
        tally(result, record)
        return result
      }),
      Effect.runPromise
    ),

  /** csv-parse's stream API, read the way its docs show (`readable` + `read()`). */
  "csv-parse (columns: true)": async (file) => {
    const result = { rows: 0, checksum: 0 }
    const parser = createReadStream(file).pipe(csvParse({ columns: true }))
    parser.on("readable", () => {
      let record: AuditRecord | null
      while ((record = parser.read()) !== null) tally(result, record)
    })
    await once(parser, "end")
    return result
  },

  /**
   * papaparse's Node stream mode with the `chunk` callback (faster than `step`), on a
   * UTF-8 text stream so that it never sees a character cut in two. It reports problems
   * in `errors` and keeps going: they are counted (on this well-formed file it flags a
   * few quoted fields, in stream mode only).
   */
  "papaparse (header: true)": (file) =>
    new Promise((resolve, reject) => {
      const result = { rows: 0, checksum: 0, errors: 0 }
      Papa.parse<AuditRecord>(createReadStream(file, { encoding: "utf8" }), {
        header: true,
        chunk: (results) => {
          result.errors += results.errors.length
          for (const record of results.data) tally(result, record)
        },
        complete: () => resolve(result),
        error: reject
      })
    })
}

const [name, file] = process.argv.slice(2)
const parserName = csvParserNames.find((known) => known === name)
if (parserName === undefined || file === undefined) {
  console.error(`usage: csv-worker.ts <${csvParserNames.join("|")}> <file>`)
  process.exit(2)
}
const started = performance.now()
const { checksum, errors = 0, rows } = await parsers[parserName](file)
const result: CsvWorkerResult = {
  rows,
  checksum,
  errors,
  ms: performance.now() - started,
  maxRssMb: process.resourceUsage().maxRSS / 1024
}
console.log(JSON.stringify(result))
