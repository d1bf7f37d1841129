/** The parsers `csv-worker.ts` can run, in the order `csv.ts` reports them. */
export const csvParserNames = [
  "cubeplane makeDecoder",
  "cubeplane Csv.decode (Effect Stream)",
  "papaparse (header: true)",
  "csv-parse (columns: true)",
  "read only (no parsing)"
] as const

export type CsvParserName = (typeof csvParserNames)[number]

/** What a worker prints, as one JSON line. */
export interface CsvWorkerResult {
  readonly rows: number
  readonly checksum: number
  readonly errors: number
  readonly ms: number
  readonly maxRssMb: number
}
