/**
 * The arguments and options of `profiles add|list|remove|use` (definitions
 * only; see options/audit-logs.ts for why they live apart).
 */
import * as Args from "@effect/cli/Args"
import * as Options from "@effect/cli/Options"
import * as Flags from "../Flags.js"

const name = Args.text({ name: "name" }).pipe(Args.withDescription("The profile's name, e.g. prod"))

export const addConfig = {
  name,
  url: Options.text("url").pipe(Options.withDescription("Cube Cloud base URL, e.g. https://acme.cubecloud.dev")),
  apiKey: Options.redacted("api-key").pipe(
    Options.withDescription("The API key; `-` reads it from stdin (keeps it out of shell history)")
  ),
  authScheme: Options.choice("auth-scheme", ["bearer", "api-key"]).pipe(
    Options.withDescription("How to send the key (default: api-key for sk-… keys, else bearer)"),
    Options.optional
  ),
  makeDefault: Options.boolean("default").pipe(Options.withDescription("Use this profile when --profile is not given"))
} as const

export const listConfig = { output: Flags.output } as const

export const nameConfig = { name } as const
