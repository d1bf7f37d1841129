#!/usr/bin/env node
/**
 * `pnpm mock --port 4010 [--seed FILE] [--deployments N] [--events N] [--host H]`:
 * the mock Control Plane over HTTP, until Ctrl-C / SIGTERM.
 */
import { Effect, Either } from "effect"
import { parseArgs } from "node:util"
import * as MockServer from "./MockServer.js"
import * as Seed from "./Seed.js"

const usage =
  `Usage: cubeplane-mock [--port N] [--host HOST] [--seed FILE] [--shape reference|platform] [--deployments N] [--events N] [--random-seed N]

  --port N          port to listen on (default 4010; 0 = a free port)
  --host HOST       interface to bind (default 127.0.0.1; the /__mock admin API has no auth)
  --seed FILE       load this seed JSON (format: packages/testing/README.md)
  --shape S         wire shape: reference (the API page; default, or the seed's) or platform
                    (Cube's OpenAPI document: cursor pages, integer deployment ids)
  --deployments N   generate N deployments (the first is the demo's 123/456)
  --events N        generate N audit events, produced lazily (10,000,000 is fine)
  --random-seed N   generator seed (default 1): same number, same data`

const exitWith = (message: string): never => {
  process.stderr.write(`cubeplane-mock: ${message}\n\n${usage}\n`)
  process.exit(2)
}

const parsed = Either.try(() =>
  parseArgs({
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
  })
)
if (Either.isLeft(parsed)) exitWith(parsed.left instanceof Error ? parsed.left.message : String(parsed.left))
const { values } = Either.getOrThrow(parsed)
if (values.help === true) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const integer = (name: string, value: string | undefined, min: number, max: number): number | undefined => {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    return exitWith(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  }
  return n
}

const port = integer("port", values.port, 0, 65_535) ?? 4010
const deployments = integer("deployments", values.deployments, 1, 100_000)
const events = integer("events", values.events, 0, 1_000_000_000)
const randomSeed = integer("random-seed", values["random-seed"], 0, 2 ** 31 - 1)
const host = values.host ?? "127.0.0.1"
const shape = values.shape
if (shape !== undefined && shape !== "reference" && shape !== "platform") {
  exitWith(`--shape must be reference or platform, got ${JSON.stringify(shape)}`)
}
if (values.seed !== undefined && deployments !== undefined) {
  exitWith("--seed and --deployments cannot be combined: a seed file brings its own deployments")
}

const loadSeed = async (path: string): Promise<Seed.Seed> => {
  const result = await Effect.runPromise(Effect.either(Seed.load(path)))
  if (Either.isLeft(result)) {
    process.stderr.write(`cubeplane-mock: ${result.left.message}\n`)
    process.exit(2)
  }
  return result.right
}

const base = values.seed === undefined ? Seed.demo : await loadSeed(values.seed)

const generated = deployments === undefined && events === undefined
  ? base
  : Seed.generate(
    {
      ...(deployments !== undefined ? { deployments } : {}),
      ...(events !== undefined ? { events } : {}),
      ...(randomSeed !== undefined ? { seed: randomSeed } : {})
    },
    base
  )

const shaped = shape === "reference" || shape === "platform"
  ? await Effect.runPromise(Effect.either(Seed.withShape(generated, shape))).then((result) =>
    Either.isLeft(result) ? exitWith(result.left.message) : result.right
  )
  : generated

const running = await MockServer.start({ port, host, seed: shaped }).catch((error: unknown) => {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  process.stderr.write(
    `cubeplane-mock: cannot listen on ${host}:${port}${
      code === "EADDRINUSE" ? " (the port is in use: try --port 0)" : ""
    }: ${error instanceof Error ? error.message : String(error)}\n`
  )
  process.exit(1)
})

const seed = shaped
const eventCount = seed.generatedAuditLog?.count ?? seed.auditLog.length
const keys = seed.apiKeys
  .map((k) =>
    `  ${k.key.padEnd(18)} ${k.name} (${k.permissions.join(", ")}${
      k.deployments !== undefined ? `; deployments ${k.deployments.join(", ")}` : ""
    })`
  )
  .join("\n")
const firstKey = seed.apiKeys[0]?.key ?? "YOUR_API_KEY"
process.stdout.write(
  [
    `Mock Cube Cloud Control Plane listening on ${running.url}`,
    `  ${seed.shape} shape, plan ${seed.plan}, ${seed.deployments.length} deployments, ${eventCount} audit events`,
    "",
    "API keys:",
    keys,
    "",
    "Try:",
    `  curl -H "Authorization: Bearer ${firstKey}" ${running.url}/api/v1/deployments`,
    "",
    `Admin: ${running.url}/__mock/{reset,seed,faults,calls}. Ctrl-C to stop.`,
    ""
  ].join("\n")
)

let stopping = false
const stop = (signal: string) => {
  if (stopping) return
  stopping = true
  process.stderr.write(`\n${signal}: stopping the mock\n`)
  const force = setTimeout(() => process.exit(0), 3000)
  force.unref()
  running.close().then(() => process.exit(0), () => process.exit(0))
}
process.on("SIGINT", () => stop("SIGINT"))
process.on("SIGTERM", () => stop("SIGTERM"))
