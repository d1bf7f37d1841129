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
import { serve } from "@hono/node-server"
import { Effect, Either, Exit, Option, Schema } from "effect"
import type { Context } from "hono"
import { Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import { randomUUID } from "node:crypto"
import { IncomingMessage, Server, ServerResponse } from "node:http"
import type { Socket } from "node:net"
import * as Faults from "./Faults.js"
import * as MockStore from "./MockStore.js"
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

type Rule = (key: Seed.ApiKey) => Effect.Effect<Response, MockStore.MockFailure>

const methodNotAllowed = (allow: ReadonlyArray<string>) => (c: Context) =>
  errorResponse(
    405,
    `Method ${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(" or ")}`,
    { allow: allow.join(", ") }
  )

/** The first value of each query parameter. */
const queryOf = (c: Context): MockStore.Query => c.req.query()

/**
 * The mock as a Hono app over `store`. Middleware, in order: request id,
 * body limit (`/api/*`), then the admin routes, the API routes (each: fault,
 * authentication, the store's rule, call recording), 405 for a known path
 * with the wrong method, and JSON 404/500 for everything else.
 */
export const app = (store: MockStore.MockStore, options: AppOptions = {}): Hono => {
  const maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes
  const app = new Hono()

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

  app.get(`${admin}/calls`, () => json(200, { calls: store.calls }))
  app.delete(`${admin}/calls`, () => {
    const cleared = store.calls.length
    MockStore.clearCalls(store)
    return json(200, { cleared })
  })
  app.all(`${admin}/calls`, methodNotAllowed(["GET", "DELETE"]))

  // ---- the API --------------------------------------------------------------

  /** The fault for this request: its `x-mock-fault` header, else the first registered one for the operation. */
  const faultFor = (
    c: Context,
    operation: Api.Operation
  ): Either.Either<Option.Option<{ readonly id: string; readonly fault: Faults.Fault }>, string> => {
    const header = c.req.header(faultHeader)
    if (header !== undefined) {
      return Either.map(
        Faults.parse(header),
        (fault) => Faults.appliesTo(fault, operation) ? Option.some({ id: "header", fault }) : Option.none()
      )
    }
    return Either.right(Faults.take(store.faults, operation))
  }

  const handle = async (
    c: Context,
    operation: Api.Operation,
    args: Record<string, unknown>,
    rule: Rule
  ): Promise<Response> => {
    const authorization = c.req.header("authorization")
    const keyName = MockStore.keyNameOf(store, authorization)
    const record = (status: number | null, fault?: string) =>
      MockStore.record(store, {
        operation,
        arguments: args,
        keyName,
        status,
        ...(fault !== undefined ? { fault } : {})
      })

    const found = faultFor(c, operation)
    if (Either.isLeft(found)) {
      record(400)
      return errorResponse(400, found.left)
    }
    const fault = Option.getOrUndefined(found.right)
    let truncateAfter: number | undefined
    if (fault !== undefined) {
      if (fault.fault.latencyMs !== undefined) await sleep(fault.fault.latencyMs)
      const outcome = Faults.outcome(fault.fault)
      switch (outcome._tag) {
        case "Reset": {
          record(null, fault.id)
          const connection = nodeConnection(c)
          if (connection === undefined) throw new ConnectionReset()
          connection.socket.destroy()
          return alreadySent()
        }
        case "Error":
          record(outcome.status, fault.id)
          return errorResponse(
            outcome.status,
            outcome.error,
            outcome.retryAfter !== undefined ? { "retry-after": String(outcome.retryAfter) } : {}
          )
        case "Truncate":
          truncateAfter = outcome.afterBytes
          break
        case "Normal":
          break
      }
    }

    const exit = await Effect.runPromiseExit(Effect.flatMap(MockStore.authenticate(store, authorization), rule))
    const response = Exit.match(exit, {
      onSuccess: (response) => response,
      onFailure: (cause) => {
        const failure = cause._tag === "Fail" ? cause.error : undefined
        if (failure === undefined) throw new Error(`mock: unexpected failure in ${operation}`, { cause })
        return failureResponse(failure)
      }
    })
    record(response.status, fault?.id)
    return truncateAfter !== undefined && response.ok ? truncate(response, truncateAfter, nodeConnection(c)) : response
  }

  app.get(Api.routes.deployments, (c) => {
    const query = queryOf(c)
    return handle(
      c,
      "listDeployments",
      MockStore.argumentsOf("listDeployments", { query }),
      (key) => Effect.map(MockStore.listDeployments(store, key, query), (body) => json(200, body))
    )
  })
  app.all(Api.routes.deployments, methodNotAllowed(["GET"]))

  app.get(Api.routes.environments, (c) => {
    const query = queryOf(c)
    const deploymentId = c.req.param("deployment_id")
    return handle(
      c,
      "listEnvironments",
      MockStore.argumentsOf("listEnvironments", { deploymentId, query }),
      (key) => Effect.map(MockStore.listEnvironments(store, key, deploymentId, query), (body) => json(200, body))
    )
  })
  app.all(Api.routes.environments, methodNotAllowed(["GET"]))

  app.post(Api.routes.metaSyncToken, async (c) => {
    const deploymentId = c.req.param("deployment_id")
    const environmentId = c.req.param("environment_id")
    const body = await readJson(c)
    const parsed = Either.getOrUndefined(body)
    return handle(
      c,
      "createMetaSyncToken",
      MockStore.argumentsOf("createMetaSyncToken", { deploymentId, environmentId, body: parsed }),
      (key) =>
        Either.isLeft(body)
          ? Effect.fail(new MockStore.MockFailure({ status: 400, error: body.left }))
          : Effect.map(
            MockStore.createMetaSyncToken(store, key, deploymentId, environmentId, body.right),
            (token) => json(200, token)
          )
    )
  })
  app.all(Api.routes.metaSyncToken, methodNotAllowed(["POST"]))

  app.get(Api.routes.auditLogExport, (c) => {
    const query = queryOf(c)
    return handle(
      c,
      "exportAuditLog",
      MockStore.argumentsOf("exportAuditLog", { query }),
      (key) =>
        Effect.map(
          MockStore.exportAuditLog(store, key, query),
          (csvExport) =>
            new Response(readableFrom(csvExport.csv()), {
              status: 200,
              headers: {
                "content-type": "text/csv; charset=utf-8",
                "content-disposition": "attachment; filename=\"audit_log.csv\""
              }
            })
        )
    )
  })
  app.all(Api.routes.auditLogExport, methodNotAllowed(["GET"]))

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
  })
}

/** `start` as a scoped Effect: the server stops when the scope closes. */
export const scoped = (options: StartOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (running) => Effect.promise(() => running.close())
  )
