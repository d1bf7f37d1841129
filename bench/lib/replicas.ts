/**
 * What the store benchmark and the soak share: free ports, a `redis-server`
 * of their own (nothing persisted), the benchmark upstream, and proxy
 * processes (`apps/proxy/dist/main.js`) with a given config and store.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, waitFor } from "./net.js"

const here = fileURLToPath(new URL("..", import.meta.url))
export const proxyEntry = join(here, "../apps/proxy/dist/main.js")

export const spawnNode = (args: ReadonlyArray<string>, env: Record<string, string>): ChildProcess =>
  spawn(process.execPath, [...args], {
    cwd: here,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"]
  })

export const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
    setTimeout(() => child.kill("SIGKILL"), 3000).unref()
  })

/** A `redis-server` on a free port; resolves once it answers PING. */
export const startRedis = async (): Promise<{ readonly url: string; readonly child: ChildProcess }> => {
  const port = await freePort()
  const child = spawn("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no"
  ], {
    stdio: "ignore"
  })
  const deadline = Date.now() + 20_000
  for (;;) {
    const pong = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: "127.0.0.1" })
      socket.once("error", () => resolve(false))
      socket.once("connect", () => socket.write("PING\r\n"))
      socket.once("data", (chunk: Buffer) => {
        socket.destroy()
        resolve(chunk.toString("utf8").startsWith("+PONG"))
      })
    })
    if (pong) return { url: `redis://127.0.0.1:${port}/0`, child }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error("redis-server did not start (is it installed?)")
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The benchmark upstream (`lib/proxy-upstream.ts`), a ~1 KB deployments list. */
export const startUpstream = async (): Promise<{ readonly url: string; readonly child: ChildProcess }> => {
  const port = await freePort()
  const child = spawnNode(["--import", "tsx", "lib/proxy-upstream.ts"], { PORT: String(port) })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/api/v1/deployments`)
  return { url, child }
}

/** A proxy process on `upstream` with the config at `configPath`, in memory or on `store`. */
export const startProxy = async (options: {
  readonly upstream: string
  readonly configPath: string
  readonly store?: string
}): Promise<{ readonly url: string; readonly child: ChildProcess }> => {
  const port = await freePort()
  const child = spawnNode([proxyEntry], {
    PORT: String(port),
    HOST: "127.0.0.1",
    CUBE_API_URL: options.upstream,
    CUBE_API_KEY: "sk-bench-upstream-key",
    CUBEPLANE_PROXY_CONFIG: options.configPath,
    ...(options.store === undefined ? {} : { CUBEPLANE_PROXY_STORE: options.store })
  })
  const url = `http://127.0.0.1:${port}`
  await waitFor(`${url}/readyz`)
  return { url, child }
}
