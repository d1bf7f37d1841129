import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as Dates from "../src/Dates.js"

describe("Dates", () => {
  it("accepts dates and date-times that name a real day, and says why others are wrong", () => {
    expect(Dates.parse("2024-02-29")).toEqual(Either.right({ millis: Date.UTC(2024, 1, 29), dateOnly: true }))
    expect(Dates.parse("2024-01-31T12:00:00+01:00")).toEqual(
      Either.right({ millis: Date.UTC(2024, 0, 31, 11), dateOnly: false })
    )
    expect(Dates.parse("2024-01-31T12:00")).toEqual(
      Either.right({ millis: Date.UTC(2024, 0, 31, 12), dateOnly: false })
    )
    expect(Dates.parse("2024-02-30")).toEqual(Either.left("February 2024 has 29 days"))
    expect(Dates.parse("2024-13-01")).toEqual(Either.left("there is no month 13"))
    expect(Dates.parse("2024-01-31T25:00:00Z")).toEqual(Either.left("not a time of day"))
    expect(Dates.parse("yesterday")).toEqual(Either.left("not a date"))
    expect(Dates.invalid("start", "yesterday", "not a date")).toBe(
      "start must be an ISO 8601 date (2024-01-31) or date-time (2024-01-31T12:00:00Z), got \"yesterday\""
    )
    expect(Dates.endExclusive({ millis: Date.UTC(2024, 0, 31), dateOnly: true })).toBe(Date.UTC(2024, 1, 1))
  })
})
