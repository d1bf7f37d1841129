/**
 * The options of `mock serve` and `mock record` (definitions only; see
 * options/audit-logs.ts for why they live apart).
 */
import * as Options from "@effect/cli/Options"
import * as Flags from "../Flags.js"

export const serveConfig = {
  port: Options.integer("port").pipe(
    Options.withDescription("Port to listen on (0: any free port)"),
    Options.withDefault(4010)
  ),
  host: Options.text("host").pipe(Options.withDescription("Interface to listen on"), Options.withDefault("127.0.0.1")),
  seed: Options.text("seed").pipe(
    Options.withDescription("A seed file (see @cubeplane/testing's README), e.g. one `mock record` wrote"),
    Options.optional
  ),
  shape: Options.choice("shape", ["reference", "platform"]).pipe(
    Options.withDescription(
      "Wire shape: reference (the API page; default, or the seed's) or platform (Cube's OpenAPI)"
    ),
    Options.optional
  ),
  deployments: Options.integer("deployments").pipe(
    Options.withDescription("Generate this many deployments (instead of the demo data)"),
    Options.optional
  ),
  events: Options.integer("events").pipe(
    Options.withDescription("Generate this many audit-log events (instead of the demo data)"),
    Options.optional
  )
} as const

export const recordConfig = {
  ...Flags.connection,
  out: Options.text("out").pipe(Options.withDescription("The seed file to write (JSON)")),
  start: Options.text("start").pipe(
    Options.withDescription("Record the audit log from this date or time (ISO 8601, e.g. 2024-01-01)"),
    Options.optional
  ),
  end: Options.text("end").pipe(
    Options.withDescription("Record the audit log up to this date or time (a date includes that whole day)"),
    Options.optional
  )
} as const
