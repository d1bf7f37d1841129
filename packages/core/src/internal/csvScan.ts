/**
 * The byte scans behind `Csv.makeRowCounter` and `Csv.makeQuoteCheck`: where
 * a CSV's lines end and whether it ends inside quotes, without decoding it.
 *
 * Two engines with the same rule: WebAssembly SIMD (`csvScan.wat`), 16 bytes
 * per step, used wherever WebAssembly with SIMD runs (Node, browsers); and
 * the same in JavaScript, 4 bytes per step, where it does not (`--jitless`,
 * some sandboxes). `Csv` picks one; the tests hold both to the byte-by-byte
 * rule.
 *
 * The rule: a LF outside quotes ends a line; a line that is empty or only a
 * CR is not counted; a quote flips the quote state (a doubled quote flips it
 * twice).
 */
import { csvScanWasm } from "./csvScanWasm.js"

/** Lines as bytes pass: `push` them, then `finish` once. */
export interface LineScanner {
  /** Feed bytes (not copied, not kept); returns the lines completed so far. */
  push(chunk: Uint8Array): number
  /**
   * End of input: the lines, a last one without a LF (and not only a CR)
   * included, and whether the input ended inside quotes.
   */
  finish(): { readonly lines: number; readonly quoted: boolean }
}

/** Quote parity as bytes pass. */
export interface QuoteScanner {
  push(chunk: Uint8Array): void
  /** Whether the bytes so far end inside quotes. */
  quoted(): boolean
}

// ---------------------------------------------------------------------------------------------
// JavaScript

const CR = 13

// Bytes of a 4-byte word, compared all at once: `zeroBytes(word ^ 0x22222222)` has the high bit
// of each byte that is a quote (0x22) set, and no other bit (no carry crosses a byte: 0x7f + 0x7f
// < 0x100); 0x0a0a0a0a does the same for LF. The numbers are written inline, not as module
// constants: a bundler (esbuild, as the CLI's) turns those into mutable variables, which the
// JIT reads on every use, and these loops run for every 4 bytes of an export.
const zeroBytes = (word: number): number => ~(((word & 0x7f7f7f7f) + 0x7f7f7f7f) | word | 0x7f7f7f7f)
/** 1 if `marks` (high bits of bytes only) has an odd number of them. */
const parity = (marks: number): number => {
  let folded = marks >>> 7
  folded ^= folded >>> 16
  folded ^= folded >>> 8
  return folded & 1
}

/** Below this many bytes, a chunk is scanned byte by byte (a word view costs more than it saves). */
const minWordScan = 64

class JsLineScanner implements LineScanner {
  private lines = 0
  private quoted = 0
  // Bytes seen before the current chunk, where the row in progress starts, and the byte before the chunk.
  private offset = 0
  private lineStart = 0
  private previous = -1

  /** The exact rule, byte by byte, over `chunk[from..to)`. */
  private scan(chunk: Uint8Array, from: number, to: number): void {
    let inQuotes = this.quoted
    let rows = this.lines
    let start = this.lineStart
    const base = this.offset
    // 0x22 a quote, 0x0a LF, 0x0d CR (inline: see `zeroBytes`).
    for (let i = from; i < to; i++) {
      const byte = chunk[i]!
      if (byte === 0x22) inQuotes ^= 1
      else if (byte === 0x0a && inQuotes === 0) {
        const at = base + i
        // Not a row: an empty line, or one that holds only a CR.
        if (at > start && !(at === start + 1 && (i > 0 ? chunk[i - 1] : this.previous) === 0x0d)) rows++
        start = at + 1
      }
    }
    this.quoted = inQuotes
    this.lines = rows
    this.lineStart = start
  }

