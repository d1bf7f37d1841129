/**
 * `cubeplane mock record`: a seed from the tenant at CUBE_API_URL (here: the mock, in Cube's platform
 * shape), which `mock serve --seed` serves again. Never a key or a token in the file.
 */
import { MockServer, Seed } from "@cubeplane/testing"
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Cli } from "./harness.js"
import { assertNoSecrets, eventually, makeCli } from "./harness.js"

let mock: Awaited<ReturnType<typeof MockServer.start>>
let cli: Cli

beforeAll(async () => {
  mock = await MockServer.start({ port: 0, seed: Seed.demo, shape: "platform" })
  cli = makeCli()
})
afterAll(async () => {
  await mock?.close()
  cli?.cleanup()
})

describe("mock record", () => {
  it("records the tenant (shape, deployments, environments with fresh secrets, the audit log) and serves it", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "cubeplane-record-")), "tenant.json")
    const env = { CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-admin" }
    const result = await cli.run(["mock", "record", "--out", out, "--start", "2024-01-01", "--end", "2024-01-31"], {
      env
    })
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("Recorded 3 deployments, 6 environments (api secrets replaced) and 28 audit events")
    const text = readFileSync(out, "utf8")
    assertNoSecrets(text, ["secret-456"])
    const seed = await Effect.runPromise(Seed.load(out))
    expect(seed.shape).toBe("platform")
    expect(seed.deployments.flatMap((d) => d.environments).every((e) => e.apiSecretReplaced === true)).toBe(true)

    const server = cli.start(["mock", "serve", "--port", "0", "--seed", out], { allowSecrets: true })
    await eventually(() => /on (http:\/\/\S+)/.test(server.output().stdout), "the replay to start")
    const url = /on (http:\/\/\S+)/.exec(server.output().stdout)![1]!
    const listed = await cli.run(["deployments", "list", "--output", "json"], {
      env: { CUBE_API_URL: url, CUBE_API_KEY: "sk-demo-admin" }
    })
    expect(JSON.parse(listed.stdout).map((d: { id: string }) => d.id)).toEqual(["123", "124", "125"])
    server.child.kill("SIGINT")
    expect((await server.done).code).toBe(130)
  })

  it("a file that cannot be written: exit 1 naming it", async () => {
    const result = await cli.run(["mock", "record", "--out", "/nonexistent-dir/tenant.json"], {
      env: { CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-admin" }
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("/nonexistent-dir/tenant.json")
  })
})
