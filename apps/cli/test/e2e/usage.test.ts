/**
 * The command line as a new user meets it: help in our own words with the
 * full command path, completions that work in a real bash, "did you mean"
 * for a mistyped command or flag, and arguments checked before any request
 * (exit 2, with an example of a good value).
 */
import { MockServer, Seed } from "@cubeplane/testing"
import { execFile } from "node:child_process"
import { existsSync, writeFileSync } from "node:fs"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Cli } from "./harness.js"
import { clearFaults, fault, makeCli } from "./harness.js"

let mock: Awaited<ReturnType<typeof MockServer.start>>
let cli: Cli
let env: Record<string, string>

beforeAll(async () => {
  mock = await MockServer.start({ port: 0, seed: Seed.demo })
  cli = makeCli()
  env = { CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-admin" }
})
afterAll(async () => {
  await mock?.close()
  cli?.cleanup()
})

/** The requests the mock has answered so far. */
const calls = async (): Promise<number> => {
  const body: { calls: Array<unknown> } = await (await fetch(`${mock.url}/__mock/calls`)).json()
  return body.calls.length
}

describe("help", () => {
  it.each([
    [["deployments", "list", "--help"], "deployments list"],
    [["environments", "list", "123", "--type", "production", "-h"], "environments list"],
    [["audit-logs", "--help"], "audit-logs"],
    [["tokens", "meta-sync", "--help"], "tokens meta-sync"]
  ])("%j shows the full command path and only our own words", async (args, path) => {
    const result = await cli.run(args)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`$ cubeplane ${path}`)
    expect(result.stdout).not.toContain("A user-defined piece of text")
    expect(result.stdout).not.toContain("This setting is optional")
    // Not a terminal: 80 columns.
    for (const line of result.stdout.split("\n")) expect(line.length, line).toBeLessThanOrEqual(80)
  })

  it("an option's choices and default are shown with it", async () => {
    const result = await cli.run(["audit-logs", "follow", "--help"])
    expect(result.stdout).toMatch(/--format ndjson\|csv +ndjson: one event per line/)
    expect(result.stdout).toContain("(default: 30s)")
    expect(result.stdout).toMatch(/--state FILE +Checkpoint file.*\(required\)/s)
  })
})

describe("did you mean", () => {
  it("an unknown command: exit 2, the nearest command, nothing sent", async () => {
    const before = await calls()
    const result = await cli.run(["deployments", "lst"], { env })
    expect(result.code).toBe(2)
    expect(result.stderr.trim()).toBe(
      "Unknown command \"lst\" for `cubeplane deployments` — did you mean `cubeplane deployments list`? — its commands: list"
    )
    expect(await calls()).toBe(before)
  })

  it("an unknown flag: exit 2 and the nearest flag of that command", async () => {
    const result = await cli.run(["environments", "list", "123", "--tpye", "production"], { env })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("Unknown flag --tpye for `cubeplane environments list` — did you mean `--type`?")
  })

  it("a flag given to a group names the command that has it", async () => {
    const result = await cli.run(["deployments", "--all"], { env })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("did you mean `cubeplane deployments list --all`?")
  })
})

describe("arguments checked before any request", () => {
  it.each([
    [["tokens", "meta-sync", "123", "456", "--security-context", "{}", "--expires-in", "1h"], "e.g. --expires-in 3600"],
    [["tokens", "meta-sync", "123", "456", "--security-context", "{}", "--expires-in", "0"], "at least 1 second"],
    [["audit-logs", "export", "--start", "yesterday"], "--start must be an ISO 8601 date (2024-01-31)"],
    [["audit-logs", "export", "--start", "2024-02-30"], "(February 2024 has 29 days)"],
    [["audit-logs", "export", "--end", "2024-01-31T25:00Z"], "--end must be an ISO 8601 date"]
  ])("%j: exit 2, a good value shown, nothing sent", async (args, message) => {
    const before = await calls()
    const result = await cli.run(args, { env })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
    expect(result.stderr.trim().split("\n").length).toBe(1)
    expect(await calls()).toBe(before)
  })

  it("a URL that already ends in /api/v1: exit 2, with the URL to use", async () => {
    const result = await cli.run(["deployments", "list"], { env: { ...env, CUBE_API_URL: `${mock.url}/api/v1` } })
    expect(result.code).toBe(2)
    expect(result.stderr.trim()).toBe(
      `CUBE_API_URL is ${mock.url}/api/v1: give the base URL without /api/v1 (cubeplane adds it) — e.g. ${mock.url}`
    )
  })

  it("a refusal by the server shows the server's own words", async () => {
    await fault(mock.url, { operation: "listEnvironments", status: 400, error: "limit must be at most 50", times: 1 })
    try {
      const result = await cli.run(["environments", "list", "123", "--limit", "80"], { env })
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(
        /^The server refused GET \/api\/v1\/deployments\/123\/environments \(400\): limit must be at most 50/
      )
    } finally {
      await clearFaults(mock.url)
    }
  })

  it("tokens inspect - -o table reads the token from stdin (flags after the `-`)", async () => {
    const token = [{ alg: "HS256" }, { tenant_id: "acme", exp: 4102444800 }]
      .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
      .join(".") + ".signature"
    const result = await cli.run(["tokens", "inspect", "-", "-o", "table"], { input: token })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/tenant_id +acme/)
  })
})

