/**
 * One client of the export benchmark, in its own process (so its peak RSS is
 * its own): reads every audit event of `URL` through core and prints one JSON
 * line `{ events, checksum, seconds }`.
 *
 *   effect        `ControlPlane.auditLogEvents()` (HttpControlPlane on fetch), `Stream.runForEachChunk` with an
 *                 `Effect.sync` per chunk
 *   effect-each   the same stream, `Stream.runForEach` with an `Effect.sync` per event
 *   effect-fold   the same stream, `Stream.runFold`
 *   promise       `createClient(...).auditLogs.events()` with `for await`
 *   effect-alone-chunk, effect-alone-each
 *                 no cubeplane and no HTTP: `URL` is a number of event-shaped objects made in memory in chunks of
 *                 420 (about what one 64 KiB chunk of the export decodes to), consumed like `effect` and
 *                 `effect-each` — what Effect's sinks cost on their own
 *
 * The checksum (see `eventChecksum`) lets the benchmark check that every path
 * decoded the same events.
 */
import { ControlPlane } from "@cubeplane/core/ControlPlane"
import type { AuditLogEvent } from "@cubeplane/core/Domain"
import * as HttpControlPlane from "@cubeplane/core/HttpControlPlane"
import { createClient } from "@cubeplane/core/Promise"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Chunk, Effect, Layer, Option, Redacted, Stream } from "effect"
import { eventChecksum } from "./export-checksum.js"

const [mode, url] = process.argv.slice(2)
const modes = ["effect", "effect-each", "effect-fold", "promise", "effect-alone-chunk", "effect-alone-each"]
if (mode === undefined || !modes.includes(mode) || url === undefined) {
  process.stderr.write(`usage: export-client ${modes.join("|")} URL\n`)
  process.exit(2)
}

let events = 0
let checksum = 0
const add = (event: AuditLogEvent) => {
  checksum = (checksum + eventChecksum(event, events)) % 2_147_483_647
  events++
}

/**
 * `total` events shaped like the export's (a fresh id, a `Date`, `attributes` from `JSON.parse`, the repeated
 * columns shared from a few values as the decoder shares them), in chunks of 420, made as they are pulled.
 */
const madeInMemory = (total: number): Stream.Stream<AuditLogEvent> => {
  const names = ["Logged in", "Logged out", "Created deployment", "Generated webhook token for Git repository"]
  const emails = ["ivan@example.com", "k.watanabe@example.jp", null]
  const deployments = [["123", "My Deployment"], ["124", "Analytics, EU (Données)"], [null, null]] as const
  const chunkOf = (from: number): Chunk.Chunk<AuditLogEvent> => {
    const out: Array<AuditLogEvent> = []
    for (let n = from; n < Math.min(total, from + 420); n++) {
      const [deploymentId, deploymentName] = deployments[n % 3]!
      out.push({
        id: `evt_g${n + 1}`,
        timestamp: new Date(1_704_067_200_000 + n * 10_000),
        eventName: names[n % 4]!,
        userEmail: emails[n % 3]!,
        deploymentId,
        deploymentName,
        ipAddress: "203.0.113.6",
        attributes: JSON.parse(`{"build":${n % 1000},"status":"queued"}`)
      })
    }
    return Chunk.unsafeFromArray(out)
  }
  return Stream.unfoldChunk(0, (from) => from >= total ? Option.none() : Option.some([chunkOf(from), from + 420]))
}

const started = performance.now()
if (mode === "effect-alone-chunk") {
  await Effect.runPromise(Stream.runForEachChunk(madeInMemory(Number(url)), (chunk) =>
    Effect.sync(() => {
      for (const event of chunk) add(event)
    })))
} else if (mode === "effect-alone-each") {
  await Effect.runPromise(Stream.runForEach(madeInMemory(Number(url)), (event) => Effect.sync(() => add(event))))
} else if (mode === "effect") {
  const layer = HttpControlPlane.layer({ url, apiKey: Redacted.make("sk-bench") }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
  await Effect.runPromise(
    Effect.flatMap(ControlPlane, (cp) =>
      Stream.runForEachChunk(cp.auditLogEvents(), (chunk) =>
        Effect.sync(() => {
          for (const event of chunk) add(event)
        }))).pipe(Effect.provide(layer))
  )
} else if (mode === "effect-each") {
  // The same stream, one `Effect.sync` per event (`Sink.forEach` runs them per chunk with `Effect.forEach`).
  const layer = HttpControlPlane.layer({ url, apiKey: Redacted.make("sk-bench") }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
  await Effect.runPromise(
    Effect.flatMap(
      ControlPlane,
      (cp) => Stream.runForEach(cp.auditLogEvents(), (event) => Effect.sync(() => add(event)))
    )
      .pipe(Effect.provide(layer))
  )
} else if (mode === "effect-fold") {
  // The same stream consumed by a fold: the work is done as each event arrives, no effect per chunk.
  const layer = HttpControlPlane.layer({ url, apiKey: Redacted.make("sk-bench") }).pipe(
    Layer.provide(FetchHttpClient.layer)
  )
  await Effect.runPromise(
    Effect.flatMap(ControlPlane, (cp) =>
      Stream.runFold(cp.auditLogEvents(), 0, (count, event) => {
        add(event)
        return count + 1
      })).pipe(Effect.provide(layer))
  )
} else {
  const client = createClient({ url, apiKey: "sk-bench" })
  for await (const event of client.auditLogs.events()) add(event)
  await client.close()
}
process.stdout.write(`${JSON.stringify({ events, checksum, seconds: (performance.now() - started) / 1000 })}\n`)
