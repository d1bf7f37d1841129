/**
 * `cubeplane mock serve`, loaded when it runs (with Hono and jose).
 */
import { MockServer, Seed } from "@cubeplane/testing"
import { Effect, Option } from "effect"
import { general, usage } from "../Failure.js"
import type { Parsed } from "../Flags.js"
import type { serveConfig } from "../options/mock.js"

export const serve = (flags: Parsed<typeof serveConfig>) =>
  Effect.gen(function*() {
    const seed = yield* Option.match(flags.seed, {
      onSome: (file) =>
        Effect.mapError(Seed.load(file), (error) => usage(`Could not load the seed ${file}: ${error.message}`)),
      onNone: () =>
        Option.isSome(flags.deployments) || Option.isSome(flags.events)
          ? Effect.sync(() =>
            Seed.generate({
              ...(Option.isSome(flags.deployments) ? { deployments: flags.deployments.value } : {}),
              ...(Option.isSome(flags.events) ? { events: flags.events.value } : {})
            })
          )
          : Effect.succeed(Seed.demo)
    })
    const server = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => MockServer.start({ port: flags.port, host: flags.host, seed }),
        catch: (error) =>
          general(
            `Could not start the mock on ${flags.host}:${flags.port}: ${
              error instanceof Error ? error.message : String(error)
            }`
          )
      }),
      (running) => Effect.promise(() => running.close())
    )
    const keys = seed.apiKeys.map((key) =>
      `  ${key.key}  ${key.permissions.join(", ")}${
        key.deployments !== undefined ? ` (deployments ${key.deployments.join(", ")})` : ""
      }`
    )
    process.stdout.write(
      [
        `Mock Control Plane API on ${server.url}`,
        "API keys:",
        ...keys,
        `Try: CUBE_API_URL=${server.url} CUBE_API_KEY=${seed.apiKeys[0]?.key ?? "KEY"} cubeplane deployments list`,
        "Ctrl-C stops it.",
        ""
      ].join("\n")
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)
