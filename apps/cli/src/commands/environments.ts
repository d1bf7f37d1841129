/**
 * `cubeplane environments list <deployment-id>`: a deployment's environments,
 * with their REST and SQL endpoints.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Flags from "../Flags.js"

export const examples = {
  "environments": ["cubeplane environments list 123"],
  "environments list": [
    "cubeplane environments list 123",
    "cubeplane environments list 123 --type production --output json | jq -r '.[0].api_credentials.rest.url'",
    "cubeplane environments list 123 --all --output ndjson"
  ]
}

/** The types the API documents; a typo is caught before any request. */
export const environmentTypes = ["production", "staging", "development"] as const

const handlers = Effect.promise(() => import("../handlers/environments.js"))

export const listConfig = {
  deploymentId: Args.text({ name: "deployment-id" }).pipe(
    Args.withDescription("The deployment's id (see `cubeplane deployments list`)")
  ),
  type: Options.choice("type", environmentTypes).pipe(
    Options.withDescription("Only environments of this type"),
    Options.optional
  ),
  ...Flags.common,
  ...Flags.page
} as const

const list = Command.make("list", listConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.list(flags))).pipe(
  Command.withDescription("List a deployment's environments with their REST and SQL endpoints")
)

export const environments = Command.make("environments").pipe(
  Command.withDescription("Environments of a deployment (production, staging, development)"),
  Command.withSubcommands([list])
)