  push(chunk: Uint8Array): number {
    const length = chunk.length
    // Four bytes at a time where the chunk allows an aligned word view. A word without a LF
    // (most of them) only adds its quotes: their marks are XOR-folded, and the parity of the fold
    // (that of their count) flips the quote state once, before the next word with a LF, which
    // goes through `scan` byte by byte.
    // The word arithmetic is written out here rather than called (`zeroBytes`, `parity`): in a
    // bundle that loads this module lazily (the CLI's), esbuild makes those functions mutable
    // variables, and calling them cost this loop ~15%. Whether a word holds a LF at all needs
    // less than marking each LF: `(x - 0x01010101) & ~x & 0x80808080` is non-zero exactly when
    // some byte of `x` is zero (a borrow only runs on from a zero byte).
    const head = Math.min(length, (4 - (chunk.byteOffset & 3)) & 3)
    const count = (length - head) >> 2
    if (length < minWordScan) this.scan(chunk, 0, length)
    else {
      this.scan(chunk, 0, head)
      const words = new Int32Array(chunk.buffer, chunk.byteOffset + head, count)
      let marks = 0
      for (let w = 0; w < count; w++) {
        const word = words[w]!
        const lf = word ^ 0x0a0a0a0a
        if (((lf - 0x01010101) & ~lf & 0x80808080) !== 0) {
          let folded = marks >>> 7
          folded ^= folded >>> 16
          folded ^= folded >>> 8
          this.quoted ^= folded & 1
          marks = 0
          const at = head + (w << 2)
          this.scan(chunk, at, at + 4)
        } else {
          const quote = word ^ 0x22222222
          marks ^= ~(((quote & 0x7f7f7f7f) + 0x7f7f7f7f) | quote | 0x7f7f7f7f)
        }
      }
      this.quoted ^= parity(marks)
      this.scan(chunk, head + (count << 2), length)
    }
    if (length > 0) this.previous = chunk[length - 1]!
    this.offset += length
    return this.lines
  }

  finish() {
    // A last line without a line end (and not just a CR).
    if (this.offset > this.lineStart && !(this.offset === this.lineStart + 1 && this.previous === CR)) this.lines++
    this.lineStart = this.offset
    return { lines: this.lines, quoted: this.quoted === 1 }
  }
}

class JsQuoteScanner implements QuoteScanner {
  private odd = 0

  private bytewise(chunk: Uint8Array, from: number, to: number) {
    for (let i = from; i < to; i++) if (chunk[i] === 0x22) this.odd ^= 1
  }

  push(chunk: Uint8Array): void {
    const length = chunk.length
    if (length < minWordScan) return this.bytewise(chunk, 0, length)
    const head = (4 - (chunk.byteOffset & 3)) & 3
    const count = (length - head) >> 2
    this.bytewise(chunk, 0, head)
    const words = new Int32Array(chunk.buffer, chunk.byteOffset + head, count)
    // The XOR of every word's quote marks has as many marks, modulo 2, as all of them together.
    let marks = 0
    for (let w = 0; w < count; w++) marks ^= zeroBytes(words[w]! ^ 0x22222222)
    this.odd ^= parity(marks)
    this.bytewise(chunk, head + (count << 2), length)
  }

  quoted(): boolean {
    return this.odd === 1
  }
}

/** @internal */
export const jsLineScanner = (): LineScanner => new JsLineScanner()
/** @internal */
export const jsQuoteScanner = (): QuoteScanner => new JsQuoteScanner()

// ---------------------------------------------------------------------------------------------
// WebAssembly SIMD

interface Exports {
  readonly memory: WebAssembly.Memory
  readonly count: (n: number, quoted: number, carryR: number, carryC: number, since: number) => number
  readonly quotes: (n: number) => number
  readonly quoted: WebAssembly.Global
  readonly carryR: WebAssembly.Global
  readonly carryC: WebAssembly.Global
  readonly since: WebAssembly.Global
}

/** The bytes one call scans: they are copied into the module's memory, its first page. */
const window = 65_536

