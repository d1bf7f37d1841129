/**
 * `cubeplane mock serve`: the mock Control Plane API from @cubeplane/testing
 * on a local port, for trying the CLI (or anything else) without Cube Cloud.
 * `cubeplane mock record`: a seed file from a real tenant, to serve with
 * `mock serve --seed` (or `pnpm mock --seed`).
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { recordConfig, serveConfig } from "../options/mock.js"

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
