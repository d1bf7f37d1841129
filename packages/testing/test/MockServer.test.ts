import { describe, expect, it } from "vitest"
import { MockServer, MockStore, Seed } from "../src/index.js"

const admin = { authorization: "Bearer sk-demo-admin" }

const setup = (seed: Seed.Seed = Seed.demo) => {
  const store = MockStore.make(seed)
  const app = MockServer.app(store)
  const request = (path: string, init: RequestInit = {}) => app.request(path, init)
  const get = (path: string, headers: Record<string, string> = admin) => request(path, { headers })
  const post = (path: string, body: unknown, headers: Record<string, string> = admin) =>
    request(path, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body)
    })
  return { store, app, request, get, post }
}

const tokenPath = "/api/v1/deployments/123/environments/456/tokens-for-meta-sync"

const errorOf = async (response: Response) => {
  const body: unknown = await response.json()
  expect(body).toEqual({ error: expect.any(String) })
  return typeof body === "object" && body !== null && "error" in body ? String(body.error) : ""
}

describe("authentication", () => {
  it("accepts Bearer and Api-Key (scheme case-insensitive)", async () => {
    const { get } = setup()
    for (
      const authorization of [
        "Bearer sk-demo-admin",
        "Api-Key sk-demo-admin",
        "bearer sk-demo-admin",
        "API-KEY sk-demo-admin"
      ]
    ) {
      expect((await get("/api/v1/deployments", { authorization })).status).toBe(200)
    }
  })

  it("401 for a missing, malformed or unknown key — and never echoes the key", async () => {
    const { get } = setup()
    const missing = await get("/api/v1/deployments", {})
    expect(missing.status).toBe(401)
    expect(await errorOf(missing)).toContain("Missing API key")
    const malformed = await get("/api/v1/deployments", { authorization: "Token sk-demo-admin" })
    expect(malformed.status).toBe(401)
    expect(await errorOf(malformed)).toContain("Malformed Authorization header")
    const unknown = await get("/api/v1/deployments", { authorization: "Bearer sk-guessed-123" })
    expect(unknown.status).toBe(401)
    expect(await errorOf(unknown)).not.toContain("sk-guessed-123")
  })
})

describe("authorisation", () => {
  it("a scoped key lists only its deployments and gets 403 on the others", async () => {
    const { get, post } = setup()
    const viewer = { authorization: "Bearer sk-demo-viewer" }
    const list = await (await get("/api/v1/deployments", viewer)).json()
    expect(list).toMatchObject({ data: { deployments: [{ id: "123" }] }, pagination: { total: 1 } })
    expect((await get("/api/v1/deployments/123/environments", viewer)).status).toBe(200)
    const other = await get("/api/v1/deployments/124/environments", viewer)
    expect(other.status).toBe(403)
    expect(await errorOf(other)).toContain("cannot access deployment 124")
    // 403, not 404, for a deployment outside its scope even if it does not exist.
    expect((await get("/api/v1/deployments/999/environments", viewer)).status).toBe(403)
    expect(
      (await post("/api/v1/deployments/124/environments/461/tokens-for-meta-sync", { security_context: {} }, viewer))
        .status
    )
      .toBe(403)
    expect((await post(tokenPath, { security_context: {} }, viewer)).status).toBe(200)
  })

  it("the auditor exports but cannot list; the viewer cannot export", async () => {
    const { get } = setup()
    const auditor = { authorization: "Bearer sk-demo-auditor" }
    expect((await get("/api/v1/audit-logs/export", auditor)).status).toBe(200)
    const list = await get("/api/v1/deployments", auditor)
    expect(list.status).toBe(403)
    expect(await errorOf(list)).toContain("DeploymentRead")
    const viewer = await get("/api/v1/audit-logs/export", { authorization: "Bearer sk-demo-viewer" })
    expect(viewer.status).toBe(403)
    expect(await errorOf(viewer)).toContain("AuditLogManage")
  })

  it("a plan without audit log: 403 saying why", async () => {
    const { get } = setup({ ...Seed.demo, plan: "team" })
    const response = await get("/api/v1/audit-logs/export")
    expect(response.status).toBe(403)
    expect(await errorOf(response)).toContain("Enterprise plan")
  })
})

