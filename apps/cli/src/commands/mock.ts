/**
 * `cubeplane mock serve`: the mock Control Plane API from @cubeplane/testing
 * on a local port, for trying the CLI (or anything else) without Cube Cloud.
 */
import * as Command from "@effect/cli/Command"
import { Effect } from "effect"
import { serveConfig } from "../options/mock.js"

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

const serve = Command.make("serve", serveConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.serve(flags)))
  .pipe(Command.withDescription("Run the mock Control Plane API locally (demo data, generated data, or a seed file)"))

export const mock = Command.make("mock").pipe(
  Command.withDescription("A local mock of the Control Plane API"),
  Command.withSubcommands([serve])
)
