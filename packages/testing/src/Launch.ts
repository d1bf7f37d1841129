/**
 * One way to start the mock, reused by `pnpm mock` (`bin.ts`), the CLI's
 * `cubeplane mock serve` and the proxy's demo mode: pick the seed (a seed
 * file through `Seed.load`, the demo, or a generated dataset), apply the
 * wire shape, listen, and print what a user needs to try it.
 *
 * @since 0.2.0
 */
import type { Domain } from "@cubeplane/core"
import { Data, Effect, Either } from "effect"
import type { Scope } from "effect"
import { parseArgs } from "node:util"
import * as MockServer from "./MockServer.js"
import * as Seed from "./Seed.js"

export interface LaunchOptions {
  /** Default 4010; 0 picks a free port. */
  readonly port?: number
  /** Default 127.0.0.1 (the admin surface has no authentication). */
  readonly host?: string
  /** A seed file, read with `Seed.load`. Default: the demo (`Seed.demo`, from `seeds/demo.json`). */
  readonly seedFile?: string
  /** A seed already in memory (instead of `seedFile`). */
  readonly seed?: Seed.Seed
  /** Serve this wire shape (default: the seed's `shape`). */
  readonly shape?: Domain.WireShape
  /** Generate this many deployments (not with `seedFile`: a seed file brings its own). */
  readonly deployments?: number
  /** Generate this many audit events, lazily. */
  readonly events?: number
  /** The generator's seed. Default 1. */
  readonly randomSeed?: number
}

/** Why the mock did not start. `usage`: the options were wrong (exit 2); otherwise it could not listen (exit 1). */
export class LaunchError extends Data.TaggedError("LaunchError")<{
  readonly message: string
  readonly usage: boolean
}> {}

export const defaultPort = 4010

/** The seed the options describe: loaded, generated and shaped; a bad one names what is wrong. */
export const seedOf = (options: LaunchOptions): Effect.Effect<Seed.Seed, LaunchError> =>
  Effect.gen(function*() {
    if (options.seedFile !== undefined && options.deployments !== undefined) {
      return yield* new LaunchError({
        message: "--seed and --deployments cannot be combined: a seed file brings its own deployments",
        usage: true
      })
    }
    const base = options.seed ??
      (options.seedFile === undefined ? Seed.demo : yield* Seed.load(options.seedFile))
    const generated = options.deployments === undefined && options.events === undefined
      ? base
      : Seed.generate({
        ...(options.deployments !== undefined ? { deployments: options.deployments } : {}),
        ...(options.events !== undefined ? { events: options.events } : {}),
        ...(options.randomSeed !== undefined ? { seed: options.randomSeed } : {})
      }, base)
    return options.shape === undefined ? generated : yield* Seed.withShape(generated, options.shape)
  }).pipe(Effect.mapError((error) =>
    error._tag === "SeedError" ? new LaunchError({ message: error.message, usage: true }) : error
  ))

export interface Launched extends MockServer.RunningServer {
  readonly seed: Seed.Seed
}

const listenError = (host: string, port: number) => (error: unknown) => {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  return new LaunchError({
    message: `cannot listen on ${host}:${port}${code === "EADDRINUSE" ? " (the port is in use: try --port 0)" : ""}: ${
      error instanceof Error ? error.message : String(error)
    }`,
    usage: false
  })
}

/** Starts the mock as the options say; it stops when the scope closes. */
export const start = (options: LaunchOptions = {}): Effect.Effect<Launched, LaunchError, Scope.Scope> =>
  Effect.flatMap(seedOf(options), (seed) => {
    const host = options.host ?? "127.0.0.1"
    const port = options.port ?? defaultPort
    return Effect.acquireRelease(
      Effect.tryPromise({
        try: () => MockServer.start({ port, host, seed }),
        catch: listenError(host, port)
      }).pipe(Effect.map((running): Launched => ({ ...running, seed }))),
      (running) => Effect.promise(() => running.close())
    )
  })

/** `start` for Promise code (the proxy's demo mode): close it with `close()`. Rejects with a `LaunchError`. */
export const run = (options: LaunchOptions = {}): Promise<Launched> =>
  Effect.runPromise(
    Effect.flatMap(seedOf(options), (seed) => {
      const host = options.host ?? "127.0.0.1"
      const port = options.port ?? defaultPort
      return Effect.tryPromise({
        try: () => MockServer.start({ port, host, seed }),
        catch: listenError(host, port)
      }).pipe(Effect.map((running): Launched => ({ ...running, seed })))
    })
  )

