/**
 * The proxy on a port: the Hono app behind `node:http`, with graceful
 * shutdown that stops accepting connections, lets requests in flight finish
 * (exports included), and gives up after a grace period.
 *
 * @since 0.1.0
 */
import { getRequestListener } from "@hono/node-server"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { type AppDeps, makeApp } from "./App.js"

export interface RunningProxy {
  readonly url: string
  readonly port: number
  readonly server: http.Server
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

export const start = (
  deps: AppDeps,
  options: { readonly port: number; readonly host: string }
): Promise<RunningProxy> => {
  const app = makeApp(deps)
  const server = http.createServer(getRequestListener(app.fetch))
  return new Promise((resolve, reject) => {
    const onError = (error: Error & { code?: string }) => {
      reject(error.code === "EADDRINUSE" ? new PortInUse(options.port, options.host) : error)
    }
    server.once("error", onError)
    server.listen(options.port, options.host, () => {
      server.off("error", onError)
      const { port } = addressOf(server)
      const shownHost = options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host
      resolve({
        url: `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${port}`,
        port,
        server,
        close: (graceMs = 10_000) => shutdown(server, graceMs).finally(() => deps.upstream.close())
      })
    })
  })
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
