/**
 * The commands users script against, end to end against the mock in BOTH
 * wire shapes — the reference page's and Cube's platform document's: the
 * same answers on stdout (the CLI prints the reference shape either way), and
 * `--all` follows offsets on one and cursors on the other.
 */
import { MockServer } from "@cubeplane/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bigSeed } from "./fixtures.js"
import type { Cli } from "./harness.js"
import { makeCli } from "./harness.js"

let cli: Cli
beforeAll(() => {
  cli = makeCli()
})
afterAll(() => cli?.cleanup())

interface Call {
  readonly operation: string
  readonly arguments: Record<string, unknown>
}

describe.each(["reference", "platform"] as const)("against the mock in the %s shape", (shape) => {
  let mock: Awaited<ReturnType<typeof MockServer.start>>
  let env: Record<string, string>

  beforeAll(async () => {
    mock = await MockServer.start({ port: 0, seed: bigSeed(), shape })
    env = { CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-admin" }
  })
  afterAll(async () => {
    await mock?.close()
  })

  const calls = async (operation: string): Promise<Array<Call>> => {
    const body: { calls: Array<Call> } = await (await fetch(`${mock.url}/__mock/calls`)).json()
    return body.calls.filter((call) => call.operation === operation)
  }

  it("deployments list --all: every deployment once, in order, following the server's paging", async () => {
    await fetch(`${mock.url}/__mock/calls`, { method: "DELETE" })
    const result = await cli.run(["deployments", "list", "--all", "--limit", "50", "-o", "json"], { env })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const ids: Array<string> = JSON.parse(result.stdout).map((d: { id: string }) => d.id)
    expect(ids).toHaveLength(261)
    expect(new Set(ids).size).toBe(261)
    expect(ids.at(-1)).toBe("900")
    const requests = (await calls("listDeployments")).map((call) => call.arguments)
    expect(requests[0]).toMatchObject({ offset: 0, limit: 50 })
    for (const request of requests.slice(1)) {
      if (shape === "platform") expect(request).toEqual({ first: 50, after: expect.any(String) })
      else expect(request).toEqual({ offset: expect.any(Number), limit: 50 })
    }
  })

  it("environments list --all: 260 environments in order", async () => {
    const result = await cli.run(["environments", "list", "900", "--all", "-o", "ndjson"], { env })
    expect(result.code).toBe(0)
    const ids = result.stdout.trim().split("\n").map((line) => JSON.parse(line).id)
    expect(ids).toEqual(Array.from({ length: 260 }, (_, k) => String(9000 + k)))
  })

  it("Priya's pipeline reads the same REST URL: .[0].api_credentials.rest.url", async () => {
    const result = await cli.run(["environments", "list", "123", "--type", "production", "-o", "json"], { env })
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)[0].api_credentials.rest.url).toBe("https://example.cubecloud.dev/cubejs-api")
    const table = await cli.run(["environments", "list", "123", "-o", "table"], { env })
    expect(table.stdout).toContain("example.sql.cubecloud.dev:5432")
  })

  it("deployments list as a table: id 123 first; URL and STEP only where the server sends them", async () => {
    const result = await cli.run(["deployments", "list", "--limit", "2", "-o", "table"], { env })
    expect(result.code).toBe(0)
    const [header, first] = result.stdout.split("\n")
    expect(first).toMatch(/^123\s+My Deployment/)
    if (shape === "platform") expect(header).toMatch(/^ID\s+NAME\s+CREATED\s+URL\s+STEP$/)
    else expect(header).toMatch(/^ID\s+NAME\s+CREATED$/)
  })

  it("tokens meta-sync mints a token whose claims inspect reads offline", async () => {
    const minted = await cli.run(
      ["tokens", "meta-sync", "123", "456", "--security-context", "{\"tenant_id\":\"acme\"}", "--expires-in", "600"],
      { env }
    )
    expect(minted.code).toBe(0)
    const { token } = JSON.parse(minted.stdout)
    const inspected = await cli.run(["tokens", "inspect", token, "-o", "json"])
    expect(JSON.parse(inspected.stdout).claims).toMatchObject({ tenant_id: "acme", cubeCloud: { scopes: ["meta"] } })
  })

  it("a deployment that does not exist: exit 1, one line, the server's words", async () => {
    const result = await cli.run(["environments", "list", "999"], { env })
    expect(result.code).toBe(1)
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1)
    expect(result.stderr).toContain("Deployment 999 not found — list deployments to see the ids this key can use")
  })
})
