/**
 * The progress line's text: rows grouped by thousands as `en-US` writes them
 * (without loading ICU), sizes in decimal units.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as Progress from "../src/Progress.js"

describe("Progress", () => {
  it("groups digits exactly as toLocaleString(\"en-US\") does", () => {
    for (const n of [0, 7, 999, 1000, 12_345, 999_999, 1_000_000, 10_000_000]) {
      expect(Progress.groupDigits(n)).toBe(n.toLocaleString("en-US"))
    }
    FastCheck.assert(
      FastCheck.property(FastCheck.nat({ max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(Progress.groupDigits(n)).toBe(n.toLocaleString("en-US"))
      })
    )
  })

  it("draws rows, bytes and rate", () => {
    expect(Progress.line(1_000_000, 161_234_552, 500)).toBe("1,000,000 rows · 161.2 MB · 322.5 MB/s")
  })
})
