import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import * as Credentials from "../src/Credentials.js"
import { usage } from "../src/Failure.js"
import * as Profiles from "../src/Profiles.js"

const profiles = Profiles.upsert(
  Profiles.upsert(Profiles.empty, {
    name: "prod",
    url: "https://prod.example.com",
    apiKey: Redacted.make("sk-profile-prod"),
    authScheme: "bearer"
  }, true),
  { name: "staging", url: "https://staging.example.com", apiKey: Redacted.make("key-profile-staging") },
  false
)

const noFlags: Credentials.Flags = { url: Option.none(), apiKey: Option.none(), profile: Option.none() }

const resolve = (
  flags: Partial<Credentials.Flags>,
  env: Profiles.Env = {},
  readStdin = Effect.succeed("sk-from-stdin")
) =>
  Credentials.resolve({ flags: { ...noFlags, ...flags }, env, profiles, readStdin }).pipe(
    Effect.map((c) => ({
      url: c.url,
      key: Redacted.value(c.apiKey),
      scheme: c.authScheme,
      sources: c.sources
    }))
  )

const env = { CUBE_API_URL: "https://env.example.com", CUBE_API_KEY: "sk-env", CUBE_AUTH_SCHEME: "api-key" }

describe("Credentials.resolve", () => {
  it.effect("the default profile when nothing else is given", () =>
    Effect.gen(function*() {
      const c = yield* resolve({})
      expect(c).toMatchObject({ url: "https://prod.example.com", key: "sk-profile-prod", scheme: "bearer" })
      expect(c.sources).toEqual({ url: "profile \"prod\"", apiKey: "profile \"prod\"", authScheme: "profile \"prod\"" })
    }))

  it.effect("the environment beats the default profile", () =>
    Effect.gen(function*() {
      const c = yield* resolve({}, env)
      expect(c).toMatchObject({ url: "https://env.example.com", key: "sk-env", scheme: "api-key" })
      expect(c.sources.apiKey).toBe("CUBE_API_KEY")
    }))

  it.effect("flags beat the environment", () =>
    Effect.gen(function*() {
      const c = yield* resolve({
        url: Option.some("https://flag.example.com"),
        apiKey: Option.some(Redacted.make("sk-flag"))
      }, env)
      expect(c).toMatchObject({ url: "https://flag.example.com", key: "sk-flag" })
      expect(c.sources).toMatchObject({ url: "--url", apiKey: "--api-key" })
    }))

  it.effect("--profile is a flag: the chosen profile beats the environment, and --api-key beats the profile", () =>
    Effect.gen(function*() {
      const c = yield* resolve({ profile: Option.some("staging") }, { CUBE_API_KEY: "sk-env" })
      expect(c).toMatchObject({ url: "https://staging.example.com", key: "key-profile-staging", scheme: undefined })
      const d = yield* resolve({ profile: Option.some("staging"), apiKey: Option.some(Redacted.make("sk-flag")) })
      expect(d.key).toBe("sk-flag")
    }))

  it.effect("--api-key - reads the key from stdin", () =>
    Effect.gen(function*() {
      const c = yield* resolve({ apiKey: Option.some(Redacted.make("-")) }, env)
      expect(c.key).toBe("sk-from-stdin")
      expect(c.sources.apiKey).toBe("--api-key - (stdin)")
    }))

  it.effect("an unknown profile, a missing key or URL, a bad scheme are usage errors that say what to do", () =>
    Effect.gen(function*() {
      const none = Profiles.empty
      const fail = (flags: Partial<Credentials.Flags>, e: Profiles.Env, p = profiles) =>
        Effect.flip(
          Credentials.resolve({
            flags: { ...noFlags, ...flags },
            env: e,
            profiles: p,
            readStdin: Effect.fail(usage("no"))
          })
        )
      expect((yield* fail({ profile: Option.some("nope") }, {})).message).toMatch(
        /No profile named "nope" \(known: prod, staging\)/
      )
      expect((yield* fail({}, {}, none)).message).toMatch(/^No API URL — pass --url/)
      expect((yield* fail({}, { CUBE_API_URL: "https://x.example.com" }, none)).message).toMatch(
        /^No API key — pass --api-key -/
      )
      expect((yield* fail({}, { ...env, CUBE_AUTH_SCHEME: "basic" })).message).toMatch(
        /CUBE_AUTH_SCHEME must be `bearer` or `api-key`/
      )
      expect((yield* fail({ url: Option.some("ftp://x") }, env)).exitCode).toBe(2)
    }))

  it.effect("describe names the sources but never the key", () =>
    Effect.gen(function*() {
      const resolved = yield* Credentials.resolve({ flags: noFlags, env, profiles, readStdin: Effect.succeed("") })
      const lines = Credentials.describe(resolved).join("\n")
      expect(lines).toContain("api key from CUBE_API_KEY")
      expect(lines).not.toContain("sk-env")
    }))
})

describe("Profiles", () => {
  it("the file round-trips; the first profile is the default; removing the default leaves the only one", () => {
    const text = Profiles.render(profiles)
    const parsed = Profiles.parse(text, "config.json")
    expect(parsed._tag).toBe("Right")
    if (parsed._tag === "Right") {
      expect(parsed.right.defaultName).toBe("prod")
      expect(parsed.right.profiles.map((p) => p.name)).toEqual(["prod", "staging"])
      expect(Redacted.value(parsed.right.profiles[0]!.apiKey)).toBe("sk-profile-prod")
    }
    expect(Profiles.remove(profiles, "prod").defaultName).toBe("staging")
  })

  it("lives under XDG_CONFIG_HOME, else ~/.config", () => {
    expect(Profiles.configPath({ XDG_CONFIG_HOME: "/x" })).toBe("/x/cubeplane/config.json")
    expect(Profiles.configPath({ HOME: "/home/sam" })).toBe("/home/sam/.config/cubeplane/config.json")
  })
})
