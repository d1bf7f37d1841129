/**
 * `cubeplane audit-logs export` and `audit-logs follow`, loaded when they run.
 */
import * as AuditLog from "@cubeplane/core/AuditLog"
import { malformedAuditLogError } from "@cubeplane/core/ControlPlane"
import * as Csv from "@cubeplane/core/Csv"
import type { AuditLogEvent, AuditLogFilter } from "@cubeplane/core/Domain"
import type { ControlPlaneError } from "@cubeplane/core/Errors"
import { TransportError } from "@cubeplane/core/Errors"
import { paths } from "@cubeplane/core/Paths"
import * as Transport from "@cubeplane/core/Transport"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as AtomicFile from "../AtomicFile.js"
import * as Client from "../Client.js"
import { CliFailure, fromControlPlane, general, usage } from "../Failure.js"
import type { Parsed } from "../Flags.js"
import * as Follow from "../Follow.js"
import * as NodeBody from "../NodeBody.js"
import type { exportConfig, filterConfig, followConfig } from "../options/audit-logs.js"
import * as Output from "../Output.js"
import * as Progress from "../Progress.js"
import * as Session from "../Session.js"
import * as Stdio from "../Stdio.js"
import * as Time from "../Time.js"
import * as Views from "../Views.js"

const toFilter = (flags: Parsed<typeof filterConfig>): AuditLogFilter => ({
  ...(Option.isSome(flags.start) ? { start: flags.start.value } : {}),
  ...(Option.isSome(flags.end) ? { end: flags.end.value } : {}),
  ...(Option.isSome(flags.search) ? { search: flags.search.value } : {}),
  ...(Option.isSome(flags.eventName) ? { eventName: flags.eventName.value } : {}),
  ...(Option.isSome(flags.userEmail) ? { userEmail: flags.userEmail.value } : {})
})

// ---------------------------------------------------------------------------
// export
// ---------------------------------------------------------------------------

/**
 * `--format csv` on the raw export: the CSV as the server sent it, byte for
 * byte, its records counted as the bytes pass (core's `Csv.makeRowCounter`,
 * no decoding) and told to `onProgress` with the bytes so far; a file that
 * ends inside a quoted field — cut off — stops it, saying how far it got.
 */
export const csvThrough = (
  onProgress: (rows: number, bytes: number) => void
): NodeBody.Through<CliFailure> => {
  const counter = Csv.makeRowCounter()
  let rows = 0
  let size = 0
  let failure: CliFailure | undefined
  const none = new Uint8Array(0)
  return {
    chunk: (chunk) => {
      rows = counter.push(chunk)
      size += chunk.length
      onProgress(rows, size)
      return chunk
    },
    end: () => {
      try {
        rows = counter.end()
        onProgress(rows, size)
      } catch (error) {
        if (!(error instanceof Csv.CsvError)) throw error
        failure = general(`The audit-log export is cut off after ${rows} rows (${error.message}) — try again`)
      }
      return none
    },
    stopped: () => failure
  }
}

/**
 * `--format ndjson` on the raw export: core's transcoder
 * (`AuditLog.makeCsvNdjsonTranscoder`: the lines of the typed events, without
 * building them where the bytes prove the line) fed each chunk as the socket
 * delivers it, with the rows written and the CSV bytes read so far told to
 * `onProgress`. A malformed export stops it with the export's
 * `UnexpectedResponse` (saying which row or event), after the lines before it.
 */
export const ndjsonThrough = (
  onProgress: (rows: number, bytes: number) => void
): NodeBody.Through<ControlPlaneError> => {
  const transcoder = AuditLog.makeCsvNdjsonTranscoder()
  let size = 0
  const told = (lines: Uint8Array) => {
    onProgress(transcoder.rows, size)
    return lines
  }
  return {
    chunk: (chunk) => {
      size += chunk.length
      return told(transcoder.push(chunk))
    },
    end: () => told(transcoder.end()),
    stopped: () => {
      const failure = transcoder.failure
      return failure === undefined ? undefined : malformedAuditLogError(paths.auditLogExport, failure)
    },
    // The transcoder keeps views of a row a chunk cut until the next chunk completes it.
    keepsInput: true
  }
}

