import { ControlPlane, fromResponse, ServerError } from "@cubeplane/core"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Option, Redacted, Stream, TestClock } from "effect"
import { ControlPlaneTest, Jwt, Seed } from "../src/index.js"

// ---------------------------------------------------------------------------
// A user's code, written against ControlPlane and nothing else.
// ---------------------------------------------------------------------------

/** The REST URL of every production environment of a deployment. */
const productionUrls = (deploymentId: string) =>
  Effect.flatMap(ControlPlane, (cp) =>
    cp.environments(deploymentId, { type: "production" }).pipe(
      Stream.map((environment) => environment.apiCredentials?.rest?.url),
      Stream.filter((url): url is string => url !== undefined),
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray)
    ))

describe("a user's code tested with it.layer(ControlPlaneTest.layer())", () => {
  it.layer(ControlPlaneTest.layer())((it) => {
    it.effect("reads the demo's production URL, and the test sees what it called", () =>
      Effect.gen(function*() {
        const urls = yield* productionUrls("123")
        expect(urls).toEqual(["https://example.cubecloud.dev/cubejs-api"])
        const test = yield* ControlPlaneTest.ControlPlaneTest
        const calls = yield* test.calls
        expect(calls).toEqual([
          {
            operation: "listEnvironments",
            arguments: { deploymentId: "123", offset: 0, limit: 100, type: "production" },
            keyName: "Admin",
            status: 200
          }
        ])
      }))

    it.effect("gets the same typed NotFound the HTTP client would, for an unknown deployment", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(productionUrls("999"))
        expect(error).toEqual(
          fromResponse({
            status: 404,
            method: "GET",
            path: "/api/v1/deployments/999/environments?offset=0&limit=100&type=production",
            serverMessage: "Deployment 999 not found — list deployments to see the ids this key can use"
          })
        )
        expect(error._tag).toBe("NotFound")
      }))
  })
})

