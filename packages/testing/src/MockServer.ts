/**
 * The mock Control Plane over HTTP: a Hono app serving the whole `/api/v1`
 * surface in the reference page's wire format (encoded with core's
 * schemas), with the rules of `MockStore`, injected faults (`Faults`) and an
 * admin surface under `/__mock/`.
 *
 * Unit tests call `app(store).request(...)`; end-to-end tests `start()` it on
 * a real port (connection resets and truncated bodies need a real socket).
 *
 * @since 0.1.0
 */
import { Api, Domain } from "@cubeplane/core"
import * as ParserRefusal from "@cubeplane/core/ParserRefusal"
import { serve } from "@hono/node-server"
import { Effect, Either, Layer, ManagedRuntime, Schema } from "effect"
import type { Context } from "hono"
import { Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import { randomUUID } from "node:crypto"
import { IncomingMessage, Server, ServerResponse } from "node:http"
import type { Socket } from "node:net"
import * as Contract from "./Contract.js"
import * as Faults from "./Faults.js"
import * as MockStore from "./MockStore.js"
import * as Pipeline from "./Pipeline.js"
import * as Seed from "./Seed.js"

export interface AppOptions {
  /** The largest request body accepted on `/api/*` (413 above). Default: 1 MB. */
  readonly maxBodyBytes?: number
  /** The largest seed accepted by `PUT /__mock/seed`. Default: 64 MB. */
  readonly maxSeedBytes?: number
}

export const defaultMaxBodyBytes = 1024 * 1024

/** The header a request may carry to inject a fault into its own answer. */
export const faultHeader = "x-mock-fault"

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

const encodeErrorBody = Schema.encodeSync(Domain.ErrorBody)

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers }
  })

const errorResponse = (status: number, error: string, headers: Record<string, string> = {}): Response =>
  json(status, encodeErrorBody({ error }), headers)

const failureResponse = (failure: MockStore.MockFailure): Response =>
  errorResponse(
    failure.status,
    failure.error,
    failure.retryAfter !== undefined ? { "retry-after": String(failure.retryAfter) } : {}
  )

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * A lazy body: each chunk is produced when the socket asks for it, and only
 * after a turn of the event loop, so a long export (ten million events) never
 * keeps other requests waiting: they are served between its chunks. Empty
 * chunks (pauses in a long filtered scan) are skipped.
 */
export const readableFrom = (chunks: Iterator<Uint8Array>): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        await nextTurn()
        const next = chunks.next()
        if (next.done === true) {
          controller.close()
          return
        }
        if (next.value.length > 0) {
          controller.enqueue(next.value)
          return
        }
      }
    },
    cancel() {
      chunks.return?.(undefined)
    }
  }, { highWaterMark: 0 })

// ---------------------------------------------------------------------------
// The Node socket (for resets and cuts)
// ---------------------------------------------------------------------------

interface NodeConnection {
  readonly socket: Socket
  readonly outgoing: ServerResponse
}

/** The Node connection under a request, when served by @hono/node-server (not under `app.request`). */
const nodeConnection = (c: Context): NodeConnection | undefined => {
  const bindings: unknown = c.env
  if (typeof bindings !== "object" || bindings === null) return undefined
  if (!("incoming" in bindings) || !("outgoing" in bindings)) return undefined
  const { incoming, outgoing } = bindings
  if (!(incoming instanceof IncomingMessage) || !(outgoing instanceof ServerResponse)) return undefined
  return { socket: incoming.socket, outgoing }
}

/** Thrown for a `reset` fault outside Node: `app.request(...)` then rejects, as `fetch` does on a reset. */
export class ConnectionReset extends Error {
  constructor() {
    super("x-mock-fault: connection reset without a response")
    this.name = "ConnectionReset"
  }
}

const alreadySent = () => new Response(null, { headers: { "x-hono-already-sent": "true" } })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Lets the bytes already written reach the client, then destroys the socket. */
const cut = async (connection: NodeConnection): Promise<void> => {
  await sleep(20)
  for (let waited = 0; connection.socket.writableLength > 0 && waited < 2000; waited += 10) await sleep(10)
  connection.socket.destroy()
}

