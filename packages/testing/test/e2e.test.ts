/**
 * The mock on a real port, driven by core's HTTP client (fetch and Node
 * transports) and by raw fetch: what a user of `pnpm mock` would see.
 */
import type { ControlPlaneError } from "@cubeplane/core"
import { ControlPlane, Domain, HttpControlPlane } from "@cubeplane/core"
import { FetchHttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Chunk, Effect, Either, Layer, Redacted, Stream } from "effect"
import { decodeJwt, jwtVerify } from "jose"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { ControlPlaneTest, MockServer, MockStore, Seed } from "../src/index.js"

let server: MockServer.RunningServer

beforeAll(async () => {
  server = await MockServer.start({ port: 0 })
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => {
  MockStore.load(server.store, Seed.demo)
})

const transports = {
  fetch: FetchHttpClient.layer,
  node: NodeHttpClient.layer
} as const

const clientLayer = (
  apiKey = "sk-demo-admin",
  options: Partial<HttpControlPlane.Options> & { readonly transport?: keyof typeof transports } = {}
) =>
  HttpControlPlane.layer({
    url: server.url,
    apiKey: Redacted.make(apiKey),
    retry: { maxRetries: 0 },
    ...options
  }).pipe(Layer.provide(transports[options.transport ?? "fetch"]))

const run = <A>(
  program: Effect.Effect<A, ControlPlaneError, ControlPlane>,
  layer = clientLayer()
): Promise<Either.Either<A, ControlPlaneError>> => Effect.runPromise(Effect.either(Effect.provide(program, layer)))

const ok = async <A>(program: Effect.Effect<A, ControlPlaneError, ControlPlane>, layer = clientLayer()): Promise<A> => {
  const result = await run(program, layer)
  if (Either.isLeft(result)) throw new Error(`expected success, got ${result.left._tag}: ${result.left.message}`)
  return result.right
}

const failure = async <A>(
  program: Effect.Effect<A, ControlPlaneError, ControlPlane>,
  layer = clientLayer()
): Promise<ControlPlaneError> => {
  const result = await run(program, layer)
  if (Either.isRight(result)) throw new Error("expected a failure")
  return result.left
}

const cp = ControlPlane
const raw = (path: string, init: RequestInit = {}) => fetch(`${server.url}${path}`, init)
const bearer = (key = "sk-demo-admin") => ({ authorization: `Bearer ${key}` })
const addFault = (fault: Record<string, unknown>) =>
  raw("/__mock/faults", { method: "POST", body: JSON.stringify(fault) }).then((r) => r.json())

const shapes = ["reference", "platform"] as const

/** The demo (or another seed) served in `shape`. */
const loadShaped = (shape: Domain.WireShape, seed: Seed.Seed = Seed.demo) =>
  MockStore.load(server.store, { ...seed, shape })

describe.each(shapes)("core's HTTP client against the mock (%s shape)", (shape) => {
  beforeEach(() => loadShaped(shape))

  it.each(Object.keys(transports) as Array<keyof typeof transports>)(
    "lists and streams (%s transport, both schemes)",
    async (transport) => {
      for (const authScheme of ["bearer", "api-key"] as const) {
        const layer = clientLayer("sk-demo-admin", { transport, authScheme })
        const ids = await ok(
          Effect.flatMap(cp, (c) => Stream.runCollect(c.deployments({ pageSize: 1 }))).pipe(
            Effect.map((chunk) => Chunk.toReadonlyArray(chunk).map((d) => d.id))
          ),
          layer
        )
        expect(ids).toEqual(["123", "124", "125"])
        const envs = await ok(Effect.flatMap(cp, (c) => c.listEnvironments("123", { type: "production" })), layer)
        expect(envs.items[0]?.apiCredentials?.rest?.url).toBe("https://example.cubecloud.dev/cubejs-api")
      }
    }
  )

  it("mints a token that verifies with jose against the environment's secret", async () => {
    const token = await ok(
      Effect.flatMap(
        cp,
        (c) =>
          c.createMetaSyncToken("123", "456", {
            securityContext: { tenant_id: "acme", nested: { a: [1] } },
            expiresIn: 3600
          })
      )
    )
    const jwt = Redacted.value(token.token)
    const { payload, protectedHeader } = await jwtVerify(jwt, new TextEncoder().encode("secret-456"))
    expect(protectedHeader.alg).toBe("HS256")
    expect(payload.tenant_id).toBe("acme")
    expect(payload.nested).toEqual({ a: [1] })
    expect(payload.cubeCloud).toEqual({ scopes: ["meta"] })
    expect(payload.exp! - payload.iat!).toBe(3600)
    expect(token.createdAt).toEqual(new Date(payload.iat! * 1000))
    expect(token.expiresAt).toEqual(new Date(payload.exp! * 1000))
    await expect(jwtVerify(jwt, new TextEncoder().encode("secret-457"))).rejects.toThrow()
  })

  it(`expires_in defaults to ${shape === "reference" ? 86_400 : 3600}`, async () => {
    const token = await ok(Effect.flatMap(cp, (c) => c.createMetaSyncToken("124", "461", { securityContext: {} })))
    const claims = decodeJwt(Redacted.value(token.token))
    expect(claims.exp! - claims.iat!).toBe(shape === "reference" ? 86_400 : 3600)
  })

  it("parses the exported CSV into events, with filters", async () => {
    const events = await ok(
      Effect.flatMap(cp, (c) => Stream.runCollect(c.auditLogEvents({ start: "2024-01-01", end: "2024-01-31" }))).pipe(
        Effect.map(Chunk.toReadonlyArray)
      )
    )
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: 28 }, (_, i) => `evt_${i + 1}`))
    const hidden = events.find((e) => e.id === "evt_25")
    expect(hidden?.attributes).toEqual({ env: { CUBEJS_DB_PASS: "[HIDDEN]", CUBEJS_DB_HOST: "db.internal" } })
    const withNewline = await ok(
      Effect.flatMap(cp, (c) => Stream.runCollect(c.auditLogEvents({ search: "see you" }))).pipe(
        Effect.map(Chunk.toReadonlyArray)
      )
    )
    expect(withNewline[0]?.attributes).toEqual({ note: "done for today,\n\"see you\"" })
    const logins = await ok(
      Effect.flatMap(
        cp,
        (c) => Stream.runCollect(c.auditLogEvents({ eventName: "Logged in", userEmail: "user@example.com" }))
      )
        .pipe(Effect.map(Chunk.toReadonlyArray))
    )
    expect(logins.map((e) => e.id)).toEqual(["evt_1"])
  })

  it("typed errors for each status", async () => {
    expect((await failure(Effect.flatMap(cp, (c) => c.listDeployments()), clientLayer("sk-nope")))._tag).toBe(
      "Unauthorized"
    )
    const forbidden = await failure(Effect.flatMap(cp, (c) => c.listEnvironments("124")), clientLayer("sk-demo-viewer"))
    expect(forbidden._tag).toBe("Forbidden")
    expect(forbidden.message).toContain("cannot access deployment 124")
    expect((await failure(Effect.flatMap(cp, (c) => c.listEnvironments("999"))))._tag).toBe("NotFound")
    const bad = await failure(Effect.flatMap(cp, (c) => c.listDeployments({ limit: 0 })))
    expect(bad._tag).toBe("BadRequest")
    expect("status" in bad && bad.status).toBe(400)
    const tooLarge = await failure(
      Effect.flatMap(
        cp,
        (c) => c.createMetaSyncToken("123", "456", { securityContext: { blob: "x".repeat(1_100_000) } })
      )
    )
    expect(tooLarge._tag).toBe("BadRequest")
    expect("status" in tooLarge && tooLarge.status).toBe(413)
    const plan = await failure(
      Effect.flatMap(cp, (c) => Stream.runDrain(c.exportAuditLog())),
      clientLayer("sk-demo-viewer")
    )
    expect(plan._tag).toBe("Forbidden")
  })
})

