/**
 * The `pnpm mock` entry point, run from source as a child process.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const bin = fileURLToPath(new URL("../src/bin.ts", import.meta.url))

const launch = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, ["--import", "tsx", bin, ...args], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")))
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", () => {
      const match = /listening on (http:\/\/\S+)/.exec(stdout)
      if (match) resolve(match[1]!)
    })
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)))
  })
  // Awaited only by the tests that expect the server to start.
  listening.catch(() => {})
  return { child, exited, listening, output: () => ({ stdout, stderr }) }
}

// Each test spawns Node with tsx, which compiles the sources first: on a loaded 2-core machine that alone can
// take most of the default 30 s. A safety net for a hung child, not a speed assertion.
describe("bin", { timeout: 120_000 }, () => {
  it("prints the URL, the demo keys and a curl that works; stops cleanly on SIGTERM", async () => {
    const run = launch(["--port", "0"])
    const url = await run.listening
    const { stdout } = run.output()
    expect(stdout).toContain("sk-demo-admin")
    expect(stdout).toContain("sk-demo-viewer")
    expect(stdout).toContain("sk-demo-auditor")
    const curl = /curl -H "Authorization: Bearer (\S+)" (\S+)/.exec(stdout)
    expect(curl).not.toBeNull()
    const response = await fetch(curl![2]!, { headers: { authorization: `Bearer ${curl![1]}` } })
    expect(response.status).toBe(200)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
  })

  it("--deployments and --events generate a dataset", async () => {
    const run = launch(["--port", "0", "--deployments", "5", "--events", "1000"])
    const url = await run.listening
    expect(run.output().stdout).toContain("5 deployments, 1000 audit events")
    const body =
      await (await fetch(`${url}/api/v1/deployments`, { headers: { authorization: "Bearer sk-demo-admin" } }))
        .json()
    expect(body.pagination.total).toBe(5)
    run.child.kill("SIGINT")
    expect(await run.exited).toBe(0)
  })

  it("--shape platform serves Cube's platform shape", async () => {
    const run = launch(["--port", "0", "--shape", "platform", "--deployments", "3"])
    const url = await run.listening
    expect(run.output().stdout).toContain("platform shape, plan enterprise, 3 deployments")
    const body =
      await (await fetch(`${url}/api/v1/deployments?first=2`, { headers: { authorization: "Bearer sk-demo-admin" } }))
        .json()
    expect(body.items.map((d: { id: number }) => d.id)).toEqual([123, 1000])
    expect(body.pageInfo.hasNextPage).toBe(true)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
  })

  it.each([
    [["--shape", "graphql"], "--shape must be reference or platform"],
    [["--port", "70000"], "--port must be an integer from 0 to 65535"],
    [["--events", "many"], "--events must be an integer"],
    [["--bogus"], "Unknown option"],
    [["--seed", "x.json", "--deployments", "3"], "cannot be combined"]
  ])("exits 2 with a clear message for %j", async (args, message) => {
    const run = launch(args)
    expect(await run.exited).toBe(2)
    expect(run.output().stderr).toContain(message)
  })

  it("exits 2 naming the bad field of a seed file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mock-bin-"))
    const file = join(dir, "seed.json")
    writeFileSync(file, JSON.stringify({ apiKeys: [{ key: "k", name: "n", permissions: ["Root"] }] }))
    const run = launch(["--seed", file])
    expect(await run.exited).toBe(2)
    expect(run.output().stderr).toContain("apiKeys[0].permissions[0]")
  })
})
