import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { execFileSync } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as CsvScan from "../src/internal/csvScan.js"
import { cut, lineRule, scanByte } from "./csvRule.js"

// The row counter's and the quote check's two engines (`Csv.makeRowCounter` and `Csv.makeQuoteCheck`
// use SIMD where it runs, which is here), each held to the rule read one byte at a time.

const simdLines = CsvScan.simdLineScanner
const simdQuotes = CsvScan.simdQuoteScanner

const engines: ReadonlyArray<readonly [string, () => CsvScan.LineScanner, () => CsvScan.QuoteScanner]> = [
  ["JavaScript", CsvScan.jsLineScanner, CsvScan.jsQuoteScanner],
  ["WebAssembly SIMD", () => simdLines()!, () => simdQuotes()!]
]

const reference = lineRule

/** `input` cut at the given offsets (any numbers: taken modulo its length + 1, in order). */
const cutAnywhere = (input: Uint8Array, at: ReadonlyArray<number>): Array<Uint8Array> =>
  cut(input, [...at].map((n) => n % (input.length + 1)).sort((x, y) => x - y))

const scanLines = (make: () => CsvScan.LineScanner, chunks: ReadonlyArray<Uint8Array>) => {
  const scanner = make()
  let last = 0
  const seen: Array<number> = []
  for (const chunk of chunks) {
    const lines = scanner.push(chunk)
    expect(lines).toBeGreaterThanOrEqual(last)
    last = lines
    seen.push(lines)
  }
  return { ...scanner.finish(), seen }
}

const scanQuotes = (make: () => CsvScan.QuoteScanner, chunks: ReadonlyArray<Uint8Array>) => {
  const scanner = make()
  for (const chunk of chunks) scanner.push(chunk)
  return scanner.quoted()
}

describe("CSV byte scans", () => {
  it("WebAssembly SIMD runs on this Node (so the SIMD engine is the one tested and used)", () => {
    expect(simdLines()).toBeDefined()
    expect(simdQuotes()).toBeDefined()
    expect(CsvScan.lineScanner()).toBeInstanceOf(simdLines()!.constructor)
  })

  it("the committed WebAssembly module is what csvScan.wat compiles to", () => {
    const core = join(dirname(fileURLToPath(import.meta.url)), "..")
    // Exits non-zero, saying what to run, if the two differ.
    expect(() => execFileSync(process.execPath, ["scripts/build-wasm.mjs", "--check"], { cwd: core, stdio: "pipe" }))
      .not.toThrow()
  })

  for (const [name, lines, quotes] of engines) {
    describe(name, () => {
      it("any bytes, at any alignment and in any chunking: the lines and the quote state of the rule", () => {
        FastCheck.assert(
          FastCheck.property(
            FastCheck.array(scanByte, { maxLength: 300, size: "max" }),
            FastCheck.nat(31),
            FastCheck.array(FastCheck.nat(400), { maxLength: 5 }),
            (values, shift, at) => {
              const backing = new Uint8Array(values.length + shift)
              backing.set(values, shift)
              const input = backing.subarray(shift)
              const chunks = cutAnywhere(input, at)
              const expected = reference(input)
              const scanned = scanLines(lines, chunks)
              expect({ lines: scanned.lines, quoted: scanned.quoted }).toEqual(expected)
              // As bytes pass, the lines the bytes so far have ended.
              let sofar = 0
              chunks.forEach((chunk, k) => {
                sofar += chunk.length
                expect(scanned.seen[k]).toBe(reference(input.subarray(0, sofar), false).lines)
              })
              expect(scanQuotes(quotes, chunks)).toBe(expected.quoted)
            }
          ),
          { numRuns: 1_000 }
        )
      })

      it("chunks larger than one scan window (64 KiB) and lines that cross it", () => {
        FastCheck.assert(
          FastCheck.property(
            FastCheck.integer({ min: 1, max: 2 ** 32 - 1 }),
            FastCheck.array(FastCheck.nat(300_000), { maxLength: 3 }),
            (seed, at) => {
              // 200 KB of CSV-like bytes: mostly text, a quote or line end now and then.
              let state = seed
              const input = new Uint8Array(200_000)
              for (let i = 0; i < input.length; i++) {
                state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
                const r = state >>> 24
                input[i] = r < 6 ? 0x22 : r < 10 ? 0x0a : r < 12 ? 0x0d : 0x61 + (r & 15)
              }
              const chunks = cutAnywhere(input, at)
              const expected = reference(input)
              const scanned = scanLines(lines, chunks)
              expect({ lines: scanned.lines, quoted: scanned.quoted }).toEqual(expected)
              expect(scanQuotes(quotes, chunks)).toBe(expected.quoted)
            }
          ),
          { numRuns: 40 }
        )
      })

      it("blank lines, CR-only lines and the input's first bytes", () => {
        const text = (s: string) => new TextEncoder().encode(s)
        for (
          const input of [
            "",
            "\n",
            "\r\n",
            "\r",
            "a",
            "\n\n\na\n",
            "\r\n\r\na\r\n\r\n",
            "a\r",
            "a\n\r",
            "\"\n\"\n",
            "\"a"
          ]
        ) {
          const bytes = text(input)
          for (let at = 0; at <= bytes.length; at++) {
            const scanned = scanLines(lines, cutAnywhere(bytes, [at]))
            expect({ lines: scanned.lines, quoted: scanned.quoted }, JSON.stringify(input)).toEqual(reference(bytes))
          }
        }
      })
    })
  }
})
