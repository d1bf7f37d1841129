/**
 * Each class of failure: one line on stderr that names the problem and the
 * fix, the documented exit code, no stack trace, and never the key — also
 * with --verbose, which adds the method, path, status and request id.
 */
import { MockServer, Seed } from "@cubeplane/testing"
import { createServer } from "node:net"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { Cli, Result } from "./harness.js"
import { clearFaults, fault, makeCli } from "./harness.js"

let mock: Awaited<ReturnType<typeof MockServer.start>>
let cli: Cli

beforeAll(async () => {
  mock = await MockServer.start({ port: 0, seed: Seed.demo })
  cli = makeCli()
})
afterAll(async () => {
  await mock?.close()
  cli?.cleanup()
})
afterEach(async () => {
  await clearFaults(mock.url)
})

/** A port nothing listens on (one that was free a moment ago). */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 1))
    })
  })

const env = (key: string) => ({ CUBE_API_URL: mock.url, CUBE_API_KEY: key })

/** One line, no stack trace. */
/**
 * The failure's one line, after at most one note that a retry is under way
 * (said at once, so retries are never silent).
 */
const afterRetryNote = (result: Result) => {
  const lines = result.stderr.trimEnd().split("\n")
  expect(lines.length, result.stderr).toBe(2)
  expect(lines[0]).toMatch(/^cubeplane: GET \/api\/v1\/deployments failed \(\w+\); retrying…$/)
  return lines[1]!
}

const oneLine = (result: Result) => {
  const lines = result.stderr.trimEnd().split("\n")
  expect(lines.length, result.stderr).toBe(1)
  expect(result.stderr).not.toMatch(/\n\s+at |Error:.*\n.*at /)
  return lines[0]!
}

