/**
 * The built-in options every CLI run may ask for before any command runs:
 * `--help` / `-h` (anywhere: the help of the command named before it),
 * `--version`, `--completions bash|zsh|fish`. Answered from the command tree
 * alone, so the launcher answers them without loading the CLI, and the CLI
 * answers them the same way. No dependencies.
 */
import * as Completions from "./Completions.js"
import * as Help from "./Help.js"
import { closest } from "./Spec.js"

export interface Context extends Help.HelpContext {
  readonly version: string
}

export type Answer =
  | { readonly _tag: "Print"; readonly text: string }
  | { readonly _tag: "Usage"; readonly message: string }

export interface Terminal {
  /** `process.stdout.columns` (undefined when stdout is not a terminal). */
  readonly columns: number | undefined
  readonly color: boolean
}

/** The answer to a built-in option, or `undefined` when the arguments are for a command. */
export const answer = (context: Context, args: ReadonlyArray<string>, terminal: Terminal): Answer | undefined => {
  // No arguments at all: the root's help (and exit 0), rather than a parse error.
  if (args.length === 0 || Help.wantsHelp(args)) {
    const path = Help.commandPath(context.root, args)
    return {
      _tag: "Print",
      text: Help.render(context, path, { width: Help.widthOf(terminal.columns), color: terminal.color })
    }
  }
  if (args[0] === "--version" && args.length === 1) return { _tag: "Print", text: `cubeplane ${context.version}\n` }
  if (args[0] === "--completions") {
    const shell = args[1] ?? ""
    if (args.length === 2 && Completions.isShell(shell)) {
      return { _tag: "Print", text: Completions.script(shell, context.root) }
    }
    const guess = closest(shell, Completions.shells)[0]
    return {
      _tag: "Usage",
      message: `--completions takes one of ${Completions.shells.join(", ")}${shell === "" ? "" : `, not "${shell}"`}${
        guess !== undefined ? ` — did you mean --completions ${guess}?` : ""
      } — e.g. source <(cubeplane --completions bash)`
    }
  }
  return undefined
}
