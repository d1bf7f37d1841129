/**
 * `cubeplane deployments list`: the deployments the API key can see.
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Flags from "../Flags.js"

export const examples = {
  "deployments": ["cubeplane deployments list"],
  "deployments list": [
    "cubeplane deployments list",
    "cubeplane deployments list --all --output json | jq -r '.[].id'",
    "cubeplane deployments list --limit 5 --offset 10 --output yaml"
  ]
}

const handlers = Effect.promise(() => import("../handlers/deployments.js"))

export const listConfig = { ...Flags.common, ...Flags.page } as const

const list = Command.make("list", listConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.list(flags))).pipe(
  Command.withDescription("List the deployments the API key can see (one page, or every page with --all)")
)

export const deployments = Command.make("deployments").pipe(
  Command.withDescription("Cube Cloud deployments"),
  Command.withSubcommands([list])
)
