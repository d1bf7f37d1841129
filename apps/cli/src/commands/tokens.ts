/**
 * `cubeplane tokens meta-sync` mints a Metadata API token (and prints it:
 * that is its purpose); `cubeplane tokens inspect` decodes a token offline.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { Effect } from "effect"
import * as Flags from "../Flags.js"

export const examples = {
  "tokens": [
    "cubeplane tokens meta-sync 123 456 --security-context '{\"tenant_id\":\"acme\"}'",
    "cubeplane tokens inspect eyJhbGciOi..."
  ],
  "tokens meta-sync": [
    "cubeplane tokens meta-sync 123 456 --security-context '{\"tenant_id\":\"acme\"}' --expires-in 3600",
    "cubeplane tokens meta-sync 123 456 --security-context @context.json --output json | jq -r .token"
  ],
  "tokens inspect": [
    "cubeplane tokens inspect eyJhbGciOi...",
    "cubeplane tokens meta-sync 123 456 --security-context '{}' -o json | jq -r .token | cubeplane tokens inspect"
  ]
}

const handlers = Effect.promise(() => import("../handlers/tokens.js"))

export const metaSyncConfig = {
  deploymentId: Args.text({ name: "deployment-id" }).pipe(Args.withDescription("The deployment's id")),
  environmentId: Args.text({ name: "environment-id" }).pipe(
    Args.withDescription("The environment's id (see `cubeplane environments list`)")
  ),
  securityContext: Options.text("security-context").pipe(
    Options.withDescription("The security context to embed: JSON, @file, or @- for stdin")
  ),
  expiresIn: Flags.seconds(
    "expires-in",
    "Lifetime in seconds, e.g. 3600 (the server's default is 86400; the server decides the maximum)"
  ).pipe(Options.optional),
  ...Flags.common
} as const

const metaSync = Command.make(
  "meta-sync",
  metaSyncConfig,
  (flags) => Effect.flatMap(handlers, (handle) => handle.metaSync(flags))
).pipe(Command.withDescription("Mint a JWT for the Metadata API with an embedded security context, and print it"))

export const inspectConfig = {
  jwt: Args.text({ name: "jwt" }).pipe(
    Args.withDescription("The token; without it (or with -), the token is read from stdin"),
    Args.optional
  ),
  output: Flags.output
} as const

const inspect = Command.make(
  "inspect",
  inspectConfig,
  (flags) => Effect.flatMap(handlers, (handle) => handle.inspect(flags))
).pipe(
  Command.withDescription("Decode a token's header and claims and show when it expires (offline: no request, no key)")
)

export const tokens = Command.make("tokens").pipe(
  Command.withDescription("Metadata API tokens: mint and inspect"),
  Command.withSubcommands([metaSync, inspect])
)