describe("exit codes", () => {
  it("401 (unknown key) → 4, naming where the key came from", async () => {
    const result = await cli.run(["deployments", "list"], { env: env("sk-wrong-key-0000") })
    expect(result.code).toBe(4)
    expect(result.stdout).toBe("")
    expect(oneLine(result)).toMatch(/^Unauthorized: the API key was rejected.* — check CUBE_API_KEY or --profile$/)
  })

  it("403 (a key scoped to deployment 123 asks for 124) → 4", async () => {
    const result = await cli.run(["environments", "list", "124"], { env: env("sk-demo-viewer") })
    expect(result.code).toBe(4)
    expect(oneLine(result)).toMatch(/^Forbidden: the API key may not GET \/api\/v1\/deployments\/124\/environments/)
  })

  it("403 (no AuditLogManage) → 4", async () => {
    const result = await cli.run(["audit-logs", "export"], { env: env("sk-demo-viewer") })
    expect(result.code).toBe(4)
    expect(oneLine(result)).toMatch(/^Forbidden:/)
  })

  it("404 (unknown deployment) → 1", async () => {
    const result = await cli.run(["environments", "list", "999"], { env: env("sk-demo-admin") })
    expect(result.code).toBe(1)
    expect(oneLine(result)).toMatch(
      /^Not found: GET \/api\/v1\/deployments\/999\/environments.* — check the deployment/
    )
  })

  it("400 from the server → 1, with the server's reason", async () => {
    await fault(mock.url, { operation: "listDeployments", status: 400, error: "limit must be at most 50" })
    const result = await cli.run(["deployments", "list"], { env: env("sk-demo-admin") })
    expect(result.code).toBe(1)
    expect(oneLine(result)).toMatch(/^The server refused GET \/api\/v1\/deployments \(400\): limit must be at most 50/)
  })

  it("a page flag out of range or not in decimal digits, or offset and cursor paging mixed, is caught before any request → 2", async () => {
    for (
      const args of [
        ["--limit", "0"],
        ["--offset", "-1"],
        ["--first", "0"],
        ["--limit", "0x10"],
        ["--offset", "1e1"],
        ["--limit", "5", "--after", "c1"]
      ]
    ) {
      const result = await cli.run(["deployments", "list", ...args], { env: env("sk-demo-admin") })
      expect(result.code, args.join(" ")).toBe(2)
      expect(oneLine(result)).toMatch(/--limit|--offset|--first|cursor/)
      expect(result.stdout).toBe("")
    }
  })

  it("a bad --type is caught before any request → 2", async () => {
    const result = await cli.run(["environments", "list", "123", "--type", "prodution"], { env: env("sk-demo-admin") })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/production/)
    expect(result.stdout).toBe("")
  })

  it("500s that outlast the retries → 1", async () => {
    await fault(mock.url, { operation: "listDeployments", status: 503, error: "maintenance" })
    const result = await cli.run(["deployments", "list"], { env: env("sk-demo-admin") })
    expect(result.code).toBe(1)
    expect(afterRetryNote(result)).toMatch(
      /^Server error 503 from GET \/api\/v1\/deployments \(the server said: maintenance\)/
    )
  })

  it("a blip is retried: two 503s, then success → 0", async () => {
    await fault(mock.url, { operation: "listDeployments", status: 503, times: 2 })
    const result = await cli.run(["deployments", "list"], { env: env("sk-demo-admin") })
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout).length).toBe(3)
  })

  it("connection refused → 1, naming the URL and where it came from", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const result = await cli.run(["deployments", "list", "--url", url], { env: env("sk-demo-admin") })
    expect(result.code).toBe(1)
    expect(afterRetryNote(result)).toBe(
      `Could not reach the Control Plane API at ${url} (GET /api/v1/deployments): connection refused (ECONNREFUSED) — check --url and the network`
    )
  })

  it.each([
    [["deployments", "list", "--bogus"], "an unknown flag"],
    [["environments", "list"], "a missing argument"],
    [["deployments", "frobnicate"], "an unknown command"],
    [["deployments", "list", "--limit", "ten"], "a value of the wrong type"]
  ])("bad usage (%s: %s) → 2", async (args) => {
    const result = await cli.run(args, { env: env("sk-demo-admin") })
    expect(result.code).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).not.toBe("")
  })

  it("no credentials → 2, saying how to provide them", async () => {
    const result = await cli.run(["deployments", "list"])
    expect(result.code).toBe(2)
    expect(oneLine(result)).toBe(
      "No API URL — pass --url https://YOUR_TENANT.cubecloud.dev, set CUBE_API_URL, or run `cubeplane profiles add`"
    )
  })
})

describe("--verbose", () => {
  it("says where the credentials came from and shows each request, never the key", async () => {
    const result = await cli.run(["deployments", "list", "--verbose"], { env: env("sk-demo-admin") })
    expect(result.code).toBe(0)
    expect(result.stderr).toContain(`url ${mock.url} (from CUBE_API_URL)`)
    expect(result.stderr).toContain("api key from CUBE_API_KEY")
    expect(result.stderr).toContain("auth scheme bearer (the default")
    expect(result.stderr).toMatch(/→ GET \/api\/v1\/deployments/)
    expect(result.stderr).toMatch(/← 200 GET \/api\/v1\/deployments/)
  })

  it("adds the method, path, status and request id to an error", async () => {
    const result = await cli.run(["environments", "list", "124", "-v"], { env: env("sk-demo-viewer") })
    expect(result.code).toBe(4)
    expect(result.stderr).toMatch(
      /cubeplane: GET \/api\/v1\/deployments\/124\/environments, status 403(, request id \S+)?/
    )
  })

  it("an unauthorized request with --verbose still never prints the key", async () => {
    const result = await cli.run(["audit-logs", "export", "--verbose", "--api-key", "sk-wrong-key-0000"], {
      env: { CUBE_API_URL: mock.url }
    })
    expect(result.code).toBe(4)
    expect(result.stderr).toContain("api key from --api-key")
  })
})