describe("completions", () => {
  /** What bash's completion function offers for the words typed so far (the last one being completed). */
  const complete = async (lines: ReadonlyArray<ReadonlyArray<string>>): Promise<Array<string>> => {
    const script = `${cli.configHome}/completion.bash`
    writeFileSync(script, (await cli.run(["--completions", "bash"])).stdout)
    const calls = lines.map((words) =>
      `COMP_WORDS=(${words.map((word) => `'${word}'`).join(" ")}); COMP_CWORD=${
        words.length - 1
      }; COMPREPLY=(); _cubeplane; echo "\${COMPREPLY[*]}"`
    )
    const { stdout } = await promisify(execFile)("bash", ["-c", `source ${script}\n${calls.join("\n")}`])
    return stdout.split("\n").slice(0, lines.length)
  }

  it("bash completes nested commands, each command's own flags, and the values of choice flags", async () => {
    expect(
      await complete([
        ["cubeplane", ""],
        ["cubeplane", "deployments", ""],
        ["cubeplane", "deployments", "list", "--"],
        ["cubeplane", "deployments", "list", "--output", ""],
        ["cubeplane", "deployments", "list", "-o", "nd"],
        ["cubeplane", "environments", "list", "123", "--type", "p"],
        ["cubeplane", "audit-logs", "follow", "--state", "s.json", "--format", ""],
        ["cubeplane", "audit-logs", "follow", "--state", "s.json", "--in"],
        ["cubeplane", "--completions", ""],
        ["cubeplane", "-"]
      ])
    ).toEqual([
      "deployments environments tokens audit-logs profiles mock",
      "list",
      "--help --url --api-key --profile --verbose --output --all --limit --offset --first --after",
      "table json ndjson yaml csv",
      "ndjson",
      "production",
      "ndjson csv",
      "--interval",
      "bash zsh fish",
      "--help --version --completions"
    ])
  })

  it("offers no --log-level (which the CLI rejects)", async () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const result = await cli.run(["--completions", shell])
      expect(result.code).toBe(0)
      expect(result.stdout).not.toContain("log-level")
    }
  })

  const hasShell = (shell: string) => ["/usr/bin", "/bin"].some((dir) => existsSync(`${dir}/${shell}`))

  it.skipIf(!hasShell("fish"))("fish completes nested commands, flags and choices", async () => {
    const script = `${cli.configHome}/completion.fish`
    writeFileSync(script, (await cli.run(["--completions", "fish"])).stdout)
    const complete = async (line: string) => {
      const { stdout } = await promisify(execFile)("fish", ["-c", `source ${script}; complete -C '${line}'`])
      return stdout.split("\n").filter((row) => row !== "").map((row) => row.split("\t")[0]).sort()
    }
    expect(await complete("cubeplane deployments ")).toEqual(["list"])
    expect(await complete("cubeplane deployments list --output ")).toEqual(["csv", "json", "ndjson", "table", "yaml"])
    expect(await complete("cubeplane environments list 123 --type ")).toEqual(["development", "production", "staging"])
    expect(await complete("cubeplane audit-logs follow --")).toContain("--stall-timeout")
  })

  it.skipIf(!hasShell("zsh"))("zsh (through bashcompinit) offers the same candidates", async () => {
    const script = `${cli.configHome}/completion.zsh`
    writeFileSync(script, (await cli.run(["--completions", "zsh"])).stdout)
    // zsh's own matching narrows these down to what is typed; bashcompinit hands over every candidate.
    const { stdout } = await promisify(execFile)("zsh", [
      "-c",
      `source ${script}; setopt ksharrays; COMP_WORDS=(cubeplane deployments list --output ''); COMP_CWORD=4; _cubeplane; echo "\${COMPREPLY[*]}"`
    ])
    expect(stdout.trim()).toBe("table json ndjson yaml csv")
  })

  it("fish and zsh scripts name nested commands and choices", async () => {
    const fish = (await cli.run(["--completions", "fish"])).stdout
    expect(fish).toContain(
      "complete -c cubeplane -n '__cubeplane_at '\\''deployments list'\\''' -l output -s o -x -a 'table json ndjson yaml csv'"
    )
    const zsh = (await cli.run(["--completions", "zsh"])).stdout
    expect(zsh).toContain("bashcompinit")
    expect(zsh).toContain("complete -o default -F _cubeplane cubeplane")
  })
})
