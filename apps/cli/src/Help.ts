/**
 * `--help`, rendered from the command tree (`Spec`) in our own words, wrapped
 * to the terminal's width: the full command path in USAGE, each option with
 * its value, choices and default, the subcommands, and examples. No
 * dependencies, so the launcher renders it without loading the CLI.
 */
import type { CommandSpec, OptionSpec } from "./Spec.js"
import { find, spellings } from "./Spec.js"

export interface HelpContext {
  readonly root: CommandSpec
  /** Examples per command path (`"deployments list"`; `""` is the root). */
  readonly examples: Readonly<Record<string, ReadonlyArray<string>>>
}

export interface RenderOptions {
  /** Columns to fit in (`process.stdout.columns`; 80 when it is not a terminal). */
  readonly width: number
  readonly color: boolean
}

/** The width to render for: the terminal's, else 80; never narrower than 40. */
export const widthOf = (columns: number | undefined): number =>
  Math.max(40, columns !== undefined && columns > 0 ? columns : 80)

const rootSections: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["GLOBAL OPTIONS", [
    "-h, --help (also after any command) · --version · --completions bash|zsh|fish (prints a completion script; e.g. source <(cubeplane --completions bash))"
  ]],
  ["ENVIRONMENT", [
    "CUBE_API_URL (the base URL, e.g. https://acme.cubecloud.dev, without /api/v1), CUBE_API_KEY, CUBE_AUTH_SCHEME (bearer | api-key), NO_COLOR, XDG_CONFIG_HOME.",
    "Credentials: a flag (--url, --api-key, --profile) wins over the environment, which wins over the default profile."
  ]],
  ["EXIT CODES", [
    "0 ok · 1 API or network error · 2 bad usage · 4 authentication or permission (401, 403) · 130 interrupted"
  ]]
]

/** Words of `text` in lines of at most `width` columns (a longer word gets a line of its own). */
export const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word
    else if (line.length + 1 + word.length <= width) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== "") lines.push(line)
  return lines.length === 0 ? [""] : lines
}

/**
 * A shell command in lines of at most `width` columns, broken only between
 * words (a quoted string is one word) and joined with `\` so it still pastes
 * as one command.
 */