/** What a user needs to try the running mock: URL, shape and data, the keys, a curl that works. */
export const banner = (launched: Launched): string => {
  const { seed, url } = launched
  const eventCount = seed.generatedAuditLog?.count ?? seed.auditLog.length
  const keys = seed.apiKeys.map((k) =>
    `  ${k.key.padEnd(18)} ${k.name} (${k.permissions.join(", ")}${
      k.deployments !== undefined ? `; deployments ${k.deployments.join(", ")}` : ""
    })`
  )
  const firstKey = seed.apiKeys[0]?.key ?? "YOUR_API_KEY"
  return [
    `Mock Cube Cloud Control Plane listening on ${url}`,
    `  ${seed.shape} shape, plan ${seed.plan}, ${seed.deployments.length} deployments, ${eventCount} audit events`,
    "",
    "API keys:",
    ...keys,
    "",
    "Try:",
    `  curl -H "Authorization: Bearer ${firstKey}" ${url}/api/v1/deployments`,
    `  CUBE_API_URL=${url} CUBE_API_KEY=${firstKey} cubeplane deployments list`,
    "",
    `Admin: ${url}/__mock/{reset,seed,faults,calls,requests}. Ctrl-C to stop.`,
    ""
  ].join("\n")
}

// ---------------------------------------------------------------------------
// Command-line arguments (`pnpm mock`)
// ---------------------------------------------------------------------------

export const usage =
  `Usage: cubeplane-mock [--port N] [--host HOST] [--seed FILE] [--shape reference|platform] [--deployments N] [--events N] [--random-seed N]

  --port N          port to listen on (default 4010; 0 = a free port)
  --host HOST       interface to bind (default 127.0.0.1; the /__mock admin API has no auth)
  --seed FILE       load this seed JSON (format: packages/testing/README.md)
  --shape S         wire shape: reference (the API page; default, or the seed's) or platform
                    (Cube's OpenAPI document: cursor pages, integer deployment ids)
  --deployments N   generate N deployments (the first is the demo's 123/456)
  --events N        generate N audit events, produced lazily (10,000,000 is fine)
  --random-seed N   generator seed (default 1): same number, same data`

const bad = (message: string) => new LaunchError({ message, usage: true })

const integer = (name: string, value: string | undefined, min: number, max: number) => {
  if (value === undefined) return Either.right(undefined)
  const n = Number(value)
  return !/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max
    ? Either.left(bad(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`))
    : Either.right(n)
}

/** `pnpm mock` arguments as `LaunchOptions` (or `help`); a bad one is a usage `LaunchError` saying which. */
export const parseArgv = (argv: ReadonlyArray<string>): Either.Either<LaunchOptions | "help", LaunchError> =>
  Either.gen(function*() {
    const { values } = yield* Either.try({
      try: () =>
        parseArgs({
          args: [...argv],
          options: {
            port: { type: "string" },
            host: { type: "string" },
            seed: { type: "string" },
            shape: { type: "string" },
            deployments: { type: "string" },
            events: { type: "string" },
            "random-seed": { type: "string" },
            help: { type: "boolean", short: "h" }
          },
          strict: true,
          allowPositionals: false
        }),
      catch: (error) => bad(error instanceof Error ? error.message : String(error))
    })
    if (values.help === true) return "help"
    const shape = values.shape
    if (shape !== undefined && shape !== "reference" && shape !== "platform") {
      return yield* Either.left(bad(`--shape must be reference or platform, got ${JSON.stringify(shape)}`))
    }
    const port = yield* integer("port", values.port, 0, 65_535)
    const deployments = yield* integer("deployments", values.deployments, 1, 100_000)
    const events = yield* integer("events", values.events, 0, 1_000_000_000)
    const randomSeed = yield* integer("random-seed", values["random-seed"], 0, 2 ** 31 - 1)
    return {
      ...(port !== undefined ? { port } : {}),
      ...(values.host !== undefined ? { host: values.host } : {}),
      ...(values.seed !== undefined ? { seedFile: values.seed } : {}),
      ...(shape !== undefined ? { shape } : {}),
      ...(deployments !== undefined ? { deployments } : {}),
      ...(events !== undefined ? { events } : {}),
      ...(randomSeed !== undefined ? { randomSeed } : {})
    }
  })
