/**
 * Checks an NDJSON export against the CSV it came from, in its own process:
 * every `SAMPLE`-th row of the CSV is decoded by the Domain schemas alone
 * (`Schema.decodeUnknownSync(AuditLogEventFromCsvRecord)`, then
 * `Schema.encodeSync(AuditLogEvent)`: the slow, plain definition of an
 * event) and must equal that line of the NDJSON byte for byte; every line
 * counts towards the checksum of `export-checksum.ts`. Prints
 * `{ lines, rows, checksum, sampled, mismatches, firstMismatch }`.
 */
import * as Csv from "@cubeplane/core/Csv"
import * as Domain from "@cubeplane/core/Domain"
import { Schema } from "effect"
import { createReadStream } from "node:fs"
import { createInterface } from "node:readline"
import { jsonChecksum } from "./export-checksum.js"

const [csvFile, ndjsonFile, sampleText] = process.argv.slice(2)
if (csvFile === undefined || ndjsonFile === undefined) {
  process.stderr.write("usage: export-verify CSV NDJSON [SAMPLE]\n")
  process.exit(2)
}
const sample = Number(sampleText ?? 20)
const decode = Schema.decodeUnknownSync(Domain.AuditLogEventFromCsvRecord)
const encode = Schema.encodeSync(Domain.AuditLogEvent)

const expected = new Map<number, string>()
let rows = 0
const decoder = Csv.makeDecoder()
const take = (records: ReadonlyArray<Csv.CsvRecord>) => {
  for (const record of records) {
    if (rows % sample === 0) expected.set(rows, JSON.stringify(encode(decode(record))))
    rows++
  }
}
for await (const chunk of createReadStream(csvFile, { highWaterMark: 64 * 1024 })) {
  if (chunk instanceof Uint8Array) take(decoder.push(chunk))
}
take(decoder.end())

let lines = 0
let checksum = 0
let mismatches = 0
let firstMismatch: string | undefined
const isJson = Schema.is(Schema.typeSchema(Schema.encodedSchema(Domain.AuditLogEvent)))
for await (const line of createInterface({ input: createReadStream(ndjsonFile), crlfDelay: Infinity })) {
  if (line === "") continue
  const want = expected.get(lines)
  if (want !== undefined && want !== line) {
    mismatches++
    firstMismatch ??= `line ${lines + 1}: expected ${want.slice(0, 200)} got ${line.slice(0, 200)}`
  }
  const json: unknown = JSON.parse(line)
  if (!isJson(json)) {
    mismatches++
    firstMismatch ??= `line ${lines + 1} is not an event's JSON form`
  } else {
    checksum = (checksum + jsonChecksum(json, lines)) % 2_147_483_647
  }
  lines++
}
process.stdout.write(
  `${JSON.stringify({ lines, rows, checksum, sampled: expected.size, mismatches, firstMismatch })}\n`
)
