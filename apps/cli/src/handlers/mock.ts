/**
 * `cubeplane mock serve` and `mock record`, loaded when they run (with Hono and jose).
 * Both go through @cubeplane/testing: `Launch` starts the mock as `pnpm mock` and the
 * proxy's demo do; `Recording` reads the tenant with core's client.
 */
import { Launch, Recording } from "@cubeplane/testing"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as AtomicFile from "../AtomicFile.js"
import { general, usage } from "../Failure.js"
import type { Parsed } from "../Flags.js"
import type { recordConfig, serveConfig } from "../options/mock.js"
import * as Session from "../Session.js"
import * as Stdio from "../Stdio.js"

export const serve = (flags: Parsed<typeof serveConfig>) =>
  Effect.gen(function*() {
    const launched = yield* Launch.start({
      port: flags.port,
      host: flags.host,
      ...(Option.isSome(flags.seed) ? { seedFile: flags.seed.value } : {}),
      ...(Option.isSome(flags.shape) ? { shape: flags.shape.value } : {}),
      ...(Option.isSome(flags.deployments) ? { deployments: flags.deployments.value } : {}),
      ...(Option.isSome(flags.events) ? { events: flags.events.value } : {})
    }).pipe(Effect.mapError((error) => error.usage ? usage(error.message) : general(error.message)))
    process.stdout.write(Launch.banner(launched))
    return yield* Effect.never
  }).pipe(Effect.scoped)

export const record = (flags: Parsed<typeof recordConfig>) =>
  Session.run(flags, ({ controlPlane }) =>
    Effect.gen(function*() {
      const recorded = yield* Recording.record(controlPlane, {
        ...(Option.isSome(flags.start) ? { start: flags.start.value } : {}),
        ...(Option.isSome(flags.end) ? { end: flags.end.value } : {}),
        note: (message) => Stdio.note(`cubeplane: ${message}`)
      })
      yield* Effect.mapError(AtomicFile.writeFile(flags.out, recorded.json), (error) => general(error.message))
      const environments = recorded.seed.deployments.reduce((n, d) => n + d.environments.length, 0)
      yield* Stdio.note(
        `Recorded ${recorded.seed.deployments.length} deployments, ${environments} environments (api secrets replaced) and ${recorded.seed.auditLog.length} audit events, ${recorded.seed.shape} shape, to ${flags.out}. Serve it: cubeplane mock serve --seed ${flags.out}`
      )
    }))
