/**
 * Text written straight into UTF-8 bytes, for writers that fill a buffer
 * field by field (the audit-log CSV of `AuditLog.csvChunks`): the bytes
 * `TextEncoder` gives for the same text — a surrogate pair as one 4-byte
 * character, a lone surrogate as U+FFFD — without building the row as a
 * string first and without a call into the encoder per row.
 *
 * Every UTF-16 code unit takes at most `maxBytesPerUnit` bytes, a doubled
 * quote included (two bytes for one unit), so `maxBytesPerUnit * length`
 * bytes of room are always enough.
 *
 * @internal
 */

/** At most this many bytes per UTF-16 code unit of the text (doubled quotes included). */
export const maxBytesPerUnit = 3

const quote = 0x22

/**
 * The UTF-8 bytes of the non-ASCII code unit `unit` at `k` of `text` (with
 * the next unit when the two are a surrogate pair); returns the new end.
 * The caller skips the pair's second unit (see `pairAt`).
 */
export const writeNonAscii = (bytes: Uint8Array, at: number, text: string, k: number, unit: number): number => {
  if (unit < 0x800) {
    bytes[at] = 0xc0 | (unit >> 6)
    bytes[at + 1] = 0x80 | (unit & 0x3f)
    return at + 2
  }
  if (unit >= 0xd800 && unit <= 0xdfff) {
    if (pairAt(text, k, unit)) {
      const point = 0x10000 + ((unit - 0xd800) << 10) + (text.charCodeAt(k + 1) - 0xdc00)
      bytes[at] = 0xf0 | (point >> 18)
      bytes[at + 1] = 0x80 | ((point >> 12) & 0x3f)
      bytes[at + 2] = 0x80 | ((point >> 6) & 0x3f)
      bytes[at + 3] = 0x80 | (point & 0x3f)
      return at + 4
    }
    // A lone surrogate: U+FFFD, as TextEncoder writes it.
    bytes[at] = 0xef
    bytes[at + 1] = 0xbf
    bytes[at + 2] = 0xbd
    return at + 3
  }
  bytes[at] = 0xe0 | (unit >> 12)
  bytes[at + 1] = 0x80 | ((unit >> 6) & 0x3f)
  bytes[at + 2] = 0x80 | (unit & 0x3f)
  return at + 3
}

/** True when `unit` (at `k`) is a high surrogate followed by a low one: one character in two units. */
export const pairAt = (text: string, k: number, unit: number): boolean => {
  if (unit > 0xdbff) return false
  const next = text.charCodeAt(k + 1) // NaN past the end
  return next >= 0xdc00 && next <= 0xdfff
}

/** `text` as UTF-8 into `bytes` from `at` (room: `maxBytesPerUnit * text.length`); returns the new end. */
export const writeUtf8 = (bytes: Uint8Array, at: number, text: string): number => {
  const length = text.length
  for (let k = 0; k < length; k++) {
    const unit = text.charCodeAt(k)
    if (unit < 0x80) {
      bytes[at++] = unit
    } else {
      at = writeNonAscii(bytes, at, text, k, unit)
      if (pairAt(text, k, unit)) k++
    }
  }
  return at
}

/**
 * `text` as UTF-8 with every `"` doubled (the inside of a quoted CSV field),
 * into `bytes` from `at` (room: `maxBytesPerUnit * text.length`); returns
 * the new end.
 */
export const writeUtf8QuotesDoubled = (bytes: Uint8Array, at: number, text: string): number => {
  const length = text.length
  for (let k = 0; k < length; k++) {
    const unit = text.charCodeAt(k)
    if (unit < 0x80) {
      bytes[at++] = unit
      if (unit === quote) bytes[at++] = quote
    } else {
      at = writeNonAscii(bytes, at, text, k, unit)
      if (pairAt(text, k, unit)) k++
    }
  }
  return at
}
