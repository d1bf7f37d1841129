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
 *
 * The checksum (see `eventChecksum`) lets the benchmark check that every path
 * decoded the same events.
 */
import { ControlPlane } from "@cubeplane/core/ControlPlane"
import type { AuditLogEvent } from "@cubeplane/core/Domain"
import * as HttpControlPlane from "@cubeplane/core/HttpControlPlane"
import { createClient } from "@cubeplane/core/Promise"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { Effect, Layer, Redacted, Stream } from "effect"
import { eventChecksum } from "./export-checksum.js"

const [mode, url] = process.argv.slice(2)
const modes = ["effect", "effect-each", "effect-fold", "promise"]
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

const started = performance.now()
if (mode === "effect") {
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
