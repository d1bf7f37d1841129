/**
 * The proxy on a port: the Hono app behind `node:http`, with graceful
 * shutdown that stops accepting connections, lets requests in flight finish
 * (exports included), and gives up after a grace period.
 *
 * @since 0.1.0
 */
import { getRequestListener } from "@hono/node-server"
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { type AppDeps, makeApp } from "./App.js"
import { serverDefaults } from "./Config.js"
import { Metrics } from "./Metrics.js"
import * as MetricsEndpoint from "./MetricsEndpoint.js"
import * as Refusals from "./Refusals.js"

export interface RunningProxy {
  readonly url: string
  readonly port: number
  readonly server: http.Server
  /** The separate metrics listener's URL, when `metrics.port` is set. */
  readonly metricsUrl?: string
  /**
   * Stops accepting connections, waits for requests in flight (at most
   * `graceMs`, default 10 s, then cuts what is left) and closes idle upstream
   * connections. Resolves `true` when everything finished in time.
   */
  readonly close: (graceMs?: number) => Promise<boolean>
}

/** Fails with a message that says what to do when the port is taken. */
export class PortInUse extends Error {
  override readonly name = "PortInUse"
  constructor(readonly port: number, readonly host: string) {
    super(
      `port ${port} on ${host} is already in use: stop what is using it or set PORT to another port (e.g. PORT=${
        port + 1
      })`
    )
  }
}

/**
 * A `node:http` server with bounded timeouts (see `Config.ServerSettings`):
 * a caller must send its headers within `headersTimeoutMs` and its whole
 * request within `requestTimeoutMs` (Node bounds receiving the request, not
 * sending the response, so a long export is not cut by it); a connection
 * with no traffic for `idleTimeoutMs` is closed, a streaming export whose
 * caller stopped reading included, but not while the proxy itself waits for
 * the upstream (`waitingOnUpstream`); idle keep-alive connections close after
 * `keepAliveTimeoutMs`.
 */
export const createServer = (
  listener: http.RequestListener,
  settings: AppDeps["config"]["server"]
): http.Server => {
  const headersTimeout = settings?.headersTimeoutMs ?? serverDefaults.headersTimeoutMs
  const requestTimeout = Math.max(headersTimeout, settings?.requestTimeoutMs ?? serverDefaults.requestTimeoutMs)
  const server = http.createServer({
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: settings?.keepAliveTimeoutMs ?? serverDefaults.keepAliveTimeoutMs,
    // How often Node checks the two bounds above (its default, 30 s, lets a slow-header socket live that long).
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 4))),
    // Two `Authorization` headers arrive as one, joined by ", " (as the fetch `Headers` join them), which no
    // key matches: a request cannot be read one way by the proxy and another way by whatever is in front of it.
    joinDuplicateHeaders: true,
    // A missing `Host` is refused by the app's URL check with an `{"error"}` body (Node's own 400 has none).
    requireHostHeader: false
  }, listener)
  server.setTimeout(settings?.idleTimeoutMs ?? serverDefaults.idleTimeoutMs, (socket) => {
    // Idle means the caller is idle: not the proxy waiting for the upstream on the caller's behalf.
    if (!waitingOnUpstream(socket)) socket.destroy()
  })
  Refusals.install(server)
  return server
}

/**
 * Whether the socket is quiet because the proxy is waiting for the upstream:
 * the caller sent its whole request, its answer is not finished, and nothing
 * written to it waits for the caller to read. Then the upstream's own timeout
 * bounds the wait (a 504 or 502), not the caller's idle timeout, which would
 * close the connection without an answer. A caller that stops reading an
 * export has bytes waiting on its socket, and one that dribbles its request
 * has not sent it whole: both are still cut. (After a skipped timeout the
 * timer starts again with the socket's next activity.)
 */
const waitingOnUpstream = (socket: Socket): boolean => {
  const response: unknown = Reflect.get(socket, "_httpMessage")
  if (!(response instanceof http.ServerResponse) || response.writableFinished) return false
  return response.req.complete && socket.writableLength === 0 && !response.writableNeedDrain
}

const listen = (server: http.Server, port: number, host: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const onError = (error: Error & { code?: string }) => {
      reject(error.code === "EADDRINUSE" ? new PortInUse(port, host) : error)
    }
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      const bound = addressOf(server).port
      const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host
      resolve(`http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${bound}`)
    })
  })

/** The separate metrics listener: `/metrics` and nothing else. */
const metricsServer = (deps: AppDeps, metrics: Metrics): http.Server => {
  const endpoint = MetricsEndpoint.make(deps.config.metrics, metrics)
  return createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0]
    const answer = path === "/metrics" && (request.method === "GET" || request.method === "HEAD")
      ? endpoint(request.headers.authorization)
      : { status: 404, body: JSON.stringify({ error: "this port serves GET /metrics only" }), headers: {} }
    response.writeHead(answer.status, {
      "Content-Type": "application/json",
      ...answer.headers,
      "X-Content-Type-Options": "nosniff"
    })
    response.end(request.method === "HEAD" ? undefined : answer.body)
  }, deps.config.server)
}

export const start = async (
  deps: AppDeps,
  options: { readonly port: number; readonly host: string }
): Promise<RunningProxy> => {
  const metrics = deps.metrics ?? new Metrics()
  const app = makeApp({ ...deps, metrics })
  const server = createServer(
    Refusals.guard(getRequestListener(app.fetch, { errorHandler: Refusals.unreadableRequest })),
    deps.config.server
  )
  const url = await listen(server, options.port, options.host)
  const metricsPort = deps.config.metrics?.port
  let extra: http.Server | undefined
  let metricsUrl: string | undefined
  if (metricsPort !== undefined) {
    extra = metricsServer(deps, metrics)
    try {
      metricsUrl = await listen(extra, metricsPort, deps.config.metrics?.host ?? "127.0.0.1")
    } catch (error) {
      server.close()
      throw error
    }
  }
  const metricsListener = extra
  return {
    url,
    port: addressOf(server).port,
    server,
    ...(metricsUrl === undefined ? {} : { metricsUrl }),
    close: (graceMs = 10_000) =>
      Promise.all([
        shutdown(server, graceMs),
        metricsListener === undefined ? Promise.resolve(true) : shutdown(metricsListener, graceMs)
      ]).then(([inTime]) => inTime).finally(() => deps.upstream.close())
  }
}

const addressOf = (server: http.Server): AddressInfo => {
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("the server has no TCP address")
  return address
}

const shutdown = (server: http.Server, graceMs: number): Promise<boolean> =>
  new Promise((resolve) => {
    // Connections that finish their request while we wait are closed as soon as they are idle.
    const idle = setInterval(() => server.closeIdleConnections(), 50)
    const deadline = setTimeout(() => {
      server.closeAllConnections()
      finish(false)
    }, graceMs)
    let finished = false
    const finish = (inTime: boolean) => {
      if (finished) return
      finished = true
      clearInterval(idle)
      clearTimeout(deadline)
      resolve(inTime)
    }
    server.close(() => finish(true))
    server.closeIdleConnections()
  })
