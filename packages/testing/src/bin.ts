#!/usr/bin/env node
/**
 * `pnpm mock --port 4010 [--seed FILE] [--shape S] [--deployments N] [--events N] [--host H]`:
 * the mock Control Plane over HTTP (started by `Launch`, as the CLI and the proxy's demo start it),
 * until Ctrl-C / SIGTERM.
 */
import { Effect, Either, Exit, Scope } from "effect"
import * as Launch from "./Launch.js"

const fail = (error: Launch.LaunchError, withUsage: boolean): never => {
  process.stderr.write(`cubeplane-mock: ${error.message}\n${withUsage ? `\n${Launch.usage}\n` : ""}`)
  process.exit(error.usage ? 2 : 1)
}

const parsed = Launch.parseArgv(process.argv.slice(2))
if (Either.isLeft(parsed)) fail(parsed.left, true)
const options = Either.getOrThrow(parsed)
if (options === "help") {
  process.stdout.write(`${Launch.usage}\n`)
  process.exit(0)
}

const scope = Effect.runSync(Scope.make())
const started = await Effect.runPromise(Effect.either(Scope.extend(Launch.start(options), scope)))
if (Either.isLeft(started)) fail(started.left, false)
const launched = Either.getOrThrow(started)
process.stdout.write(Launch.banner(launched))

let stopping = false
const stop = (signal: string) => {
  if (stopping) return
  stopping = true
  process.stderr.write(`\n${signal}: stopping the mock\n`)
  const force = setTimeout(() => process.exit(0), 3000)
  force.unref()
  Effect.runPromise(Scope.close(scope, Exit.void)).then(() => process.exit(0), () => process.exit(0))
}
process.on("SIGINT", () => stop("SIGINT"))
process.on("SIGTERM", () => stop("SIGTERM"))