describe("pagination", () => {
  const many = Seed.generate({ deployments: 150 })

  it("defaults to offset 0, limit 20", async () => {
    const body = await (await setup(many).get("/api/v1/deployments")).json()
    expect(body.pagination).toEqual({ offset: 0, limit: 20, total: 150 })
    expect(body.data.deployments).toHaveLength(20)
  })

  it("caps limit at 100 silently", async () => {
    const body = await (await setup(many).get("/api/v1/deployments?limit=1000")).json()
    expect(body.pagination).toEqual({ offset: 0, limit: 100, total: 150 })
    expect(body.data.deployments).toHaveLength(100)
  })

  it("an offset past the end gives empty data with the right total", async () => {
    const body = await (await setup(many).get("/api/v1/deployments?offset=500&limit=10")).json()
    expect(body).toEqual({ data: { deployments: [] }, pagination: { offset: 500, limit: 10, total: 150 } })
  })

  it("the last partial page", async () => {
    const body = await (await setup(many).get("/api/v1/deployments?offset=140&limit=20")).json()
    expect(body.data.deployments).toHaveLength(10)
    expect(body.data.deployments[9].id).toBe("1148")
  })

  it.each(["offset=-1", "offset=1.5", "offset=abc", "limit=0", "limit=-3", "limit=", "limit=2.5"])(
    "400 for %s",
    async (query) => {
      const response = await setup().get(`/api/v1/deployments?${query}`)
      expect(response.status).toBe(400)
      expect(await errorOf(response)).toMatch(/^Invalid query: (offset|limit) must be an integer/)
    }
  )
})

describe("environments", () => {
  it("filters by type; unknown type → 400; unknown deployment → 404", async () => {
    const { get } = setup()
    const staging = await (await get("/api/v1/deployments/123/environments?type=staging")).json()
    expect(staging.data.environments.map((e: { id: string }) => e.id)).toEqual(["457"])
    const bad = await get("/api/v1/deployments/123/environments?type=prod")
    expect(bad.status).toBe(400)
    expect(await errorOf(bad)).toContain("type must be one of production, staging, development")
    const missing = await get("/api/v1/deployments/999/environments")
    expect(missing.status).toBe(404)
    expect(await errorOf(missing)).toContain("Deployment 999 not found")
  })
})

describe("meta-sync tokens", () => {
  it.each([
    ["not JSON", "{oops", "not valid JSON"],
    ["an array", [], "must be a JSON object"],
    ["no security_context", { expires_in: 60 }, "security_context is required"],
    ["security_context an array", { security_context: [1] }, "security_context must be a JSON object"],
    ["security_context null", { security_context: null }, "security_context must be a JSON object"],
    ["expires_in 0", { security_context: {}, expires_in: 0 }, "expires_in must be a positive integer"],
    ["expires_in 1.5", { security_context: {}, expires_in: 1.5 }, "expires_in must be a positive integer"],
    ["expires_in a string", { security_context: {}, expires_in: "3600" }, "expires_in must be a positive integer"]
  ])("400 for %s", async (_, body, message) => {
    const response = await setup().post(tokenPath, body)
    expect(response.status).toBe(400)
    expect(await errorOf(response)).toContain(message)
  })

  it("404 for an unknown environment", async () => {
    const response = await setup().post("/api/v1/deployments/123/environments/999/tokens-for-meta-sync", {
      security_context: {}
    })
    expect(response.status).toBe(404)
    expect(await errorOf(response)).toContain("Environment 999 not found in deployment 123")
  })

  it("413 for a body over 1 MB", async () => {
    const big = { security_context: { blob: "x".repeat(1024 * 1024) } }
    const response = await setup().post(tokenPath, big)
    expect(response.status).toBe(413)
    expect(await errorOf(response)).toContain("larger than 1048576 bytes")
  })
})

