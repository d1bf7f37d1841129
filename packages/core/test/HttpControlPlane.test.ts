import type { HttpClient } from "@effect/platform"
import { Headers } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Chunk, ConfigProvider, Effect, Either, Fiber, Logger, LogLevel, Redacted, Stream } from "effect"
import { inspect } from "node:util"
import { ControlPlane } from "../src/ControlPlane.js"
import * as HttpControlPlane from "../src/HttpControlPlane.js"
import type { TestServer } from "./support/server.js"
import { auditCsv, closedPort, json, platformDeploymentsServer, reference, startServer } from "./support/server.js"
import { recordingTracer } from "./support/tracer.js"

const SK_KEY = "sk-test-SECRET-7f3a9c"
const PLAIN_KEY = "plain-SECRET-b41d"

const make = (server: Pick<TestServer, "url">, options: Partial<HttpControlPlane.Options> = {}) =>
  HttpControlPlane.make({ url: server.url, apiKey: Redacted.make(SK_KEY), retry: { maxRetries: 0 }, ...options })

/** The key must not show anywhere a user or a log could see it. */
const assertNoKey = (error: unknown) => {
  for (const rendering of [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
    expect(rendering).not.toContain("SECRET")
  }
  if (error instanceof Error) expect(error.message).not.toContain("SECRET")
}

/** A test on the real clock, with undici as the HTTP client and a scope for the test server. */
const live = <E>(name: string, body: () => Effect.Effect<void, E, Scope.Scope | HttpClient.HttpClient>) =>
  it.scopedLive(name, () => Effect.provide(body(), NodeHttpClient.layerUndici))

/** Polls (real time) until `condition` holds. */
const eventually = (condition: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 400 && !condition(); i++) yield* Effect.sleep("5 millis")
    assert.isTrue(condition(), "condition never held")
  })

