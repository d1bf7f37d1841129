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
