/**
 * `cubeplane --completions bash|zsh|fish`: completion scripts made from the
 * command tree (`Spec`), so they complete exactly what the parser accepts —
 * nested commands, each command's own flags, and the values of flags with a
 * fixed set (`--output <Tab>` → table json …); a flag that takes a file or
 * free text falls back to file names. The scripts walk the words typed so
 * far to find the command, skipping flag values, so `cubeplane deployments
 * list --<Tab>` offers `list`'s flags. No dependencies (the launcher prints
 * them without loading the CLI).
 */
import type { CommandSpec } from "./Spec.js"
import { spellings } from "./Spec.js"

export const shells = ["bash", "zsh", "fish"] as const
export type Shell = (typeof shells)[number]

export const isShell = (value: string): value is Shell => shells.some((shell) => shell === value)

interface Entry {
  readonly path: string
  readonly command: CommandSpec
}

/** Every command with its path (`""` for the root). */
const entries = (root: CommandSpec): Array<Entry> => {
  const out: Array<Entry> = []
  const walk = (command: CommandSpec, path: string) => {
    out.push({ path, command })
    for (const sub of command.subcommands) walk(sub, path === "" ? sub.name : `${path} ${sub.name}`)
  }
  walk(root, "")
  return out
}

/** What the root accepts besides its commands. */
const rootFlags = ["--help", "--version", "--completions"]
const helpFlags = ["--help", "-h"]

const flagsOf = ({ command, path }: Entry): Array<string> => [
  ...(path === "" ? rootFlags : helpFlags),
  ...command.options.flatMap(spellings)
]

/** `(flag, its values)` of every flag that takes a value, per command path; `[]` values = free text or a file. */
const valuedFlags = ({ command, path }: Entry): Array<readonly [string, ReadonlyArray<string>]> => [
  ...(path === "" ? [["--completions", ["bash", "zsh", "fish"]] as const] : []),
  ...command.options.filter((option) => option.takesValue).flatMap((option) =>
    spellings(option).map((spelling) => [spelling, option.choices] as const)
  )
]

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

export const bash = (root: CommandSpec): string => {
  const all = entries(root)
  const cases = (render: (entry: Entry) => string | undefined) =>
    all.map((entry) => {
      const body = render(entry)
      return body === undefined ? undefined : `    ${quote(entry.path)}) ${body} ;;`
    }).filter((line) => line !== undefined).join("\n")
  const valueCases = all.flatMap((entry) =>
    valuedFlags(entry).map(([flag, values]) =>
      `    ${quote(`${entry.path}|${flag}`)}) echo ${quote(values.join(" "))} ;;`
    )
  ).join("\n")
  return `# cubeplane completion for bash (also used by zsh). Load it with:
#   source <(cubeplane --completions bash)
_cubeplane_subcommands() {
  case "$1" in
${
    cases((entry) =>
      entry.command.subcommands.length > 0
        ? `echo ${quote(entry.command.subcommands.map((sub) => sub.name).join(" "))}`
        : undefined
    )
  }
  esac
}
_cubeplane_flags() {
  case "$1" in
${cases((entry) => `echo ${quote(flagsOf(entry).join(" "))}`)}
  esac
}
# Prints the values a flag takes (empty: any text or a file); fails for a flag that takes none.
_cubeplane_values() {
  case "$1|$2" in
${valueCases}
    *) return 1 ;;
  esac
}
_cubeplane() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" word values i
  local value_of=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ -n $value_of ]]; then
      value_of=""
      continue
    fi
    if [[ $word == -* ]]; then
      if [[ $word != *=* ]] && _cubeplane_values "$path" "$word" >/dev/null; then value_of="$word"; fi
    elif [[ " $(_cubeplane_subcommands "$path") " == *" $word "* ]]; then
      path="\${path:+$path }$word"
    fi
  done
  # One candidate per line (no mapfile: zsh's bashcompinit runs this too).
  local IFS=$'\n'
  COMPREPLY=()
  if [[ -n $value_of ]]; then
    values="$(_cubeplane_values "$path" "$value_of")"
    if [[ -n $values ]]; then
      COMPREPLY=($(IFS=' '; compgen -W "$values" -- "$cur"))
    else
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(IFS=' '; compgen -W "$(_cubeplane_flags "$path")" -- "$cur"))
  else
    COMPREPLY=($(IFS=' '; compgen -W "$(_cubeplane_subcommands "$path")" -- "$cur"))
  fi
}
complete -o default -F _cubeplane cubeplane
`
}