describe("HttpControlPlane over a real HTTP server", () => {
  live(
    "lists deployments from the reference format, sending `Bearer` even for an sk- key",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer((_, response) => json(response, 200, reference.deployments))
        const cp = yield* make(server)
        const page = yield* cp.listDeployments({ offset: 0, limit: 5 })
        expect(page.items.map((d) => d.id)).toEqual(["123"])
        expect(page.items[0]?.createdAt).toEqual(new Date("2024-01-15T10:30:00.000Z"))
        expect(page.pagination).toEqual({ offset: 0, limit: 20, total: 1 })
        const [request] = server.received
        expect(request?.method).toBe("GET")
        expect(request?.url).toBe("/api/v1/deployments?offset=0&limit=5")
        expect(request?.headers.authorization).toBe(`Bearer ${SK_KEY}`)
        expect(request?.headers["user-agent"]).toBe("cubeplane-core")
      })
  )

  live(
    "Cube's platform shape: follows pageInfo cursors with first/after, never mixing them with offset/limit",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer(platformDeploymentsServer(35, 10))
        const cp = yield* make(server)
        const all = Chunk.toArray(yield* Stream.runCollect(cp.deployments()))
        expect(all.map((d) => d.id)).toEqual(Array.from({ length: 35 }, (_, i) => String(1000 + i)))
        expect(all[0]).toEqual({
          id: "1000",
          name: "Deployment 0",
          deploymentUrl: "https://d0.cubecloud.dev",
          creationStep: "ready"
        })
        const queries = server.received.map((r) => new URL(r.url, "http://x").searchParams)
        expect(queries).toHaveLength(4)
        expect([...queries[0]!.keys()]).toEqual(["offset", "limit"])
        for (const query of queries.slice(1)) expect([...query.keys()]).toEqual(["first", "after"])

        const before = server.received.length
        const firstFive = yield* Stream.runCollect(Stream.take(cp.deployments({ concurrency: 4 }), 5))
        expect(Chunk.size(firstFive)).toBe(5)
        expect(server.received.length - before).toBe(1)

        const mixed = yield* Effect.flip(cp.listDeployments({ limit: 5, after: "x" }))
        expect(mixed._tag).toBe("BadRequest")
        expect(mixed.message).toContain("cannot be mixed")
        expect(server.received.length - before).toBe(1)
      })
  )

  live("sends `Bearer` for every key unless `api-key` is asked for", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => json(response, 200, reference.deployments))
      yield* Effect.flatMap(make(server, { apiKey: Redacted.make(PLAIN_KEY) }), (cp) => cp.listDeployments())
      yield* Effect.flatMap(make(server, { authScheme: "bearer" }), (cp) => cp.listDeployments())
      yield* Effect.flatMap(make(server, { apiKey: Redacted.make(PLAIN_KEY), authScheme: "api-key" }), (cp) =>
        cp.listDeployments())
      expect(server.received.map((r) =>
        r.headers.authorization
      )).toEqual([
        `Bearer ${PLAIN_KEY}`,
        `Bearer ${SK_KEY}`,
        `Api-Key ${PLAIN_KEY}`
      ])
      expect(server.received[0]?.url).toBe("/api/v1/deployments")
    }))

  live("accepts a base URL with a trailing slash", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => json(response, 200, reference.environments))
      const cp = yield* make({ url: `${server.url}/` })
      const page = yield* cp.listEnvironments("123")
      expect(page.items[0]?.apiCredentials?.sql?.port).toBe(5432)
      expect(server.received[0]?.url).toBe("/api/v1/deployments/123/environments")
    }))

  live("sends only the query parameters given", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => json(response, 200, reference.environments))
      const cp = yield* make(server)
      yield* cp.listEnvironments("dep/1", { type: "production" })
      yield* cp.listEnvironments("123", { limit: 3, offset: 6 })
      expect(server.received.map((r) => r.url)).toEqual([
        "/api/v1/deployments/dep%2F1/environments?type=production",
        "/api/v1/deployments/123/environments?offset=6&limit=3"
      ])
    }))

  live(
    "maps each error status of a real response to its class, with the server's facts and without the key",
    () =>
      Effect.gen(function*() {
        const cases = [
          [400, "BadRequest"],
          [401, "Unauthorized"],
          [403, "Forbidden"],
          [404, "NotFound"],
          [422, "BadRequest"],
          [429, "RateLimited"],
          [408, "ServerError"],
          [500, "ServerError"],
          [503, "ServerError"]
        ] as const
        const server = yield* startServer((request, response) => {
          const status = Number(new URL(request.url, "http://x").searchParams.get("limit"))
          json(
            response,
            status,
            { error: `nope ${status}` },
            {
              "x-request-id": `req-${status}`,
              ...(status === 429 ? { "retry-after": "7" } : {})
            }
          )
        })
        const cp = yield* make(server)
        for (const [status, tag] of cases) {
          const error = yield* Effect.flip(cp.listDeployments({ limit: status }))
          expect(error._tag).toBe(tag)
          if (error._tag === "TransportError" || error._tag === "UnexpectedResponse") continue
          expect(error.status).toBe(status)
          expect(error.method).toBe("GET")
          expect(error.path).toBe(`/api/v1/deployments?limit=${status}`)
          expect(error.serverMessage).toContain(`nope ${status}`)
          expect(error.requestId).toBe(`req-${status}`)
          if (error._tag === "RateLimited") expect(error.retryAfterMillis).toBe(7000)
          assertNoKey(error)
        }
      })
  )

  live("an error body that is not JSON gives no serverMessage", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => {
        response.writeHead(502, { "content-type": "text/html" })
        response.end("<html>Bad gateway</html>")
      })
      const error = yield* Effect.flip(Effect.flatMap(make(server), (cp) => cp.listDeployments()))
      assert.strictEqual(error._tag, "ServerError")
      if (error._tag === "ServerError") expect(error.serverMessage).toBeUndefined()
      expect(error.message).toBe("Server error 502 from GET /api/v1/deployments")
    }))

  live(
    "a 2xx body that does not match the schema is UnexpectedResponse naming the field in one line, the body's start as excerpt",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer((_, response) =>
          json(response, 200, { data: { deployments: [{ id: "1", name: 5 }] }, pagination: { offset: 0 } }, {
            "x-request-id": "req-bad"
          })
        )
        const error = yield* Effect.flip(Effect.flatMap(make(server), (cp) => cp.listDeployments()))
        assert.strictEqual(error._tag, "UnexpectedResponse")
        if (error._tag !== "UnexpectedResponse") return
        expect(error.status).toBe(200)
        expect(error.requestId).toBe("req-bad")
        expect(error.detail).toContain("name")
        expect(error.message).toBe(
          "Unexpected response from GET /api/v1/deployments: data.deployments[0].name: expected string or null, got 5"
        )
        expect(error.excerpt).toContain(`"name":5`)
        assertNoKey(error)
      })
  )

  live("a malformed token response does not leak the token into the error", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) =>
        json(response, 200, { data: { token: "eyJLEAKED.payload.sig", created_at: "not a date", expires_at: 5 } })
      )
      const cp = yield* make(server)
      const error = yield* Effect.flip(cp.createMetaSyncToken("123", "456", { securityContext: {} }))
      assert.strictEqual(error._tag, "UnexpectedResponse")
      if (error._tag !== "UnexpectedResponse") return
      expect(error.detail).toContain("expires_at")
      expect(error.message).toContain("expires_at")
      for (
        const rendering of [error.detail, error.excerpt ?? "", error.message, String(error), JSON.stringify(error)]
      ) {
        expect(rendering).not.toContain("eyJLEAKED")
      }
    }))

  live("a body that is not JSON at all is UnexpectedResponse", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => {
        response.writeHead(200, { "content-type": "application/json" })
        response.end("{not json")
      })
      const error = yield* Effect.flip(Effect.flatMap(make(server), (cp) => cp.listDeployments()))
      expect(error._tag).toBe("UnexpectedResponse")
    }))

  live(
    "a refused connection is a TransportError (Connection) that says the request was not sent",
    () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const error = yield* Effect.flip(
          Effect.flatMap(make({ url: `http://127.0.0.1:${port}` }), (cp) => cp.listDeployments())
        )
        assert.strictEqual(error._tag, "TransportError")
        if (error._tag !== "TransportError") return
        expect(error.reason).toBe("Connection")
        expect(error.notSent).toBe(true)
        expect(error.message).toContain("connection refused")
        assertNoKey(error)
      })
  )

  live("retries a GET that met a 503 until it succeeds", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response, index) =>
        index < 2 ? json(response, 503, { error: "blip" }) : json(response, 200, reference.deployments)
      )
      const cp = yield* make(server, { retry: { baseDelay: "1 millis", maxRetries: 4 } })
      const page = yield* cp.listDeployments()
      expect(page.items).toHaveLength(1)
      expect(server.received).toHaveLength(3)
    }))

  live("mints a token: POSTs the encoded input as JSON and keeps the token redacted", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => json(response, 200, reference.token))
      const cp = yield* make(server)
      const minted = yield* cp.createMetaSyncToken("123", "456", {
        securityContext: { tenant_id: "acme" },
        expiresIn: 3600
      })
      expect(Redacted.value(minted.token)).toBe(reference.token.data.token)
      expect(minted.expiresAt).toEqual(new Date("2024-01-15T11:30:00.000Z"))
      expect(String(minted.token)).not.toContain("eyJ")
      const [request] = server.received
      expect(request?.method).toBe("POST")
      expect(request?.url).toBe("/api/v1/deployments/123/environments/456/tokens-for-meta-sync")
      expect(request?.headers["content-type"]).toContain("application/json")
      expect(JSON.parse(request?.body ?? "")).toEqual({ security_context: { tenant_id: "acme" }, expires_in: 3600 })
    }))

  live("never retries the token POST after a 503, even with retries on", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => json(response, 503, { error: "busy" }))
      const cp = yield* make(server, { retry: { baseDelay: "1 millis" } })
      const error = yield* Effect.flip(cp.createMetaSyncToken("123", "456", { securityContext: {} }))
      expect(error._tag).toBe("ServerError")
      expect(server.received).toHaveLength(1)
    }))

  live(
    "a refused token POST fails with notSent (the attempts are counted in Retry.test.ts)",
    () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const cp = yield* make({ url: `http://127.0.0.1:${port}` }, { retry: { baseDelay: "1 millis", maxRetries: 2 } })
        const error = yield* Effect.flip(cp.createMetaSyncToken("123", "456", { securityContext: {} }))
        assert.strictEqual(error._tag, "TransportError")
        if (error._tag === "TransportError") expect(error.notSent).toBe(true)
      })
  )

  live("exports the audit log as the server's bytes, with the filters in the query", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => {
        response.writeHead(200, { "content-type": "text/csv" })
        response.write(auditCsv.slice(0, 40))
        setTimeout(() => response.end(auditCsv.slice(40)), 10)
      })
      const cp = yield* make(server)
      const chunks = yield* Stream.runCollect(
        cp.exportAuditLog({ start: "2024-01-01", end: "2024-01-31", eventName: "Logged in", userEmail: "u@x.io" })
      )
      const text = new TextDecoder().decode(concat(Chunk.toArray(chunks)))
      expect(text).toBe(auditCsv)
      expect(server.received[0]?.url).toBe(
        "/api/v1/audit-logs/export?start=2024-01-01&end=2024-01-31&eventName=Logged+in&userEmail=u%40x.io"
      )
      expect(server.received[0]?.headers.accept).toBe("text/csv")
      // The raw path's URL (`auditLogExportPath`, for `Transport.makeRaw` callers) is the same.
      expect(HttpControlPlane.auditLogExportPath({
        start: "2024-01-01",
        end: "2024-01-31",
        eventName: "Logged in",
        userEmail: "u@x.io"
      })).toBe(server.received[0]?.url)
      expect(HttpControlPlane.auditLogExportPath()).toBe("/api/v1/audit-logs/export")
    }))

  live("the export checks the status before it emits a byte", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) =>
        json(response, 403, { error: "AuditLogManage permission required" })
      )
      const cp = yield* make(server)
      const emitted: Array<Uint8Array> = []
      const error = yield* Effect.flip(
        Stream.runForEach(cp.exportAuditLog(), (bytes) => Effect.sync(() => emitted.push(bytes)))
      )
      expect(error._tag).toBe("Forbidden")
      expect(emitted).toHaveLength(0)
      expect(error.message).toContain("AuditLogManage permission required")
    }))

  live(
    "a connection dropped mid-body fails the export with TransportError Body, never a silent end",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer((_, response) => {
          response.writeHead(200, { "content-type": "text/csv" })
          response.write(auditCsv.slice(0, 100))
          setTimeout(() => response.socket?.destroy(), 20)
        })
        const cp = yield* make(server)
        const emitted: Array<Uint8Array> = []
        const error = yield* Effect.flip(
          Stream.runForEach(cp.exportAuditLog(), (bytes) => Effect.sync(() => emitted.push(bytes)))
        )
        assert.strictEqual(error._tag, "TransportError")
        if (error._tag === "TransportError") expect([error.reason, error.code]).toEqual(["Body", "UND_ERR_SOCKET"])
        expect(new TextDecoder().decode(concat(emitted))).toBe(auditCsv.slice(0, 100))
        assertNoKey(error)
      })
  )

  live("parses the export into events", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => {
        response.writeHead(200, { "content-type": "text/csv" })
        response.end(auditCsv)
      })
      const cp = yield* make(server)
      const events = Chunk.toArray(yield* Stream.runCollect(cp.auditLogEvents()))
      expect(events.map((e) => e.eventName)).toEqual(["Logged in", "Created deployment"])
      expect(events[0]?.attributes).toEqual({ method: "password" })
      expect(events[0]?.deploymentId).toBeNull()
      expect(events[1]?.deploymentId).toBe("123")
    }))

  live("a malformed audit-log row is UnexpectedResponse naming the event", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => {
        response.writeHead(200, { "content-type": "text/csv" })
        response.end(auditCsv.replace("{}", "{oops"))
      })
      const cp = yield* make(server)
      const error = yield* Effect.flip(Stream.runDrain(cp.auditLogEvents()))
      assert.strictEqual(error._tag, "UnexpectedResponse")
      if (error._tag === "UnexpectedResponse") expect(error.detail).toContain("evt_2")
    }))

  live(
    "interrupting the caller aborts the request in flight (the server sees the socket close)",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer(() => {
          // never answers
        })
        const cp = yield* make(server)
        const fiber = yield* Effect.fork(cp.listDeployments())
        yield* eventually(() => server.received.length === 1)
        yield* Fiber.interrupt(fiber)
        yield* eventually(() => server.aborted.length === 1)
      })
  )

  live("interrupting an export mid-body aborts it", () =>
    Effect.gen(function*() {
      const server = yield* startServer((_, response) => {
        response.writeHead(200, { "content-type": "text/csv" })
        response.write(auditCsv.slice(0, 50))
      })
      const cp = yield* make(server)
      yield* Stream.runCollect(Stream.take(cp.exportAuditLog(), 1))
      yield* eventually(() => server.aborted.length === 1)
    }))

  live(
    "no span and no log line carries the key, even when the redacted header names were emptied",
    () =>
      Effect.gen(function*() {
        const { spans, tracer } = recordingTracer()
        const logs: Array<string> = []
        const logger = Logger.make((options) => {
          logs.push(Logger.logfmtLogger.log(options))
        })
        const server = yield* startServer((_, response, index) =>
          index === 0 ? json(response, 503, { error: "blip" }) : json(response, 200, reference.deployments)
        )
        const cp = yield* make(server, { retry: { baseDelay: "1 millis" } })
        yield* cp.listDeployments().pipe(
          Effect.locally(Headers.currentRedactedNames, []),
          Effect.withTracer(tracer),
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.All)
        )
        const headerAttributes = spans.flatMap((span) =>
          [...span.attributes].filter(([key]) => key === "http.request.header.authorization")
        )
        expect(headerAttributes.length).toBeGreaterThan(0)
        for (const [, value] of headerAttributes) expect(String(value)).toBe("<redacted>")
        for (const span of spans) {
          expect(span.name).not.toContain("SECRET")
          for (const [key, value] of span.attributes) expect(`${key}=${String(value)}`).not.toContain("SECRET")
        }
        expect(logs.some((line) => line.includes("retrying"))).toBe(true)
        for (const line of logs) expect(line).not.toContain("SECRET")
      })
  )

  live("a base URL that is not http(s) fails at once, without a request or retries", () =>
    Effect.gen(function*() {
      const cp = yield* make({ url: "acme.cubecloud.dev" }, { retry: {} })
      const error = yield* Effect.flip(cp.listDeployments())
      assert.strictEqual(error._tag, "TransportError")
      expect(error.message).toContain("CUBE_API_URL")
    }))

  live("a per-attempt timeout fails with TransportError Timeout and aborts the request", () =>
    Effect.gen(function*() {
      const server = yield* startServer(() => {
        // never answers
      })
      const cp = yield* make(server, { timeout: "100 millis" })
      const error = yield* Effect.flip(cp.listDeployments())
      assert.strictEqual(error._tag, "TransportError")
      if (error._tag === "TransportError") expect(error.reason).toBe("Timeout")
      yield* eventually(() => server.aborted.length === 1)
    }))
})

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

