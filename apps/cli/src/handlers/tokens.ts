/**
 * `cubeplane tokens meta-sync` and `tokens inspect`, loaded when they run.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as fs from "node:fs/promises"
import * as Credentials from "../Credentials.js"
import type { CliFailure } from "../Failure.js"
import { usage } from "../Failure.js"
import type { Parsed } from "../Flags.js"
import type { inspectConfig, metaSyncConfig } from "../options/tokens.js"
import * as Output from "../Output.js"
import * as Session from "../Session.js"
import * as Time from "../Time.js"
import * as Views from "../Views.js"

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** `--security-context`: JSON text, `@file`, or `@-` for stdin; it must be a JSON object. */
export const parseSecurityContext = (
  argument: string,
  readFile: (path: string) => Effect.Effect<string, CliFailure>
): Effect.Effect<Record<string, unknown>, CliFailure> =>
  Effect.gen(function*() {
    const source = argument.startsWith("@") ? argument.slice(1) : undefined
    const text = source === undefined
      ? argument
      : source === "-"
      ? yield* Credentials.readAllStdin
      : yield* readFile(source)
    const where = source === undefined ? "--security-context" : source === "-" ? "stdin" : source
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return yield* Effect.fail(usage(
        `${where} is not valid JSON (${
          error instanceof Error ? error.message : String(error)
        }) — e.g. --security-context '{"tenant_id":"acme"}'`
      ))
    }
    if (!isRecord(parsed)) {
      return yield* Effect.fail(usage(`${where} must be a JSON object, e.g. {"tenant_id":"acme"}`))
    }
    return parsed
  })

const readFile = (path: string): Effect.Effect<string, CliFailure> =>
  Effect.tryPromise({
    try: () => fs.readFile(path, "utf8"),
    catch: (error) => usage(`Could not read ${path}: ${error instanceof Error ? error.message : String(error)}`)
  })

export const metaSync = (flags: Parsed<typeof metaSyncConfig>) =>
  Effect.gen(function*() {
    const securityContext = yield* parseSecurityContext(flags.securityContext, readFile)
    yield* Session.run(flags, ({ controlPlane }) =>
      Effect.gen(function*() {
        const token = yield* controlPlane.createMetaSyncToken(flags.deploymentId, flags.environmentId, {
          securityContext,
          ...(Option.isSome(flags.expiresIn) ? { expiresIn: flags.expiresIn.value } : {})
        })
        const text = yield* Output.one(Views.metaSyncToken, Session.format(flags.output), Session.style(), token)
        yield* Session.print(Stream.make(text))
      }))
  })

// ---------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })
type Json = typeof Json.Type

/** What `tokens inspect` shows: the header, the claims, and when the token expires (relative to `now`). */
export const describeToken = (header: Json, claims: Json, now: number): Json => {
  const seconds = (claim: unknown) => (typeof claim === "number" && Number.isFinite(claim) ? claim : undefined)
  const iat = seconds(claims.iat)
  const exp = seconds(claims.exp)
  return {
    header,
    claims,
    issued_at: iat !== undefined ? new Date(iat * 1000).toISOString() : null,
    expires_at: exp !== undefined ? new Date(exp * 1000).toISOString() : null,
    expired: exp !== undefined ? exp * 1000 <= now : null,
    expires_in_seconds: exp !== undefined ? Math.round((exp * 1000 - now) / 1000) : null
  }
}

const expiry = (description: Json): string => {
  const at = description.expires_at
  const inSeconds = description.expires_in_seconds
  if (typeof at !== "string" || typeof inSeconds !== "number") return "never (no exp claim)"
  const relative = Time.humanize(inSeconds * 1000)
  return inSeconds > 0 ? `${at} (in ${relative})` : `${at} (expired ${relative} ago)`
}

const show = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value))

/** The table view: header fields, then each claim on its own row, then the expiry. */
const inspectView = (description: Json): Output.View<Json, Json> => {
  const header = isRecord(description.header) ? description.header : {}
  const claims = isRecord(description.claims) ? description.claims : {}
  return {
    schema: Json,
    columns: [
      ...Object.keys(header).map((key) => ({ header: key, value: () => show(header[key]) })),
      ...Object.keys(claims).map((key) => ({ header: key, value: () => show(claims[key]) })),
      { header: "EXPIRES", value: () => expiry(description) }
    ]
  }
}

export const inspect = (flags: Parsed<typeof inspectConfig>) =>
  Effect.gen(function*() {
    const given = Option.getOrElse(flags.jwt, () => "-")
    if (given === "-" && process.stdin.isTTY === true) {
      return yield* Effect.fail(usage("No token — pass it as an argument, or pipe it in: … | cubeplane tokens inspect"))
    }
    const jwt = (given === "-" ? yield* Credentials.readAllStdin : given).trim()
    const [{ decodeJwt }, { decodeProtectedHeader }] = yield* Effect.promise(() =>
      Promise.all([import("jose/jwt/decode"), import("jose/decode/protected_header")])
    )
    const decoded = yield* Effect.try({
      try: () => ({ header: { ...decodeProtectedHeader(jwt) }, claims: { ...decodeJwt(jwt) } }),
      catch: (error) =>
        usage(
          `Not a JWT: ${
            error instanceof Error ? error.message : String(error)
          } — pass the token as printed by \`cubeplane tokens meta-sync\``
        )
    })
    const description = describeToken(decoded.header, decoded.claims, yield* Clock.currentTimeMillis)
    const text = yield* Output.one(inspectView(description), Session.format(flags.output), Session.style(), description)
    yield* Session.print(Stream.make(text))
  })
