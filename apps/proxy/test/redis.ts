/**
 * A real `redis-server` for the tests: started on a free port with nothing
 * persisted, ready when it answers PING (polled, not slept), stopped with the
 * suite. Never a mock. Without `redis-server` on the PATH the suites that
 * need it are skipped with a message (CI installs it: see `.ci/run`), except
 * under `CI=true`, where a missing server is a failure.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as net from "node:net"

export const hasRedis = (() => {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    if (process.env["CI"] === "true") throw new Error("redis-server is not installed: .ci/run should have installed it")
    process.stderr.write(
      "redis-server is not installed: skipping the shared-store tests (apt-get install redis-server)\n"
    )
    return false
  }
})()

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** One PING over a fresh connection: true when Redis answers PONG. */
export const ping = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" })
    let answer = ""
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("error", () => done(false))
    socket.on("data", (chunk: Buffer) => {
      answer += chunk.toString("utf8")
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"))
    })
    socket.once("connect", () => socket.write("PING\r\n"))
  })

/** Polls `condition` every 20 ms until it holds; fails after `limitMs` (a bound, not a timing assertion). */
export const until = async (
  condition: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 20_000
): Promise<void> => {
  const started = Date.now()
  for (;;) {
    if (await condition()) return
    if (Date.now() - started > limitMs) throw new Error(`gave up waiting ${limitMs} ms for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface RunningRedis {
  readonly port: number
  readonly url: string
  /** Stops the server (SIGKILL when `hard`) and waits for it to exit. */
  readonly stop: (hard?: boolean) => Promise<void>
  /** Starts it again on the same port and waits until it answers. */
  readonly restart: () => Promise<void>
}

export const startRedis = async (): Promise<RunningRedis> => {
  const port = await freePort()
  let child: ChildProcess | undefined
  const launch = async () => {
    const started = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" }
    )
    child = started
    let exited = false
    started.once("exit", () => (exited = true))
    await until(async () => {
      if (exited) throw new Error(`redis-server exited at start (port ${port})`)
      return ping(port)
    }, `redis-server on port ${port} to answer PING`)
  }
  const stop = async (hard = false) => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once("exit", resolve))
    running.kill(hard ? "SIGKILL" : "SIGTERM")
    await exited
  }
  await launch()
  return { port, url: `redis://127.0.0.1:${port}/0`, stop, restart: launch }
}
