/**
 * A small, bounded cache that makes the repeated values of one CSV column one
 * shared string, for the audit-log decoder.
 *
 * Why: the CSV parser hands out fields cut from the text of a 16 KiB piece of
 * the input, and V8 keeps a field of 13 or more characters as a slice of that
 * text, so one kept event keeps the whole piece alive. Events that a consumer
 * keeps a while — or that V8 promotes to its old generation because an Effect
 * sink's closure holds the chunk (see BENCHMARKS.md, "Where the time went") —
 * then carry every decoded piece with them: 770 bytes an event for the
 * export's columns, 330 once the repeated columns (event name, email,
 * deployment, IP address) are shared strings.
 *
 * How: a 2-way set-associative table of `slotCount` strings, indexed by a
 * hash of a few characters; a value that is not there is copied (so the table
 * never keeps a piece alive either) and takes the set's first slot. Memory is
 * bounded (`slotCount` strings of at most `maxLength` characters). Values
 * longer than that, and every value while the column's recent hit rate is
 * low (mostly unique values, such as IP addresses of a public service), are
 * returned as they are, so a column that does not repeat costs a counter, not
 * a copy.
 *
 * The value returned is always equal (`===`) to the one given.
 *
 * @internal
 */

/** Strings kept per column: 256 sets of 2. */
const slotCount = 512
const setMask = slotCount / 2 - 1
/** Longer values are not cached (they are rarely repeated, and they would make the table large). */
const maxLength = 128
/** Lookups between two looks at the hit rate. */
const window = 1024
/** Fewer hits than this in a window and the column is not cached for the next `restFor` values. */
const minHits = window / 4
const restFor = 32 * 1024

/**
 * A copy of `text` that does not keep the string it was sliced from alive.
 * V8 copies substrings shorter than 13 characters and keeps longer ones as
 * slices of their parent; a concatenation, when it is sliced, is first
 * flattened into a new string of its own.
 */
const unpinned = (text: string): string => text.length < 13 ? text : (" " + text).slice(1)

/** @internal */
export class ColumnInterner {
  private readonly slots: Array<string> = new Array<string>(slotCount).fill("")
  private lookups = 0
  private hits = 0
  private resting = 0

  /** `text`, or an equal string this column has seen before. */
  intern(text: string): string {
    if (this.resting > 0) {
      this.resting--
      return text
    }
    const n = text.length
    if (n === 0 || n > maxLength) return text
    if (++this.lookups === window) this.review()
    // Both ends and three inner characters: IP addresses differ at the end, emails at the start, names anywhere.
    const h = (n * 31 + text.charCodeAt(0)) * 31 + text.charCodeAt(n >> 2) * 7 + text.charCodeAt(n >> 1) * 17 +
      text.charCodeAt(n - 1 - (n >> 2)) * 5 + text.charCodeAt(n - 1) * 3 + (n > 1 ? text.charCodeAt(n - 2) * 11 : 0)
    const slots = this.slots
    const first = ((h ^ (h >>> 7)) & setMask) << 1
    const front = slots[first]!
    if (front === text) {
      this.hits++
      return front
    }
    const back = slots[first + 1]!
    if (back === text) {
      this.hits++
      slots[first + 1] = front
      slots[first] = back
      return back
    }
    const copy = unpinned(text)
    slots[first + 1] = front
    slots[first] = copy
    return copy
  }

  private review(): void {
    if (this.hits < minHits) this.resting = restFor
    this.lookups = 0
    this.hits = 0
  }

  /** How many strings the table holds (for tests: it never exceeds `capacity`). */
  get size(): number {
    let count = 0
    for (const slot of this.slots) if (slot !== "") count++
    return count
  }

  /** The most strings a column keeps. */
  static readonly capacity = slotCount
  /** The longest value a column keeps. */
  static readonly maxLength = maxLength
}
