/**
 * Every command and every output format, end to end: the built CLI against
 * the demo mock on a real port.
 */
import { MockServer, Seed } from "@cubeplane/testing"
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { parse as parseYaml } from "yaml"
import { bigSeed } from "./fixtures.js"
import type { Cli } from "./harness.js"
import { assertNoSecrets, cli as cliPath, makeCli } from "./harness.js"

let mock: Awaited<ReturnType<typeof MockServer.start>>
let big: Awaited<ReturnType<typeof MockServer.start>>
let cli: Cli
let admin: Record<string, string>

beforeAll(async () => {
  mock = await MockServer.start({ port: 0, seed: Seed.demo })
  big = await MockServer.start({ port: 0, seed: bigSeed() })
  cli = makeCli()
  admin = { CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-admin" }
})

afterAll(async () => {
  await mock?.close()
  await big?.close()
  cli?.cleanup()
})

describe("help", () => {
  it("cubeplane --help lists every command, examples, the environment and the exit codes", async () => {
    const result = await cli.run(["--help"])
    expect(result.code).toBe(0)
    for (
      const command of [
        "deployments list",
        "environments list",
        "tokens meta-sync",
        "tokens inspect",
        "audit-logs export",
        "audit-logs follow",
        "profiles add",
        "mock serve"
      ]
    ) {
      expect(result.stdout).toContain(command)
    }
    expect(result.stdout).toContain("EXAMPLES")
    expect(result.stdout).toContain("EXIT CODES")
    // Not a terminal: no colour codes.
    expect(result.stdout).not.toMatch(/\x1b\[/)
  })

  it.each([
    ["deployments", "list"],
    ["environments", "list"],
    ["tokens", "meta-sync"],
    ["tokens", "inspect"],
    ["audit-logs", "export"],
    ["audit-logs", "follow"],
    ["profiles", "add"],
    ["mock", "serve"]
  ])("%s %s --help shows an example of that command", async (noun, verb) => {
    const result = await cli.run([noun, verb, "--help"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("EXAMPLES")
    expect(result.stdout).toContain(`$ cubeplane ${noun} ${verb}`)
  })

  it("--help after other options still shows that command's help", async () => {
    const result = await cli.run(["deployments", "list", "--all", "-o", "json", "--help"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("$ cubeplane deployments list --all")
  })

  it.each(["bash", "zsh", "fish"])("--completions %s prints a completion script", async (shell) => {
    const result = await cli.run(["--completions", shell])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("deployments")
  })

  it("the launcher's help is exactly what the whole CLI renders (checked against the unbundled CLI)", async () => {
    const { execFileSync } = await import("node:child_process")
    const unbundled = new URL("../../dist/bin.js", import.meta.url).pathname
    for (const args of [["--help"], ["deployments", "list", "--help"], ["audit-logs", "follow", "-h"]]) {
      const live = execFileSync(process.execPath, [unbundled, ...args], { env: { PATH: process.env.PATH ?? "" } })
        .toString()
      expect((await cli.run(args)).stdout).toBe(live)
    }
  })

  it("on a terminal: colour and a table by default; NO_COLOR turns colour off", async () => {
    const { execFile } = await import("node:child_process")
    const { promisify } = await import("node:util")
    // `script` gives the CLI a pseudo-terminal, as an interactive shell would. (Not execFileSync:
    // the mock answers from this very process.)
    const inTerminal = async (command: string, extra: Record<string, string> = {}) =>
      (await promisify(execFile)("script", ["-qec", command, "/dev/null"], {
        env: { PATH: process.env.PATH ?? "", HOME: cli.configHome, XDG_CONFIG_HOME: cli.configHome, ...admin, ...extra }
      })).stdout
    const help = await inTerminal(`node ${cliPath} deployments list --help`)
    expect(help).toMatch(/\x1b\[[0-9;]*1m/)
    expect(await inTerminal(`node ${cliPath} deployments list --help`, { NO_COLOR: "1" })).not.toContain("\x1b[")
    // Help fits the terminal it is shown in: 60 columns here, 160 there.
    for (const columns of [60, 160]) {
      const text = await inTerminal(`stty cols ${columns}; node ${cliPath} audit-logs follow --help`, { NO_COLOR: "1" })
      const lines = text.split(/\r?\n/)
      expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(columns)
      if (columns === 160) expect(Math.max(...lines.map((line) => line.length))).toBeGreaterThan(100)
    }
    const table = await inTerminal(`node ${cliPath} deployments list --verbose`)
    assertNoSecrets(table)
    expect(table).toMatch(/\x1b\[1mID\s+NAME\s+CREATED/)
    expect(table).toContain("My Deployment")
    expect(await inTerminal(`node ${cliPath} deployments list`, { NO_COLOR: "1" })).toMatch(/^ID\s+NAME\s+CREATED/)
  })

  it("--version", async () => {
    const result = await cli.run(["--version"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("0.1.0")
  })
})

describe("the launcher's code cache", () => {
  /** A CLI with a home of its own (so a code cache of its own), removed after `body`. */
  const withFreshCli = async (body: (fresh: Cli, cacheDir: string) => Promise<void>) => {
    const fresh = makeCli()
    try {
      await body(fresh, join(fresh.configHome, ".cache", "cubeplane"))
    } finally {
      fresh.cleanup()
    }
  }
  /** The cache files of one command noun. */
  const cachesOf = (cacheDir: string, noun: string) =>
    readdirSync(cacheDir).filter((name) => name.endsWith(`-${noun}.v8`))

  it("the cache a first run writes is accepted by the next run (V8 would reject it, and the launcher rewrite it, if the flags it was made under differed)", () =>
    withFreshCli(async (fresh, cacheDir) => {
      const first = await fresh.run(["deployments", "list"], { env: admin })
      expect(first.code).toBe(0)
      const files = cachesOf(cacheDir, "deployments")
      expect(files).toHaveLength(1)
      const written = statSync(join(cacheDir, files[0]!))
      const second = await fresh.run(["deployments", "list"], { env: admin })
      expect(second.code).toBe(0)
      expect(second.stdout).toBe(first.stdout)
      // Rewritten means a new file renamed into place: another inode.
      expect(statSync(join(cacheDir, files[0]!)).ino).toBe(written.ino)
      // CUBEPLANE_NO_CACHE=1 neither reads nor writes one.
      const uncached = await fresh.run(["tokens", "inspect", "x"], { env: { ...admin, CUBEPLANE_NO_CACHE: "1" } })
      expect(uncached.code).not.toBeNull()
      expect(cachesOf(cacheDir, "tokens")).toEqual([])
    }))

  it("a cache V8 rejects (damaged, or from another build) still runs the command, and is replaced", () =>
    withFreshCli(async (fresh, cacheDir) => {
      const first = await fresh.run(["deployments", "list"], { env: admin })
      expect(first.code).toBe(0)
      const [name] = cachesOf(cacheDir, "deployments")
      const file = join(cacheDir, name!)
      const garbage = Buffer.alloc(statSync(file).size, 0x5a)
      writeFileSync(file, garbage)
      const damaged = statSync(file)
      const second = await fresh.run(["deployments", "list"], { env: admin })
      expect(second.code).toBe(0)
      expect(second.stderr).toBe("")
      expect(second.stdout).toBe(first.stdout)
      expect(statSync(file).ino).not.toBe(damaged.ino)
      expect(readFileSync(file).equals(garbage)).toBe(false)
      // And the replacement is accepted: the next run leaves it alone.
      const replaced = statSync(file)
      const third = await fresh.run(["deployments", "list"], { env: admin })
      expect(third.stdout).toBe(first.stdout)
      expect(statSync(file).ino).toBe(replaced.ino)
    }))

  it("writing a cache removes other builds' caches unwritten for a week and killed runs' temporary files, nothing else", () =>
    withFreshCli(async (fresh, cacheDir) => {
      mkdirSync(cacheDir, { recursive: true })
      const day = 24 * 60 * 60
      const place = (name: string, ageDays: number) => {
        writeFileSync(join(cacheDir, name), "old")
        const when = Date.now() / 1000 - ageDays * day
        utimesSync(join(cacheDir, name), when, when)
      }
      place("0123456789abcdef-v20.0.0-x64-deployments.v8", 30) // an old build, long unused
      place("fedcba9876543210-v20.0.0-x64-tokens.v8", 2) // another build, used two days ago
      place("0123456789abcdef-v20.0.0-x64-tokens.v8.4242.tmp", 1) // a run killed while writing
      place("notes.txt", 30) // not a cache
      const run = await fresh.run(["deployments", "list"], { env: admin })
      expect(run.code).toBe(0)
      const left = readdirSync(cacheDir).sort()
      expect(left).toContain("fedcba9876543210-v20.0.0-x64-tokens.v8")
      expect(left).toContain("notes.txt")
      expect(left).not.toContain("0123456789abcdef-v20.0.0-x64-deployments.v8")
      expect(left).not.toContain("0123456789abcdef-v20.0.0-x64-tokens.v8.4242.tmp")
      const ours = cachesOf(cacheDir, "deployments")
      expect(ours).toHaveLength(1)
      // This build's own caches stay however old they are: a later write (another noun) keeps them.
      const when = Date.now() / 1000 - 30 * day
      utimesSync(join(cacheDir, ours[0]!), when, when)
      expect((await fresh.run(["environments", "list", "123"], { env: admin })).code).toBe(0)
      expect(readdirSync(cacheDir)).toContain(ours[0])
      expect(cachesOf(cacheDir, "environments")).toHaveLength(1)
    }))

  it("a run under other Node flags keeps its own cache, and leaves the one plain runs read alone", () =>
    withFreshCli(async (fresh, cacheDir) => {
      const plain = await fresh.run(["deployments", "list"], { env: admin })
      expect(plain.code).toBe(0)
      const [name] = cachesOf(cacheDir, "deployments")
      const written = statSync(join(cacheDir, name!))
      // A V8 flag changes what V8 accepts: its cache would be rejected by plain runs, and theirs by it.
      const flagged = await fresh.run(["deployments", "list"], {
        env: { ...admin, NODE_OPTIONS: "--max-semi-space-size=32" }
      })
      expect(flagged.code).toBe(0)
      expect(flagged.stdout).toBe(plain.stdout)
      expect(cachesOf(cacheDir, "deployments")).toHaveLength(2)
      const again = await fresh.run(["deployments", "list"], { env: admin })
      expect(again.stdout).toBe(plain.stdout)
      expect(statSync(join(cacheDir, name!)).ino).toBe(written.ino)
    }))
})

describe("deployments list", () => {
  it("prints JSON when piped: the wire format, nothing else on stdout", async () => {
    const result = await cli.run(["deployments", "list"], { env: admin })
    expect(result.code).toBe(0)
    expect(result.stderr).toBe("")
    const deployments = JSON.parse(result.stdout)
    expect(deployments[0]).toEqual({ id: "123", name: "My Deployment", created_at: "2024-01-15T10:30:00.000Z" })
    expect(deployments.map((d: { id: string }) => d.id)).toEqual(["123", "124", "125"])
  })

  it.each(["table", "json", "ndjson", "yaml", "csv"])("--output %s", async (format) => {
    const result = await cli.run(["deployments", "list", "--output", format], { env: admin })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatchSnapshot()
  })

  it("every format carries the same data", async () => {
    const json = JSON.parse((await cli.run(["deployments", "list", "-o", "json"], { env: admin })).stdout)
    const ndjson = (await cli.run(["deployments", "list", "-o", "ndjson"], { env: admin })).stdout.trim().split("\n")
      .map((line) => JSON.parse(line))
    const yaml = parseYaml((await cli.run(["deployments", "list", "-o", "yaml"], { env: admin })).stdout)
    expect(ndjson).toEqual(json)
    expect(yaml).toEqual(json)
  })

  it("--limit and --offset select one page", async () => {
    const result = await cli.run(["deployments", "list", "--limit", "1", "--offset", "1"], { env: admin })
    expect(JSON.parse(result.stdout).map((d: { id: string }) => d.id)).toEqual(["124"])
  })
})

describe("--all across many pages", () => {
  it("deployments: ONE JSON array of all 260, fetched page by page", async () => {
    const env = { CUBE_API_URL: big.url, CUBE_API_KEY: "sk-demo-admin" }
    const result = await cli.run(["deployments", "list", "--all", "--limit", "50", "-o", "json"], { env })
    expect(result.code).toBe(0)
    const deployments: Array<{ id: string }> = JSON.parse(result.stdout)
    expect(deployments.length).toBe(261)
    expect(new Set(deployments.map((d) => d.id)).size).toBe(261)
    const { calls }: { calls: Array<{ operation: string }> } = await (await fetch(`${big.url}/__mock/calls`)).json()
    expect(calls.filter((call) => call.operation === "listDeployments").length).toBe(6)
  })

  it("environments: 260 environments in order, as NDJSON and as one table", async () => {
    const env = { CUBE_API_URL: big.url, CUBE_API_KEY: "sk-demo-admin" }
    const ndjson = await cli.run(["environments", "list", "900", "--all", "-o", "ndjson"], { env })
    expect(ndjson.code).toBe(0)
    const ids = ndjson.stdout.trim().split("\n").map((line) => JSON.parse(line).id)
    expect(ids).toEqual(Array.from({ length: 260 }, (_, k) => String(9000 + k)))
    const table = await cli.run(["environments", "list", "900", "--all", "-o", "table"], { env })
    const lines = table.stdout.trimEnd().split("\n")
    expect(lines.length).toBe(261)
    expect(lines[0]).toMatch(/^ID\s+NAME\s+TYPE\s+REST URL\s+SQL$/)
  })
})

describe("environments list", () => {
  it("Priya's pipeline: --type production -o json | jq -r '.[0].api_credentials.rest.url'", async () => {
    const result = await cli.run(["environments", "list", "123", "--type", "production", "--output", "json"], {
      env: admin
    })
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)[0].api_credentials.rest.url).toBe("https://example.cubecloud.dev/cubejs-api")
  })

  it.each(["table", "csv", "yaml"])("--output %s", async (format) => {
    const result = await cli.run(["environments", "list", "123", "-o", format], { env: admin })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatchSnapshot()
  })
})

describe("tokens", () => {
  it("meta-sync prints the token; inspect decodes it offline with its expiry", async () => {
    const minted = await cli.run(
      [
        "tokens",
        "meta-sync",
        "123",
        "456",
        "--security-context",
        "{\"tenant_id\":\"acme\"}",
        "--expires-in",
        "3600",
        "-o",
        "json"
      ],
      { env: admin }
    )
    expect(minted.code).toBe(0)
    const token: { token: string; expires_at: string } = JSON.parse(minted.stdout)
    expect(token.token.split(".").length).toBe(3)

    // Offline: no URL, no key in the environment.
    const inspected = await cli.run(["tokens", "inspect", token.token, "-o", "json"])
    expect(inspected.code).toBe(0)
    const description = JSON.parse(inspected.stdout)
    expect(description.header.alg).toBe("HS256")
    expect(description.claims.tenant_id).toBe("acme")
    expect(description.claims.cubeCloud).toEqual({ scopes: ["meta"] })
    expect(description.expired).toBe(false)
    expect(description.expires_in_seconds).toBeGreaterThan(3500)
    expect(description.expires_at).toBe(token.expires_at)
    // The decoded view does not repeat the token itself.
    expect(inspected.stdout).not.toContain(token.token)

    const table = await cli.run(["tokens", "inspect", "-o", "table"], { input: token.token + "\n" })
    expect(table.stdout).toMatch(/tenant_id\s+acme/)
    expect(table.stdout).toMatch(/EXPIRES\s+\S+ \(in (59m|1h)/)
  })

  it("meta-sync reads the security context from @file, and the table shows the token", async () => {
    const file = `${cli.configHome}/context.json`
    writeFileSync(file, "{\"tenant_id\":\"globex\"}")
    const result = await cli.run(
      ["tokens", "meta-sync", "123", "456", "--security-context", `@${file}`, "-o", "table"],
      {
        env: admin
      }
    )
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^TOKEN\s+eyJ/)
  })

  it("a security context that is not a JSON object is bad usage (exit 2), before any request", async () => {
    const result = await cli.run(["tokens", "meta-sync", "123", "456", "--security-context", "[1,2]"], { env: admin })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/must be a JSON object/)
  })

  it("inspect of something that is not a JWT is bad usage", async () => {
    const result = await cli.run(["tokens", "inspect", "not-a-jwt"])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split("\n").length).toBe(1)
  })
})

describe("audit-logs export", () => {
  const auditor = () => ({ CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-auditor" })

  it("csv (the default) is the export as the API sends it", async () => {
    const result = await cli.run(["audit-logs", "export"], { env: auditor() })
    expect(result.code).toBe(0)
    const direct = await (await fetch(`${mock.url}/api/v1/audit-logs/export`, {
      headers: { authorization: "Bearer sk-demo-auditor" }
    })).text()
    expect(result.stdout).toBe(direct)
    expect(
      result.stdout.startsWith("id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes")
    )
      .toBe(true)
  })

  it("ndjson and json: one object per event, oldest first, filters applied", async () => {
    const ndjson = await cli.run(["audit-logs", "export", "--format", "ndjson"], { env: auditor() })
    const events = ndjson.stdout.trim().split("\n").map((line) => JSON.parse(line))
    expect(events.length).toBe(36)
    expect(events[0].id).toBe("evt_1")
    expect(events[8].attributes).toEqual({ message: "Add \"orders\" cube, fix revenue, tidy joins", files: 3 })

    const json = await cli.run(
      ["audit-logs", "export", "--format", "json", "--event-name", "Logged in", "--start", "2024-01-16"],
      { env: auditor() }
    )
    expect(JSON.parse(json.stdout).map((e: { id: string }) => e.id)).toEqual(["evt_6", "evt_29"])
  })

  it("--out writes the file once the export is complete", async () => {
    const dir = `${cli.configHome}/export-ok`
    mkdirSync(dir)
    const result = await cli.run(["audit-logs", "export", "--out", `${dir}/audit.csv`], { env: auditor() })
    expect(result.code).toBe(0)
    expect(readdirSync(dir)).toEqual(["audit.csv"])
    expect(readFileSync(`${dir}/audit.csv`, "utf8").split("\r\n").filter((line) => line.startsWith("evt_")).length)
      .toBeGreaterThan(30)
  })
})
