import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, FiberId } from "effect"
import { vi } from "vitest"
import * as Cli from "../src/Cli.js"
import { CliFailure } from "../src/Failure.js"

/** Runs `report` and returns the exit code and what it wrote to stderr. */
const reported = (cause: Cause.Cause<unknown>, verbose = false) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      lines.push(String(chunk))
      return true
    })
    try {
      const code = yield* Cli.report(cause, verbose, () => "usage line")
      return { code, stderr: lines.join("") }
    } finally {
      spy.mockRestore()
    }
  })

describe("Cli.report", () => {
  it.effect("a known failure: its message on one line, its exit code; details only with --verbose", () =>
    Effect.gen(function*() {
      const failure = new CliFailure({ message: "Unauthorized: …", exitCode: 4, details: "GET /x, status 401" })
      expect(yield* reported(Cause.fail(failure))).toEqual({ code: 4, stderr: "Unauthorized: …\n" })
      expect((yield* reported(Cause.fail(failure), true)).stderr).toBe(
        "Unauthorized: …\ncubeplane: GET /x, status 401\n"
      )
    }))

  it.effect("a defect: one line, no stack trace, exit 1", () =>
    Effect.gen(function*() {
      const error = new Error("boom")
      const { code, stderr } = yield* reported(Cause.die(error))
      expect(code).toBe(1)
      expect(stderr).toBe("Unexpected error: boom — this is a bug in cubeplane; please report it\n")
    }))

  it.effect("an interruption: 130", () =>
    Effect.gen(function*() {
      expect((yield* reported(Cause.interrupt(FiberId.none))).code).toBe(130)
    }))
})

describe("argument lines", () => {
  it("commandPath names the command the arguments start with", () => {
    expect(Cli.commandPath(["deployments", "list", "--all"])).toBe("deployments list")
    expect(Cli.commandPath(["environments", "list", "123"])).toBe("environments list")
    expect(Cli.commandPath(["--version"])).toBe("")
  })

  it("usageLine puts @effect/cli's message and where to look on one line", () => {
    expect(Cli.usageLine(["Missing argument <deployment-id>\n\n"], ["environments", "list"])).toBe(
      "Missing argument <deployment-id> — see `cubeplane environments list --help`"
    )
  })
})
