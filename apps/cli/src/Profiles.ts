/**
 * Named connections (URL, API key, auth scheme) kept in
 * `$XDG_CONFIG_HOME/cubeplane/config.json` (`~/.config/cubeplane/config.json`
 * when `XDG_CONFIG_HOME` is unset), written atomically with mode 0600 in a
 * 0700 directory, because the file holds API keys.
 *
 * ```json
 * { "default": "prod",
 *   "profiles": { "prod": { "url": "https://acme.cubecloud.dev", "api_key": "sk-…", "auth_scheme": "api-key" } } }
 * ```
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as AtomicFile from "./AtomicFile.js"

export const AuthScheme = Schema.Literal("bearer", "api-key")
export type AuthScheme = typeof AuthScheme.Type

const ProfileJson = Schema.Struct({
  url: Schema.String,
  api_key: Schema.String,
  auth_scheme: Schema.optional(AuthScheme)
})

const ConfigJson = Schema.Struct({
  default: Schema.optional(Schema.String),
  profiles: Schema.Record({ key: Schema.String, value: ProfileJson })
})

/** One named connection; the key stays `Redacted` in memory. */
export interface Profile {
  readonly name: string
  readonly url: string
  readonly apiKey: Redacted.Redacted<string>
  readonly authScheme?: AuthScheme
}

export interface Profiles {
  /** The profile used when `--profile` is not given. */
  readonly defaultName: string | undefined
  readonly profiles: ReadonlyArray<Profile>
}

export const empty: Profiles = { defaultName: undefined, profiles: [] }

/** The config file could not be read or written, or is not valid. */
export class ProfilesError extends Data.TaggedError("ProfilesError")<{ readonly message: string }> {}

export type Env = Readonly<Record<string, string | undefined>>

/** Where the config file lives. */
export const configPath = (env: Env): string => {
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ""
    ? env.XDG_CONFIG_HOME
    : path.join(env.HOME ?? os.homedir(), ".config")
  return path.join(base, "cubeplane", "config.json")
}

const decodeConfig = Schema.decodeUnknownEither(Schema.parseJson(ConfigJson))

/** Parses the file's text (exported for tests). */
export const parse = (text: string, file: string): Either.Either<Profiles, ProfilesError> =>
  Either.map(
    Either.mapLeft(decodeConfig(text), (error) =>
      new ProfilesError({
        message: `${file} is not a valid cubeplane config (${
          ParseResult.TreeFormatter.formatErrorSync(error).split("\n").slice(-1)[0]?.trim()
        }) — fix it or remove it and run \`cubeplane profiles add\``
      })),
    (json) => ({
      defaultName: json.default,
      profiles: Object.entries(json.profiles).map(([name, profile]) => ({
        name,
        url: profile.url,
        apiKey: Redacted.make(profile.api_key),
        ...(profile.auth_scheme !== undefined ? { authScheme: profile.auth_scheme } : {})
      }))
    })
  )

/** The file's text for `profiles`. */
export const render = (profiles: Profiles): string =>
  JSON.stringify(
    {
      ...(profiles.defaultName !== undefined ? { default: profiles.defaultName } : {}),
      profiles: Object.fromEntries(profiles.profiles.map((profile) => [profile.name, {
        url: profile.url,
        api_key: Redacted.value(profile.apiKey),
        ...(profile.authScheme !== undefined ? { auth_scheme: profile.authScheme } : {})
      }]))
    },
    null,
    2
  ) + "\n"

/** Reads the config file; a missing file is no profiles. */
export const load = (env: Env): Effect.Effect<Profiles, ProfilesError> => {
  const file = configPath(env)
  return Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (error) => error
  }).pipe(
    Effect.matchEffect({
      onFailure: (error) =>
        typeof error === "object" && error !== null && "code" in error && error.code === "ENOENT"
          ? Effect.succeed(empty)
          : Effect.fail(new ProfilesError({ message: `Could not read ${file}: ${String(error)}` })),
      onSuccess: (text) => parse(text, file)
    })
  )
}

/** Writes the config file atomically, mode 0600, in a directory only the user can enter. */
export const save = (env: Env, profiles: Profiles): Effect.Effect<void, ProfilesError> => {
  const file = configPath(env)
  return Effect.tryPromise({
    try: () => fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 }),
    catch: (error) => new ProfilesError({ message: `Could not create ${path.dirname(file)}: ${String(error)}` })
  }).pipe(
    Effect.zipRight(
      Effect.mapError(
        AtomicFile.writeFile(file, render(profiles), { mode: 0o600 }),
        (error) => new ProfilesError({ message: error.message })
      )
    )
  )
}

/** Looks a profile up by name. */
export const find = (profiles: Profiles, name: string): Profile | undefined =>
  profiles.profiles.find((profile) => profile.name === name)

/** The profile used without `--profile`: the default one, or the only one. */
export const defaultProfile = (profiles: Profiles): Profile | undefined =>
  profiles.defaultName !== undefined
    ? find(profiles, profiles.defaultName)
    : profiles.profiles.length === 1
    ? profiles.profiles[0]
    : undefined

/** Adds or replaces a profile; the first one (or one added with `makeDefault`) becomes the default. */
export const upsert = (profiles: Profiles, profile: Profile, makeDefault: boolean): Profiles => {
  const others = profiles.profiles.filter((existing) => existing.name !== profile.name)
  const exists = others.length !== profiles.profiles.length
  return {
    defaultName: makeDefault || profiles.defaultName === undefined ? profile.name : profiles.defaultName,
    profiles: exists
      ? profiles.profiles.map((existing) => (existing.name === profile.name ? profile : existing))
      : [...others, profile]
  }
}

/** Removes a profile; if it was the default, no profile is the default any more (unless one is left). */
export const remove = (profiles: Profiles, name: string): Profiles => {
  const rest = profiles.profiles.filter((profile) => profile.name !== name)
  const defaultName = profiles.defaultName === name
    ? (rest.length === 1 ? rest[0]!.name : undefined)
    : profiles.defaultName
  return { defaultName, profiles: rest }
}

/** Whether the file can be read by others (then the keys in it are not private). */
export const isTooOpen = (env: Env): Effect.Effect<boolean> =>
  Effect.promise(() =>
    fs.stat(configPath(env)).then(
      (stats) => process.platform !== "win32" && (stats.mode & 0o077) !== 0,
      () => false
    )
  )
