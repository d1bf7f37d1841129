/**
 * `cubeplane mock serve`: the mock Control Plane API from @cubeplane/testing
 * on a local port, for trying the CLI (or anything else) without Cube Cloud.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect } from "effect"

export const examples = {
  "mock": ["cubeplane mock serve --port 4010"],
  "mock serve": [
    "cubeplane mock serve --port 4010",
    "cubeplane mock serve --deployments 5 --events 10000",
    "cubeplane mock serve --seed seed.json"
  ]
}

// The mock (Hono, jose) loads only when `mock serve` runs.
const handlers = Effect.promise(() => import("../handlers/mock.js"))

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

const serve = Command.make("serve", serveConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.serve(flags)))
  .pipe(Command.withDescription("Run the mock Control Plane API locally (demo data, generated data, or a seed file)"))

export const mock = Command.make("mock").pipe(
  Command.withDescription("A local mock of the Control Plane API"),
  Command.withSubcommands([serve])
)
