/**
 * `cubeplane profiles add|list|remove|use`: named connections in the config
 * file (mode 0600), so a key does not have to live in the environment.
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import { addConfig, listConfig, nameConfig } from "../options/profiles.js"

export const examples = {
  "profiles": ["cubeplane profiles add prod --url https://acme.cubecloud.dev --api-key -"],
  "profiles add": [
    "cubeplane profiles add prod --url https://acme.cubecloud.dev --api-key -   # paste the key, press Enter",
    "pass show cube/staging | cubeplane profiles add staging --url https://acme-staging.cubecloud.dev --api-key -"
  ],
  "profiles list": ["cubeplane profiles list"],
  "profiles remove": ["cubeplane profiles remove staging"],
  "profiles use": ["cubeplane profiles use staging"]
}

const handlers = Effect.promise(() => import("../handlers/profiles.js"))

const add = Command.make("add", addConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.add(flags))).pipe(
  Command.withDescription("Save a URL and API key under a name (in a file only you can read)")
)

const list = Command.make("list", listConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.list(flags))).pipe(
  Command.withDescription("List the saved profiles (names and URLs; keys are never shown)")
)

const remove = Command.make("remove", nameConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.remove(flags)))
  .pipe(Command.withDescription("Delete a saved profile"))

const use = Command.make("use", nameConfig, (flags) => Effect.flatMap(handlers, (handle) => handle.use(flags))).pipe(
  Command.withDescription("Make a saved profile the default")
)

export const profiles = Command.make("profiles").pipe(
  Command.withDescription("Saved connections: URL, API key and auth scheme under a name"),
  Command.withSubcommands([add, list, remove, use])
)
