/**
 * One pipeline, one fault system, two doors: a fault set through `/__mock/` reaches the test
 * layer and one set through the layer's API reaches the HTTP server; windows and latencies run on
 * the `TestClock` in the layer; the request journal records both doors.
 */
import { ControlPlane, ServerError, TransportError } from "@cubeplane/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, Stream, TestClock } from "effect"
import { Contract, ControlPlaneTest, MockServer, MockStore, Seed } from "../src/index.js"

const admin = { authorization: "Bearer sk-demo-admin" }

/** `app.request` as an Effect (it may answer synchronously). */
const call = (app: ReturnType<typeof MockServer.app>, path: string, init?: RequestInit) =>
  Effect.promise(async () => app.request(path, init))

/** The JSON body of `app.request`. */
const callJson = (app: ReturnType<typeof MockServer.app>, path: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await app.request(path, init)
    const body = await response.json()
    return { status: response.status, body }
  })

/** A store served over HTTP (`app.request`, no port) and the layer over the same store. */
const bothDoors = () => {
  const store = MockStore.make(Seed.demo)
  return { store, app: MockServer.app(store), layer: ControlPlaneTest.layerStore(store) }
}

describe("one fault system, both doors", () => {
  it.effect("a fault added through /__mock/faults is seen by the layer, and counted once per call", () => {
    const { app, layer } = bothDoors()
    return Effect.gen(function*() {
      const added = yield* call(app, "/__mock/faults", {
        method: "POST",
        body: JSON.stringify({ operation: "listDeployments", status: 503, error: "maintenance", times: 1 })
      })
      expect(added.status).toBe(201)
      const control = yield* ControlPlaneTest.ControlPlaneTest
      expect((yield* control.faults).map((f) => [f.id, f.fault.status, f.remaining])).toEqual([["fault_1", 503, 1]])
      const cp = yield* ControlPlane
      const error = yield* Effect.flip(cp.listDeployments())
      expect(error._tag).toBe("ServerError")
      expect("serverMessage" in error && error.serverMessage).toBe("maintenance")
      expect((yield* cp.listDeployments()).items).toHaveLength(3)
      const test = yield* ControlPlaneTest.ControlPlaneTest
      expect((yield* test.calls).map((c) => [c.status, c.fault])).toEqual([[503, "fault_1"], [200, undefined]])
    }).pipe(Effect.provide(layer))
  })

  it.effect("a fault added through the layer's API is answered by the HTTP server, and listed there", () => {
    const { app, layer } = bothDoors()
    return Effect.gen(function*() {
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.fault({ operation: "listEnvironments", retryAfter: 7, times: 1 })
      yield* test.fail(
        "exportAuditLog",
        new ServerError({ status: 502, method: "GET", path: "/api/v1/audit-logs/export", message: "bad gateway" }),
        { times: 1 }
      )
      const listed = (yield* callJson(app, "/__mock/faults")).body
      expect(listed.faults.map((f: { id: string; operation: string }) => [f.id, f.operation])).toEqual([
        ["fault_1", "listEnvironments"],
        ["fault_2", "exportAuditLog"]
      ])
      const limited = yield* call(app, "/api/v1/deployments/123/environments", { headers: admin })
      expect(limited.status).toBe(429)
      expect(limited.headers.get("retry-after")).toBe("7")
      const failed = yield* call(app, "/api/v1/audit-logs/export", { headers: admin })
      expect(failed.status).toBe(502)
      expect(yield* Effect.promise(() => failed.json())).toEqual({ error: "bad gateway" })
      expect((yield* call(app, "/api/v1/audit-logs/export", { headers: admin })).status)
        .toBe(200)
    }).pipe(Effect.provide(layer))
  })

  it.effect("fail(TransportError) resets the HTTP connection; the layer fails with exactly that error", () => {
    const { app, layer } = bothDoors()
    return Effect.gen(function*() {
      const test = yield* ControlPlaneTest.ControlPlaneTest
      const dropped = new TransportError({
        method: "GET",
        path: "/api/v1/deployments",
        reason: "Connection",
        message: "gone"
      })
      yield* test.fail("listDeployments", dropped, { times: 2 })
      const overHttp = yield* Effect.either(
        Effect.tryPromise(async () => app.request("/api/v1/deployments", { headers: admin }))
      )
      expect(Either.isLeft(overHttp)).toBe(true)
      expect(yield* Effect.flip((yield* ControlPlane).listDeployments())).toBe(dropped)
      expect((yield* test.calls).map((c) => c.status)).toEqual([null, null])
    }).pipe(Effect.provide(layer))
  })

  it.effect("429 with retryAfter in the layer: RateLimited with retryAfterMillis, as over HTTP", () =>
    Effect.gen(function*() {
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.fault({ retryAfter: 3, times: 1 })
      const error = yield* Effect.flip((yield* ControlPlane).listDeployments())
      expect(error._tag).toBe("RateLimited")
      expect("retryAfterMillis" in error && error.retryAfterMillis).toBe(3000)
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("a time window (forMs) and a latency run on the TestClock in the layer", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.fault({ operation: "listDeployments", status: 503, forMs: 60_000 })
      expect((yield* Effect.flip(cp.listDeployments()))._tag).toBe("ServerError")
      yield* TestClock.adjust("59 seconds")
      expect((yield* Effect.flip(cp.listDeployments()))._tag).toBe("ServerError")
      yield* TestClock.adjust("1 second")
      expect((yield* cp.listDeployments()).items).toHaveLength(3)
      expect(yield* test.faults).toEqual([])

      yield* test.fault({ operation: "listEnvironments", latencyMs: 2000, times: 1 })
      const fiber = yield* Effect.fork(cp.listEnvironments("123"))
      yield* TestClock.adjust("1999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).items).toHaveLength(3)
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("every matching fault is used: latencies add up, the first that changes the answer decides it", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.delay("listDeployments", "1 second")
      yield* test.fault({ operation: "listDeployments", latencyMs: 500, status: 503, times: 1 })
      yield* test.fault({ status: 500, times: 1 })
      const fiber = yield* Effect.fork(Effect.either(cp.listDeployments()))
      yield* TestClock.adjust("1499 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const first = yield* Fiber.join(fiber)
      expect(Either.isLeft(first) && "status" in first.left && first.left.status).toBe(503)
      // Both one-shot faults were spent by that call; the delay stays until removed.
      expect((yield* test.faults).map((f) => f.fault.latencyMs)).toEqual([1000])
      yield* test.delay("listDeployments", 0)
      expect((yield* cp.listDeployments()).items).toHaveLength(3)
      expect((yield* test.calls).map((c) => [c.status, c.fault])).toEqual([[503, "fault_2"], [200, undefined]])
    }).pipe(Effect.provide(ControlPlaneTest.layer())))

  it.effect("truncateAfterBytes in the layer: the export stream fails after that many bytes", () =>
    Effect.gen(function*() {
      const cp = yield* ControlPlane
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.fault({ operation: "exportAuditLog", truncateAfterBytes: 100_000, times: 1 })
      let received = 0
      const result = yield* Effect.either(Stream.runForEach(cp.exportAuditLog(), (chunk) =>
        Effect.sync(() => {
          received += chunk.length
        })))
      expect(Either.isLeft(result) && result.left._tag).toBe("TransportError")
      expect(received).toBe(100_000)
      // The next export is whole, and parses.
      expect(yield* Stream.runCount(cp.auditLogEvents())).toBe(5000)
    }).pipe(Effect.provide(ControlPlaneTest.layer(Seed.generate({ events: 5000 })))))

  it.effect("the pipeline authenticates before it applies faults: an unknown key is a 401 and spends no fault", () =>
    Effect.gen(function*() {
      const test = yield* ControlPlaneTest.ControlPlaneTest
      yield* test.fault({ status: 503, times: 1 })
      const error = yield* Effect.flip((yield* ControlPlane).listDeployments())
      expect(error._tag).toBe("Unauthorized")
      expect((yield* test.faults).map((f) => f.remaining)).toEqual([1])
    }).pipe(Effect.provide(ControlPlaneTest.layer(Seed.demo, { apiKey: "sk-unknown" }))))
})

describe("the request journal (GET /__mock/requests)", () => {
  it.effect("both doors record; filter by operation, status, keyName and since", () => {
    const { app, layer } = bothDoors()
    const get = (query: string) => callJson(app, `/__mock/requests${query}`)
    return Effect.gen(function*() {
      const cp = yield* ControlPlane
      yield* TestClock.setTime(Date.UTC(2030, 0, 1))
      yield* cp.listDeployments()
      yield* Effect.flip(cp.listEnvironments("999"))
      yield* call(app, "/api/v1/deployments", { headers: { authorization: "Bearer sk-demo-viewer" } })
      const all = yield* get("")
      expect(all.body.requests.map((r: { operation: string; status: number; keyName: string }) => [
        r.operation,
        r.status,
        r.keyName
      ])).toEqual([
        ["listDeployments", 200, "Admin"],
        ["listEnvironments", 404, "Admin"],
        ["listDeployments", 200, "Viewer"]
      ])
      expect(all.body.requests[0].at).toBe("2030-01-01T00:00:00.000Z")
      expect((yield* get("?operation=listEnvironments")).body.requests).toHaveLength(1)
      expect((yield* get("?status=404")).body.requests[0].arguments).toEqual({ deploymentId: "999" })
      expect((yield* get("?keyName=Viewer&operation=listDeployments")).body.requests).toHaveLength(1)
      // The layer's calls ran at the TestClock's 2030; the HTTP call at the real time, before it.
      expect((yield* get("?since=2029-12-31T23:59:59Z")).body.requests.map((r: { keyName: string }) => r.keyName))
        .toEqual(["Admin", "Admin"])
      const bad = yield* get("?status=teapot")
      expect(bad.status).toBe(400)
      expect(bad.body.error).toContain("status must be a 3-digit HTTP status")
      expect((yield* get("?operation=deleteEverything")).body.error).toContain("operation must be one of")
      const test = yield* ControlPlaneTest.ControlPlaneTest
      expect((yield* test.requests({ status: 404 })).map((r) => r.operation)).toEqual(["listEnvironments"])
    }).pipe(Effect.provide(layer))
  })
})

describe("routes come from core's contract", () => {
  it("every endpoint of Api.ControlPlaneApi is served, and other methods on its paths are 405", async () => {
    const { app } = bothDoors()
    expect(Contract.routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v1/deployments",
      "GET /api/v1/deployments/:deployment_id/environments",
      "POST /api/v1/deployments/:deployment_id/environments/:environment_id/tokens-for-meta-sync",
      "GET /api/v1/audit-logs/export"
    ])
    for (const route of Contract.routes) {
      const path = route.path.replace(":deployment_id", "123").replace(":environment_id", "456")
      const wrong = await app.request(path, { method: route.method === "GET" ? "DELETE" : "GET", headers: admin })
      expect(wrong.status).toBe(405)
      expect(wrong.headers.get("allow")).toBe(route.method)
    }
  })
})
