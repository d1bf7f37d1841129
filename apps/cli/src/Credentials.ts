/**
 * Where the URL, the API key and the auth scheme come from.
 *
 * Precedence, for each of them: a flag (`--url`, `--api-key`, and
 * `--profile NAME`, which is a flag too), then the environment
 * (`CUBE_API_URL`, `CUBE_API_KEY`, `CUBE_AUTH_SCHEME`, the names Cube's own CLI
 * reads), then the default profile of the config file. `--api-key -` reads
 * the key from stdin, so it stays out of shell history and `ps`. `--verbose`
 * says which source won — never the key itself.
 */
import * as HttpControlPlane from "@cubeplane/core/HttpControlPlane"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { CliFailure } from "./Failure.js"
import { usage } from "./Failure.js"
import * as Profiles from "./Profiles.js"

export type AuthScheme = Profiles.AuthScheme

/** The connection flags as parsed. */
export interface Flags {
  readonly url: Option.Option<string>
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly profile: Option.Option<string>
}

/** Where a value came from, in words (`--url`, `CUBE_API_KEY`, `profile "prod"`). */
export type Source = string

export interface Credentials {
  readonly url: string
  readonly apiKey: Redacted.Redacted<string>
  /** `undefined`: core's default, `bearer` for every key. */
  readonly authScheme: AuthScheme | undefined
  readonly sources: {
    readonly url: Source
    readonly apiKey: Source
    readonly authScheme: Source
  }
}

interface Candidate<A> {
  readonly value: A
  readonly source: Source
}

const first = <A>(...candidates: ReadonlyArray<Candidate<A> | undefined>): Candidate<A> | undefined =>
  candidates.find((candidate) => candidate !== undefined)

const nonEmpty = (value: string | undefined): string | undefined =>
  value !== undefined && value.trim() !== "" ? value.trim() : undefined

const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

const parseScheme = (value: string, source: Source): Effect.Effect<AuthScheme, CliFailure> => {
  const scheme = value.trim().toLowerCase()
  return scheme === "bearer" || scheme === "api-key"
    ? Effect.succeed(scheme)
    : Effect.fail(usage(`${source} must be \`bearer\` or \`api-key\`, not \`${value}\``))
}

export interface Inputs {
  readonly flags: Flags
  readonly env: Profiles.Env
  readonly profiles: Profiles.Profiles
  /** Reads the key for `--api-key -`. */
  readonly readStdin: Effect.Effect<string, CliFailure>
}