/** Sends the first `afterBytes` bytes of `response`'s body, then cuts the connection (or errors the body outside Node). */
const truncate = (response: Response, afterBytes: number, connection: NodeConnection | undefined): Response => {
  const reader = response.body?.getReader()
  let sent = 0
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = sent < afterBytes && reader !== undefined ? await reader.read() : undefined
      if (next !== undefined && next.done !== true) {
        const chunk = next.value.length > afterBytes - sent ? next.value.subarray(0, afterBytes - sent) : next.value
        sent += chunk.length
        controller.enqueue(chunk)
        return
      }
      if (next?.done === true && sent < afterBytes) {
        // The body was shorter than the cut: it is sent whole.
        controller.close()
        return
      }
      await reader?.cancel()
      if (connection === undefined) {
        controller.error(new Error(`x-mock-fault: connection cut after ${afterBytes} bytes`))
        return
      }
      await cut(connection)
      // Destroying the socket cancels this stream; nothing more is written.
      await new Promise<void>(() => {})
    },
    cancel() {
      void reader?.cancel()
    }
  }, { highWaterMark: 0 })
  const headers = new Headers(response.headers)
  headers.delete("content-length")
  return new Response(body, { status: response.status, headers })
}

// ---------------------------------------------------------------------------
// The app
// ---------------------------------------------------------------------------

const methodNotAllowed = (allow: ReadonlyArray<string>) => (c: Context) =>
  errorResponse(
    405,
    `Method ${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(" or ")}`,
    { allow: allow.join(", ") }
  )

const isOperation = Schema.is(Api.Operation)

/** `GET /__mock/requests?operation=&status=&keyName=&since=`: each given filter must match. */
const journalFilter = (query: Record<string, string>): Either.Either<MockStore.JournalFilter, string> => {
  const { keyName, operation, since, status } = query
  if (operation !== undefined && !isOperation(operation)) {
    return Either.left(
      `operation must be one of ${Api.Operation.literals.join(", ")}, got ${JSON.stringify(operation)}`
    )
  }
  if (status !== undefined && status !== "null" && !/^\d{3}$/.test(status)) {
    return Either.left(
      `status must be a 3-digit HTTP status (or null for a reset connection), got ${JSON.stringify(status)}`
    )
  }
  const sinceMillis = since === undefined ? undefined : Date.parse(since)
  if (sinceMillis !== undefined && Number.isNaN(sinceMillis)) {
    return Either.left(`since must be an ISO 8601 date-time (e.g. 2024-01-31T12:00:00Z), got ${JSON.stringify(since)}`)
  }
  return Either.right({
    ...(operation !== undefined ? { operation } : {}),
    ...(status !== undefined ? { status: status === "null" ? null : Number(status) } : {}),
    ...(keyName !== undefined ? { keyName } : {}),
    ...(sinceMillis !== undefined ? { since: sinceMillis } : {})
  })
}

/**
 * The mock as a Hono app over `store`. Middleware, in order: request id,
 * body limit (`/api/*`), then the admin routes, the API routes (each: fault,
 * authentication, the store's rule, call recording), 405 for a known path
 * with the wrong method, and JSON 404/500 for everything else.
 */
