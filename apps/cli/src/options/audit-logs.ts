/**
 * The options of `audit-logs export` and `audit-logs follow`: definitions
 * only, shared by the commands (which parse them) and the handlers (which
 * take their values), so each depends on this and not on the other.
 */
import * as Options from "@effect/cli/Options"
import * as Flags from "../Flags.js"

const text = (name: string, description: string) =>
  Options.text(name).pipe(Options.withDescription(description), Options.optional)

/** The export's filters. */
export const filterConfig = {
  start: Flags.date("start", "From this date or time (ISO 8601, e.g. 2024-01-01 or 2024-01-01T09:30:00Z)").pipe(
    Options.optional
  ),
  end: Flags.date("end", "Up to this date or time (ISO 8601; a date includes that whole day)").pipe(Options.optional),
  search: text("search", "Full-text search across event data"),
  eventName: text("event-name", "Only this event, e.g. 'Logged in'"),
  userEmail: text("user-email", "Only events of this user")
} as const

export const exportFormats = ["csv", "ndjson", "json"] as const

export const exportConfig = {
  ...filterConfig,
  out: text("out", "Write to this file (it appears only once the whole export arrived; default: stdout)"),
  format: Options.choice("format", exportFormats).pipe(
    Options.withDescription("csv: the export as the API sends it; ndjson/json: one object per event"),
    Options.withDefault("csv")
  ),
  ...Flags.connection
} as const

export const followFormats = ["ndjson", "csv"] as const

export const followConfig = {
  ...filterConfig,
  state: Options.text("state").pipe(
    Options.withDescription("Checkpoint file: where to resume after a restart (created if missing)")
  ),
  interval: Options.text("interval").pipe(
    Options.withDescription("Time between polls, e.g. 30s (the default), 5m, 1h"),
    Options.withDefault("30s")
  ),
  format: Options.choice("format", followFormats).pipe(
    Options.withDescription(
      "ndjson: one event per line; csv: the export's columns, with one header per output across restarts"
    ),
    Options.withDefault("ndjson")
  ),
  stallTimeout: Options.text("stall-timeout").pipe(
    Options.withDescription("Retry a poll that receives nothing for this long, e.g. 60s (the default), 5m"),
    Options.withDefault("60s")
  ),
  ...Flags.connection
} as const