describe.each(shapes)("faults seen through core's client (%s shape)", (shape) => {
  beforeEach(() => loadShaped(shape))

  it("status: a 503 is a ServerError with the fault's message", async () => {
    await addFault({ operation: "listDeployments", status: 503, error: "maintenance", times: 1 })
    const error = await failure(Effect.flatMap(cp, (c) => c.listDeployments()))
    expect(error._tag).toBe("ServerError")
    expect("serverMessage" in error && error.serverMessage).toBe("maintenance")
    expect((await ok(Effect.flatMap(cp, (c) => c.listDeployments()))).items).toHaveLength(3)
  })

  it("429 + Retry-After: RateLimited with retryAfterMillis; with retries on, the client waits and succeeds", async () => {
    await addFault({ operation: "listDeployments", retryAfter: 1, times: 1 })
    const error = await failure(Effect.flatMap(cp, (c) => c.listDeployments()))
    expect(error._tag).toBe("RateLimited")
    expect("retryAfterMillis" in error && error.retryAfterMillis).toBe(1000)
    await addFault({ operation: "listDeployments", retryAfter: 0, times: 2 })
    const page = await ok(
      Effect.flatMap(cp, (c) => c.listDeployments()),
      clientLayer("sk-demo-admin", { retry: { maxRetries: 3, baseDelay: "1 millis", jitter: false } })
    )
    expect(page.items).toHaveLength(3)
    const calls = server.store.calls.filter((c) => c.operation === "listDeployments").map((c) => c.status)
    expect(calls).toEqual([429, 429, 429, 200])
  })

  it("latency: a client timeout shorter than the fault's latency fires", async () => {
    await addFault({ operation: "listEnvironments", latencyMs: 1500, times: 1 })
    const error = await failure(
      Effect.flatMap(cp, (c) => c.listEnvironments("123")),
      clientLayer("sk-demo-admin", { timeout: "200 millis" })
    )
    expect(error._tag).toBe("TransportError")
    expect("reason" in error && error.reason).toBe("Timeout")
  })

  it.each(Object.keys(transports) as Array<keyof typeof transports>)(
    "reset: the client sees a transport error (%s)",
    async (transport) => {
      await addFault({ operation: "listDeployments", reset: true, times: 1 })
      const error = await failure(
        Effect.flatMap(cp, (c) => c.listDeployments()),
        clientLayer("sk-demo-admin", { transport })
      )
      expect(error._tag).toBe("TransportError")
      expect(server.store.calls.at(-1)).toMatchObject({
        operation: "listDeployments",
        status: null,
        fault: expect.stringMatching(/^fault_/)
      })
    }
  )

  it("truncated CSV: the event stream fails instead of ending cleanly", async () => {
    loadShaped(shape, Seed.generate({ events: 20_000 }))
    await addFault({ operation: "exportAuditLog", truncateAfterBytes: 150_000, times: 1 })
    const result = await run(Effect.flatMap(cp, (c) => Stream.runCount(c.auditLogEvents())))
    expect(Either.isLeft(result)).toBe(true)
    // Without the fault the same export is whole.
    expect(await ok(Effect.flatMap(cp, (c) => Stream.runCount(c.auditLogEvents())))).toBe(20_000)
  })

  it("truncated CSV with raw fetch: the body read rejects after the first bytes", async () => {
    const response = await raw("/api/v1/audit-logs/export", {
      headers: { ...bearer(), "x-mock-fault": JSON.stringify({ truncateAfterBytes: 300 }) }
    })
    expect(response.status).toBe(200)
    const reader = response.body!.getReader()
    let received = 0
    const read = async (): Promise<void> => {
      const { done, value } = await reader.read()
      if (done) return
      received += value.length
      return read()
    }
    await expect(read()).rejects.toThrow()
    expect(received).toBeLessThanOrEqual(300)
  })

  it("reset with raw fetch rejects", async () => {
    await expect(raw("/api/v1/deployments", { headers: { ...bearer(), "x-mock-fault": "{\"reset\":true}" } })).rejects
      .toThrow()
  })
})