/** Resolves the connection, or fails with a usage error (exit 2) that says how to provide what is missing. */
export const resolve = (inputs: Inputs): Effect.Effect<Credentials, CliFailure> =>
  Effect.gen(function*() {
    const { env, flags, profiles } = inputs
    const explicitProfile = Option.getOrUndefined(flags.profile)
    const profile = explicitProfile !== undefined
      ? Profiles.find(profiles, explicitProfile)
      : Profiles.defaultProfile(profiles)
    if (explicitProfile !== undefined && profile === undefined) {
      const known = profiles.profiles.map((p) => p.name)
      return yield* Effect.fail(usage(
        `No profile named "${explicitProfile}"${
          known.length > 0 ? ` (known: ${known.join(", ")})` : ""
        } — create it with \`cubeplane profiles add ${explicitProfile} --url URL --api-key -\``
      ))
    }
    const fromProfile = <A>(value: A | undefined): Candidate<A> | undefined =>
      profile !== undefined && value !== undefined ? { value, source: `profile "${profile.name}"` } : undefined
    // An explicitly chosen profile is a flag: it outranks the environment.
    const ranked = <A>(
      flag: Candidate<A> | undefined,
      fromEnv: Candidate<A> | undefined,
      inProfile: Candidate<A> | undefined
    ) => explicitProfile !== undefined ? first(flag, inProfile, fromEnv) : first(flag, fromEnv, inProfile)

    const urlFlag = Option.getOrUndefined(flags.url)
    const envUrl = nonEmpty(env.CUBE_API_URL)
    const url = ranked(
      urlFlag !== undefined ? { value: urlFlag, source: "--url" } : undefined,
      envUrl !== undefined ? { value: envUrl, source: "CUBE_API_URL" } : undefined,
      fromProfile(profile?.url)
    )
    if (url === undefined) {
      return yield* Effect.fail(usage(
        "No API URL — pass --url https://YOUR_TENANT.cubecloud.dev, set CUBE_API_URL, or run `cubeplane profiles add`"
      ))
    }
    if (!isHttpUrl(url.value)) {
      return yield* Effect.fail(
        usage(`${url.source} is not an http(s) URL: ${url.value} — e.g. https://acme.cubecloud.dev`)
      )
    }
    const apiPath = /\/api\/v1\/?$/.exec(url.value)
    if (apiPath !== null) {
      return yield* Effect.fail(usage(
        `${url.source} is ${url.value}: give the base URL without /api/v1 (cubeplane adds it) — e.g. ${
          url.value.slice(0, apiPath.index)
        }`
      ))
    }

    const keyFlag = Option.getOrUndefined(flags.apiKey)
    const keyFromFlag: Candidate<Redacted.Redacted<string>> | undefined = keyFlag === undefined
      ? undefined
      : Redacted.value(keyFlag) === "-"
      ? { value: Redacted.make(yield* inputs.readStdin), source: "--api-key - (stdin)" }
      : { value: keyFlag, source: "--api-key" }
    const envKey = nonEmpty(env.CUBE_API_KEY)
    const apiKey = ranked(
      keyFromFlag,
      envKey !== undefined ? { value: Redacted.make(envKey), source: "CUBE_API_KEY" } : undefined,
      fromProfile(profile?.apiKey)
    )
    if (apiKey === undefined || Redacted.value(apiKey.value).trim() === "") {
      return yield* Effect.fail(usage(
        apiKey === undefined
          ? "No API key — pass --api-key - (reads stdin), set CUBE_API_KEY, or run `cubeplane profiles add`"
          : `The API key from ${apiKey.source} is empty`
      ))
    }

    const envScheme = nonEmpty(env.CUBE_AUTH_SCHEME)
    const scheme = ranked<string>(
      undefined,
      envScheme !== undefined ? { value: envScheme, source: "CUBE_AUTH_SCHEME" } : undefined,
      fromProfile(profile?.authScheme)
    )
    const authScheme = scheme === undefined ? undefined : yield* parseScheme(scheme.value, scheme.source)
    return {
      url: url.value,
      apiKey: apiKey.value,
      authScheme,
      sources: {
        url: url.source,
        apiKey: apiKey.source,
        authScheme: scheme?.source ?? "default"
      }
    }
  })

/** What `--verbose` prints about the connection: the sources, never the key. */
export const describe = (credentials: Credentials): ReadonlyArray<string> => {
  return [
    `url ${credentials.url} (from ${credentials.sources.url})`,
    `api key from ${credentials.sources.apiKey}`,
    credentials.authScheme !== undefined
      ? `auth scheme ${credentials.authScheme} (from ${credentials.sources.authScheme})`
      : `auth scheme ${HttpControlPlane.defaultAuthScheme} (the default, as Cube's API documents; set CUBE_AUTH_SCHEME=api-key to send Api-Key instead)`
  ]
}

/**
 * Reads stdin to its end; with `lineOnTerminal`, a terminal's input ends at
 * Enter (a pasted key), since nobody expects to press Ctrl-D.
 */
const readInput = (lineOnTerminal: boolean): Effect.Effect<string, CliFailure> =>
  Effect.async<string, CliFailure>((resume) => {
    const input = process.stdin
    const chunks: Array<Buffer> = []
    const cleanup = () => {
      input.off("data", onData)
      input.off("end", onEnd)
      input.off("error", onError)
      input.pause()
    }
    const onEnd = () => {
      cleanup()
      resume(Effect.succeed(Buffer.concat(chunks).toString("utf8")))
    }
    const onData = (chunk: Buffer) => {
      chunks.push(chunk)
      if (lineOnTerminal && input.isTTY === true && chunk.includes(10)) onEnd()
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(usage(`Could not read stdin: ${error.message}`)))
    }
    input.on("data", onData)
    input.on("end", onEnd)
    input.on("error", onError)
    input.resume()
    return Effect.sync(cleanup)
  })

/** The API key for `--api-key -`: the first line of stdin, trimmed. */
export const readKeyFromStdin: Effect.Effect<string, CliFailure> = Effect.map(
  readInput(true),
  (text) => text.split(/\r?\n/)[0]!.trim()
)

/** All of stdin as text (a JWT or a security context piped in). */
export const readAllStdin: Effect.Effect<string, CliFailure> = readInput(false)
