/**
 * `JSON.stringify(value)` as the inside of a quoted CSV field, written
 * straight into UTF-8 bytes: the bytes `writeUtf8QuotesDoubled(bytes, at,
 * JSON.stringify(value))` writes (every `"` doubled), without building the
 * JSON text first. This is the `attributes` column of the audit-log CSV,
 * where building, scanning and copying the text was the largest cost per
 * row.
 *
 * Only for plain data: strings, numbers, booleans, `null`, and arrays and
 * objects whose prototype is `Array.prototype` / `Object.prototype` (or
 * `null`) with no `toJSON`, nested at most `maxDepth` deep, are written the
 * way `JSON.stringify` writes them (keys in `Object.keys` order, members
 * whose value is `undefined`, a function or a symbol left out, and `null`
 * for those in arrays, non-finite numbers as `null`, the same escapes,
 * lone surrogates as `\udxxx`). For anything else — a Date or any other
 * object with `toJSON`, a class instance, a boxed primitive, a BigInt, a
 * cycle — it answers `unsupported` and the caller uses `JSON.stringify`
 * itself. The tests hold the two to the same bytes.
 *
 * Writes past the end of `bytes` are dropped by the typed array, so the
 * caller compares the returned end with `bytes.length` and writes the row
 * again (with `JSON.stringify`'s text, whose length it then knows) when it
 * did not fit.
 *
 * @internal
 */
import { pairAt, writeNonAscii } from "./utf8Writer.js"

/** The answer for a value this writer leaves to `JSON.stringify`. */
export const unsupported = -1

/** Deeper than this, the value goes to `JSON.stringify` (which also reports a cycle). */
export const maxDepth = 64

const quote = 0x22
const backslash = 0x5c
const hexDigits = "0123456789abcdef"

/** `\uXXXX` (lowercase hex, as `JSON.stringify` writes it) for a code unit. */
const writeUnicodeEscape = (bytes: Uint8Array, at: number, unit: number): number => {
  bytes[at] = backslash
  bytes[at + 1] = 0x75 // u
  bytes[at + 2] = hexDigits.charCodeAt(unit >> 12)
  bytes[at + 3] = hexDigits.charCodeAt((unit >> 8) & 15)
  bytes[at + 4] = hexDigits.charCodeAt((unit >> 4) & 15)
  bytes[at + 5] = hexDigits.charCodeAt(unit & 15)
  return at + 6
}

/** The short escape letter of a control character, or 0 for those written as `\u00XX`. */
const shortEscapes: ReadonlyArray<number> = Array.from({ length: 0x20 }, (_, unit) => {
  switch (unit) {
    case 0x08:
      return 0x62 // b
    case 0x09:
      return 0x74 // t
    case 0x0a:
      return 0x6e // n
    case 0x0c:
      return 0x66 // f
    case 0x0d:
      return 0x72 // r
    default:
      return 0
  }
})

/** A JSON string literal (quotes included), every `"` doubled. */
const writeString = (bytes: Uint8Array, at: number, text: string): number => {
  bytes[at] = quote
  bytes[at + 1] = quote
  at += 2
  const length = text.length
  for (let k = 0; k < length; k++) {
    const unit = text.charCodeAt(k)
    if (unit >= 0x20 && unit < 0x80) {
      if (unit === quote) {
        // `\"`, its quote doubled.
        bytes[at] = backslash
        bytes[at + 1] = quote
        bytes[at + 2] = quote
        at += 3
      } else if (unit === backslash) {
        bytes[at] = backslash
        bytes[at + 1] = backslash
        at += 2
      } else {
        bytes[at++] = unit
      }
    } else if (unit < 0x20) {
      const letter = shortEscapes[unit]!
      if (letter === 0) {
        at = writeUnicodeEscape(bytes, at, unit)
      } else {
        bytes[at] = backslash
        bytes[at + 1] = letter
        at += 2
      }
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      if (pairAt(text, k, unit)) {
        at = writeNonAscii(bytes, at, text, k, unit)
        k++
      } else {
        at = writeUnicodeEscape(bytes, at, unit)
      }
    } else {
      at = writeNonAscii(bytes, at, text, k, unit)
    }
  }
  bytes[at] = quote
  bytes[at + 1] = quote
  return at + 2
}

