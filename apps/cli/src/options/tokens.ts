/**
 * The arguments and options of `tokens meta-sync` and `tokens inspect`
 * (definitions only; see options/audit-logs.ts for why they live apart).
 */
import * as Args from "@effect/cli/Args"
import * as Options from "@effect/cli/Options"
import * as Flags from "../Flags.js"

export const metaSyncConfig = {
  deploymentId: Args.text({ name: "deployment-id" }).pipe(Args.withDescription("The deployment's id")),
  environmentId: Args.text({ name: "environment-id" }).pipe(
    Args.withDescription("The environment's id (see `cubeplane environments list`)")
  ),
  securityContext: Options.text("security-context").pipe(
    Options.withDescription("The security context to embed: JSON, @file, or @- for stdin")
  ),
  expiresIn: Flags.seconds(
    "expires-in",
    "Lifetime in seconds, e.g. 3600 (the server's default is 86400; the server decides the maximum)"
  ).pipe(Options.optional),
  ...Flags.common
} as const

export const inspectConfig = {
  jwt: Args.text({ name: "jwt" }).pipe(
    Args.withDescription("The token; without it (or with -), the token is read from stdin"),
    Args.optional
  ),
  output: Flags.output
} as const
