/**
 * The `cubeplane` command tree, its help (with an example per command), and
 * `main`: run the command line and turn every outcome into an exit code with
 * at most one line on stderr.
 */
import type * as CliApp from "@effect/cli/CliApp"
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Builtins from "./Builtins.js"
import * as CommandLine from "./CommandLine.js"
import { auditLogs, examples as auditLogExamples } from "./commands/audit-logs.js"
import { deployments, examples as deploymentExamples } from "./commands/deployments.js"
import { environments, examples as environmentExamples } from "./commands/environments.js"
import { examples as mockExamples, mock } from "./commands/mock.js"
import { examples as profileExamples, profiles } from "./commands/profiles.js"
import { examples as tokenExamples, tokens } from "./commands/tokens.js"
import { CliFailure, ExitCode, usage } from "./Failure.js"
import * as Help from "./Help.js"
import * as Spec from "./Spec.js"
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

let cachedSpec: Spec.CommandSpec | undefined

/** The command tree as data (help, completions and "did you mean" are made from it). */
export const spec = (): Spec.CommandSpec => (cachedSpec ??= Spec.fromDescriptor(command.descriptor))

/** What the built-in options and the help need: the tree, the examples, the version. */
export const context = (): Builtins.Context => ({ root: spec(), examples, version })

/** The command path the arguments name (`["deployments", "list", "--all"]` → `"deployments list"`). */
export const commandPath = (args: ReadonlyArray<string>): string => Help.commandPath(spec(), args).join(" ")

const terminal = (): Builtins.Terminal => ({
  columns: process.stdout.isTTY === true ? process.stdout.columns : undefined,
  color: Stdio.stdoutColor()
})

/**
 * Runs the command line (`argv` as `process.argv`: node, script, args…):
 * the built-in options first (help, version, completions), then a check of
 * the command and flag names ("did you mean"), then @effect/cli's parser.
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<void, unknown, CliApp.CliApp.Environment> => {
  const args = argv.slice(2)
  const builtIn = Builtins.answer(context(), args, terminal())
  if (builtIn !== undefined) {
    return builtIn._tag === "Print"
      ? Effect.sync(() => {
        process.stdout.write(builtIn.text)
      })
      : Effect.fail(usage(builtIn.message))
  }
  const problem = CommandLine.check(spec(), args)
  if (problem !== undefined) return Effect.fail(usage(problem))
  return Command.run(command, { name: "cubeplane", version })([
    ...argv.slice(0, 2),
    ...CommandLine.flagsFirst(spec(), args)
  ])
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
