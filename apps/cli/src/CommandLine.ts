/**
 * The command line checked against the command tree before @effect/cli
 * parses it, so an unknown command or flag gets one line that names the
 * command, suggests the nearest real name ("did you mean"), and exits 2.
 * No dependencies.
 */
import type { CommandSpec } from "./Spec.js"
import { closest, findOption, spellings } from "./Spec.js"

const builtIns = ["--help", "-h", "--version", "--completions"]

const didYouMean = (suggestions: ReadonlyArray<string>) =>
  suggestions.length === 0 ? "" : ` — did you mean ${suggestions.map((s) => `\`${s}\``).join(" or ")}?`

/** Why the arguments cannot be right, or `undefined` when they name real commands and flags. */
export const check = (root: CommandSpec, args: ReadonlyArray<string>): string | undefined => {
  const path: Array<string> = []
  let command = root
  let takesValue = false
  for (const arg of args) {
    if (takesValue) {
      takesValue = false
      continue
    }
    if (arg === "--") return undefined
    const where = ["cubeplane", ...path].join(" ")
    if (arg.startsWith("-") && arg !== "-") {
      if (builtIns.includes(arg)) continue
      const option = findOption(command, arg)
      if (option === undefined) {
        const name = arg.split("=")[0] ?? arg
        const own = command.options.flatMap(spellings)
        const inSubcommands = command.subcommands.filter((sub) => findOption(sub, arg) !== undefined)
        const hint = inSubcommands.length > 0
          ? didYouMean(inSubcommands.map((sub) => `${where} ${sub.name} ${name}`))
          : didYouMean(closest(name, own))
        return `Unknown flag ${name} for \`${where}\`${hint} — see \`${where} --help\``
      }
      takesValue = option.takesValue && !arg.includes("=")
      continue
    }
    if (command.subcommands.length === 0) continue
    const sub = command.subcommands.find((candidate) => candidate.name === arg)
    if (sub === undefined) {
      const names = command.subcommands.map((candidate) => candidate.name)
      const hint = didYouMean(closest(arg, names).map((name) => `${where} ${name}`))
      return `Unknown command "${arg}" for \`${where}\`${hint} — its commands: ${names.join(", ")}`
    }
    path.push(arg)
    command = sub
  }
  if (command.subcommands.length > 0 && path.length > 0) {
    const where = ["cubeplane", ...path].join(" ")
    return `\`${where}\` needs a command: ${
      command.subcommands.map((sub) => sub.name).join(", ")
    } — see \`${where} --help\``
  }
  return undefined
}

/**
 * The same arguments with the command's flags (and their values) before its
 * positional arguments, which is the order @effect/cli parses reliably: so
 * `tokens inspect - -o table` works as `tokens inspect -o table -` does.
 * Arguments after `--` stay where they are.
 */
export const flagsFirst = (root: CommandSpec, args: ReadonlyArray<string>): Array<string> => {
  const path: Array<string> = []
  const flags: Array<string> = []
  const positional: Array<string> = []
  let command = root
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      positional.push(...args.slice(i))
      break
    }
    if (arg.startsWith("-") && arg !== "-") {
      flags.push(arg)
      const option = findOption(command, arg)
      if (option?.takesValue === true && !arg.includes("=") && i + 1 < args.length) flags.push(args[++i]!)
      continue
    }
    const sub = positional.length === 0 ? command.subcommands.find((candidate) => candidate.name === arg) : undefined
    if (sub !== undefined && flags.length === 0) {
      path.push(arg)
      command = sub
    } else {
      positional.push(arg)
    }
  }
  return [...path, ...flags, ...positional]
}