export const wrapCommand = (text: string, width: number): Array<string> => {
  const words = text.match(/(?:[^\s'"]+|'[^']*'|"[^"]*")+/g) ?? []
  const lines: Array<string> = []
  let line = ""
  for (const word of words) {
    const indent = lines.length === 0 ? 0 : 4
    if (line === "") line = word
    else if (indent + line.length + 1 + word.length + 2 <= width) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  if (line !== "") lines.push(line)
  return lines.map((part, i) => `${i === 0 ? "" : "    "}${part}${i < lines.length - 1 ? " \\" : ""}`)
}

const indent = (lines: ReadonlyArray<string>, by: number) => lines.map((line) => `${" ".repeat(by)}${line}`)

/** Label / description rows: side by side when there is room, else the description below its label. */
const table = (rows: ReadonlyArray<readonly [string, string]>, width: number): Array<string> => {
  // Labels longer than this get a line of their own, rather than pushing every description right.
  const fitting = rows.map(([label]) => label.length).filter((length) => length <= 24)
  const labelWidth = fitting.length > 0 ? Math.max(...fitting) : 24
  const descriptionWidth = width - 2 - labelWidth - 2
  const out: Array<string> = []
  for (const [label, description] of rows) {
    if (descriptionWidth < 30) {
      out.push(...indent(wrap(label, width - 2), 2), ...indent(wrap(description, width - 6), 6))
      continue
    }
    const lines = wrap(description, descriptionWidth)
    if (label.length > labelWidth) {
      out.push(`  ${label}`, ...indent(lines, 2 + labelWidth + 2))
    } else {
      out.push(`  ${label.padEnd(labelWidth)}  ${lines[0]}`, ...indent(lines.slice(1), 2 + labelWidth + 2))
    }
  }
  return out
}

/** What to type after a flag that takes free text, where the name alone does not say. */
const placeholders: Readonly<Record<string, string>> = {
  "api-key": "KEY",
  "security-context": "JSON|@FILE",
  "expires-in": "SECONDS",
  start: "DATE",
  end: "DATE",
  out: "FILE",
  state: "FILE",
  seed: "FILE",
  interval: "DURATION",
  "stall-timeout": "DURATION",
  profile: "NAME",
  search: "TEXT",
  "event-name": "NAME",
  "user-email": "EMAIL",
  limit: "N",
  offset: "N",
  first: "N"
}

const valueOf = (option: OptionSpec): string =>
  option.choices.length > 0
    ? option.choices.join("|")
    : option.placeholder === "integer"
    ? "N"
    : placeholders[option.name] ?? option.name.toUpperCase()

const optionLabel = (option: OptionSpec): string => {
  const names = spellings(option).sort((a, b) => a.length - b.length).join(", ")
  return option.takesValue ? `${names} ${valueOf(option)}` : names
}

const optionDescription = (option: OptionSpec): string =>
  [
    option.description,
    option.required ? "(required)" : "",
    option.defaultValue !== undefined ? `(default: ${option.defaultValue})` : ""
  ].filter((part) => part !== "").join(" ")

/** The usage line of a command: `cubeplane environments list <deployment-id> [options]`. */
export const usage = (path: ReadonlyArray<string>, command: CommandSpec): string => {
  const words = ["cubeplane", ...path]
  if (command.subcommands.length > 0) words.push("<command>")
  for (const arg of command.args) words.push(arg.optional ? `[<${arg.name}>]` : `<${arg.name}>`)
  for (const option of command.options.filter((o) => o.required)) words.push(`--${option.name} ${valueOf(option)}`)
  if (command.options.some((o) => !o.required)) words.push("[options]")
  return words.join(" ")
}

const leaves = (command: CommandSpec, path: ReadonlyArray<string>): Array<readonly [string, string]> =>
  command.subcommands.length === 0
    ? [[path.join(" "), command.description]]
    : command.subcommands.flatMap((sub) => leaves(sub, [...path, sub.name]))

/** The help of the command at `path` (which must exist in the tree). */
export const render = (context: HelpContext, path: ReadonlyArray<string>, options: RenderOptions): string => {
  const command = find(context.root, path)
  if (command === undefined) throw new Error(`cubeplane: no command "${path.join(" ")}"`)
  const width = options.width
  const heading = (text: string) => (options.color ? `\x1b[1m${text}\x1b[0m` : text)
  const out: Array<string> = []
  const section = (title: string, lines: ReadonlyArray<string>) => {
    if (lines.length === 0) return
    out.push("", heading(title), ...lines)
  }
  out.push(...wrap(`${["cubeplane", ...path].join(" ")} — ${command.description}`, width))
  section(
    "USAGE",
    wrap(`$ ${usage(path, command)}`, width - 6).map((line, i) => (i === 0 ? `  ${line}` : `      ${line}`))
  )
  section(
    "ARGUMENTS",
    command.args.length === 0 ? [] : table(command.args.map((arg) => [`<${arg.name}>`, arg.description]), width)
  )
  // The root lists every command by its full name (`deployments list`); a group, its own.
  section(
    "COMMANDS",
    command.subcommands.length === 0
      ? []
      : table(
        path.length === 0 ? leaves(command, []) : command.subcommands.map((sub) => [sub.name, sub.description]),
        width
      )
  )
  section(
    "OPTIONS",
    command.options.length === 0
      ? []
      : table(command.options.map((option) => [optionLabel(option), optionDescription(option)]), width)
  )
  if (command.subcommands.length > 0) {
    out.push(
      "",
      ...wrap(`Run \`cubeplane ${[...path, "<command>"].join(" ")} --help\` for a command's options.`, width)
    )
  }
  const examples = context.examples[path.join(" ")] ?? []
  section("EXAMPLES", examples.flatMap((line) => indent(wrapCommand(`$ ${line}`, width - 2), 2)))
  if (path.length === 0) {
    for (const [title, paragraphs] of rootSections) {
      section(
        title,
        paragraphs.flatMap((p) => indent(wrap(p, width - 2), 2))
      )
    }
  }
  return out.join("\n") + "\n"
}

/** The command path named by the leading words of `args` (`["deployments", "list", "--all"]` → `["deployments", "list"]`). */
export const commandPath = (root: CommandSpec, args: ReadonlyArray<string>): Array<string> => {
  const path: Array<string> = []
  for (const arg of args) {
    if (arg.startsWith("-")) break
    if (find(root, [...path, arg]) === undefined) break
    path.push(arg)
  }
  return path
}

/** Whether the arguments ask for help (`--help` or `-h` anywhere). */
export const wantsHelp = (args: ReadonlyArray<string>): boolean => args.includes("--help") || args.includes("-h")