export const zsh = (root: CommandSpec): string =>
  `# cubeplane completion for zsh. Load it with:
#   source <(cubeplane --completions zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash(root).split("\n").filter((line) => !line.startsWith("#")).join("\n")}`

export const fish = (root: CommandSpec): string => {
  const all = entries(root)
  const lines = [
    "# cubeplane completion for fish. Load it with:",
    "#   cubeplane --completions fish | source",
    "function __cubeplane_path",
    "  set -l words (commandline -opc)",
    "  set -e words[1]",
    "  set -l path ''",
    "  set -l skip 0",
    "  for word in $words",
    "    if test $skip = 1",
    "      set skip 0",
    "      continue",
    "    end",
    "    if string match -q -- '-*' $word",
    "      if not string match -q -- '*=*' $word; and __cubeplane_takes_value \"$path\" $word",
    "        set skip 1",
    "      end",
    "    else if contains -- $word (__cubeplane_subcommands \"$path\")",
    "      set path (string trim -- \"$path $word\")",
    "    end",
    "  end",
    "  echo $path",
    "end",
    "function __cubeplane_subcommands",
    "  switch $argv[1]",
    ...all.filter((entry) => entry.command.subcommands.length > 0).flatMap((entry) => [
      `    case ${quote(entry.path)}`,
      `      printf '%s\\n' ${entry.command.subcommands.map((sub) => sub.name).join(" ")}`
    ]),
    "  end",
    "end",
    "function __cubeplane_takes_value",
    "  switch \"$argv[1]|$argv[2]\"",
    ...all.flatMap((entry) =>
      valuedFlags(entry).map(([flag]) => `    case ${quote(`${entry.path}|${flag}`)}\n      return 0`)
    ),
    "  end",
    "  return 1",
    "end",
    "function __cubeplane_at",
    "  test (__cubeplane_path) = \"$argv[1]\"",
    "end",
    "complete -c cubeplane -f"
  ]
  for (const entry of all) {
    const at = `-n ${quote(`__cubeplane_at ${quote(entry.path)}`)}`
    for (const sub of entry.command.subcommands) {
      lines.push(`complete -c cubeplane ${at} -a ${quote(sub.name)} -d ${quote(sub.description)}`)
    }
    if (entry.path === "") {
      lines.push(`complete -c cubeplane ${at} -l completions -x -a 'bash zsh fish' -d 'Print a completion script'`)
      lines.push(`complete -c cubeplane ${at} -l version -d 'Print the version'`)
    }
    lines.push(`complete -c cubeplane ${at} -s h -l help -d 'Show help'`)
    for (const option of entry.command.options) {
      const names = [
        `-l ${option.name}`,
        ...option.aliases.map((alias) => (alias.length === 1 ? `-s ${alias}` : `-l ${alias}`))
      ].join(" ")
      const value = option.choices.length > 0
        ? ` -x -a ${quote(option.choices.join(" "))}`
        : option.takesValue
        ? " -r -F"
        : ""
      lines.push(`complete -c cubeplane ${at} ${names}${value} -d ${quote(option.description)}`)
    }
  }
  return lines.join("\n") + "\n"
}

export const script = (shell: Shell, root: CommandSpec): string =>
  shell === "bash" ? bash(root) : shell === "zsh" ? zsh(root) : fish(root)