interface Simd {
  readonly exports: Exports
  readonly memory: Uint8Array
}

// One instance for the process, made on first use: a scan copies its bytes in and runs to the end
// synchronously, so scanners share it (each keeps its own state and passes it in).
let simd: Simd | null | undefined

const loadSimd = (): Simd | null => {
  try {
    if (typeof WebAssembly !== "object") return null
    const binary = Uint8Array.from(atob(csvScanWasm), (c) => c.charCodeAt(0))
    if (!WebAssembly.validate(binary)) return null
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(binary), {})
    if (!isExports(exports)) return null
    return { exports, memory: new Uint8Array(exports.memory.buffer, 0, window) }
  } catch {
    // No WebAssembly (`--jitless`), or no SIMD: the JavaScript engine.
    return null
  }
}

/** The module's exports, as `csvScan.wat` declares them. */
const isExports = (exports: WebAssembly.Exports): exports is WebAssembly.Exports & Exports =>
  exports.memory instanceof WebAssembly.Memory && typeof exports.count === "function" &&
  typeof exports.quotes === "function" && exports.quoted instanceof WebAssembly.Global &&
  exports.carryR instanceof WebAssembly.Global && exports.carryC instanceof WebAssembly.Global &&
  exports.since instanceof WebAssembly.Global

const getSimd = (): Simd | null => {
  if (simd === undefined) simd = loadSimd()
  return simd
}

/** Copies `chunk` into the module's memory a window at a time, calling `scan` with each window's length. */
const copyWindows = ({ memory }: Simd, chunk: Uint8Array, scan: (n: number) => void): void => {
  for (let from = 0; from < chunk.length; from += window) {
    const n = Math.min(window, chunk.length - from)
    memory.set(n === chunk.length ? chunk : chunk.subarray(from, from + n))
    scan(n)
  }
}

class SimdLineScanner implements LineScanner {
  private lines = 0
  private quoted = 0
  private carryR = 2
  private carryC = 0
  private since = 0

  constructor(private readonly simd: Simd) {}

  push(chunk: Uint8Array): number {
    const { exports } = this.simd
    copyWindows(this.simd, chunk, (n) => {
      this.lines += exports.count(n, this.quoted, this.carryR, this.carryC, this.since)
      this.quoted = exports.quoted.value
      this.carryR = exports.carryR.value
      this.carryC = exports.carryC.value
      this.since = exports.since.value
    })
    return this.lines
  }

  finish() {
    // A last line without a line end (and not just a CR: bit 1 of carryC is the last byte).
    if (this.since > 0 && !(this.since === 1 && (this.carryC & 2) !== 0)) this.lines++
    this.since = 0
    return { lines: this.lines, quoted: this.quoted === 1 }
  }
}

class SimdQuoteScanner implements QuoteScanner {
  private odd = 0

  constructor(private readonly simd: Simd) {}

  push(chunk: Uint8Array): void {
    const { exports } = this.simd
    copyWindows(this.simd, chunk, (n) => {
      this.odd ^= exports.quotes(n)
    })
  }

  quoted(): boolean {
    return this.odd === 1
  }
}

/** @internal The SIMD engine, or `undefined` where WebAssembly SIMD does not run. */
export const simdLineScanner = (): LineScanner | undefined => {
  const loaded = getSimd()
  return loaded === null ? undefined : new SimdLineScanner(loaded)
}

/** @internal */
export const simdQuoteScanner = (): QuoteScanner | undefined => {
  const loaded = getSimd()
  return loaded === null ? undefined : new SimdQuoteScanner(loaded)
}

/** The engine this runtime has: SIMD where it runs, else JavaScript. */
export const lineScanner = (): LineScanner => simdLineScanner() ?? jsLineScanner()

/** The engine this runtime has: SIMD where it runs, else JavaScript. */
export const quoteScanner = (): QuoteScanner => simdQuoteScanner() ?? jsQuoteScanner()