describe("raw HTTP against the mock", () => {
  it("every status code the mock answers, each with an {error} that says what to do", async () => {
    const cases: Array<[number, Promise<Response>]> = [
      [400, raw("/api/v1/deployments?offset=-1", { headers: bearer() })],
      [401, raw("/api/v1/deployments")],
      [403, raw("/api/v1/deployments/124/environments", { headers: bearer("sk-demo-viewer") })],
      [404, raw("/api/v1/deployments/999/environments", { headers: bearer() })],
      [405, raw("/api/v1/audit-logs/export", { method: "POST", headers: bearer() })],
      [
        413,
        raw("/api/v1/deployments/123/environments/456/tokens-for-meta-sync", {
          method: "POST",
          headers: { ...bearer(), "content-type": "application/json" },
          body: JSON.stringify({ security_context: { x: "y".repeat(2 * 1024 * 1024) } })
        })
      ],
      [429, raw("/api/v1/deployments", { headers: { ...bearer(), "x-mock-fault": "{\"retryAfter\":5}" } })]
    ]
    for (const [status, pending] of cases) {
      const response = await pending
      expect(response.status).toBe(status)
      expect(response.headers.get("content-type")).toContain("application/json")
      expect(response.headers.get("x-request-id")).toBeTruthy()
      const body = await response.json()
      expect(Object.keys(body)).toEqual(["error"])
      expect(body.error.length).toBeGreaterThan(10)
    }
  })

  it("405 carries Allow; the unknown path is a JSON 404", async () => {
    const response = await raw("/api/v1/deployments", { method: "PUT", headers: bearer() })
    expect(response.headers.get("allow")).toBe("GET")
    const unknown = await raw("/nope")
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: expect.stringContaining("No such endpoint") })
  })

  it("the export is streamed with the documented headers", async () => {
    MockStore.load(server.store, Seed.generate({ events: 50_000 }))
    const response = await raw("/api/v1/audit-logs/export", { headers: bearer() })
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8")
    expect(response.headers.get("content-disposition")).toBe("attachment; filename=\"audit_log.csv\"")
    expect(response.headers.get("transfer-encoding")).toBe("chunked")
    const text = await response.text()
    expect(text.split("\r\n")[0]).toBe(
      "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes"
    )
  })
})