describe("ControlPlaneTest control service", () => {
  it.effect("add and remove deployments and environments; lists keep insertion order", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.addDeployment({ id: "900", name: "Added", createdAt: new Date("2025-01-01T00:00:00Z") })
      expect(
        yield* test.addEnvironment("900", {
          id: "901",
          name: "Production",
          type: "production",
          apiSecret: "s3cret-901"
        })
      ).toBe(true)
      expect(yield* test.addEnvironment("nope", { id: "1", name: "x", type: "staging", apiSecret: "x" })).toBe(false)
      const ids = yield* Stream.runCollect(cp.deployments()).pipe(Effect.map(Chunk.map((d) => d.id)))
      expect(Chunk.toReadonlyArray(ids)).toEqual(["123", "124", "125", "900"])
      const envs = yield* cp.listEnvironments("900")
      expect(envs.items.map((e) => e.id)).toEqual(["901"])
      expect(JSON.stringify(envs)).not.toContain("s3cret")

      expect(yield* test.removeEnvironment("900", "901")).toBe(true)
      expect((yield* cp.listEnvironments("900")).pagination?.total).toBe(0)
      expect(yield* test.removeDeployment("123")).toBe(true)
      expect(yield* test.removeDeployment("123")).toBe(false)
      const page = yield* cp.listDeployments()
      expect(page.items.map((d) => d.id)).toEqual(["124", "125", "900"])

      yield* test.reset
      expect((yield* cp.listDeployments()).items.map((d) => d.id)).toEqual(["123", "124", "125"])
      expect(yield* test.calls).toEqual([
        {
          operation: "listDeployments",
          arguments: {},
          keyName: "Admin",
          status: 200
        }
      ])
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("fail(operation, error, { times: 2 }) fails twice, then the call succeeds", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      const outage = new ServerError({ status: 503, method: "GET", path: "/api/v1/deployments", message: "down" })
      yield* test.fail("listDeployments", outage, { times: 2 })
      expect(yield* Effect.flip(cp.listDeployments())).toBe(outage)
      expect(yield* Effect.flip(cp.listDeployments())).toBe(outage)
      expect((yield* cp.listDeployments()).items).toHaveLength(3)
      // Other operations are not affected.
      expect((yield* cp.listEnvironments("123")).items).toHaveLength(3)
      const statuses = (yield* test.calls).map((c) => [c.operation, c.status])
      expect(statuses).toEqual([
        ["listDeployments", 503],
        ["listDeployments", 503],
        ["listDeployments", 200],
        ["listEnvironments", 200]
      ])
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("delay(operation, duration) holds the call until the TestClock passes it", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.delay("listDeployments", "5 seconds")
      const fiber = yield* Effect.fork(cp.listDeployments())
      yield* TestClock.adjust("4 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      const page = yield* Fiber.join(fiber)
      expect(page.pagination?.total).toBe(3)
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("a timeout around a delayed call fires on the TestClock, not the wall clock", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.delay("createMetaSyncToken", "1 minute")
      const fiber = yield* Effect.fork(
        cp.createMetaSyncToken("123", "456", { securityContext: {} }).pipe(Effect.timeout("10 seconds"))
      )
      yield* TestClock.adjust("10 seconds")
      const result = yield* Effect.either(Fiber.join(fiber))
      expect(Either.isLeft(result) && result.left._tag).toBe("TimeoutException")
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("addAuditEvents: exports stay oldest first", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.addAuditEvents([
        {
          id: "late",
          timestamp: new Date("2030-01-01T00:00:00Z"),
          eventName: "Logged out",
          userEmail: null,
          deploymentId: null,
          deploymentName: null,
          ipAddress: null,
          attributes: {}
        },
        {
          id: "early",
          timestamp: new Date("2000-01-01T00:00:00Z"),
          eventName: "Logged in",
          userEmail: "early@example.com",
          deploymentId: null,
          deploymentName: null,
          ipAddress: null,
          attributes: { note: "first, \"ever\"" }
        }
      ])
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(cp.auditLogEvents()))
      expect(events[0]?.id).toBe("early")
      expect(events[0]?.attributes).toEqual({ note: "first, \"ever\"" })
      expect(events.at(-1)?.id).toBe("late")
      expect(events).toHaveLength(38)
      const times = events.map((e) => e.timestamp.getTime())
      expect([...times].sort((a, b) => a - b)).toEqual(times)
    }).pipe(Effect.provide(ControlPlaneTest.layer())))
})

describe("ControlPlaneTest keys and rules", () => {
  it.effect("acts as the given key: a scoped viewer sees only its deployment and gets 403 elsewhere", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const page = yield* cp.listDeployments()
      expect(page.items.map((d) => d.id)).toEqual(["123"])
      expect(page.pagination?.total).toBe(1)
      const error = yield* Effect.flip(cp.listEnvironments("124"))
      expect(error._tag).toBe("Forbidden")
      expect(error.message).toContain("limited to deployment 123")
      const exportError = yield* Effect.flip(Stream.runDrain(cp.exportAuditLog()))
      expect(exportError._tag).toBe("Forbidden")
      expect(exportError.message).toContain("AuditLogManage")
      const test = yield* ControlPlaneTest.ControlPlaneTest
      expect((yield* test.calls).every((c) => c.keyName === "Viewer")).toBe(true)
      expect(JSON.stringify(yield* test.calls)).not.toContain("sk-demo-viewer")
    }).pipe(Effect.provide(ControlPlaneTest.layer(Seed.demo, { apiKey: "sk-demo-viewer" }))))

  it.effect("a key the seed does not know is Unauthorized everywhere", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const error = yield* Effect.flip(cp.listDeployments())
      expect(error._tag).toBe("Unauthorized")
    }).pipe(Effect.provide(ControlPlaneTest.layer(Seed.demo, { apiKey: "sk-nobody" }))))

  it.effect("mints a real HS256 token; invalid input is a BadRequest like the server's", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2024-01-15T10:30:00.000Z"))
      const cp = yield* ControlPlane
      const token = yield* cp.createMetaSyncToken("123", "456", {
        securityContext: { tenant_id: "acme" },
        expiresIn: 3600
      })
      expect(token.createdAt).toEqual(new Date("2024-01-15T10:30:00.000Z"))
      expect(token.expiresAt).toEqual(new Date("2024-01-15T11:30:00.000Z"))
      const claims = yield* Effect.promise(() =>
        Jwt.verify(Redacted.value(token.token), "secret-456", { currentDate: new Date("2024-01-15T11:00:00Z") })
      )
      expect(claims).toMatchObject({ tenant_id: "acme", cubeCloud: { scopes: ["meta"] } })
      const missing = yield* Effect.flip(cp.createMetaSyncToken("123", "999", { securityContext: {} }))
      expect(missing._tag).toBe("NotFound")
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("filters the export; a malformed date is a BadRequest", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const events = yield* Stream.runCollect(
        cp.auditLogEvents({ start: "2024-01-31", end: "2024-01-31" })
      )
      expect(Chunk.toReadonlyArray(events).map((e) => e.id)).toEqual(["evt_28"])
      const bad = yield* Effect.flip(Stream.runDrain(cp.exportAuditLog({ start: "yesterday" })))
      expect(bad._tag).toBe("BadRequest")
      expect(bad.message).toContain("start must be an ISO 8601 date")
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("a generated dataset streams lazily through the same parser", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const first = yield* Stream.runCollect(Stream.take(cp.auditLogEvents(), 3))
      expect(Chunk.toReadonlyArray(first).map((e) => e.id)).toEqual(["evt_g1", "evt_g2", "evt_g3"])
      const count = yield* Stream.runCount(cp.auditLogEvents())
      expect(count).toBe(5_000)
    }).pipe(Effect.provide(ControlPlaneTest.layer(Seed.generate({ events: 5_000 })))))

  it.effect("pages are capped at 100 and limit 0 is a BadRequest", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const page = yield* cp.listDeployments({ limit: 500 })
      expect(page.pagination).toEqual({ offset: 0, limit: 100, total: 250 })
      expect(page.items).toHaveLength(100)
      const all = yield* Stream.runCount(cp.deployments({ pageSize: 1000 }))
      expect(all).toBe(250)
      const error = yield* Effect.flip(cp.listDeployments({ limit: 0 }))
      expect(error._tag).toBe("BadRequest")
      expect(error.message).toContain("limit must be an integer ≥ 1")
    }).pipe(Effect.provide(ControlPlaneTest.layer(Seed.generate({ deployments: 250 })))))
})

