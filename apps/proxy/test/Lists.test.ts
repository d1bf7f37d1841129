import { describe, expect, it } from "vitest"
import type { FakeCall } from "./helpers.js"
import { baseConfig, harness, key } from "./helpers.js"

const config = baseConfig([
  key("scoped", [{ operations: ["listDeployments"], deployments: ["3", "250"] }])
])

/** Cube's platform shape: flat `data` and `items`, cursor paging in `pageInfo`, no totals. */
const platformPage = (ids: ReadonlyArray<number>, next: string | null) => ({
  data: ids.map((id) => ({ id, name: `D${id}` })),
  items: ids.map((id) => ({ id, name: `D${id}` })),
  pageInfo: { hasNextPage: next !== null, endCursor: next },
  pagination: null
})

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i)

describe("lists filtered for a scoped key", () => {
  it("follows cursors (first/after) through Cube's platform shape and answers in the reference shape", async () => {
    const { calls, request } = harness(config, (call: FakeCall) => {
      const query = new URL(call.path, "http://x").searchParams
      const after = query.get("after")
      if (after === null) return { status: 200, body: platformPage(range(1, 100), "c100") }
      if (after === "c100") return { status: 200, body: platformPage(range(101, 100), "c200") }
      if (after === "c200") return { status: 200, body: platformPage(range(201, 60), null) }
      return { status: 400, body: { error: `unknown cursor ${after}` } }
    })
    const response = await request("/api/v1/deployments", { key: "scoped" })
    expect(response.status).toBe(200)
    const body = await response.json()
    expect(body.data.deployments.map((d: { id: string }) => d.id)).toEqual(["3", "250"])
    expect(body.pagination).toEqual({ offset: 0, limit: 20, total: 2 })
    expect(calls.map((call) => call.path)).toEqual([
      "/api/v1/deployments?offset=0&limit=100",
      "/api/v1/deployments?first=100&after=c100",
      "/api/v1/deployments?first=100&after=c200"
    ])
  })

  it("a server that repeats a cursor is a 502 saying so, not an endless walk", async () => {
    const { request } = harness(config, (call: FakeCall) => {
      const after = new URL(call.path, "http://x").searchParams.get("after")
      return { status: 200, body: platformPage(range(after === null ? 1 : 101, 100), "again") }
    })
    const response = await request("/api/v1/deployments", { key: "scoped" })
    expect(response.status).toBe(502)
    expect((await response.json()).error).toContain("again")
  })

  it("a page that does not decode with core's schema is a 502 naming the problem", async () => {
    const { request } = harness(config, () => ({ status: 200, body: { data: { deployments: "nope" } } }))
    const response = await request("/api/v1/deployments", { key: "scoped" })
    expect(response.status).toBe(502)
    expect((await response.json()).error).toContain("deployments")
  })
})