describe("the reference page's examples", () => {
  const referenceSeed: Seed.SeedJson = {
    plan: "enterprise",
    apiKeys: [{ key: "YOUR_API_KEY", name: "Reference", permissions: ["All"] }],
    deployments: [{
      id: "123",
      name: "My Deployment",
      created_at: "2024-01-15T10:30:00.000Z",
      environments: [{
        id: "456",
        name: "Production",
        type: "production",
        api_secret: "reference-secret",
        api_credentials: {
          rest: { url: "https://example.cubecloud.dev/cubejs-api" },
          sql: { host: "example.sql.cubecloud.dev", port: 5432 }
        }
      }]
    }],
    auditLog: [
      {
        id: "evt_1",
        timestamp: "2024-01-15T10:30:00.000Z",
        event_name: "Logged in",
        user_email: "user@example.com",
        deployment_id: null,
        deployment_name: null,
        ip_address: "203.0.113.7",
        attributes: { method: "password" }
      },
      {
        id: "evt_2",
        timestamp: "2024-02-01T00:00:00.000Z",
        event_name: "Logged in",
        user_email: "user@example.com",
        deployment_id: null,
        deployment_name: null,
        ip_address: "203.0.113.7",
        attributes: {}
      }
    ]
  }
  const auth = { authorization: "Bearer YOUR_API_KEY" }

  beforeEach(async () => {
    const response = await raw("/__mock/seed", { method: "PUT", body: JSON.stringify(referenceSeed) })
    expect(response.status).toBe(200)
  })

  it("GET /api/v1/deployments", async () => {
    expect(await (await raw("/api/v1/deployments", { headers: auth })).json()).toEqual({
      data: { deployments: [{ id: "123", name: "My Deployment", created_at: "2024-01-15T10:30:00.000Z" }] },
      pagination: { offset: 0, limit: 20, total: 1 }
    })
  })

  it("GET /api/v1/deployments/123/environments", async () => {
    expect(await (await raw("/api/v1/deployments/123/environments", { headers: auth })).json()).toEqual({
      data: {
        environments: [{
          id: "456",
          name: "Production",
          type: "production",
          api_credentials: {
            rest: { url: "https://example.cubecloud.dev/cubejs-api" },
            sql: { host: "example.sql.cubecloud.dev", port: 5432 }
          }
        }]
      },
      pagination: { offset: 0, limit: 20, total: 1 }
    })
  })

  it("POST .../tokens-for-meta-sync", async () => {
    const response = await raw("/api/v1/deployments/123/environments/456/tokens-for-meta-sync", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ security_context: { tenant_id: "acme" }, expires_in: 3600 })
    })
    expect(response.status).toBe(200)
    const body = await response.json()
    expect(Object.keys(body)).toEqual(["data"])
    expect(Object.keys(body.data).sort()).toEqual(["created_at", "expires_at", "token"])
    expect(body.data.token).toMatch(/^eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\./)
    expect(body.data.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/)
    expect(Date.parse(body.data.expires_at) - Date.parse(body.data.created_at)).toBe(3_600_000)
  })

  it("GET /api/v1/audit-logs/export?start=2024-01-01&end=2024-01-31 (and with eventName, userEmail)", async () => {
    const expected = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n" +
      "evt_1,2024-01-15T10:30:00.000Z,Logged in,user@example.com,,,203.0.113.7,\"{\"\"method\"\":\"\"password\"\"}\"\r\n"
    const plain = await raw("/api/v1/audit-logs/export?start=2024-01-01&end=2024-01-31", { headers: auth })
    expect(await plain.text()).toBe(expected)
    const filtered = await raw(
      "/api/v1/audit-logs/export?start=2024-01-01&end=2024-01-31&eventName=Logged+in&userEmail=user@example.com",
      { headers: auth }
    )
    expect(await filtered.text()).toBe(expected)
  })

  it("no response ever shows an api_secret", async () => {
    const texts = await Promise.all([
      raw("/api/v1/deployments", { headers: auth }),
      raw("/api/v1/deployments/123/environments", { headers: auth }),
      raw("/api/v1/deployments/123/environments/456/tokens-for-meta-sync", {
        method: "POST",
        headers: auth,
        body: "{\"security_context\":{}}"
      }),
      raw("/api/v1/audit-logs/export", { headers: auth }),
      raw("/__mock/calls"),
      raw("/__mock/faults")
    ].map(async (r) => (await r).text()))
    for (const text of texts) expect(text).not.toContain("reference-secret")
  })
})

