/**
 * One run of a command that talks to the API: resolve the credentials (flag >
 * environment > profile), say where they came from under `--verbose`, load
 * the HTTP client on demand, run the command with the `ControlPlane`
 * service, and turn its errors into one line that points at the fix.
 */
import type { ControlPlaneService } from "@cubeplane/core/ControlPlane"
import { ControlPlaneError } from "@cubeplane/core/Errors"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Client from "./Client.js"
import * as Credentials from "./Credentials.js"
import type { CliFailure } from "./Failure.js"
import { fromControlPlane, general, usage } from "./Failure.js"
import type { ConnectionFlags } from "./Flags.js"
import * as Flags from "./Flags.js"
import * as Output from "./Output.js"
import * as Profiles from "./Profiles.js"
import * as Stdio from "./Stdio.js"

export interface Session {
  readonly controlPlane: ControlPlaneService
  readonly credentials: Credentials.Credentials
  readonly verbose: boolean
}

/** One of core's typed API errors (its own schema says which). */
export const isControlPlaneError: (error: unknown) => error is ControlPlaneError = Schema.is(ControlPlaneError)

/** The credentials for these flags, with what `--verbose` says about them on stderr. */
export const credentials = (flags: ConnectionFlags): Effect.Effect<Credentials.Credentials, CliFailure> =>
  Effect.gen(function*() {
    const env = process.env
    const profiles = yield* Effect.mapError(Profiles.load(env), (error) => usage(error.message))
    const resolved = yield* Credentials.resolve({
      flags,
      env,
      profiles,
      readStdin: Credentials.readKeyFromStdin
    })
    Stdio.registerSecret(Redacted.value(resolved.apiKey))
    for (const line of Credentials.describe(resolved)) yield* Stdio.verbose(flags.verbose, line)
    if (
      (resolved.sources.apiKey.startsWith("profile") || resolved.sources.url.startsWith("profile")) &&
      (yield* Profiles.isTooOpen(env))
    ) {
      yield* Stdio.note(
        `Warning: ${Profiles.configPath(env)} can be read by other users — run: chmod 600 ${Profiles.configPath(env)}`
      )
    }
    return resolved
  })

/**
 * Runs `use` with the service. Control Plane errors become a `CliFailure`
 * whose message names the source of the key or URL that needs fixing.
 */
export const run = <A, E, Req>(
  flags: ConnectionFlags,
  use: (session: Session) => Effect.Effect<A, E | ControlPlaneError, Req>
): Effect.Effect<A, Exclude<E, ControlPlaneError> | CliFailure, Req> =>
  Effect.gen(function*() {
    const resolved = yield* credentials(flags)
    const log = flags.verbose ? (line: string) => Stdio.verbose(true, line) : undefined
    const controlPlane = yield* Effect.provide(Client.ControlPlane, Client.layer(resolved, log))
    const isApiError = (error: E | ControlPlaneError): error is ControlPlaneError => isControlPlaneError(error)
    return yield* use({ controlPlane, credentials: resolved, verbose: flags.verbose }).pipe(
      Effect.catchIf(isApiError, (error) =>
        Effect.fail(fromControlPlane(error, resolved.sources.apiKey, resolved.sources.url))),
      Effect.provide(Logger.replace(Logger.defaultLogger, retryNotes)),
      Logger.withMinimumLogLevel(LogLevel.Debug)
    )
  })

const annotation = (annotations: HashMap.HashMap<string, unknown>, key: string): string | undefined =>
  Option.match(HashMap.get(annotations, key), {
    onNone: () => undefined,
    onSome: (value) => (typeof value === "string" || typeof value === "number" ? String(value) : undefined)
  })

let retrySaid = false

/**
 * Says on stderr, at the first retry, that a request failed and is being
 * retried (core's retry logs each retry with these annotations), so a refused
 * connection or an outage is never silent while the retries run; once per
 * run, so a failure still ends in one line that says what to do. Other log
 * lines are dropped.
 */
const retryNotes = Logger.make(({ annotations }) => {
  const [error, method, path, retry, wait] = ["error", "method", "path", "retry", "waitMillis"].map((key) =>
    annotation(annotations, key)
  )
  if (
    retrySaid || error === undefined || method === undefined || path === undefined || retry === undefined ||
    wait === undefined
  ) {
    return
  }
  retrySaid = true
  process.stderr.write(Stdio.scrub(`cubeplane: ${method} ${path} failed (${error}); retrying…\n`))
})

/** The output format: `--output`, else table on a terminal and json when piped. */
export const format = (output: Option.Option<Output.Format>): Output.Format =>
  Option.getOrElse(output, () => Flags.defaultFormat(Stdio.stdoutIsTTY()))

export const style = (): Output.Style => ({ color: Stdio.stdoutColor() })

/** A write to stdout: a closed pipe (`| head`) ends the command quietly, another failure says so. */
export const toStdout = <E, Req>(
  writing: Effect.Effect<void, E | Output.OutputError, Req>
): Effect.Effect<void, Exclude<E, Output.OutputError> | CliFailure, Req> => {
  const isOutputError = (error: E | Output.OutputError): error is Output.OutputError =>
    error instanceof Output.OutputError
  return Effect.catchIf(
    writing,
    isOutputError,
    (error) =>
      error.code === "EPIPE" ? Effect.void : Effect.fail(general(`Could not write the output: ${error.message}`))
  )
}

/** Writes text to stdout; a closed pipe (`| head`) ends the command quietly. */
export const print = <E, Req>(
  text: Stream.Stream<string | Uint8Array, E, Req>
): Effect.Effect<void, Exclude<E, Output.OutputError> | CliFailure, Req> => toStdout(Output.write(process.stdout)(text))
