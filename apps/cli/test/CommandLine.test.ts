import { describe, expect, it } from "vitest"
import * as Cli from "../src/Cli.js"
import * as CommandLine from "../src/CommandLine.js"

describe("CommandLine.flagsFirst", () => {
  it("moves a command's flags and their values before its positional arguments", () => {
    expect(CommandLine.flagsFirst(Cli.spec(), ["tokens", "inspect", "-", "-o", "table"])).toEqual([
      "tokens",
      "inspect",
      "-o",
      "table",
      "-"
    ])
    expect(CommandLine.flagsFirst(Cli.spec(), ["environments", "list", "123", "--all", "--type", "staging"])).toEqual([
      "environments",
      "list",
      "--all",
      "--type",
      "staging",
      "123"
    ])
  })

  it("leaves what follows `--` where it is", () => {
    expect(CommandLine.flagsFirst(Cli.spec(), ["tokens", "inspect", "--", "-x"])).toEqual([
      "tokens",
      "inspect",
      "--",
      "-x"
    ])
  })
})

describe("CommandLine.check", () => {
  it("accepts real commands and flags, and a flag's value that looks like a flag", () => {
    expect(CommandLine.check(Cli.spec(), ["deployments", "list", "--offset", "-1", "-o", "json"])).toBeUndefined()
  })

  it("names a command that needs a subcommand", () => {
    expect(CommandLine.check(Cli.spec(), ["tokens"])).toBe(
      "`cubeplane tokens` needs a command: meta-sync, inspect — see `cubeplane tokens --help`"
    )
  })

  it("rejects @effect/cli's built-in flags that this CLI does not offer", () => {
    expect(CommandLine.check(Cli.spec(), ["deployments", "list", "--log-level", "debug"])).toMatch(
      /^Unknown flag --log-level for `cubeplane deployments list`/
    )
  })
})
