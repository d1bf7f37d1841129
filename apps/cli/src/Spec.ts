/**
 * The command tree as plain data — names, descriptions, arguments, options,
 * their aliases, value kinds, choices and defaults — read once from the
 * @effect/cli commands. Help, shell completions and "did you mean" are all
 * made from it, so they can never disagree with what the parser accepts.
 *
 * The build (`build.mjs`) stores it as JSON in the launcher, which renders
 * help and completions without loading the CLI. This module has no
 * dependencies, so the launcher can bundle the types and lookups.
 */

export interface OptionSpec {
  /** `--name` without the dashes. */
  readonly name: string
  /** Short or other names, without dashes (`o` for `-o`). */
  readonly aliases: ReadonlyArray<string>
  readonly description: string
  /** `false` for a flag that takes no value (`--all`). */
  readonly takesValue: boolean
  /** What the value is, for help: `text`, `integer`, or the choices. */
  readonly placeholder: string
  /** The values it accepts, when there is a fixed set. */
  readonly choices: ReadonlyArray<string>
  readonly required: boolean
  /** The default shown in help, if there is one worth showing. */
  readonly defaultValue?: string
}

export interface ArgSpec {
  readonly name: string
  readonly description: string
  readonly optional: boolean
}

export interface CommandSpec {
  readonly name: string
  readonly description: string
  readonly args: ReadonlyArray<ArgSpec>
  readonly options: ReadonlyArray<OptionSpec>
  readonly subcommands: ReadonlyArray<CommandSpec>
}

// ---------------------------------------------------------------------------
// Reading @effect/cli's descriptors (plain objects tagged with `_tag`)
// ---------------------------------------------------------------------------

type Node = { readonly [key: string]: unknown }

const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null

const field = (node: unknown, key: string): unknown => (isNode(node) ? node[key] : undefined)

const tag = (node: unknown): unknown => field(node, "_tag")

const text = (value: unknown): string => (typeof value === "string" ? value : "")

/** The words of a HelpDoc or Span, in order. */
const docText = (doc: unknown): string => {
  if (!isNode(doc)) return ""
  switch (tag(doc)) {
    case "Empty":
      return ""
    case "Sequence":
      return docText(doc.left) + docText(doc.right)
    case "Paragraph":
      return docText(doc.value)
    case "Enumeration":
      return Array.isArray(doc.elements) ? doc.elements.map(docText).join(" ") : ""
    default:
      return typeof doc.value === "string" ? doc.value : docText(doc.value)
  }
}

const renderDefault = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (typeof value === "number") return String(value)
  return undefined
}

/** The options of a descriptor's `options` tree. */
const readOptions = (
  node: unknown,
  context: { readonly required: boolean; readonly defaultValue?: string | undefined } = { required: true }
): Array<OptionSpec> => {
  switch (tag(node)) {
    case "Single": {
      const primitive = field(node, "primitiveType")
      const alternatives = field(primitive, "alternatives")
      const choices = Array.isArray(alternatives)
        ? alternatives.map((alternative) => (Array.isArray(alternative) ? text(alternative[0]) : ""))
        : []
      const kind = text(tag(primitive))
      const aliases = field(node, "aliases")
      return [{
        name: text(field(node, "name")),
        aliases: Array.isArray(aliases) ? aliases.map(text) : [],
        description: docText(field(node, "description")),
        takesValue: kind !== "Bool",
        placeholder: choices.length > 0
          ? choices.join("|")
          : kind === "Integer"
          ? "integer"
          : kind === "Float"
          ? "number"
          : "text",
        choices,
        required: context.required && kind !== "Bool",
        ...(context.defaultValue !== undefined && kind !== "Bool" ? { defaultValue: context.defaultValue } : {})
      }]
    }
    case "WithDefault":
      return readOptions(field(node, "options"), {
        required: false,
        defaultValue: renderDefault(field(node, "fallback"))
      })
    case "Both":
      return [...readOptions(field(node, "left"), context), ...readOptions(field(node, "right"), context)]
    case "Map":
    case "Variadic":
    case "WithFallback":
      return readOptions(field(node, "options"), context)
    default:
      return []
  }
}

const readArgs = (node: unknown, optional = false): Array<ArgSpec> => {
  switch (tag(node)) {
    case "Single": {
      const pseudoName = field(node, "pseudoName")
      return [{
        name: text(field(pseudoName, "value")) || text(field(node, "name")),
        description: docText(field(node, "description")),
        optional
      }]
    }
    case "WithDefault":
      return readArgs(field(node, "args"), true)
    case "Both":
      return [...readArgs(field(node, "left"), optional), ...readArgs(field(node, "right"), optional)]
    case "Map":
    case "Variadic":
    case "WithFallback":
      return readArgs(field(node, "args"), optional)
    default:
      return []
  }
}

/** Reads a command descriptor (`command.descriptor`) into a `CommandSpec`. */
export const fromDescriptor = (descriptor: unknown): CommandSpec => {
  switch (tag(descriptor)) {
    case "Map":
      return fromDescriptor(field(descriptor, "command"))
    case "Subcommands": {
      const parent = fromDescriptor(field(descriptor, "parent"))
      const children = field(descriptor, "children")
      return { ...parent, subcommands: Array.isArray(children) ? children.map(fromDescriptor) : [] }
    }
    case "Standard":
      return {
        name: text(field(descriptor, "name")),
        description: docText(field(descriptor, "description")),
        args: readArgs(field(descriptor, "args")),
        options: readOptions(field(descriptor, "options")),
        subcommands: []
      }
    default:
      throw new Error(`cubeplane: cannot read the command tree (a ${String(tag(descriptor))} descriptor)`)
  }
}

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

/** The command a path of names leads to (`["deployments", "list"]`), if there is one. */
export const find = (root: CommandSpec, path: ReadonlyArray<string>): CommandSpec | undefined => {
  let current: CommandSpec | undefined = root
  for (const name of path) current = current?.subcommands.find((sub) => sub.name === name)
  return current
}

/** The option a word names (`--limit`, `-o`) among a command's options. */
export const findOption = (command: CommandSpec, word: string): OptionSpec | undefined => {
  const name = word.replace(/^--?/, "").split("=")[0] ?? ""
  return command.options.find((option) => option.name === name || option.aliases.includes(name))
}

/** The option's names as typed: `--output`, `-o`. */
export const spellings = (option: OptionSpec): Array<string> => [
  `--${option.name}`,
  ...option.aliases.map((alias) => (alias.length === 1 ? `-${alias}` : `--${alias}`))
]

/** Edit distance, for "did you mean". */
export const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

/** The candidates closest to `word` (within a third of its length, at least 2 edits), best first. */
export const closest = (word: string, candidates: ReadonlyArray<string>): Array<string> => {
  const limit = Math.max(2, Math.floor(word.length / 3))
  const scored = candidates
    .map((candidate) => ({
      candidate,
      score: candidate.startsWith(word) && word.length >= 2 ? 0 : distance(word, candidate)
    }))
    .filter(({ score }) => score <= limit)
    .sort((x, y) => x.score - y.score)
  const best = scored[0]?.score
  return scored.filter(({ score }) => score === best).map(({ candidate }) => candidate)
}
