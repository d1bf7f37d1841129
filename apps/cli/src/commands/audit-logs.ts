/**
 * `cubeplane audit-logs export` saves the audit log (to stdout, or to a file
 * that appears only when the whole export arrived intact); `cubeplane
 * audit-logs follow` keeps a SIEM in sync, with no gap and no duplicate
 * across restarts.
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { exportConfig, followConfig } from "../options/audit-logs.js"

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

const exportCommand = Command.make(
  "export",
  exportConfig,
  (flags) => Effect.flatMap(handlers, (handle) => handle.exportAuditLog(flags))
).pipe(Command.withDescription(
  "Export audit-log events (CSV as the API sends it, or NDJSON/JSON), to stdout or atomically to --out FILE"
))

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
