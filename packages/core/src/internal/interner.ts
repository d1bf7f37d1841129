/**
 * A small, bounded cache that makes the repeated values of one CSV column one
 * shared string, for the audit-log decoder.
 *
 * Why: the CSV parser cuts fields from the text of a 16 KiB piece of the
 * input, and V8 keeps a substring of 13 or more characters as a slice of its
 * parent, so one kept event keeps a whole piece alive. Events that live a
 * while — kept by a consumer, or promoted to V8's old generation because an
 * Effect sink's closure holds their chunk (see BENCHMARKS.md, "Where the time
 * went") — then carry every decoded piece with them: 770 bytes an event with
 * the export's columns, about 370 once the long values of the repeated columns
 * (event name, email, deployment, IP address) are shared strings of their own.
 *
 * How: a 2-way set-associative table of `slotCount` strings per column,
 * indexed by a hash of a few characters and compared with the parser's text
 * in place (no slice is made for a value found). A value that is not there is
 * copied (so the table never keeps a piece alive) and takes its set's first
 * slot. Memory is bounded: `slotCount` strings of at most `maxLength`
 * characters. Shorter values than `minLength` (already copies), longer ones
 * than `maxLength`, and every value while the column's recent hit rate is low
 * (mostly unique values) are sliced as before, so a column that does not
 * repeat costs a counter.
 *
 * The value returned is always equal (`===`) to `text.slice(start, end)`.
 *
 * @internal
 */

/** Strings kept per column: 512 sets of 2. */
const slotCount = 1024
/** `32 - log2(sets)`: the hash's top bits pick the set. */
const setShift = 23
/**
 * Shorter values are not cached: V8 copies a substring shorter than 13 characters (`SlicedString::kMinLength`),
 * so such a field keeps nothing else alive, and looking it up costs about as much as the copy.
 */
const minLength = 13
/** Longer values are not cached (they are rarely repeated, and they would make the table large). */
const maxLength = 128
/** Lookups between two looks at the hit rate. */
const window = 1024
/** Fewer hits than this in a window and the column is not cached for the next `restFor` values. */
const minHits = window / 2
const restFor = 64 * 1024

/**
 * A copy of `text` that keeps no other string alive. V8 keeps a substring of
 * 13 or more characters as a slice of its parent; a concatenation, when it is
 * sliced, is first flattened into a new string, so the slice made here
 * points into a string of `text.length + 1` characters. (Interning the value
 * as a property name would give a flat copy too, but costs several times as
 * much, which a column that stops repeating pays at every miss.)
 */
const ownCopy = (text: string): string => (" " + text).slice(1)

/** `text.slice(start, start + length) === cached`, without making the slice. */
const sameText = (cached: string, text: string, start: number, length: number): boolean =>
  cached.length === length && text.startsWith(cached, start)

/** @internal */
export class ColumnInterner {
  private readonly slots: Array<string> = new Array<string>(slotCount).fill("")
  private lookups = 0
  private hits = 0
  private resting = 0

  /**
   * `text.slice(start, end)`, or an equal string this column has seen
   * before. Called by the CSV parser on the text it scans (flat, so reading
   * it is cheap), which spares the slice when the value is found.
   */
  take(text: string, start: number, end: number): string {
    if (this.resting > 0) {
      this.resting--
      return text.slice(start, end)
    }
    const n = end - start
    if (n < minLength || n > maxLength) return text.slice(start, end)
    if (++this.lookups === window) this.review()
    // FNV-1a over the length, the first, middle and last three characters: IP addresses differ at the end, emails
    // at the start.
    const last = end - 1
    let h = Math.imul(0x811c9dc5 ^ n, 0x01000193)
    h = Math.imul(h ^ text.charCodeAt(start), 0x01000193)
    h = Math.imul(h ^ text.charCodeAt(start + (n >> 1)), 0x01000193)
    h = Math.imul(h ^ text.charCodeAt(last - 2), 0x01000193)
    h = Math.imul(h ^ text.charCodeAt(last - 1), 0x01000193)
    h = Math.imul(h ^ text.charCodeAt(last), 0x01000193)
    // Mixed (MurmurHash3's finalizer) so that the top bits depend on every character read.
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
    h ^= h >>> 13
    const slots = this.slots
    const first = (h >>> setShift) << 1
    const front = slots[first]!
    if (sameText(front, text, start, n)) {
      this.hits++
      return front
    }
    const back = slots[first + 1]!
    if (sameText(back, text, start, n)) {
      this.hits++
      slots[first + 1] = front
      slots[first] = back
      return back
    }
    const copy = ownCopy(text.slice(start, end))
    slots[first + 1] = front
    slots[first] = copy
    return copy
  }

  /** `text`, or an equal string this column has seen before. */
  intern(text: string): string {
    return this.take(text, 0, text.length)
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
  /** The shortest value a column keeps. */
  static readonly minLength = minLength
  /** The longest value a column keeps. */
  static readonly maxLength = maxLength
}
