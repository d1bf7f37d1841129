/**
 * The Promise facade end to end: global fetch against a real node:http server.
 */
import { Effect, Exit, Scope } from "effect"
import { inspect } from "node:util"
import { describe, expect, it } from "vitest"
import type { Client } from "../src/Promise.js"
import {
  BadRequestError,
  ControlPlaneError,
  createClient,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  TransportError,
  UnauthorizedError,
  UnexpectedResponseError
} from "../src/Promise.js"
import type { Handler, TestServer } from "./support/server.js"
import { auditCsv, closedPort, json, platformDeploymentsServer, reference, startServer } from "./support/server.js"

const KEY = "sk-promise-SECRET-91c2"

/** Runs `body` with a real server and a client pointed at it; closes both afterwards. */
const withServer = async (handler: Handler, body: (server: TestServer, client: Client) => Promise<void>) => {
  const scope = Effect.runSync(Scope.make())
  const server = await Effect.runPromise(Scope.extend(startServer(handler), scope))
  const client = createClient({ url: server.url, apiKey: KEY, retry: { maxRetries: 0 } })
  try {
    await body(server, client)
  } finally {
    await client.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** A server listing `total` deployments, at most `cap` per page. */
const deploymentsServer = (total: number, cap: number): Handler => (request, response) => {
  const url = new URL(request.url, "http://x")
  const offset = Number(url.searchParams.get("offset") ?? 0)
  const limit = Math.min(Number(url.searchParams.get("limit") ?? 20), cap)
  const deployments = []
  for (let i = offset; i < Math.min(offset + limit, total); i++) {
    deployments.push({ id: String(i), name: `Deployment ${i}`, created_at: "2024-01-15T10:30:00.000Z" })
  }
  json(response, 200, { data: { deployments }, pagination: { offset, limit, total } })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 400 && !condition(); i++) await sleep(5)
  expect(condition()).toBe(true)
}

const caught = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}

