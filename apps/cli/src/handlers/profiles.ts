/**
 * `cubeplane profiles add|list|remove|use`, loaded when they run.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Credentials from "../Credentials.js"
import type { CliFailure } from "../Failure.js"
import { usage } from "../Failure.js"
import type { Parsed } from "../Flags.js"
import type { addConfig, listConfig, nameConfig } from "../options/profiles.js"
import * as Output from "../Output.js"
import * as Profiles from "../Profiles.js"
import * as Session from "../Session.js"
import * as Stdio from "../Stdio.js"

const env = process.env

const load = Effect.mapError(Profiles.load(env), (error) => usage(error.message))
const save = (profiles: Profiles.Profiles) =>
  Effect.mapError(Profiles.save(env, profiles), (error) => usage(error.message))

const mustExist = (profiles: Profiles.Profiles, wanted: string): Effect.Effect<void, CliFailure> =>
  Profiles.find(profiles, wanted) !== undefined
    ? Effect.void
    : Effect.fail(usage(`No profile named "${wanted}" — see \`cubeplane profiles list\``))

export const add = (flags: Parsed<typeof addConfig>) =>
  Effect.gen(function*() {
    const given = Redacted.value(flags.apiKey)
    const key = given === "-" ? yield* Credentials.readKeyFromStdin : given
    if (key === "") return yield* Effect.fail(usage("The API key is empty"))
    Stdio.registerSecret(key)
    const profiles = yield* load
    const next = Profiles.upsert(
      profiles,
      {
        name: flags.name,
        url: flags.url,
        apiKey: Redacted.make(key),
        ...(Option.isSome(flags.authScheme) ? { authScheme: flags.authScheme.value } : {})
      },
      flags.makeDefault
    )
    yield* save(next)
    yield* Stdio.note(
      `Saved profile "${flags.name}"${next.defaultName === flags.name ? " (the default)" : ""} in ${
        Profiles.configPath(env)
      }`
    )
  })

interface Row {
  readonly name: string
  readonly url: string
  readonly authScheme: string | undefined
  readonly isDefault: boolean
}

const RowJson = Schema.Struct({
  name: Schema.String,
  url: Schema.String,
  authScheme: Schema.propertySignature(Schema.UndefinedOr(Schema.String)).pipe(Schema.fromKey("auth_scheme")),
  isDefault: Schema.propertySignature(Schema.Boolean).pipe(Schema.fromKey("default"))
})

/** Profiles as listed: never the key. */
const rowView: Output.View<Row, typeof RowJson.Encoded> = {
  schema: RowJson,
  columns: [
    { header: "NAME", value: (row) => row.name },
    { header: "URL", value: (row) => row.url },
    { header: "AUTH SCHEME", value: (row) => row.authScheme ?? "auto" },
    { header: "DEFAULT", value: (row) => (row.isDefault ? "*" : "") }
  ]
}

export const list = (flags: Parsed<typeof listConfig>) =>
  Effect.gen(function*() {
    const profiles = yield* load
    const defaultName = Profiles.defaultProfile(profiles)?.name
    const rows: Array<Row> = profiles.profiles.map((profile) => ({
      name: profile.name,
      url: profile.url,
      authScheme: profile.authScheme,
      isDefault: defaultName === profile.name
    }))
    yield* Session.print(Output.list(rowView, Session.format(flags.output), Session.style())(Stream.fromIterable(rows)))
  })

export const remove = (flags: Parsed<typeof nameConfig>) =>
  Effect.gen(function*() {
    const profiles = yield* load
    yield* mustExist(profiles, flags.name)
    yield* save(Profiles.remove(profiles, flags.name))
    yield* Stdio.note(`Removed profile "${flags.name}"`)
  })

export const use = (flags: Parsed<typeof nameConfig>) =>
  Effect.gen(function*() {
    const profiles = yield* load
    yield* mustExist(profiles, flags.name)
    yield* save({ ...profiles, defaultName: flags.name })
    yield* Stdio.note(`"${flags.name}" is now the default profile`)
  })