/** The ASCII characters of `text` (a keyword or a number's text). */
const writeAscii = (bytes: Uint8Array, at: number, text: string): number => {
  for (let k = 0; k < text.length; k++) bytes[at++] = text.charCodeAt(k)
  return at
}

/** A non-negative integer below 2^31 in decimal. */
const writeDigits = (bytes: Uint8Array, at: number, n: number): number => {
  let digits = 1
  for (let rest = n; rest >= 10; rest = (rest / 10) | 0) digits++
  for (let k = at + digits - 1; k >= at; k--) {
    const tenth = (n / 10) | 0
    bytes[k] = 48 + n - tenth * 10
    n = tenth
  }
  return at + digits
}

const writeNumber = (bytes: Uint8Array, at: number, n: number): number => {
  // `-0` is written `0`, as `String(-0)` and `JSON.stringify(-0)` write it.
  if (n >= 0 && n <= 0x7fffffff && (n | 0) === n) return writeDigits(bytes, at, n)
  return writeAscii(bytes, at, Number.isFinite(n) ? String(n) : "null")
}

/** True for the values `JSON.stringify` leaves out of an object (and writes as `null` in an array). */
const isSkipped = (value: unknown): boolean =>
  value === undefined || typeof value === "function" || typeof value === "symbol"

/** Any object, its members read by key (arrays included). */
const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null

/** An array or object with nothing `JSON.stringify` would treat its own way: no `toJSON`, a plain prototype. */
const isPlainContainer = (value: Readonly<Record<string, unknown>>, isArray: boolean): boolean => {
  if (typeof value.toJSON === "function") return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return isArray ? prototype === Array.prototype : prototype === Object.prototype || prototype === null
}

const writeValue = (bytes: Uint8Array, at: number, value: unknown, depth: number): number => {
  switch (typeof value) {
    case "string":
      return writeString(bytes, at, value)
    case "number":
      return writeNumber(bytes, at, value)
    case "boolean":
      return writeAscii(bytes, at, value ? "true" : "false")
    case "object":
      return isObject(value) ? writeContainer(bytes, at, value, depth) : writeAscii(bytes, at, "null")
    default:
      // A BigInt (which `JSON.stringify` refuses, or writes by a `toJSON` of its own).
      return unsupported
  }
}

const writeContainer = (
  bytes: Uint8Array,
  at: number,
  value: Readonly<Record<string, unknown>>,
  depth: number
): number => {
  const isArray = Array.isArray(value)
  if (depth >= maxDepth || !isPlainContainer(value, isArray)) return unsupported
  const limit = bytes.length
  if (isArray) {
    bytes[at++] = 0x5b // [
    const length = value.length
    for (let k = 0; k < length; k++) {
      if (k > 0) bytes[at++] = 0x2c
      const item: unknown = value[k]
      at = isSkipped(item) ? writeAscii(bytes, at, "null") : writeValue(bytes, at, item, depth + 1)
      // Unsupported, or past the end: stop here either way.
      if (at < 0 || at > limit) return at
    }
    bytes[at] = 0x5d // ]
    return at + 1
  }
  bytes[at++] = 0x7b // {
  const keys = Object.keys(value)
  let first = true
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!
    const item = value[key]
    if (isSkipped(item)) continue
    if (!first) bytes[at++] = 0x2c
    first = false
    at = writeString(bytes, at, key)
    bytes[at++] = 0x3a // :
    at = writeValue(bytes, at, item, depth + 1)
    if (at < 0 || at > limit) return at
  }
  bytes[at] = 0x7d // }
  return at + 1
}

/**
 * `JSON.stringify(value)` with every `"` doubled, as UTF-8 into `bytes` from
 * `at`; returns the new end (past `bytes.length` if it did not fit), or
 * `unsupported` for a value left to `JSON.stringify`.
 */
export const writeJsonQuotesDoubled = (bytes: Uint8Array, at: number, value: unknown): number =>
  isSkipped(value) ? unsupported : writeValue(bytes, at, value, 0)