describe("ControlPlaneTest.layer(seed, { shape: \"platform\" })", () => {
  it.effect("streams follow cursors; deployments carry deploymentUrl/creationStep and no created_at", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(cp.deployments({ pageSize: 4 })))
      expect(all.map((d) => d.id)).toEqual(Seed.generate({ deployments: 10 }).deployments.map((d) => d.id))
      expect(all[0]).toEqual({
        id: "123",
        name: "My Deployment",
        deploymentUrl: "https://deployment-123.cubecloud.dev",
        creationStep: "ready"
      })
      const requests = (yield* test.calls).map((c) => c.arguments)
      expect(requests).toEqual([
        { offset: 0, limit: 4 },
        { first: 4, after: expect.any(String) },
        { first: 4, after: expect.any(String) }
      ])
      const mixed = yield* Effect.flip(cp.listDeployments({ offset: 1, first: 2 }))
      expect(mixed._tag).toBe("BadRequest")
      expect(mixed.message).toContain("cannot be mixed")
      const tooLong = yield* Effect.flip(cp.createMetaSyncToken("123", "456", { securityContext: {}, expiresIn: 3601 }))
      expect(tooLong.message).toContain("expires_in must be at most 3600 seconds")
    }).pipe(Effect.provide(ControlPlaneTest.layer(Seed.generate({ deployments: 10 }), { shape: "platform" }))))

  it.effect("the shape can come from the seed; addDeployment refuses an id the shape cannot send", () =>
    Effect.gen(function*() {
      const test = yield* ControlPlaneTest.ControlPlaneTest
      expect(test.store.shape).toBe("platform")
      const exit = yield* Effect.exit(test.addDeployment({ id: "abc", name: "A" }))
      expect(String(exit)).toContain("the platform shape sends deployment ids as integers")
    }).pipe(Effect.provide(ControlPlaneTest.layer({ ...Seed.demo, shape: "platform" }))))
})