describe("audit-log export", () => {
  const ids = async (query: string, seed?: Seed.Seed) => {
    const response = await setup(seed).get(`/api/v1/audit-logs/export${query}`)
    expect(response.status).toBe(200)
    const text = await response.text()
    return text.split("\r\n").slice(1).filter((line) => /^evt_/.test(line)).map((line) => line.split(",")[0])
  }

  it("CSV headers, the column row, oldest first whatever the seed order", async () => {
    const response = await setup().get("/api/v1/audit-logs/export")
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8")
    expect(response.headers.get("content-disposition")).toBe("attachment; filename=\"audit_log.csv\"")
    const text = await response.text()
    expect(
      text.startsWith("id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n")
    )
      .toBe(true)
    const all = await ids("")
    expect(all[0]).toBe("evt_1")
    expect(all.at(-1)).toBe("evt_36")
  })

  it("a date-only end includes that whole day (UTC); a date-time end is inclusive", async () => {
    expect(await ids("?start=2024-01-31&end=2024-01-31")).toEqual(["evt_28"])
    expect(await ids("?start=2024-01-31T23:59:59Z&end=2024-02-01T00:00:00Z")).toEqual(["evt_28", "evt_29"])
    expect(await ids("?start=2024-03-10T23:15:00.000%2B00:00")).toEqual(["evt_35", "evt_36"])
    expect(await ids("?start=2024-03-11T00:15:00%2B0100")).toEqual(["evt_35", "evt_36"])
    expect(await ids("?start=2024-03-10T23:15")).toEqual(["evt_35", "evt_36"])
  })

  it("eventName exact; userEmail exact, case-insensitive; search anywhere, case-insensitive", async () => {
    expect(await ids("?eventName=Logged+in")).toEqual(["evt_1", "evt_6", "evt_29"])
    expect(await ids("?eventName=logged+in")).toEqual([])
    expect(await ids("?userEmail=ZOE.MARTIN@example.com&eventName=Logged+in")).toEqual(["evt_6", "evt_29"])
    expect(await ids("?search=DONNÉES")).toEqual(await ids("?search=données"))
    expect(await ids("?search=données")).toContain("evt_30")
    expect(await ids("?search=catalog+READER")).toEqual(["evt_15", "evt_16"])
    expect(await ids("?search=%5BHIDDEN%5D&userEmail=ana.oneil@example.com")).toEqual(["evt_21", "evt_22"])
    expect(await ids("?search=203.0.113.7&eventName=Created+budget")).toEqual(["evt_20"])
  })

  it.each([
    ["?start=yesterday", "start must be an ISO 8601 date"],
    ["?end=2024-02-30", "end must be an ISO 8601 date"],
    ["?start=2024-01-01T25:00:00Z", "start must be an ISO 8601 date"],
    ["?start=2024-02-01&end=2024-01-01", "is after end"]
  ])("400 for %s", async (query, message) => {
    const response = await setup().get(`/api/v1/audit-logs/export${query}`)
    expect(response.status).toBe(400)
    expect(await errorOf(response)).toContain(message)
  })

  it("a generated log is filtered by date without scanning everything", async () => {
    const seed = Seed.generate({ events: 10_000_000 })
    // Events every 10 s from 2024-01-01: one minute holds six.
    const response = await setup(seed).get(
      "/api/v1/audit-logs/export?start=2025-01-01T00:00:00Z&end=2025-01-01T00:00:59Z"
    )
    const rows = (await response.text()).trim().split("\r\n").slice(1)
    expect(rows.map((row) => row.split(",")[1])).toEqual(
      ["00", "10", "20", "30", "40", "50"].map((s) => `2025-01-01T00:00:${s}.000Z`)
    )
  })
})

describe("HTTP surface", () => {
  it("405 with Allow for a wrong method on a known path", async () => {
    const { request } = setup()
    const response = await request("/api/v1/deployments", { method: "DELETE", headers: admin })
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("GET")
    expect(await errorOf(response)).toContain("use GET")
    const token = await request(tokenPath, { method: "GET", headers: admin })
    expect(token.status).toBe(405)
    expect(token.headers.get("allow")).toBe("POST")
  })

  it("HEAD on the export answers its headers without producing the file", async () => {
    const response = await setup(Seed.generate({ events: 10_000_000 })).request("/api/v1/audit-logs/export", {
      method: "HEAD",
      headers: admin
    })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8")
    expect(await response.text()).toBe("")
  })

  it("404 JSON for an unknown path; x-request-id on every response (echoed when sent)", async () => {
    const { request, get } = setup()
    const response = await request("/api/v2/nothing")
    expect(response.status).toBe(404)
    expect(await errorOf(response)).toContain("No such endpoint")
    expect(response.headers.get("x-request-id")).toMatch(/^req_/)
    expect((await get("/api/v1/deployments")).headers.get("x-request-id")).toMatch(/^req_/)
    const echoed = await request("/api/v1/deployments", { headers: { ...admin, "x-request-id": "abc-1" } })
    expect(echoed.headers.get("x-request-id")).toBe("abc-1")
  })

  it("the api_secret never appears in any response", async () => {
    const { get, post, request } = setup()
    const bodies = await Promise.all([
      get("/api/v1/deployments"),
      get("/api/v1/deployments/123/environments"),
      get("/api/v1/deployments/124/environments"),
      get("/api/v1/deployments/125/environments"),
      post(tokenPath, { security_context: { tenant_id: "acme" } }),
      get("/api/v1/audit-logs/export"),
      request("/__mock/calls"),
      request("/__mock/faults")
    ].map(async (r) => (await r).text()))
    for (const body of bodies) expect(body).not.toMatch(/secret-4\d\d|api_secret|apiSecret/)
  })
})

