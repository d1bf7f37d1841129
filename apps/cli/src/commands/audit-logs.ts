/**
 * `cubeplane audit-logs export` saves the audit log (to stdout, or to a file
 * that appears only when the whole export arrived intact); `cubeplane
 * audit-logs follow` keeps a SIEM in sync, with no gap and no duplicate
 * across restarts.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect } from "effect"
import * as Flags from "../Flags.js"

export const examples = {
  "audit-logs": [
    "cubeplane audit-logs export --start 2024-01-01 --end 2024-01-31 --out january.csv",
    "cubeplane audit-logs follow --state /var/lib/cubeplane/state.json | vector --config siem.toml"
  ],
  "audit-logs export": [
    "cubeplane audit-logs export --start 2024-01-01 --end 2024-01-31 --out january.csv",
    "cubeplane audit-logs export --event-name 'Logged in' --user-email user@example.com --format ndjson",
    "cubeplane audit-logs export --format json | jq 'length'"
  ],
  "audit-logs follow": [
    "cubeplane audit-logs follow --state /var/lib/cubeplane/state.json",
    "cubeplane audit-logs follow --state state.json --interval 1m --format csv >> audit.csv"
  ]
}

const handlers = Effect.promise(() => import("../handlers/audit-logs.js"))

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

const exportCommand = Command.make(
  "export",
  exportConfig,
  (flags) => Effect.flatMap(handlers, (handle) => handle.exportAuditLog(flags))
).pipe(Command.withDescription(
  "Export audit-log events (CSV as the API sends it, or NDJSON/JSON), to stdout or atomically to --out FILE"
))

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

const followCommand = Command.make(
  "follow",
  followConfig,
  (flags) => Effect.flatMap(handlers, (handle) => handle.follow(flags))
).pipe(Command.withDescription(
  "Poll the audit log and print only new events, resuming from --state after a restart, until Ctrl-C"
))

export const auditLogs = Command.make("audit-logs").pipe(
  Command.withDescription("Audit-log events: export them, or follow them into a SIEM"),
  Command.withSubcommands([exportCommand, followCommand])
)
