/**
 * The options of `mock serve` (definitions only; see options/audit-logs.ts
 * for why they live apart).
 */
import * as Options from "@effect/cli/Options"

export const serveConfig = {
  port: Options.integer("port").pipe(
    Options.withDescription("Port to listen on (0: any free port)"),
    Options.withDefault(4010)
  ),
  host: Options.text("host").pipe(Options.withDescription("Interface to listen on"), Options.withDefault("127.0.0.1")),
  seed: Options.text("seed").pipe(
    Options.withDescription("A seed file (see @cubeplane/testing's README)"),
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
