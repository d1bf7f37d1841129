/**
 * The `cubeplane` command tree, its help (with an example per command), and
 * `main`: run the command line and turn every outcome into an exit code with
 * at most one line on stderr.
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as ValidationError from "@effect/cli/ValidationError"
import { Cause, Effect, Option } from "effect"
import { auditLogs, examples as auditLogExamples } from "./commands/audit-logs.js"
import { deployments, examples as deploymentExamples } from "./commands/deployments.js"
import { environments, examples as environmentExamples } from "./commands/environments.js"
import { examples as mockExamples, mock } from "./commands/mock.js"
import { examples as profileExamples, profiles } from "./commands/profiles.js"
import { examples as tokenExamples, tokens } from "./commands/tokens.js"
import { CliFailure, ExitCode } from "./Failure.js"
import * as Stdio from "./Stdio.js"

export const version = "0.1.0"

export const command = Command.make("cubeplane").pipe(
  Command.withDescription("A command line for the Cube Cloud Control Plane API"),
  Command.withSubcommands([deployments, environments, tokens, auditLogs, profiles, mock])
)

/** Examples per command path (`"deployments list"`); `""` is the root. */
export const examples: Readonly<Record<string, ReadonlyArray<string>>> = {
  "": [
    "export CUBE_API_URL=https://acme.cubecloud.dev CUBE_API_KEY=sk-...",
    "cubeplane deployments list",
    "cubeplane environments list 123 --type production -o json | jq -r '.[0].api_credentials.rest.url'",
    "cubeplane audit-logs export --start 2024-01-01 --out audit.csv"
  ],
  ...deploymentExamples,
  ...environmentExamples,
  ...tokenExamples,
  ...auditLogExamples,
  ...profileExamples,
  ...mockExamples
}

/** The command path the arguments name (`["deployments", "list", "--all"]` → `"deployments list"`). */
export const commandPath = (args: ReadonlyArray<string>): string => {
  const words: Array<string> = []
  for (const arg of args) {
    if (arg.startsWith("-")) break
    const candidate = [...words, arg].join(" ")
    if (!(candidate in examples)) break
    words.push(arg)
  }
  return words.join(" ")
}

const rootNotes = HelpDoc.blocks([
  HelpDoc.h1("GLOBAL OPTIONS"),
  HelpDoc.p(
    "-h, --help (also after any command) · --version · --completions bash|zsh|fish (prints a completion script)"
  ),
  HelpDoc.h1("ENVIRONMENT"),
  HelpDoc.p("CUBE_API_URL, CUBE_API_KEY, CUBE_AUTH_SCHEME (bearer | api-key), NO_COLOR, XDG_CONFIG_HOME."),
  HelpDoc.p(
    "Credentials: a flag (--url, --api-key, --profile) wins over the environment, which wins over the default profile."
  ),
  HelpDoc.h1("EXIT CODES"),
  HelpDoc.p("0 ok · 1 API or network error · 2 bad usage · 4 authentication or permission (401, 403) · 130 interrupted")
])

/** The help footer for the command the arguments name: its examples (and, at the root, the environment and exit codes). */
export const footer = (args: ReadonlyArray<string>): HelpDoc.HelpDoc => {
  const path = commandPath(args)
  const lines = examples[path] ?? []
  const exampleDoc = lines.length === 0
    ? HelpDoc.empty
    : HelpDoc.sequence(HelpDoc.h1("EXAMPLES"), HelpDoc.blocks(lines.map((line) => HelpDoc.p(Span.code(`$ ${line}`)))))
  return path === "" ? HelpDoc.sequence(exampleDoc, rootNotes) : exampleDoc
}

/**
 * `--help` anywhere (`cubeplane deployments list --all --help`) asks for the
 * help of the command named before it, which @effect/cli only shows when
 * `--help` directly follows the command.
 */
export const helpFirst = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (!args.includes("--help") && !args.includes("-h")) return args
  const path = commandPath(args)
  return [...(path === "" ? [] : path.split(" ")), "--help"]
}

/** Runs the command line (`argv` as `process.argv`: node, script, args…). */
export const run = (argv: ReadonlyArray<string>) => {
  const args = helpFirst(argv.slice(2))
  return Command.run(command, { name: "cubeplane", version, footer: footer(args) })([...argv.slice(0, 2), ...args])
}

/** A usage error from @effect/cli as one line, with where to look for the fix. */
export const usageLine = (messages: ReadonlyArray<string>, args: ReadonlyArray<string>): string => {
  const text = messages.join(" ").split("\n").map((line) => line.trim()).filter((line) => line !== "").join(" ")
  const path = commandPath(args)
  return `${text === "" ? "Invalid command line" : text} — see \`cubeplane${path === "" ? "" : ` ${path}`} --help\``
}

/** The exit code for a failed run, after saying why on stderr in one line. */
export const report = (
  cause: Cause.Cause<unknown>,
  verbose: boolean,
  usageError: () => string
): Effect.Effect<number> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.succeed(ExitCode.interrupted)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof CliFailure) {
      return Stdio.note(error.message).pipe(
        Effect.zipRight(
          verbose && error.details !== undefined ? Stdio.note(`cubeplane: ${error.details}`) : Effect.void
        ),
        Effect.as(error.exitCode)
      )
    }
    // An unknown flag, a missing argument, an invalid value: @effect/cli said what, we add where to look.
    if (ValidationError.isValidationError(error)) return Stdio.note(usageError()).pipe(Effect.as(ExitCode.usage))
    return Stdio.note(`Error: ${describe(error)}`).pipe(Effect.as(ExitCode.error))
  }
  const defect = Cause.dieOption(cause)
  const what = Option.isSome(defect) ? describe(defect.value) : Cause.pretty(cause).split("\n")[0] ?? "unknown"
  return Stdio.note(`Unexpected error: ${what} — this is a bug in cubeplane; please report it`).pipe(
    Effect.as(ExitCode.error)
  )
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message.split("\n")[0] ?? error.name
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message.split("\n")[0] ?? ""
  }
  return String(error)
}

/** `run`, with every outcome turned into an exit code. */
export const main = (argv: ReadonlyArray<string>) =>
  Stdio.withCliConsole((usageErrors) =>
    run(argv).pipe(
      Effect.as(ExitCode.ok),
      Effect.catchAllCause((cause) =>
        report(cause, argv.includes("--verbose") || argv.includes("-v"), () => usageLine(usageErrors, argv.slice(2)))
      )
    )
  )