describe("admin surface over HTTP", () => {
  it("records calls by key name, lists and clears faults, resets", async () => {
    await raw("/api/v1/deployments", { headers: bearer("sk-demo-viewer") })
    const calls = await (await raw("/__mock/calls")).json()
    expect(calls.calls).toEqual([{ operation: "listDeployments", arguments: {}, keyName: "Viewer", status: 200 }])
    const { id } = await addFault({ status: 500 })
    expect((await (await raw("/__mock/faults")).json()).faults.map((f: { id: string }) => f.id)).toEqual([id])
    expect((await raw("/api/v1/deployments", { headers: bearer() })).status).toBe(500)
    expect((await raw("/__mock/reset", { method: "POST" })).status).toBe(200)
    expect((await (await raw("/__mock/faults")).json()).faults).toEqual([])
    expect((await (await raw("/__mock/calls")).json()).calls).toEqual([])
    expect((await raw("/api/v1/deployments", { headers: bearer() })).status).toBe(200)
  })
})

describe("MockServer.scoped", () => {
  it("serves while the scope is open and stops when it closes", async () => {
    const url = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function*() {
          const running = yield* MockServer.scoped({ seed: Seed.demo })
          const response = yield* Effect.promise(() =>
            fetch(`${running.url}/api/v1/deployments`, { headers: bearer() })
          )
          expect(response.status).toBe(200)
          return running.url
        })
      )
    )
    await expect(fetch(`${url}/api/v1/deployments`)).rejects.toThrow()
  })
})

