/**
 * How the CLI fails: one line on stderr that names the problem and the fix,
 * and an exit code a script can branch on.
 *
 * | code | meaning |
 * |---|---|
 * | 0 | ok |
 * | 1 | API or network error (and anything unexpected) |
 * | 2 | bad usage: unknown flag, missing argument, invalid value, no credentials |
 * | 4 | authentication or permission error (401, 403) |
 * | 130 | interrupted (Ctrl-C) |
 */
import type { ControlPlaneError } from "@cubeplane/core/Errors"
import * as Data from "effect/Data"

export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  auth: 4,
  interrupted: 130,
  terminated: 143
} as const

/** A failure the CLI already knows how to say. `details` is shown with `--verbose`. */
export class CliFailure extends Data.TaggedError("CliFailure")<{
  readonly message: string
  readonly exitCode: number
  readonly details?: string
}> {}

/** Bad usage (exit 2). */
export const usage = (message: string): CliFailure => new CliFailure({ message, exitCode: ExitCode.usage })

/** A failure that is not the API's (a file, stdout), exit 1. */
export const general = (message: string): CliFailure => new CliFailure({ message, exitCode: ExitCode.error })

const withoutQuery = (path: string) => path.split("?")[0] ?? path

const serverSaid = (error: { readonly serverMessage?: string | undefined }) =>
  error.serverMessage !== undefined && error.serverMessage !== "" ? ` (the server said: ${error.serverMessage})` : ""

/**
 * A Control Plane error as the CLI says it. `keyHint` names where the key
 * came from (`--api-key`, `CUBE_API_KEY`, `profile "prod"`), so the fix points
 * at the right place.
 */
export const fromControlPlane = (error: ControlPlaneError, keyHint: string, urlHint: string): CliFailure => {
  const where = `${error.method} ${withoutQuery(error.path)}`
  const facts = [
    `${error.method} ${error.path}`,
    "status" in error ? `status ${error.status}` : `no response (${error.reason})`,
    "requestId" in error && error.requestId !== undefined ? `request id ${error.requestId}` : undefined
  ].filter((fact) => fact !== undefined).join(", ")
  switch (error._tag) {
    case "Unauthorized":
      return new CliFailure({
        exitCode: ExitCode.auth,
        details: facts,
        message: `Unauthorized: the API key was rejected${serverSaid(error)} — check ${keyHint} or --profile`
      })
    case "Forbidden":
      return new CliFailure({
        exitCode: ExitCode.auth,
        details: facts,
        message: `Forbidden: the API key may not ${where}${
          serverSaid(error)
        } — use a key with the permission and deployment scope it needs (${keyHint})`
      })
    case "NotFound":
      return new CliFailure({
        exitCode: ExitCode.error,
        details: facts,
        message: `Not found: ${where}${
          serverSaid(error)
        } — check the deployment and environment ids (cubeplane deployments list)`
      })
    case "BadRequest":
      return new CliFailure({
        exitCode: ExitCode.error,
        details: facts,
        // The server's own words when it sent some; else core's message (e.g. a body refused before sending).
        message: error.serverMessage !== undefined && error.serverMessage !== ""
          ? `The server refused ${where} (${error.status}): ${error.serverMessage} — check the arguments (--help)`
          : `${error.message} — check the arguments (--help)`
      })
    case "RateLimited":
      return new CliFailure({
        exitCode: ExitCode.error,
        details: facts,
        message: `Rate limited by the API${serverSaid(error)}${
          error.retryAfterMillis !== undefined
            ? ` — try again in ${Math.ceil(error.retryAfterMillis / 1000)}s`
            : " — try again later"
        }`
      })
    case "ServerError":
      return new CliFailure({
        exitCode: ExitCode.error,
        details: facts,
        message: `Server error ${error.status} from ${where}${
          serverSaid(error)
        } — Cube Cloud had a problem; try again later`
      })
    case "TransportError":
      return new CliFailure({
        exitCode: ExitCode.error,
        details: facts,
        message: `${error.message} — check ${urlHint} and the network`
      })
    case "UnexpectedResponse":
      return new CliFailure({
        exitCode: ExitCode.error,
        details: `${facts}; ${error.detail}${error.excerpt !== undefined ? `; the body began: ${error.excerpt}` : ""}`,
        message:
          `${error.message} — if it persists, check that ${urlHint} points at Cube Cloud (--verbose shows the body)`
      })
  }
}
