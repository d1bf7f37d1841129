/**
 * Two proxy processes (`node dist/main.js`) behind one Redis, as Ops runs
 * them behind a load balancer: one shared rate limit, keys that change on
 * both replicas without a restart, and a Redis that dies and comes back
 * mid-load. Everything waits on conditions (polling with generous upper
 * bounds), never on the clock.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { deploymentsPage } from "./helpers.js"
import { hasRedis, type RunningRedis, startRedis, until } from "./redis.js"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

interface Replica {
  readonly child: ChildProcess
  readonly url: string
  readonly stdout: () => string
  readonly alive: () => boolean
}

const keyBlock = (name: string, extra = "") =>
  `  - name: ${name}
    hash: sha256:${sha256(`cpk_${name}`)}${extra}
    grants:
      - operations: [listDeployments]
`

describe.skipIf(!hasRedis)("two replicas sharing one Redis", () => {
  let redis: RunningRedis
  let dir: string
  let configPath: string
  let upstream: http.Server
  let upstreamUrl: string
  const held: Array<() => void> = []
  const replicas: Array<Replica> = []

  const writeConfig = (text: string) => {
    // As an editor saves: a new file renamed over the old one.
    const temporary = `${configPath}.tmp`
    writeFileSync(temporary, text)
    renameSync(temporary, configPath)
  }

  const baseKeys = () =>
    keyBlock("limited", "\n    rate_limit: { requests: 60, window_seconds: 60 }") +
    keyBlock("steady", "\n    rate_limit: { requests: 1000000, window_seconds: 60 }") +
    keyBlock("admin")

  const start = (): Promise<Replica> => {
    const child = spawn(process.execPath, [main], {
      env: {
        PATH: process.env["PATH"] ?? "",
        PORT: "0",
        HOST: "127.0.0.1",
        CUBE_API_URL: upstreamUrl,
        CUBE_API_KEY: "sk-upstream-key",
        CUBEPLANE_PROXY_CONFIG: configPath,
        CUBEPLANE_PROXY_STORE: redis.url
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    return new Promise((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`replica exited with ${code}: ${stderr}`)))
      const check = () => {
        const line = stdout.split("\n").find((l) => l.includes("\"msg\":\"listening\""))
        if (line === undefined) return
        child.stdout?.off("data", check)
        const replica = {
          child,
          url: String(JSON.parse(line).url),
          stdout: () => stdout,
          alive: () => child.exitCode === null
        }
        replicas.push(replica)
        resolve(replica)
      }
      child.stdout?.on("data", check)
    })
  }

  const get = async (replica: Replica, key: string, requestId?: string) => {
    const response = await fetch(`${replica.url}/api/v1/deployments`, {
      headers: { Authorization: `Bearer cpk_${key}`, ...(requestId === undefined ? {} : { "X-Request-Id": requestId }) }
    })
    const text = await response.text()
    return { status: response.status, headers: response.headers, text }
  }

  beforeAll(async () => {
    redis = await startRedis()
    dir = mkdtempSync(join(tmpdir(), "cubeplane-replicas-"))
    configPath = join(dir, "proxy.yaml")
    // The upstream: a deployments page; a request whose id starts with "hold" waits until released.
    upstream = http.createServer((request, response) => {
      const answer = () => {
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify(deploymentsPage(["123", "124"])))
      }
      if (String(request.headers["x-request-id"] ?? "").startsWith("hold")) held.push(answer)
      else answer()
    })
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve))
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
    writeConfig(`keys:\n${baseKeys()}${keyBlock("doomed")}`)
    await Promise.all([start(), start()])
    // As a load balancer would: send traffic once both say they are ready (upstream and store).
    await until(async () => {
      const answers = await Promise.all(replicas.map((replica) => fetch(`${replica.url}/readyz`)))
      await Promise.all(answers.map((answer) => answer.text()))
      return answers.every((answer) => answer.status === 200)
    }, "both replicas to be ready")
  })

  afterAll(async () => {
    for (const replica of replicas) if (replica.alive()) replica.child.kill("SIGKILL")
    for (const release of held.splice(0)) release()
    await new Promise((resolve) => upstream?.close(resolve))
    await redis?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it("gives a key limited to 60 a minute exactly 60 successes across both, with agreeing RateLimit-Remaining", async () => {
    const [a, b] = replicas
    const results = await Promise.all(Array.from({ length: 160 }, (_, i) => get(i % 2 === 0 ? a! : b!, "limited")))
    const ok = results.filter((result) => result.status === 200)
    const statuses = results.map((result) => result.status === 503 ? `503 ${result.text}` : String(result.status))
    expect(ok, statuses.join("\n")).toHaveLength(60)
    expect(results.filter((result) => result.status === 429), statuses.join("\n")).toHaveLength(100)
    // One counter: the 60 successes saw remaining 59 … 0, each once, whichever replica answered.
    const remaining = ok.map((result) => Number(result.headers.get("ratelimit-remaining"))).sort((x, y) => x - y)
    expect(remaining).toEqual(Array.from({ length: 60 }, (_, i) => i))
    const refused = results.find((result) => result.status === 429)
    expect(refused?.headers.get("ratelimit-remaining")).toBe("0")
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    // Both replicas served some of the 60, and both refuse now.
    expect((await get(a!, "limited")).status).toBe(429)
    expect((await get(b!, "limited")).status).toBe(429)
    const metrics = await (await fetch(`${a!.url}/metrics`)).text()
    expect(metrics).toMatch(/cubeplane_proxy_key_requests_total\{key="limited"\} \d+/)
    expect(metrics).toMatch(/cubeplane_proxy_key_refusals_total\{key="limited",status="429"\} \d+/)
    expect(metrics).toContain("cubeplane_proxy_store_up 1")
  })

  it("applies a removed key on both replicas without a restart, and the request in flight finishes", async () => {
    const [a, b] = replicas
    expect((await get(a!, "doomed")).status).toBe(200)
    expect((await get(b!, "doomed")).status).toBe(200)
    // A request of the doomed key that is in flight (held by the upstream) when the key goes.
    const inFlight = get(a!, "doomed", "hold-1")
    await until(() => held.length === 1, "the held request to reach the upstream")
    const pids = replicas.map((replica) => replica.child.pid)

    writeConfig(`keys:\n${baseKeys()}${keyBlock("newcomer")}`)
    await until(
      async () => (await get(a!, "doomed")).status === 401 && (await get(b!, "doomed")).status === 401,
      "both replicas to refuse the removed key"
    )
    expect((await get(a!, "newcomer")).status).toBe(200)
    expect((await get(b!, "newcomer")).status).toBe(200)
    expect(JSON.parse((await get(b!, "doomed")).text).error).toBe("unknown proxy key")

    held.splice(0).forEach((release) => release())
    expect((await inFlight).status).toBe(200)
    expect(replicas.map((replica) => replica.child.pid)).toEqual(pids)
    expect(replicas.every((replica) => replica.alive())).toBe(true)
    // Log lines are written in batches: wait for the line rather than expect it already there.
    await until(
      () => replicas.every((replica) => replica.stdout().includes("\"msg\":\"config reloaded\"")),
      "a \"config reloaded\" line from each replica"
    )
  })

  it("refuses a key past its expires_at on both replicas with 401 \"key expired\"", async () => {
    const [a, b] = replicas
    writeConfig(
      `keys:\n${baseKeys()}${keyBlock("newcomer")}` +
        keyBlock("lapsed", "\n    expires_at: 2020-01-01T00:00:00Z") +
        keyBlock("current", "\n    expires_at: 2999-01-01T00:00:00Z")
    )
    // Before the reload the key is unknown (also a 401): wait for the "key expired" answer itself.
    const expired = async (replica: Replica) => {
      const result = await get(replica, "lapsed")
      return result.status === 401 && /^key expired/.test(String(JSON.parse(result.text).error))
    }
    await until(
      async () => (await expired(a!)) && (await expired(b!)),
      "both replicas to refuse the lapsed key as expired"
    )
    expect((await get(a!, "current")).status).toBe(200)
    expect((await get(b!, "current")).status).toBe(200)
  })

  it("refuses a broken file with one log line and keeps the rules in force", async () => {
    const [a, b] = replicas
    const refusals = () =>
      replicas.map((replica) => replica.stdout().split("\n").filter((l) => l.includes("config reload refused")).length)
    const before = refusals()
    writeConfig(`keys:\n  - name: admin\n    hash: not-a-hash\n    grants: []\n`)
    await until(() => refusals().every((count, i) => count === before[i]! + 1), "each replica to log one refusal")
    const line = a!.stdout().split("\n").filter((l) => l.includes("config reload refused")).at(-1) ?? ""
    expect(line).toContain("keys[0].hash")
    // The old keys still work; nothing from the broken file applies.
    expect((await get(a!, "newcomer")).status).toBe(200)
    expect((await get(b!, "current")).status).toBe(200)
    expect(replicas.every((replica) => replica.alive())).toBe(true)
  })

  it("denies rate-limited keys while Redis is down, never crashes, and recovers without a restart", async () => {
    const [a, b] = replicas
    const statuses = new Map<number, number>()
    const unexpected: Array<string> = []
    let loading = true
    const load = async (replica: Replica) => {
      while (loading) {
        const result = await get(replica, "steady")
        statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1)
        if (
          result.status !== 200 && !(result.status === 503 && result.text.includes("rate-limit store is unreachable"))
        ) {
          unexpected.push(`${result.status} ${result.text}`)
        }
      }
    }
    const workers = [load(a!), load(a!), load(b!), load(b!)]
    await until(() => (statuses.get(200) ?? 0) >= 20, "load to flow")

    await redis.stop(true)
    await until(
      async () => (await get(a!, "steady")).status === 503 && (await get(b!, "steady")).status === 503,
      "both replicas to deny while Redis is down"
    )
    const ready = await fetch(`${a!.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(JSON.parse(await ready.text()).store.status).not.toBe("ready")
    // A key without a rate limit does not need the store.
    expect((await get(b!, "admin")).status).toBe(200)

    await redis.restart()
    const okBefore = statuses.get(200) ?? 0
    await until(
      async () => (await get(a!, "steady")).status === 200 && (await get(b!, "steady")).status === 200,
      "both replicas to recover"
    )
    await until(() => (statuses.get(200) ?? 0) > okBefore + 20, "load to flow again")
    await until(async () => (await fetch(`${b!.url}/readyz`)).status === 200, "readyz to be ready again")
    loading = false
    await Promise.all(workers)

    expect(unexpected).toEqual([])
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0)
    expect(replicas.every((replica) => replica.alive())).toBe(true)
    await until(
      () => replicas.every((replica) => replica.stdout().includes("\"msg\":\"store unreachable: retrying\"")),
      "a \"store unreachable\" line from each replica"
    )
  })
})