describe.each(shapes)("one set of rules: the layer and the server fail alike (%s shape)", (shape) => {
  beforeEach(() => loadShaped(shape))

  const scenarios: ReadonlyArray<
    readonly [string, string, Effect.Effect<unknown, ControlPlaneError, ControlPlane>]
  > = [
    ["limit 0", "sk-demo-admin", Effect.flatMap(cp, (c) => c.listDeployments({ limit: 0 }))],
    ["offset -1", "sk-demo-admin", Effect.flatMap(cp, (c) => c.listDeployments({ offset: -1, limit: 5 }))],
    ["unknown deployment", "sk-demo-admin", Effect.flatMap(cp, (c) => c.listEnvironments("999"))],
    ["out of scope", "sk-demo-viewer", Effect.flatMap(cp, (c) => c.listEnvironments("124", { type: "staging" }))],
    ["no permission", "sk-demo-auditor", Effect.flatMap(cp, (c) => c.listDeployments())],
    ["unknown key", "sk-nobody", Effect.flatMap(cp, (c) => c.listDeployments())],
    [
      "unknown environment",
      "sk-demo-admin",
      Effect.flatMap(cp, (c) => c.createMetaSyncToken("123", "999", { securityContext: {} }))
    ],
    [
      "bad date",
      "sk-demo-admin",
      Effect.flatMap(cp, (c) => Stream.runDrain(c.exportAuditLog({ start: "2024-13-01", end: "2024-01-31" })))
    ],
    ["export without permission", "sk-demo-viewer", Effect.flatMap(cp, (c) => Stream.runDrain(c.exportAuditLog()))]
  ]

  const facts = (error: ControlPlaneError) => {
    const { requestId: _requestId, ...rest } = { ...error, requestId: undefined }
    return rest
  }

  const platformOnly: typeof scenarios = shape === "platform"
    ? [
      [
        "expires_in above 3600",
        "sk-demo-admin",
        Effect.flatMap(cp, (c) => c.createMetaSyncToken("123", "456", { securityContext: {}, expiresIn: 7200 }))
      ],
      ["a cursor the server never sent", "sk-demo-admin", Effect.flatMap(cp, (c) => c.listDeployments({ after: "x" }))]
    ]
    : []

  it.each([...scenarios, ...platformOnly])("%s", async (_, key, program) => {
    const overHttp = await failure(program, clientLayer(key))
    const inMemory = await failure(program, ControlPlaneTest.layer(Seed.demo, { apiKey: key, shape }))
    expect(inMemory._tag).toBe(overHttp._tag)
    expect(inMemory.message).toBe(overHttp.message)
    expect(facts(inMemory)).toEqual(facts(overHttp))
  })
})

describe("one store, two doors", () => {
  it("a deployment added through the layer's control service is served over HTTP", async () => {
    await Effect.runPromise(
      Effect.gen(function*() {
        const test = yield* ControlPlaneTest.ControlPlaneTest
        yield* test.addDeployment({ id: "777", name: "Shared", createdAt: new Date("2025-05-05T00:00:00Z") })
      }).pipe(Effect.provide(ControlPlaneTest.layerStore(server.store)))
    )
    const body = await (await raw("/api/v1/deployments?offset=3", { headers: bearer() })).json()
    expect(body.data.deployments).toEqual([{ id: "777", name: "Shared", created_at: "2025-05-05T00:00:00.000Z" }])
  })
})

