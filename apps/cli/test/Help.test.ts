import { describe, expect, it } from "vitest"
import * as Cli from "../src/Cli.js"
import * as Help from "../src/Help.js"

const paths = (root = Cli.spec(), path: Array<string> = []): Array<Array<string>> => [
  path,
  ...root.subcommands.flatMap((sub) => paths(sub, [...path, sub.name]))
]

describe("Help.render", () => {
  it.each([40, 60, 80, 160, 250])("every command's help fits %i columns, without breaking a word", (width) => {
    for (const path of paths()) {
      const text = Help.render(Cli.context(), path, { width, color: false })
      for (const line of text.split("\n")) {
        // A single word longer than the width (a long example URL) is the only thing allowed to stick out.
        if (line.trim().replace(/ \\$/, "").includes(" ")) {
          expect(line.length, `${path.join(" ")}: ${line}`).toBeLessThanOrEqual(width)
        }
      }
      const words = (s: string) => s.split(/\s+/).filter((w) => w !== "")
      // Every word of the description survives the wrapping whole.
      const command = path.reduce((c, name) => c.subcommands.find((s) => s.name === name)!, Cli.spec())
      for (const word of words(command.description)) expect(text).toContain(word)
    }
  })

  it("the width is the terminal's, else 80", () => {
    expect(Help.widthOf(undefined)).toBe(80)
    expect(Help.widthOf(132)).toBe(132)
    expect(Help.widthOf(10)).toBe(40)
  })

  it("an example is broken between words only, quoted strings kept whole, and still pastes as one command", () => {
    expect(Help.wrapCommand("$ cubeplane audit-logs export --event-name 'Logged in' --format ndjson", 30)).toEqual([
      "$ cubeplane audit-logs \\",
      "    export --event-name \\",
      "    'Logged in' --format \\",
      "    ndjson"
    ])
  })

  it("wrap keeps words whole", () => {
    expect(Help.wrap("one two three four", 9)).toEqual(["one two", "three", "four"])
  })
})