describe("HttpControlPlane.layerConfig", () => {
  const viaConfig = (env: Record<string, string>) =>
    Effect.flatMap(ControlPlane, (cp) => cp.listDeployments()).pipe(
      Effect.provide(HttpControlPlane.layerConfig({ retry: { maxRetries: 0 } })),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
    )

  live(
    "reads CUBE_API_URL and CUBE_API_KEY; the scheme defaults to bearer; CUBE_AUTH_SCHEME overrides",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer((_, response) => json(response, 200, reference.deployments))
        yield* viaConfig({ CUBE_API_URL: server.url, CUBE_API_KEY: SK_KEY })
        yield* viaConfig({ CUBE_API_URL: server.url, CUBE_API_KEY: PLAIN_KEY })
        yield* viaConfig({ CUBE_API_URL: server.url, CUBE_API_KEY: SK_KEY, CUBE_AUTH_SCHEME: "bearer" })
        yield* viaConfig({ CUBE_API_URL: server.url, CUBE_API_KEY: PLAIN_KEY, CUBE_AUTH_SCHEME: "API-KEY" })
        expect(server.received.map((r) => r.headers.authorization)).toEqual([
          `Bearer ${SK_KEY}`,
          `Bearer ${PLAIN_KEY}`,
          `Bearer ${SK_KEY}`,
          `Api-Key ${PLAIN_KEY}`
        ])
      })
  )

  const configError = (env: Record<string, string>) =>
    Effect.map(Effect.either(viaConfig(env)), (result) => {
      assert.isTrue(Either.isLeft(result))
      return Either.isLeft(result) ? result.left : undefined
    })

  live("a missing variable is a ConfigError naming it", () =>
    Effect.gen(function*() {
      const noKey = yield* configError({ CUBE_API_URL: "http://127.0.0.1:1" })
      expect(String(noKey)).toContain("CUBE_API_KEY")
      const noUrl = yield* configError({ CUBE_API_KEY: SK_KEY })
      expect(String(noUrl)).toContain("CUBE_API_URL")
      assertNoKey(noUrl)
    }))

  live("an invalid URL or scheme is a ConfigError naming the variable", () =>
    Effect.gen(function*() {
      const badScheme = yield* configError({
        CUBE_API_URL: "http://x",
        CUBE_API_KEY: SK_KEY,
        CUBE_AUTH_SCHEME: "basic"
      })
      expect(String(badScheme)).toContain("CUBE_AUTH_SCHEME")
      const badUrl = yield* configError({ CUBE_API_URL: "acme.cubecloud.dev", CUBE_API_KEY: SK_KEY })
      expect(String(badUrl)).toContain("CUBE_API_URL")
      const emptyKey = yield* configError({ CUBE_API_URL: "http://x", CUBE_API_KEY: " " })
      expect(String(emptyKey)).toContain("CUBE_API_KEY")
    }))
})
