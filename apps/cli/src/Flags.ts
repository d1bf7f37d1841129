/**
 * The options the commands share — where to connect and with which key, how
 * much to say, how to print, which page — and the output formats.
 *
 * Definitions only (this module loads with `--help`); what the values mean
 * is in `Session`, `Credentials`, `Listing` and `Output`.
 */
import * as Dates from "@cubeplane/core/Dates"
import * as Domain from "@cubeplane/core/Domain"
import type * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/** The values of `--output`. */
export const formats = ["table", "json", "ndjson", "yaml", "csv"] as const
export type Format = (typeof formats)[number]

/** `table` on a terminal, `json` when piped (scripts get JSON without asking). */
export const defaultFormat = (isTTY: boolean | undefined): Format => (isTTY === true ? "table" : "json")

export const url = Options.text("url").pipe(
  Options.withDescription(
    "Cube Cloud base URL, e.g. https://acme.cubecloud.dev (default: CUBE_API_URL, then the profile)"
  ),
  Options.optional
)

export const apiKey = Options.redacted("api-key").pipe(
  Options.withDescription(
    "API key; `-` reads it from stdin, keeping it out of shell history (default: CUBE_API_KEY, then the profile)"
  ),
  Options.optional
)

export const profile = Options.text("profile").pipe(
  Options.withDescription("Use this profile from `cubeplane profiles add` (default: the default profile)"),
  Options.optional
)

export const verbose = Options.boolean("verbose").pipe(
  Options.withAlias("v"),
  Options.withDescription("Say which credentials are used (never the key) and show each request, status and request id")
)

export const output = Options.choice("output", formats).pipe(
  Options.withAlias("o"),
  Options.withDescription("Output format (default: table on a terminal, json when piped)"),
  Options.optional
)

/** `--url`, `--api-key`, `--profile`, `--verbose`. */
export const connection = { url, apiKey, profile, verbose } as const

/** The connection flags and `--output`. */
export const common = { ...connection, output } as const

const decodePositive = Schema.decodeUnknownOption(Domain.PositiveIntFromString)
const decodeNonNegative = Schema.decodeUnknownOption(Domain.NonNegativeIntFromString)

/**
 * A page count (`--limit`, `--offset`, `--first`), checked by core's rule for
 * the query parameter it becomes (decimal digits, at least `min`), so the CLI
 * takes what the proxy and the mock take — `0x10` or `1e1` is a usage error.
 */
const count = (name: string, min: 0 | 1, description: string) =>
  Options.text(name).pipe(
    Options.withDescription(description),
    Options.mapEffect((text) =>
      Option.match((min === 0 ? decodeNonNegative : decodePositive)(text), {
        onNone: () =>
          invalid(
            `--${name} must be a whole number ≥ ${min} in decimal digits, e.g. --${name} ${min === 0 ? 20 : 50}, got ${
              JSON.stringify(text)
            }`
          ),
        onSome: (value) => Effect.succeed(value)
      })
    )
  )

/** `--all`, `--limit`, `--offset`, `--first`, `--after` of the `list` commands. */
export const page = {
  all: Options.boolean("all").pipe(
    Options.withDescription("Every page, printed as it arrives (with --output json: one array)")
  ),
  limit: count("limit", 1, "Items per page (the server's default is 20; it may cap it)").pipe(Options.optional),
  offset: count("offset", 0, "Items to skip (default 0)").pipe(Options.optional),
  first: count(
    "first",
    1,
    "Cursor paging: items per page (servers that page by cursor; not with --limit/--offset)"
  ).pipe(Options.optional),
  after: Options.text("after").pipe(
    Options.withDescription("Cursor paging: start after this cursor (the endCursor a previous page showed)"),
    Options.optional
  )
} as const

const invalid = (message: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message)))

/**
 * A date option (`--start`, `--end`), checked here by core's rule (`Dates`),
 * so a bad one is a usage error (exit 2) that shows a good value, before any request.
 */
export const date = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withDescription(description),
    Options.mapEffect((text) =>
      Either.match(Dates.parse(text), {
        onLeft: (reason) => invalid(Dates.invalid(`--${name}`, text, reason)),
        onRight: () => Effect.succeed(text)
      })
    )
  )

/** A whole number of seconds, at least 1 (`--expires-in 3600`). */
export const seconds = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withDescription(description),
    Options.mapEffect((text) => {
      const trimmed = text.trim()
      if (!/^\d+$/.test(trimmed)) {
        return invalid(
          `--${name} takes a whole number of seconds, e.g. --${name} 3600 for one hour, got ${JSON.stringify(text)}`
        )
      }
      const value = Number(trimmed)
      return value >= 1 && Number.isSafeInteger(value)
        ? Effect.succeed(value)
        : invalid(`--${name} must be at least 1 second, e.g. --${name} 3600 for one hour, got ${JSON.stringify(text)}`)
    })
  )

/** The parsed values of a command's options and arguments. */
export type Parsed<Config extends Command.Command.Config> = Command.Command.ParseConfig<Config>

export type ConnectionFlags = Parsed<typeof connection>
export type PageFlags = Parsed<typeof page> & { readonly output: Parsed<typeof common>["output"] }