describe("faults via app.request", () => {
  it("a header fault answers its status and error; Retry-After for 429", async () => {
    const { get } = setup()
    const response = await get("/api/v1/deployments", {
      ...admin,
      "x-mock-fault": JSON.stringify({ status: 503, error: "maintenance window" })
    })
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ error: "maintenance window" })
    const limited = await get("/api/v1/deployments", { ...admin, "x-mock-fault": "{\"retryAfter\": 7}" })
    expect(limited.status).toBe(429)
    expect(limited.headers.get("retry-after")).toBe("7")
    expect(await errorOf(limited)).toContain("retry after 7 seconds")
  })

  it("a header fault for another operation does not apply; a malformed one is a 400", async () => {
    const { get } = setup()
    const other = await get("/api/v1/deployments", {
      ...admin,
      "x-mock-fault": "{\"operation\":\"exportAuditLog\",\"status\":500}"
    })
    expect(other.status).toBe(200)
    const bad = await get("/api/v1/deployments", { ...admin, "x-mock-fault": "{\"status\": 200}" })
    expect(bad.status).toBe(400)
    expect(await errorOf(bad)).toContain("Invalid fault: status")
  })

  it("reset makes app.request reject, as fetch does on a dropped connection", async () => {
    const { get } = setup()
    await expect(get("/api/v1/deployments", { ...admin, "x-mock-fault": "{\"reset\": true}" })).rejects.toThrow(
      /connection reset/
    )
  })

  it("truncateAfterBytes: the body errors after that many bytes", async () => {
    const { get } = setup()
    const response = await get("/api/v1/audit-logs/export", {
      ...admin,
      "x-mock-fault": "{\"truncateAfterBytes\": 100}"
    })
    expect(response.status).toBe(200)
    await expect(response.text()).rejects.toThrow(/cut after 100 bytes/)
  })
})