describe("Promise facade", () => {
  it("lists one page of deployments", () =>
    withServer((_, response) => json(response, 200, reference.deployments), async (server, client) => {
      const page = await client.deployments.list({ limit: 5 })
      expect(page.items.map((d) => [d.id, d.name])).toEqual([["123", "My Deployment"]])
      expect(page.items[0]?.createdAt).toBeInstanceOf(Date)
      expect(page.pagination?.total).toBe(1)
      expect(server.received[0]?.url).toBe("/api/v1/deployments?limit=5")
      expect(server.received[0]?.headers.authorization).toBe(`Bearer ${KEY}`)
    }))

  it("iterates every deployment with for await, page by page", () =>
    withServer(deploymentsServer(35, 10), async (server, client) => {
      const ids: Array<string> = []
      for await (const deployment of client.deployments.all()) ids.push(deployment.id)
      expect(ids).toEqual(Array.from({ length: 35 }, (_, i) => String(i)))
      expect(server.received).toHaveLength(4)
    }))

  it("for await follows cursors on a server in Cube's platform shape", () =>
    withServer(platformDeploymentsServer(25, 10), async (server, client) => {
      const ids: Array<string> = []
      for await (const deployment of client.deployments.all()) ids.push(deployment.id)
      expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => String(1000 + i)))
      expect(server.received.slice(1).every((r) => r.url.includes("after=") && !r.url.includes("offset="))).toBe(true)
      const page = await client.deployments.list({ first: 3 })
      expect(page.items.map((d) => d.deploymentUrl)).toEqual([0, 1, 2].map((i) => `https://d${i}.cubecloud.dev`))
      expect(page.pageInfo?.hasNextPage).toBe(true)
    }))

  it("breaking out of for await stops fetching", () =>
    withServer(deploymentsServer(1000, 10), async (server, client) => {
      let seen = 0
      for await (const _ of client.deployments.all()) {
        if (++seen === 15) break
      }
      await sleep(50)
      expect(seen).toBe(15)
      expect(server.received).toHaveLength(2)
    }))

  it("for await fetches the next page only when the items in hand are used up", () =>
    withServer(deploymentsServer(6, 2), async (server, client) => {
      const iterator = client.deployments.all({ pageSize: 2 })[Symbol.asyncIterator]()
      expect((await iterator.next()).value?.id).toBe("0")
      expect((await iterator.next()).value?.id).toBe("1")
      // A reader that pulled ahead would have asked for the second page before this request went out.
      await client.deployments.list({ limit: 1 })
      expect(server.received.map((request) => request.url)).toEqual([
        "/api/v1/deployments?offset=0&limit=2",
        "/api/v1/deployments?limit=1"
      ])
      expect((await iterator.next()).value?.id).toBe("2")
      expect(server.received).toHaveLength(3)
      await iterator.return?.()
    }))

  it("lists and iterates environments with a type filter", () =>
    withServer((_, response) => json(response, 200, reference.environments), async (server, client) => {
      const page = await client.environments.list("123", { type: "production" })
      expect(page.items[0]?.apiCredentials?.rest?.url).toBe("https://example.cubecloud.dev/cubejs-api")
      const all: Array<string> = []
      for await (const environment of client.environments.all("123", { type: "production" })) all.push(environment.id)
      expect(all).toEqual(["456"])
      expect(server.received.map((r) => r.url)).toEqual([
        "/api/v1/deployments/123/environments?type=production",
        "/api/v1/deployments/123/environments?offset=0&limit=100&type=production"
      ])
    }))

  it("mints a meta-sync token as a plain string with dates", () =>
    withServer((_, response) => json(response, 200, reference.token), async (server, client) => {
      const minted = await client.tokens.createMetaSync("123", "456", {
        securityContext: { tenant_id: "acme" },
        expiresIn: 3600
      })
      expect(minted).toEqual({
        token: reference.token.data.token,
        createdAt: new Date("2024-01-15T10:30:00.000Z"),
        expiresAt: new Date("2024-01-15T11:30:00.000Z")
      })
      expect(JSON.parse(server.received[0]?.body ?? "")).toEqual({
        security_context: { tenant_id: "acme" },
        expires_in: 3600
      })
    }))

  it("exports the audit log as a lazy web ReadableStream", () =>
    withServer((_, response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(auditCsv)
    }, async (server, client) => {
      const stream = client.auditLogs.export({ start: "2024-01-01" })
      await sleep(20)
      expect(server.received).toHaveLength(0)
      expect(await new Response(stream).text()).toBe(auditCsv)
      expect(server.received[0]?.url).toBe("/api/v1/audit-logs/export?start=2024-01-01")
    }))

  it("cancelling the export stream aborts the request", () =>
    withServer((_, response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.write(auditCsv.slice(0, 60))
    }, async (server, client) => {
      const reader = client.auditLogs.export().getReader()
      const first = await reader.read()
      expect(first.done).toBe(false)
      await reader.cancel()
      await until(() => server.aborted.length === 1)
    }))

  it("cancelling while a read waits for the server ends that read and aborts the request", () =>
    withServer((_, response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.write(auditCsv.slice(0, 60))
    }, async (server, client) => {
      const reader = client.auditLogs.export().getReader()
      await reader.read()
      const pending = reader.read()
      await sleep(20)
      await reader.cancel()
      expect((await pending).done).toBe(true)
      await until(() => server.aborted.length === 1)
    }))

  it("a return() from the iterator while a page is in flight stops it", () =>
    withServer(() => {
      // never answers
    }, async (server, client) => {
      const iterator = client.deployments.all()[Symbol.asyncIterator]()
      const pending = iterator.next()
      await until(() => server.received.length === 1)
      await iterator.return?.()
      await until(() => server.aborted.length === 1)
      expect(await Promise.race([pending.then(() => "settled", () => "settled"), sleep(1000).then(() => "hung")]))
        .toBe("settled")
    }))

  it("close() stops calls and iterations in flight", () =>
    withServer(() => {
      // never answers
    }, async (server, client) => {
      const listing = client.deployments.list()
      const iterating = client.environments.all("123")[Symbol.asyncIterator]().next()
      await until(() => server.received.length === 2)
      await client.close()
      const error = await caught(listing)
      expect(error).toBeInstanceOf(Error)
      if (error instanceof Error) expect(error.name).toBe("AbortError")
      expect((await iterating).done).toBe(true)
      await until(() => server.aborted.length === 2)
    }))

  it("iterates audit-log events", () =>
    withServer((_, response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(auditCsv)
    }, async (_, client) => {
      const names: Array<string> = []
      for await (const event of client.auditLogs.events()) names.push(event.eventName)
      expect(names).toEqual(["Logged in", "Created deployment"])
    }))

  it("throws Error subclasses you can instanceof, with the facts and without the key", () => {
    const cases = [
      [400, BadRequestError],
      [401, UnauthorizedError],
      [403, ForbiddenError],
      [404, NotFoundError],
      [429, RateLimitedError],
      [500, ServerError]
    ] as const
    return withServer((request, response) => {
      const status = Number(new URL(request.url, "http://x").searchParams.get("limit"))
      json(response, status, { error: `nope ${status}` }, { "x-request-id": `req-${status}`, "retry-after": "2" })
    }, async (_, client) => {
      for (const [status, ErrorClass] of cases) {
        const error = await caught(client.deployments.list({ limit: status }))
        expect(error).toBeInstanceOf(ErrorClass)
        expect(error).toBeInstanceOf(ControlPlaneError)
        expect(error).toBeInstanceOf(Error)
        if (!(error instanceof ControlPlaneError)) continue
        expect(error.status).toBe(status)
        expect(error.method).toBe("GET")
        expect(error.path).toBe(`/api/v1/deployments?limit=${status}`)
        expect(error.serverMessage).toBe(`nope ${status}`)
        expect(error.requestId).toBe(`req-${status}`)
        expect(error.message).toContain(`nope ${status}`)
        expect(error.name).toBe(ErrorClass.name)
        if (error instanceof RateLimitedError) expect(error.retryAfterMillis).toBe(2000)
        expect(JSON.parse(JSON.stringify(error))).toMatchObject({
          name: ErrorClass.name,
          tag: error.tag,
          message: error.message,
          status,
          requestId: `req-${status}`
        })
        for (const rendering of [error.message, String(error), JSON.stringify(error), inspect(error)]) {
          expect(rendering).not.toContain("SECRET")
        }
      }
    })
  })

  it("an unexpected body is an UnexpectedResponseError with the detail", () =>
    withServer((_, response) => json(response, 200, { data: "nope" }), async (_, client) => {
      const error = await caught(client.deployments.list())
      expect(error).toBeInstanceOf(UnexpectedResponseError)
      if (error instanceof UnexpectedResponseError) expect(error.detail).not.toBe("")
    }))

  it("errors thrown while iterating are instanceof too", () =>
    withServer((_, response) => json(response, 403, { error: "scoped key" }), async (_, client) => {
      const error = await caught((async () => {
        for await (const _ of client.deployments.all()) {
          // nothing arrives
        }
      })())
      expect(error).toBeInstanceOf(ForbiddenError)
    }))

  it("a refused connection is a TransportError", async () => {
    const port = await Effect.runPromise(closedPort)
    const client = createClient({ url: `http://127.0.0.1:${port}`, apiKey: KEY, retry: { maxRetries: 0 } })
    try {
      const error = await caught(client.deployments.list())
      expect(error).toBeInstanceOf(TransportError)
      expect(error).toMatchObject({ reason: "Connection", code: "ECONNREFUSED" })
      expect(String(error)).not.toContain("SECRET")
    } finally {
      await client.close()
    }
  })

  it("uses the fetch it is given", async () => {
    const calls: Array<string> = []
    const fetch: typeof globalThis.fetch = async (input) => {
      calls.push(input instanceof Request ? input.url : String(input))
      return new Response(JSON.stringify(reference.deployments), { headers: { "content-type": "application/json" } })
    }
    const client = createClient({ url: "https://acme.cubecloud.dev/", apiKey: "jwt-ish", fetch })
    try {
      const page = await client.deployments.list()
      expect(page.items).toHaveLength(1)
      expect(calls).toEqual(["https://acme.cubecloud.dev/api/v1/deployments"])
    } finally {
      await client.close()
    }
  })
})
