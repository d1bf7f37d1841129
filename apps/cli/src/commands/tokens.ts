/**
 * `cubeplane tokens meta-sync` mints a Metadata API token (and prints it:
 * that is its purpose); `cubeplane tokens inspect` decodes a token offline.
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { inspectConfig, metaSyncConfig } from "../options/tokens.js"

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

const metaSync = Command.make(
  "meta-sync",
  metaSyncConfig,
  (flags) => Effect.flatMap(handlers, (handle) => handle.metaSync(flags))
).pipe(Command.withDescription("Mint a JWT for the Metadata API with an embedded security context, and print it"))

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