/**
 * The export from socket to stdout or to `--out FILE`, each chunk through
 * `through` (the CSV as sent, or NDJSON), with no Effect step per chunk: to
 * stdout, what came before a malformed row still goes out (then exit 1), and
 * a reader that stops early (`| head`) ends the export quietly; to a file,
 * nothing is kept unless the whole export was read and written.
 */
const exportRaw = <E extends ControlPlaneError | CliFailure>(
  out: string | undefined,
  csv: Effect.Effect<Client.CsvExport, ControlPlaneError>,
  through: NodeBody.Through<E>
): Effect.Effect<void, ControlPlaneError | CliFailure> =>
  Effect.suspend(() => {
    if (out === undefined) {
      return Session.toStdout(
        Effect.flatMap(
          csv,
          (answer) =>
            Output.writeReadable<E | ControlPlaneError>(process.stdout, answer.body, through, answer.bodyError)
        )
      )
    }
    let bodyError: (cause: unknown) => ControlPlaneError = (cause) =>
      Transport.bodyDropped({ method: "GET", path: paths.auditLogExport }, cause)
    return AtomicFile.writeReadable(out)(
      Effect.map(csv, (answer) => {
        bodyError = answer.bodyError
        return answer.body
      }),
      through,
      (error): E | ControlPlaneError => bodyError(error)
    ).pipe(Effect.mapError((error) => error instanceof AtomicFile.FileError ? general(error.message) : error))
  })

export const exportAuditLog = (flags: Parsed<typeof exportConfig>) =>
  Session.run(flags, ({ controlPlane, credentials, verbose }) =>
    Effect.gen(function*() {
      const filter = toFilter(flags)
      const out = Option.getOrUndefined(flags.out)
      // On a terminal that is also showing the data, a progress line would garble it.
      const progress = Progress.make(Stdio.stderrIsTTY() && (out !== undefined || !Stdio.stdoutIsTTY()))
      if (flags.format === "csv" || flags.format === "ndjson") {
        const log = verbose ? (line: string) => Stdio.verbose(true, line) : undefined
        const csv = Client.exportCsv(credentials, log)(filter)
        yield* (flags.format === "csv"
          ? exportRaw(out, csv, csvThrough(progress.set))
          : exportRaw(out, csv, ndjsonThrough(progress.set))).pipe(
            Effect.onExit((exit) =>
              exit._tag === "Failure" && out !== undefined ? Stdio.note(`Nothing was written to ${out}.`) : Effect.void
            )
          )
        return yield* progress.done
      }
      const format = flags.format
      const body: Stream.Stream<string | Uint8Array, ControlPlaneError | CliFailure> = Stream.suspend(() => {
        let rows = 0
        return controlPlane.auditLogEvents(filter).pipe(
          Stream.mapChunksEffect((chunk) => Effect.as(progress.update(rows += chunk.length, 0), chunk)),
          Output.list(Views.auditLogEvent, format, { color: false })
        )
      })
      if (out === undefined) {
        yield* Session.print(body)
      } else {
        yield* AtomicFile.writeStream(out)(body).pipe(
          Effect.mapError((error) => error instanceof AtomicFile.FileError ? general(error.message) : error),
          Effect.onExit((exit) => exit._tag === "Failure" ? Stdio.note(`Nothing was written to ${out}.`) : Effect.void)
        )
      }
      yield* progress.done
    }))

// ---------------------------------------------------------------------------
// follow
// ---------------------------------------------------------------------------

const readState = (file: string): Effect.Effect<Follow.State, CliFailure> =>
  Effect.tryPromise({ try: () => fs.readFile(file, "utf8"), catch: (error) => error }).pipe(
    Effect.matchEffect({
      onFailure: (error) =>
        typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT"
          ? Effect.succeed(Follow.emptyState)
          : Effect.fail(general(`Could not read the state file ${file}: ${String(error)}`)),
      onSuccess: (text) =>
        Either.match(Follow.parseState(text, file), {
          onLeft: (error) => Effect.fail(usage(error.message)),
          onRight: (state) => Effect.succeed(state)
        })
    })
  )

