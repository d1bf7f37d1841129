import { FastCheck } from "effect"

/**
 * The rule `Csv.makeRowCounter` and the byte scans under it follow, spelled
 * out one byte at a time for the tests to hold them to: a quote flips the
 * quote state; a LF outside quotes ends a line; a line that is empty or only
 * a CR is not counted; at the end of the input (`ended`), a last line without
 * a LF counts too. With `cut`, which splits an input into chunks.
 */
export const lineRule = (input: Uint8Array, ended = true): { lines: number; quoted: boolean } => {
  let quoted = false
  let lines = 0
  let start = 0
  for (let i = 0; i < input.length; i++) {
    if (input[i] === 0x22) quoted = !quoted
    else if (input[i] === 0x0a && !quoted) {
      if (i > start && !(i === start + 1 && input[i - 1] === 0x0d)) lines++
      start = i + 1
    }
  }
  if (ended && input.length > start && !(input.length === start + 1 && input[start] === 0x0d)) lines++
  return { lines, quoted }
}

/** `input` cut at the given offsets (in order, each at most its length). */
export const cut = (input: Uint8Array, at: ReadonlyArray<number>): Array<Uint8Array> => {
  const parts: Array<Uint8Array> = []
  let from = 0
  for (const to of at) {
    parts.push(input.subarray(from, to))
    from = to
  }
  parts.push(input.subarray(from))
  return parts
}

/**
 * A byte for property tests of the scans: the ones they look for (LF, CR,
 * a quote), the same with the high bit set (0x8a, 0x8d, 0xa2), their
 * neighbours (0x09, 0x0b, 0x21, 0x23), 0x00, 0x80 and 0xff — so that no
 * other byte is taken for one of them — or any byte.
 */
export const scanByte = FastCheck.oneof(
  FastCheck.constantFrom(0x0a, 0x0a, 0x0d, 0x22, 0x22, 0x8a, 0x8d, 0xa2, 0x09, 0x0b, 0x21, 0x23, 0xff, 0x00, 0x80),
  FastCheck.integer({ min: 0, max: 255 })
)
