/**
 * The dates of the audit-log filter (`start`, `end`), written once for the
 * client, the CLI, the mock and the proxy: an ISO 8601 date (`2024-01-31`)
 * or date-time (`2024-01-31T12:00:00Z`; seconds, a fraction and the offset
 * are optional, no offset means UTC) naming a day that exists.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/** What a good value looks like, for messages. */
export const examples = "an ISO 8601 date (2024-01-31) or date-time (2024-01-31T12:00:00Z)"

/** A parsed bound: the instant it names, and whether it was a whole day (`2024-01-31`). */
export interface Bound {
  readonly millis: number
  readonly dateOnly: boolean
}

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/
const dateTimePattern = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/i

const monthNames = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December"
]

const monthLengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * The days in `month` (1–12) of `year` in the Gregorian calendar, by arithmetic:
 * for the digit-by-digit timestamp readers (`AuditLog`, the NDJSON transcoder).
 *
 * @internal
 */
export const daysInMonth = (year: number, month: number): number =>
  month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : monthLengths[month - 1]!

/** Why `year-month-day` is not a day of the calendar, if it is not. */
const notADay = (year: number, month: number, day: number): string | undefined => {
  if (month < 1 || month > 12) return `there is no month ${month}`
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return day < 1 || day > days ? `${monthNames[month - 1]} ${year} has ${days} days` : undefined
}

/**
 * Parses a bound; the failure says why in words (`"February 2024 has 29 days"`,
 * `"not a date"`), for a message that also names the parameter and `examples`.
 */
export const parse = (text: string): Either.Either<Bound, string> => {
  const date = datePattern.exec(text)
  if (date !== null) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])]
    const problem = notADay(year, month, day)
    return problem !== undefined
      ? Either.left(problem)
      : Either.right({ millis: Date.UTC(year, month - 1, day), dateOnly: true })
  }
  const dateTime = dateTimePattern.exec(text)
  if (dateTime === null) return Either.left("not a date")
  const problem = notADay(Number(dateTime[1]), Number(dateTime[2]), Number(dateTime[3]))
  if (problem !== undefined) return Either.left(problem)
  if (Number(dateTime[4]) > 23 || Number(dateTime[5]) > 59 || Number(dateTime[6] ?? 0) > 59) {
    return Either.left("not a time of day")
  }
  // Date.parse handles at most milliseconds: cut longer fractions; no offset means UTC.
  const normalised = text.replace(/(\.\d{3})\d+/, "$1").replace(/([+-]\d{2})(\d{2})$/, "$1:$2") +
    (dateTime[7] === undefined ? "Z" : "")
  const millis = Date.parse(normalised)
  return Number.isNaN(millis) ? Either.left("not a date") : Either.right({ millis, dateOnly: false })
}

/** What was wrong with `text` and what a good value looks like: `must be an ISO 8601 date …, got "…"`. */
export const mustBe = (text: string, reason: string): string =>
  `must be ${examples}, got ${JSON.stringify(text)}${reason === "not a date" ? "" : ` (${reason})`}`

/** The message for a bad value of the parameter `name`. */
export const invalid = (name: string, text: string, reason: string): string => `${name} ${mustBe(text, reason)}`

/**
 * The end of a range as an exclusive instant: a date includes that whole day
 * (UTC), a date-time is inclusive.
 */
export const endExclusive = (bound: Bound): number => bound.millis + (bound.dateOnly ? 86_400_000 : 1)

/** An ISO 8601 date or date-time, as a string (decoding checks it; the value stays as written). */
export const DateOrDateTime = Schema.String.pipe(
  Schema.filter((text) => Either.match(parse(text), { onLeft: (reason) => mustBe(text, reason), onRight: () => true }))
).annotations({
  identifier: "DateOrDateTime",
  title: "ISO 8601 date or date-time",
  examples: ["2024-01-31", "2024-01-31T12:00:00Z"]
})