export const app = (store: MockStore.MockStore, options: AppOptions = {}): Hono => {
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes
  const app = new Hono()
  // One runtime for every request: the pipeline's typed refusals come back as values.
  const runtime = ManagedRuntime.make(Layer.empty)

  app.use("*", async (c, next) => {
    const requestId = c.req.header("x-request-id") ?? `req_${randomUUID()}`
    await next()
    if (!c.res.headers.has("x-hono-already-sent")) c.res.headers.set("x-request-id", requestId)
  })

  app.use(
    "/api/*",
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () =>
        errorResponse(
          413,
          `The request body is larger than ${maxBodyBytes} bytes — send a smaller body (a token request needs only security_context and expires_in)`,
          // The rest of the body is not read: close the connection so no client reuses it mid-body.
          { connection: "close" }
        )
    })
  )

  // ---- admin ----------------------------------------------------------------

  const admin = "/__mock"
  const readJson = async (c: Context): Promise<Either.Either<unknown, string>> => {
    const text = await c.req.text()
    try {
      return Either.right(text === "" ? undefined : JSON.parse(text))
    } catch (error) {
      return Either.left(`The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  app.post(`${admin}/reset`, () => {
    MockStore.reset(store)
    return json(200, { reset: true })
  })
  app.all(`${admin}/reset`, methodNotAllowed(["POST"]))

  app.put(
    `${admin}/seed`,
    bodyLimit({
      maxSize: options.maxSeedBytes ?? 64 * 1024 * 1024,
      onError: () =>
        errorResponse(413, "The seed is too large for PUT /__mock/seed — start the mock with --seed FILE", {
          connection: "close"
        })
    }),
    async (c) => {
      const body = await readJson(c)
      if (Either.isLeft(body)) return errorResponse(400, body.left)
      const seed = Effect.runSync(Effect.either(Seed.decode(body.right)))
      if (Either.isLeft(seed)) {
        return json(400, { error: seed.left.message, issues: seed.left.issues })
      }
      MockStore.load(store, seed.right)
      return json(200, {
        loaded: true,
        plan: seed.right.plan,
        apiKeys: seed.right.apiKeys.length,
        deployments: seed.right.deployments.length,
        auditLog: seed.right.auditLog.length
      })
    }
  )
  app.all(`${admin}/seed`, methodNotAllowed(["PUT"]))

  app.post(`${admin}/faults`, async (c) => {
    const body = await readJson(c)
    if (Either.isLeft(body)) return errorResponse(400, body.left)
    const fault = Faults.decode(body.right ?? {})
    if (Either.isLeft(fault)) return errorResponse(400, fault.left)
    const registered = Faults.add(store.faults, fault.right)
    return json(201, { id: registered.id, ...registered.fault })
  })
  app.get(`${admin}/faults`, () => json(200, { faults: Faults.toJson(store.faults) }))
  app.delete(`${admin}/faults`, () => {
    const cleared = store.faults.faults.length
    Faults.clear(store.faults)
    return json(200, { cleared })
  })
  app.all(`${admin}/faults`, methodNotAllowed(["GET", "POST", "DELETE"]))
  app.delete(`${admin}/faults/:id`, (c) =>
    Faults.remove(store.faults, c.req.param("id"))
      ? json(200, { removed: c.req.param("id") })
      : errorResponse(404, `No fault ${c.req.param("id")} — GET /__mock/faults lists them`))
  app.all(`${admin}/faults/:id`, methodNotAllowed(["DELETE"]))

  app.get(`${admin}/calls`, () => json(200, { calls: store.calls.map(MockStore.callOf) }))
  app.delete(`${admin}/calls`, () => {
    const cleared = store.calls.length
    MockStore.clearCalls(store)
    return json(200, { cleared })
  })
  app.all(`${admin}/calls`, methodNotAllowed(["GET", "DELETE"]))

  app.get(`${admin}/requests`, (c) => {
    const filter = journalFilter(c.req.query())
    if (Either.isLeft(filter)) return errorResponse(400, filter.left)
    return json(200, {
      requests: MockStore.journal(store, filter.right).map((call) => ({
        ...call,
        at: new Date(call.at).toISOString()
      }))
    })
  })
  app.all(`${admin}/requests`, methodNotAllowed(["GET"]))

  // ---- the API: routes from core's contract, one pipeline ---------------------

  /** The pipeline's answer as an HTTP response (a fault may cut its body). */
  const respond = (c: Context, answered: Pipeline.Answered): Response => {
    const response = answered.answer._tag === "Json"
      ? json(200, answered.answer.body)
      : new Response(readableFrom(answered.answer.csv.csv()), {
        status: 200,
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": "attachment; filename=\"audit_log.csv\""
        }
      })
    return answered.truncateAfterBytes !== undefined
      ? truncate(response, answered.truncateAfterBytes, nodeConnection(c))
      : response
  }

  const refuse = (c: Context, refusal: Pipeline.Refusal): Response => {
    if (refusal._tag === "MockFailure") return failureResponse(refusal)
    const connection = nodeConnection(c)
    if (connection === undefined) throw new ConnectionReset()
    connection.socket.destroy()
    return alreadySent()
  }

  for (const route of Contract.routes) {
    app.on(route.method, route.path, async (c) => {
      const header = c.req.header(faultHeader)
      const request: Pipeline.MockRequest = {
        operation: route.operation,
        authorization: c.req.header("authorization"),
        params: c.req.param(),
        query: c.req.query(),
        ...(route.hasPayload ? { body: await readJson(c) } : {}),
        ...(header !== undefined ? { faultHeader: header } : {})
      }
      const result = await runtime.runPromise(Effect.either(Pipeline.run(store, request)))
      return Either.match(result, {
        onLeft: (refusal) => refuse(c, refusal),
        onRight: (answered) => respond(c, answered)
      })
    })
  }
  for (const [path, methods] of Contract.methodsByPath) app.all(path, methodNotAllowed(methods))

  app.notFound((c) =>
    errorResponse(
      404,
      `No such endpoint: ${c.req.method} ${c.req.path} — the API is under ${Api.apiPrefix} (deployments, deployments/{id}/environments, …/tokens-for-meta-sync, audit-logs/export)`
    )
  )

  app.onError((error) => {
    if (error instanceof ConnectionReset) throw error
    return errorResponse(500, `The mock failed unexpectedly (a bug in @cubeplane/testing): ${error.message}`)
  })

  return app
}

// ---------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------

export interface StartOptions {
  /** Default: 0 (a free port). */
  readonly port?: number
  /** Default: 127.0.0.1 (the admin surface has no authentication). */
  readonly host?: string
  /** Default: `Seed.demo`. Ignored when `store` is given. */
  readonly seed?: Seed.Seed
  /**
   * The wire shape to answer in, overriding the seed's `shape` (`reference` or `platform`; see
   * `Seed.withShape`). Ignored when `store` is given (a store answers in its seed's shape).
   */
  readonly shape?: Domain.WireShape
  /** Serve an existing store (for example the one a `ControlPlaneTest` layer uses). */
  readonly store?: MockStore.MockStore
  readonly app?: AppOptions
}

export interface RunningServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string
  readonly port: number
  readonly store: MockStore.MockStore
  /** Stops listening and closes open connections. */
  readonly close: () => Promise<void>
}

/** Starts the mock on a real port. */
export const start = async (options: StartOptions = {}): Promise<RunningServer> => {
  const seed = options.seed ?? Seed.demo
  // A seed the shape cannot serve (non-integer ids in the platform shape) rejects with a SeedError naming them.
  const store = options.store ??
    MockStore.make(options.shape === undefined ? seed : await Effect.runPromise(Seed.withShape(seed, options.shape)))
  const host = options.host ?? "127.0.0.1"
  const honoApp = app(store, options.app)
  return await new Promise((resolve, reject) => {
    const server = serve({ fetch: honoApp.fetch, port: options.port ?? 0, hostname: host }, (info) => {
      server.off("error", reject)
      const urlHost = host.includes(":") ? `[${host}]` : host
      resolve({
        url: `http://${urlHost}:${info.port}`,
        port: info.port,
        store,
        close: () =>
          new Promise<void>((done, failed) => {
            server.close((error) => (error ? failed(error) : done()))
            if (server instanceof Server) server.closeAllConnections()
          })
      })
    })
    server.once("error", reject)
    // What Node's parser refuses (not HTTP, smuggling, oversized headers) gets the API's {"error"} body too.
    server.on("clientError", ParserRefusal.answer)
  })
}

/** `start` as a scoped Effect: the server stops when the scope closes. */
export const scoped = (options: StartOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (running) => Effect.promise(() => running.close())
  )
