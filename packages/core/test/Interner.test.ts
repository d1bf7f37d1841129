import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { ColumnInterner } from "../src/internal/interner.js"

describe("ColumnInterner (internal): bounded, and always the value it was given", () => {
  it("take(text, start, end) is text.slice(start, end), for any text and range, repeated or not", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 })),
            fc.nat(),
            fc.nat()
          ),
          { maxLength: 300 }
        ),
        (cases) => {
          const interner = new ColumnInterner()
          // Each case twice: once unseen, once (maybe) found.
          for (const [text, a, b] of [...cases, ...cases]) {
            const start = text.length === 0 ? 0 : a % (text.length + 1)
            const end = start + (text.length === 0 ? 0 : b % (text.length - start + 1))
            expect(interner.take(text, start, end)).toBe(text.slice(start, end))
            expect(interner.intern(text)).toBe(text)
          }
        }
      ),
      { numRuns: 200 }
    )
  })

  it("values that collide in the table and values found again give themselves back", () => {
    const interner = new ColumnInterner()
    const values = Array.from({ length: 5000 }, (_, k) => `203.0.113.${k % 3000}-host-${k % 7}`)
    for (let round = 0; round < 3; round++) {
      for (const value of values) expect(interner.intern(value)).toBe(value)
    }
    // Inside a longer text, at any offset.
    const text = values.slice(0, 500).join(",")
    let at = 0
    for (const value of values.slice(0, 500)) {
      expect(interner.take(text, at, at + value.length)).toBe(value)
      at += value.length + 1
    }
  })

  it("holds at most its capacity of strings, each at most maxLength long, however many distinct values pass", () => {
    const interner = new ColumnInterner()
    for (let k = 0; k < 200_000; k++) interner.intern(`a value that is never seen twice #${k}`)
    expect(interner.size).toBeLessThanOrEqual(ColumnInterner.capacity)
    expect(interner.size).toBeGreaterThan(0)
    const long = "x".repeat(ColumnInterner.maxLength + 1)
    const fresh = new ColumnInterner()
    expect(fresh.intern(long)).toBe(long)
    expect(fresh.intern("short")).toBe("short")
    expect(fresh.size).toBe(0)
  })
})
