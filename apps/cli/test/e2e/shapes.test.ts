/**
 * A tenant that answers the way Cube's published API document says (flat
 * `data` + `items`, `pageInfo` cursors, integer ids, credential arrays with
 * nulls): the CLI prints its rows, follows its cursors, and names a row that
 * truly cannot be decoded in one line — `--verbose` adds the body's start.
 */
import { createServer } from "node:http"
import type { Server } from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Cli } from "./harness.js"
import { makeCli } from "./harness.js"

const KEY = "sk-platform-tenant-4242"

const deployment = (i: number) => ({
  id: 123 + i,
  name: `My Deployment ${i}`,
  deploymentUrl: `https://d${i}.cubecloud.dev`,
  creationStep: "ready"
})

/** 45 deployments, 20 a page by cursor; a 400 for a request that mixes offset/limit with first/after. */
const respond = (url: URL): { status: number; body: unknown } => {
  if (url.pathname === "/broken/api/v1/deployments") {
    const rows = [deployment(0), deployment(1), deployment(2), { ...deployment(3), id: null }]
    return { status: 200, body: { data: rows, items: rows, pageInfo: null } }
  }
  if (url.pathname === "/api/v1/deployments/123/environments") {
    const environment = {
      id: "456",
      type: "production",
      api_credentials: [
        { type: "rest", version: 1, url: "https://x.cubecloud.dev/cubejs-api", host: null, port: null, database: null },
        { type: "sql", version: 1, url: null, host: "x.sql.cubecloud.dev", port: 5432, database: null }
      ],
      branch: null,
      user: null
    }
    return { status: 200, body: { data: [environment], items: [environment], pageInfo: null, pagination: null } }
  }
  const q = url.searchParams
  if ((q.has("first") || q.has("after")) && (q.has("offset") || q.has("limit"))) {
    return { status: 400, body: { error: "offset/limit and first/after cannot be combined" } }
  }
  const start = q.has("after") ? Number(q.get("after")!.slice(1)) + 1 : Number(q.get("offset") ?? 0)
  const size = Math.min(Number(q.get("first") ?? q.get("limit") ?? 20), 20)
  const rows = Array.from({ length: Math.max(0, Math.min(size, 45 - start)) }, (_, i) => deployment(start + i))
  const last = start + rows.length - 1
  return {
    status: 200,
    body: {
      data: rows,
      items: rows,
      pageInfo: {
        hasNextPage: last + 1 < 45,
        hasPreviousPage: start > 0,
        endCursor: `c${last}`,
        startCursor: `c${start}`
      },
      pagination: { offset: start, limit: size, total: 45 },
      count: rows.length,
      totalCount: 45
    }
  }
}

let server: Server
let url = ""
const seen: Array<string> = []
let cli: Cli

beforeAll(async () => {
  cli = makeCli()
  server = createServer((request, response) => {
    const requestUrl = new URL(request.url ?? "/", "http://x")
    seen.push(requestUrl.pathname + requestUrl.search)
    const { body, status } = respond(requestUrl)
    response.writeHead(status, { "content-type": "application/json" })
    response.end(JSON.stringify(body))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
})
afterAll(async () => {
  cli?.cleanup()
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve))
})

const env = () => ({ CUBE_API_URL: url, CUBE_API_KEY: KEY })

describe("a tenant in Cube's platform shape", () => {
  it("deployments list -o json: the rows, ids as strings, deploymentUrl and creationStep kept", async () => {
    const result = await cli.run(["deployments", "list", "-o", "json"], { env: env() })
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const rows: Array<Record<string, unknown>> = JSON.parse(result.stdout)
    expect(rows).toHaveLength(20)
    expect(rows[0]).toEqual({
      id: "123",
      name: "My Deployment 0",
      deploymentUrl: "https://d0.cubecloud.dev",
      creationStep: "ready"
    })
    expect(result.stdout).not.toContain(KEY)
  })

  it("--all follows the cursors, never mixing them with offset/limit", async () => {
    seen.length = 0
    const result = await cli.run(["deployments", "list", "--all", "-o", "ndjson"], { env: env() })
    expect(result.code).toBe(0)
    const ids = result.stdout.trim().split("\n").map((line) => JSON.parse(line).id)
    expect(ids).toEqual(Array.from({ length: 45 }, (_, i) => String(123 + i)))
    expect(seen.slice(1).every((path) => path.includes("after=") && !/offset=|limit=/.test(path))).toBe(true)
  })

  it("--first/--after page by hand; a table shows URL and STEP", async () => {
    const result = await cli.run(["deployments", "list", "--first", "2", "--after", "c40", "-o", "table"], {
      env: env()
    })
    expect(result.code).toBe(0)
    expect(result.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+CREATED\s+URL\s+STEP$/)
    expect(result.stdout).toContain("https://d41.cubecloud.dev")
    expect(result.stdout.trim().split("\n")).toHaveLength(3)
  })

  it("credentials from the array form: jq's .api_credentials.rest.url works as on the reference shape", async () => {
    const result = await cli.run(["environments", "list", "123", "-o", "json"], { env: env() })
    expect(result.code).toBe(0)
    const [environment] = JSON.parse(result.stdout)
    expect(environment.api_credentials.rest.url).toBe("https://x.cubecloud.dev/cubejs-api")
    expect(environment.api_credentials.sql).toEqual({ version: 1, host: "x.sql.cubecloud.dev", port: 5432 })
    const table = await cli.run(["environments", "list", "123", "-o", "table"], { env: env() })
    expect(table.stdout).toContain("x.sql.cubecloud.dev:5432")
  })

  it("a row that cannot be decoded: one line naming the field and index; --verbose shows the body's start", async () => {
    const plain = await cli.run(["deployments", "list"], { env: { ...env(), CUBE_API_URL: `${url}/broken` } })
    expect(plain.code).toBe(1)
    const lines = plain.stderr.trimEnd().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("items[3].id: expected string or integer, got null")
    const verbose = await cli.run(["deployments", "list", "-v"], { env: { ...env(), CUBE_API_URL: `${url}/broken` } })
    expect(verbose.stderr).toContain(`the body began: {"data":[{"id":123`)
    expect(verbose.stderr).not.toContain(KEY)
  })
})
