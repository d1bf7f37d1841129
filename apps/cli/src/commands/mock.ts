/**
 * `cubeplane mock serve`: the mock Control Plane API from @cubeplane/testing
 * on a local port, for trying the CLI (or anything else) without Cube Cloud.
 * `cubeplane mock record`: a seed file from a real tenant, to serve with
 * `mock serve --seed` (or `pnpm mock --seed`).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect } from "effect"
import * as Flags from "../Flags.js"

export const examples = {
  "mock": ["cubeplane mock serve --port 4010", "cubeplane mock record --out tenant.json"],
  "mock serve": [
    "cubeplane mock serve --port 4010",
    "cubeplane mock serve --deployments 5 --events 10000",
    "cubeplane mock serve --seed seed.json",
    "cubeplane mock serve --shape platform"
  ],
  "mock record": [
    "cubeplane mock record --out tenant.json",
    "cubeplane mock record --out tenant.json --start 2024-01-01 --end 2024-01-31"
  ]
}

// The mock (Hono, jose) loads only when a `mock` command runs.
const handlers = Effect.promise(() => import("../handlers/mock.js"))

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

const serve = Command.make("serve", serveConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.serve(flags)))
  .pipe(Command.withDescription("Run the mock Control Plane API locally (demo data, generated data, or a seed file)"))

const record = Command.make(
  "record",
  recordConfig,
  (flags) => Effect.flatMap(handlers, (handle) => handle.record(flags))
).pipe(
  Command.withDescription(
    "Record the tenant at CUBE_API_URL as a seed file: deployments, environments (api secrets replaced by fresh random ones), the audit log; never a key or a token"
  )
)

export const mock = Command.make("mock").pipe(
  Command.withDescription("A local mock of the Control Plane API"),
  Command.withSubcommands([serve, record])
)
