/**
 * The process's stdout and stderr as the CLI uses them: whether each is a
 * terminal, whether to colour, a stderr line writer that never lets a secret
 * through, and a `Console` for @effect/cli's help and errors that drops ANSI
 * colour under `NO_COLOR` or into a pipe.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { fstatSync } from "node:fs"

/**
 * Colour on a terminal; never when `NO_COLOR` is set to anything non-empty
 * (https://no-color.org); always when `FORCE_COLOR` is (and is not `0`).
 */
export const useColor = (isTTY: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean => {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true
  return isTTY === true
}

const ansiPattern = /\x1b\[[0-9;]*[A-Za-z]/g

/** Removes ANSI escapes (help text under `NO_COLOR` or into a pipe). */
export const stripAnsi = (text: string): string => text.replace(ansiPattern, "")

const secrets = new Set<string>()

/**
 * Registers a secret (the API key) as soon as it is read: from then on,
 * `scrub` replaces it wherever it would appear on stderr.
 */
export const registerSecret = (secret: string): void => {
  if (secret.length >= 4) secrets.add(secret)
}

/** The text with every registered secret replaced by `[REDACTED]`. */
export const scrub = (text: string): string => {
  let out = text
  for (const secret of secrets) out = out.replaceAll(secret, "[REDACTED]")
  return out
}

export const stdoutIsTTY = (): boolean => process.stdout.isTTY === true
export const stderrIsTTY = (): boolean => process.stderr.isTTY === true

/**
 * The size of the file stdout writes to (`>> audit.csv`), or `undefined` when
 * stdout is not a regular file (a terminal, a pipe) and so cannot be looked at.
 */
export const stdoutFileSize = (): number | undefined => {
  try {
    const stat = fstatSync(1)
    return stat.isFile() ? stat.size : undefined
  } catch {
    return undefined
  }
}

/** Colour on stdout: a terminal and no `NO_COLOR`. */
export const stdoutColor = (): boolean => useColor(process.stdout.isTTY, process.env)

/** One line on stderr (scrubbed). */
export const note = (line: string): Effect.Effect<void> =>
  Effect.sync(() => {
    process.stderr.write(scrub(line) + "\n")
  })

/** One line on stderr, only with `--verbose`. */
export const verbose = (enabled: boolean, line: string): Effect.Effect<void> =>
  enabled ? note(`cubeplane: ${line}`) : Effect.void

const render = (args: ReadonlyArray<unknown>, color: boolean): string => {
  const text = args.map((arg) => (typeof arg === "string" ? arg : String(arg))).join(" ")
  return scrub(color ? text : stripAnsi(text))
}

/**
 * Runs `effect` with a `Console` for @effect/cli, which always renders in
 * colour: `log` (help, completions, version) drops the ANSI escapes when
 * stdout is not a terminal or `NO_COLOR` is set; `error` (its usage errors)
 * is held back, so `Cli.report` can say it on one line with the fix.
 */
export const withCliConsole = <A, E, R>(
  effect: (usageErrors: ReadonlyArray<string>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (base) => {
    const outColor = useColor(process.stdout.isTTY, process.env)
    const usageErrors: Array<string> = []
    const console: Console.Console = {
      ...base,
      log: (...args) => Effect.sync(() => process.stdout.write(render(args, outColor) + "\n")),
      error: (...args) =>
        Effect.sync(() => {
          usageErrors.push(render(args, false))
        })
    }
    return Effect.withConsole(effect(usageErrors), console)
  })