/** Errors a first poll stops on: the key, its permissions, or the filter are wrong. Later, every error is retried. */
const isConfigurationError = (error: ControlPlaneError): boolean =>
  error._tag === "Unauthorized" || error._tag === "Forbidden" || error._tag === "BadRequest" ||
  error._tag === "NotFound"

export const follow = (flags: Parsed<typeof followConfig>) =>
  Effect.gen(function*() {
    const duration = (flag: string, text: string) =>
      Option.match(Time.parseInterval(text), {
        onNone: () => Effect.fail(usage(`${flag} ${text} is not a duration — e.g. 30s, 5m, 1h`)),
        onSome: Effect.succeed
      })
    const interval = yield* duration("--interval", flags.interval)
    const stallTimeout = yield* duration("--stall-timeout", flags.stallTimeout)
    const statePath = path.resolve(flags.state)
    yield* Effect.tryPromise({
      try: () => fs.mkdir(path.dirname(statePath), { recursive: true }),
      catch: (error) => general(`Could not create the directory of ${statePath}: ${String(error)}`)
    })
    const state = yield* readState(statePath)
    const initial = state.checkpoint
    const filter = toFilter(flags)
    yield* Session.run(flags, ({ controlPlane, credentials }) =>
      Effect.gen(function*() {
        const render = (events: ReadonlyArray<AuditLogEvent>, header: boolean) =>
          Stream.runFold(
            Output.list(Views.auditLogEvent, flags.format, { color: false }, { header })(Stream.fromIterable(events)),
            "",
            (all, piece) => all + piece
          )
        const writeOut = (text: string) =>
          Effect.mapError(
            Output.writeChunk(process.stdout, text),
            (error) =>
              general(`Stopped: could not write the events (${error.message}); the checkpoint was not advanced`)
          )
        // CSV: one header per output, however often the follower restarts or is killed. An output
        // file (`>> audit.csv`) gets one when it is empty; an output that cannot be looked at (a pipe)
        // gets one unless the state file says it already did.
        let csvHeader = state.csvHeader
        const saveState = (checkpoint: Follow.Checkpoint | undefined) =>
          Effect.mapError(
            AtomicFile.writeFile(statePath, Follow.renderState({ checkpoint, csvHeader })),
            (error) => general(`Stopped: ${error.message}; the events up to here were written`)
          )
        if (flags.format === "csv") {
          const fileSize = Stdio.stdoutFileSize()
          if (fileSize !== undefined ? fileSize === 0 : !state.csvHeader) {
            yield* writeOut(yield* render([], true))
            csvHeader = true
            yield* saveState(initial)
          }
        }
        yield* Stdio.verbose(
          flags.verbose,
          initial === undefined
            ? `no checkpoint in ${statePath}: starting ${
              filter.start !== undefined ? `at ${filter.start}` : "from the first event"
            }`
            : `resuming after ${
              new Date(initial.timestamp).toISOString()
            } (${initial.ids.length} event id(s) at that time)`
        )
        return yield* Follow.follow<AuditLogEvent, ControlPlaneError, CliFailure>(
          {
            poll: (start) => controlPlane.auditLogEvents({ ...filter, ...(start !== undefined ? { start } : {}) }),
            emit: (events) => Effect.flatMap(render(events, false), writeOut),
            save: saveState,
            report: (error, wait) =>
              Stdio.note(
                `${
                  fromControlPlane(error, credentials.sources.apiKey, credentials.sources.url).message
                } — retrying in ${Time.humanize(Duration.toMillis(wait))}`
              ),
            isFatalAtStart: isConfigurationError,
            stalled: (after) =>
              new TransportError({
                method: "GET",
                path: paths.auditLogExport,
                reason: "Timeout",
                message: `The audit-log export sent nothing for ${
                  Time.humanize(Duration.toMillis(after))
                } (a stalled connection)`
              })
          },
          initial,
          { interval, start: filter.start, stallTimeout }
        )
      }))
  })