describe.each(shapes)("the layer answers what the HTTP client decodes (%s shape)", (shape) => {
  beforeEach(() => loadShaped(shape, Seed.generate({ deployments: 40 })))

  it("pages, streams and tokens are equal through both doors", async () => {
    const program = Effect.gen(function*() {
      const c = yield* cp
      const page = yield* c.listDeployments({ limit: 3 })
      const environments = yield* c.listEnvironments("1001")
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(c.deployments({ pageSize: 7 })))
      const token = yield* c.createMetaSyncToken("123", "456", { securityContext: { a: 1 }, scopes: ["meta"] })
      const { token: _jwt, ...tokenFacts } = token
      return { page, environments, all, tokenFacts: Object.keys(tokenFacts).sort() }
    })
    const overHttp = await ok(program)
    const inMemory = await ok(
      program,
      ControlPlaneTest.layer(Seed.generate({ deployments: 40 }), { shape })
    )
    expect(inMemory).toEqual(overHttp)
    expect(overHttp.all.map((d) => d.id)).toEqual(
      Seed.generate({ deployments: 40 }).deployments.map((d) => d.id)
    )
  })
})

describe("the platform shape on the wire (Cube's published document)", () => {
  beforeEach(() => loadShaped("platform"))

  it("deployments: flat data + items, pageInfo, pagination, count, totalCount; integer ids; no created_at", async () => {
    const body = await (await raw("/api/v1/deployments?limit=2", { headers: bearer() })).json()
    expect(body.data).toEqual([
      { id: 123, name: "My Deployment", deploymentUrl: "https://deployment-123.cubecloud.dev", creationStep: "ready" },
      {
        id: 124,
        name: "Analytics, EU (Données)",
        deploymentUrl: "https://deployment-124.cubecloud.dev",
        creationStep: "ready"
      }
    ])
    expect(body.items).toEqual(body.data)
    expect(body.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: expect.any(String),
      endCursor: expect.any(String)
    })
    expect(body.pagination).toEqual({ offset: 0, limit: 2, total: 3 })
    expect([body.count, body.totalCount]).toEqual([2, 3])
    const next = await (await raw(`/api/v1/deployments?first=2&after=${body.pageInfo.endCursor}`, {
      headers: bearer()
    })).json()
    expect(next.items.map((d: { id: number }) => d.id)).toEqual([125])
    expect(next.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true })
    const empty = await (await raw(`/api/v1/deployments?first=2&after=${next.pageInfo.endCursor}`, {
      headers: bearer()
    })).json()
    expect(empty.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null })
  })

  it("environments: no name, api_credentials as an array with nulls", async () => {
    const body = await (await raw("/api/v1/deployments/123/environments?type=production", { headers: bearer() }))
      .json()
    expect(body.items).toEqual([{
      id: "456",
      type: "production",
      api_credentials: [
        {
          type: "rest",
          version: 1,
          url: "https://example.cubecloud.dev/cubejs-api",
          host: null,
          port: null,
          database: null
        },
        { type: "sql", version: 1, url: null, host: "example.sql.cubecloud.dev", port: 5432, database: null }
      ]
    }])
  })

  it("tokens: security_context and scopes echoed; expires_in above 3600 is a 400", async () => {
    const mint = (body: unknown) =>
      raw("/api/v1/deployments/123/environments/456/tokens-for-meta-sync", {
        method: "POST",
        headers: { ...bearer(), "content-type": "application/json" },
        body: JSON.stringify(body)
      })
    const minted = await mint({ security_context: { tenant_id: "acme" }, expires_in: 3600, scopes: ["meta"] })
    const { data } = await minted.json()
    expect(data.security_context).toEqual({ tenant_id: "acme" })
    expect(data.scopes).toEqual(["meta"])
    expect(Date.parse(data.expires_at) - Date.parse(data.created_at)).toBe(3_600_000)
    const refused = await mint({ security_context: {}, expires_in: 3601 })
    expect(refused.status).toBe(400)
    expect(await refused.json()).toEqual({
      error: "Invalid token request: expires_in must be at most 3600 seconds, got 3601"
    })
    // The reference shape keeps its rules: 86400 s is fine there.
    loadShaped("reference")
    expect((await mint({ security_context: {}, expires_in: 86_400 })).status).toBe(200)
  })

  it("mixing offset/limit with first/after is a 400 saying so; a foreign cursor is a 400", async () => {
    const mixed = await raw("/api/v1/deployments?offset=0&first=2", { headers: bearer() })
    expect(mixed.status).toBe(400)
    expect((await mixed.json()).error).toContain("offset/limit and first/after cannot be mixed")
    const foreign = await raw("/api/v1/deployments?after=bm9wZQ", { headers: bearer() })
    expect(foreign.status).toBe(400)
    expect((await foreign.json()).error).toContain("after must be a cursor this server sent")
  })

  it("cursors are stable under concurrent changes: the next page starts after the cursor's row", async () => {
    const first = await (await raw("/api/v1/deployments?first=2", { headers: bearer() })).json()
    expect(first.items.map((d: { id: number }) => d.id)).toEqual([123, 124])
    // Another writer removes an earlier row and appends one: offset 2 would now skip 125.
    MockStore.removeDeployment(server.store, "123")
    MockStore.addDeployment(server.store, { id: "900", name: "New", environments: [] })
    const rest = await (await raw(`/api/v1/deployments?first=10&after=${first.pageInfo.endCursor}`, {
      headers: bearer()
    })).json()
    expect(rest.items.map((d: { id: number }) => d.id)).toEqual([125, 900])
    // The cursor's own row removed: a 400 saying to start again, never a silently wrong page.
    MockStore.removeDeployment(server.store, "124")
    const gone = await raw(`/api/v1/deployments?first=10&after=${first.pageInfo.endCursor}`, { headers: bearer() })
    expect(gone.status).toBe(400)
    expect((await gone.json()).error).toContain("no longer exists")
  })

  it("a stream over many pages follows the cursors (core's client), every row once, in order", async () => {
    loadShaped("platform", Seed.generate({ deployments: 523 }))
    const ids = await ok(
      Effect.flatMap(cp, (c) => Stream.runCollect(c.deployments({ pageSize: 50 }))).pipe(
        Effect.map((chunk) => Chunk.toReadonlyArray(chunk).map((d) => d.id))
      )
    )
    expect(ids).toEqual(Seed.generate({ deployments: 523 }).deployments.map((d) => d.id))
    const requests = server.store.calls.filter((c) => c.operation === "listDeployments").map((c) => c.arguments)
    // The first request by offset, then 10 by cursor: 11 pages of at most 50.
    expect(requests).toHaveLength(11)
    expect(requests[0]).toEqual({ offset: 0, limit: 50 })
    for (const request of requests.slice(1)) {
      expect(request).toEqual({ first: 50, after: expect.any(String) })
    }
  })

  it("a seed with an id the platform shape cannot send is refused, naming it", async () => {
    const response = await raw("/__mock/seed", {
      method: "PUT",
      body: JSON.stringify({ shape: "platform", deployments: [{ id: "dep-a", name: "A" }] })
    })
    expect(response.status).toBe(400)
    expect((await response.json()).error).toContain(
      "deployments[0].id: the platform shape sends deployment ids as integers, so \"dep-a\" cannot be served"
    )
  })
})

describe("a large export does not hold up other requests", () => {
  it("a request made while 200,000 events stream out is answered before the export ends", async () => {
    const big = await MockServer.start({ port: 0, seed: Seed.generate({ events: 200_000 }) })
    try {
      const response = await fetch(`${big.url}/api/v1/audit-logs/export`, {
        headers: { authorization: "Bearer sk-demo-admin" }
      })
      const reader = response.body!.getReader()
      let exportEnded = false
      let newlines = 0
      const count = (bytes: Uint8Array) => {
        for (const byte of bytes) if (byte === 10) newlines++
      }
      const first = await reader.read()
      count(first.value!)
      // The export is under way; read the rest as fast as it comes, and meanwhile ask for something else.
      const drained = (async () => {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          count(value)
        }
        exportEnded = true
      })()
      const other = await fetch(`${big.url}/api/v1/deployments`, { headers: { authorization: "Bearer sk-demo-admin" } })
      const answeredDuringExport = !exportEnded
      expect(other.status).toBe(200)
      await drained
      expect(answeredDuringExport).toBe(true)
      // And the export itself is whole (generated rows hold no raw newline: one per row, plus the header).
      expect(newlines).toBe(200_001)
    } finally {
      await big.close()
    }
  }, 60_000)
})