describe("admin surface", () => {
  it("faults: add (times), list, apply, clear", async () => {
    const { request, get } = setup()
    const added = await request("/__mock/faults", {
      method: "POST",
      body: JSON.stringify({ operation: "listDeployments", times: 2, status: 500 })
    })
    expect(added.status).toBe(201)
    const { id } = await added.json()
    expect(id).toMatch(/^fault_/)
    expect((await (await request("/__mock/faults")).json()).faults).toEqual([
      { id, operation: "listDeployments", times: 2, status: 500, remaining: 2, hits: 0 }
    ])
    expect((await get("/api/v1/deployments/123/environments")).status).toBe(200)
    expect((await get("/api/v1/deployments")).status).toBe(500)
    expect((await get("/api/v1/deployments")).status).toBe(500)
    expect((await get("/api/v1/deployments")).status).toBe(200)
    await request("/__mock/faults", { method: "POST", body: JSON.stringify({ status: 502 }) })
    expect((await get("/api/v1/deployments")).status).toBe(502)
    expect(await (await request("/__mock/faults", { method: "DELETE" })).json()).toEqual({ cleared: 1 })
    expect((await get("/api/v1/deployments")).status).toBe(200)
    const invalid = await request("/__mock/faults", { method: "POST", body: JSON.stringify({ statuss: 500 }) })
    expect(invalid.status).toBe(400)
    expect(await errorOf(invalid)).toContain("statuss")
  })

  it("calls: recorded with key names only, cleared on DELETE", async () => {
    const { request, get } = setup()
    await get("/api/v1/deployments?limit=5")
    await get("/api/v1/deployments", { authorization: "Bearer sk-unknown" })
    const calls = (await (await request("/__mock/calls")).json()).calls
    expect(calls).toEqual([
      { operation: "listDeployments", arguments: { limit: 5 }, keyName: "Admin", status: 200 },
      { operation: "listDeployments", arguments: {}, keyName: null, status: 401 }
    ])
    expect(JSON.stringify(calls)).not.toContain("sk-")
    expect(await (await request("/__mock/calls", { method: "DELETE" })).json()).toEqual({ cleared: 2 })
    expect((await (await request("/__mock/calls")).json()).calls).toEqual([])
  })

  it("seed: PUT loads one (400 naming the field when invalid); reset goes back to it", async () => {
    const { request, get } = setup()
    const bad = await request("/__mock/seed", {
      method: "PUT",
      body: JSON.stringify({
        deployments: [{
          id: "1",
          name: "x",
          created_at: "2024-01-01",
          environments: [{ id: "2", name: "y", type: "prod", api_secret: "z" }]
        }]
      })
    })
    expect(bad.status).toBe(400)
    const badBody = await bad.json()
    expect(badBody.error).toContain("deployments[0].environments[0].type")
    expect(badBody.issues[0].path).toBe("deployments[0].environments[0].type")

    const loaded = await request("/__mock/seed", {
      method: "PUT",
      body: JSON.stringify({
        plan: "team",
        apiKeys: [{ key: "sk-x", name: "X", permissions: ["All"] }],
        deployments: [{ id: "1", name: "One", created_at: "2024-01-01T00:00:00Z" }]
      })
    })
    expect(loaded.status).toBe(200)
    expect((await get("/api/v1/deployments")).status).toBe(401)
    const x = { authorization: "Bearer sk-x" }
    expect((await (await get("/api/v1/deployments", x)).json()).data.deployments).toEqual([
      { id: "1", name: "One", created_at: "2024-01-01T00:00:00.000Z" }
    ])
    expect((await get("/api/v1/audit-logs/export", x)).status).toBe(403)

    expect((await request("/__mock/reset", { method: "POST" })).status).toBe(200)
    expect((await get("/api/v1/deployments", x)).status).toBe(200)
    expect((await request("/__mock/reset", { method: "GET" })).status).toBe(405)
  })
})

describe("readableFrom (the export's body)", () => {
  it("lets the event loop turn between chunks: other work runs before a long body ends", async () => {
    let produced = 0
    function* chunks() {
      for (let k = 0; k < 1000; k++) {
        produced++
        yield new Uint8Array([k % 256])
      }
    }
    const reader = MockServer.readableFrom(chunks()).getReader()
    let producedWhenOtherWorkRan = -1
    setImmediate(() => {
      producedWhenOtherWorkRan = produced
    })
    let received = 0
    for (;;) {
      const { done } = await reader.read()
      if (done) break
      received++
    }
    expect(received).toBe(1000)
    expect(producedWhenOtherWorkRan).toBeGreaterThanOrEqual(0)
    expect(producedWhenOtherWorkRan).toBeLessThan(1000)
  })
})

describe("what Node's HTTP parser refuses", () => {
  it("gets the API's 4xx {error} body (core's ParserRefusal), not Node's bare status line", async () => {
    const net = await import("node:net")
    const server = await MockServer.start({ port: 0, seed: Seed.demo })
    try {
      const exchange = (text: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect(server.port, "127.0.0.1", () => socket.write(text))
          let answer = ""
          socket.setEncoding("latin1")
          socket.on("data", (data: string) => (answer += data))
          socket.on("end", () => resolve(answer))
          socket.on("error", reject)
        })
      const smuggled = await exchange(
        "POST /api/v1/deployments HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
      )
      expect(smuggled.startsWith("HTTP/1.1 400 ")).toBe(true)
      expect(smuggled).toContain("Content-Type: application/json")
      expect(JSON.parse(smuggled.split("\r\n\r\n")[1]!).error).toContain("not valid HTTP/1.1")
      const oversized = await exchange(`GET /api/v1/deployments?q=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
      expect(oversized.startsWith("HTTP/1.1 431 ")).toBe(true)
      expect(JSON.parse(oversized.split("\r\n\r\n")[1]!).error).toContain("shorter URL")
    } finally {
      await server.close()
    }
  })
})
