/**
 * Proxy throughput: the same upstream reached directly, through a plain
 * `node:http` passthrough proxy, through a bare Hono forwarder using the
 * proxy's own upstream client (core's transport over undici; the like-for-like
 * peer), and through cubeplane-proxy doing auth (SHA-256 key lookup), a rate
 * limit, policy, validation, metrics and a JSON access log, with its cache OFF
 * so every request really goes upstream — once with a key that sees every
 * deployment (the page is passed through) and once with a scoped key (the
 * proxy decodes the upstream pages with core's `ListCodec`, filters and re-encodes).
 *
 * autocannon on loopback, 50 connections, 10 s per target after a 2 s
 * warm-up, measured as 5 interleaved rounds of 2 s (direct, passthrough,
 * cubeplane, direct, …) so that a change in the machine's load during the run
 * hits every target alike; each figure is the median of its rounds. Every
 * server runs in its own process, so the load generator never shares an
 * event loop with what it measures (they still share the CPU cores).
 */
import autocannon from "autocannon"
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, waitFor } from "./lib/net.js"
import { median } from "./lib/stats.js"

const here = fileURLToPath(new URL(".", import.meta.url))
const proxyEntry = join(here, "../apps/proxy/dist/main.js")
const connections = 50
const durationSeconds = Number(process.env["BENCH_PROXY_SECONDS"] ?? 10)
const rounds = 5
const benchKey = "cpk_bench_key"
const scopedKey = "cpk_bench_scoped_key"
/** The floor against the bare Hono forwarder: requests/s at least this share, p99 at most `maxP99Ratio` times. */
const minRpsRatio = 0.7
const maxP99Ratio = 1.5

interface Measured {
  readonly name: string
  /** CPU time (user + system) of the server under test per request served, in µs; `undefined` off Linux. */
  readonly cpuMicrosPerRequest?: number | undefined
  readonly requestsPerSecond: number
  readonly p50: number
  readonly p99: number
  readonly non2xx: number
  readonly errors: number
}

const spawnServer = (args: ReadonlyArray<string>, env: Record<string, string>): ChildProcess =>
  spawn(process.execPath, [...args], {
    cwd: here,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"]
  })

/** Linux's USER_HZ: the unit of /proc's CPU times. */
const clockTicksPerSecond = 100

/** A process's CPU time so far (user + system), in µs, from /proc (Linux); `undefined` elsewhere. */
const cpuMicros = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name): utime and stime, in clock ticks.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")
    const ticks = Number(fields?.[11]) + Number(fields?.[12])
    return Number.isFinite(ticks) ? ticks * (1_000_000 / clockTicksPerSecond) : undefined
  } catch {
    return undefined
  }
}
const load = async (
  name: string,
  url: string,
  headers: Record<string, string>,
  seconds: number,
  pid?: number
): Promise<Measured> => {
  const cpuBefore = cpuMicros(pid)
  const result = await autocannon({ url, connections, duration: seconds, headers })
  const cpuAfter = cpuMicros(pid)
  return {
    name,
    cpuMicrosPerRequest: cpuBefore === undefined || cpuAfter === undefined || result.requests.total === 0
      ? undefined
      : (cpuAfter - cpuBefore) / result.requests.total,
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors
  }
}

interface Target {
  readonly name: string
  readonly url: string
  readonly headers: Record<string, string>
  /** The process serving it, whose CPU time is counted. */
  readonly pid?: number | undefined
}

/** Warm-up, then `rounds` interleaved rounds; the median of each target's rounds. */
const measureAll = async (targets: ReadonlyArray<Target>): Promise<Array<Measured>> => {
  for (const target of targets) await load(target.name, target.url, target.headers, 2)
  const results = targets.map(() => [] as Array<Measured>)
  const roundSeconds = Math.max(1, Math.round(durationSeconds / rounds))
  for (let round = 0; round < rounds; round++) {
    for (const [index, target] of targets.entries()) {
      results[index]!.push(await load(target.name, target.url, target.headers, roundSeconds, target.pid))
    }
  }
  return targets.map((target, index) => {
    const runs = results[index]!
    const cpu = runs.map((run) => run.cpuMicrosPerRequest)
    const measured: Measured = {
      name: target.name,
      cpuMicrosPerRequest: cpu.every((value) => value !== undefined) ? median(cpu) : undefined,
      requestsPerSecond: median(runs.map((run) => run.requestsPerSecond)),
      p50: median(runs.map((run) => run.p50)),
      p99: median(runs.map((run) => run.p99)),
      non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
      errors: runs.reduce((sum, run) => sum + run.errors, 0)
    }
    console.error(
      `  ${target.name}: ${Math.round(measured.requestsPerSecond)} req/s, p99 ${measured.p99} ms, ${
        measured.cpuMicrosPerRequest?.toFixed(0) ?? "?"
      } µs CPU per request`
    )
    return measured
  })
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
    setTimeout(() => child.kill("SIGKILL"), 3000).unref()
  })

export async function run(): Promise<string> {
  if (!existsSync(proxyEntry)) throw new Error(`${proxyEntry} is missing: run \`pnpm build\` first`)
  const children: Array<ChildProcess> = []
  const dir = mkdtempSync(join(tmpdir(), "cubeplane-bench-proxy-"))
  try {
    const upstreamPort = await freePort()
    children.push(spawnServer(["--import", "tsx", "lib/proxy-upstream.ts"], { PORT: String(upstreamPort) }))
    const upstream = `http://127.0.0.1:${upstreamPort}`
    await waitFor(`${upstream}/api/v1/deployments`)

    const passthroughPort = await freePort()
    children.push(
      spawnServer(["--import", "tsx", "lib/proxy-passthrough.ts"], {
        PORT: String(passthroughPort),
        UPSTREAM: upstream
      })
    )
    const passthrough = `http://127.0.0.1:${passthroughPort}`
    await waitFor(`${passthrough}/api/v1/deployments`)

    const barePort = await freePort()
    children.push(
      spawnServer(["--import", "tsx", "lib/proxy-hono-bare.ts"], { PORT: String(barePort), UPSTREAM: upstream })
    )
    const bare = `http://127.0.0.1:${barePort}`
    await waitFor(`${bare}/api/v1/deployments`)

    const configPath = join(dir, "proxy.yaml")
    const hash = createHash("sha256").update(benchKey).digest("hex")
    writeFileSync(
      configPath,
      [
        "cache:",
        "  ttl_seconds: 0",
        "keys:",
        "  - name: bench",
        `    hash: sha256:${hash}`,
        "    rate_limit: { requests: 100000000, window_seconds: 60 }",
        "    grants:",
        "      - operations: [listDeployments, listEnvironments]",
        "  - name: scoped",
        `    hash: sha256:${createHash("sha256").update(scopedKey).digest("hex")}`,
        "    rate_limit: { requests: 100000000, window_seconds: 60 }",
        "    grants:",
        "      - operations: [listDeployments]",
        "        deployments: [\"124\", \"126\", \"129\"]",
        "  - name: other",
        `    hash: sha256:${"0".repeat(64)}`,
        "    grants:",
        "      - operations: [createMetaSyncToken]",
        ""
      ].join("\n")
    )
    const proxyPort = await freePort()
    children.push(spawnServer([proxyEntry], {
      PORT: String(proxyPort),
      HOST: "127.0.0.1",
      CUBE_API_URL: upstream,
      CUBE_API_KEY: "sk-bench-upstream-key",
      CUBEPLANE_PROXY_CONFIG: configPath
    }))
    const proxy = `http://127.0.0.1:${proxyPort}`
    const auth = { Authorization: `Bearer ${benchKey}` }
    await waitFor(`${proxy}/api/v1/deployments`, auth)

    console.error(
      `  measuring (50 connections, 2 s warm-up, then ${rounds} interleaved rounds, ${durationSeconds} s per target)`
    )
    const scopedAuth = { Authorization: `Bearer ${scopedKey}` }
    await waitFor(`${proxy}/api/v1/deployments`, scopedAuth)
    const [upstreamPid, passthroughPid, barePid, proxyPid] = children.map((child) => child.pid)
    const [direct, plain, honoBare, cubeplane, scoped] = await measureAll([
      { name: "upstream, direct", url: `${upstream}/api/v1/deployments`, headers: {}, pid: upstreamPid },
      {
        name: "node:http passthrough proxy",
        url: `${passthrough}/api/v1/deployments`,
        headers: {},
        pid: passthroughPid
      },
      {
        name: "bare Hono forwarder, the proxy's upstream client",
        url: `${bare}/api/v1/deployments`,
        headers: {},
        pid: barePid
      },
      { name: "cubeplane-proxy, full-access key", url: `${proxy}/api/v1/deployments`, headers: auth, pid: proxyPid },
      {
        name: "cubeplane-proxy, scoped key (filters)",
        url: `${proxy}/api/v1/deployments`,
        headers: scopedAuth,
        pid: proxyPid
      }
    ])
    if (
      direct === undefined || plain === undefined || honoBare === undefined || cubeplane === undefined ||
      scoped === undefined
    ) {
      throw new Error("a target was not measured")
    }

    const ratio = (a: number, b: number) => (b === 0 ? "—" : `${(a / b).toFixed(2)}×`)
    const cpuOf = (m: Measured) => m.cpuMicrosPerRequest === undefined ? "—" : m.cpuMicrosPerRequest.toFixed(0)
    const cpuRatio = (m: Measured) =>
      m.cpuMicrosPerRequest === undefined || honoBare.cpuMicrosPerRequest === undefined
        ? "—"
        : ratio(m.cpuMicrosPerRequest, honoBare.cpuMicrosPerRequest)
    const row = (m: Measured) =>
      `| ${m.name} | ${Math.round(m.requestsPerSecond).toLocaleString("en-US")} | ${m.p50} | ${m.p99} | ${
        ratio(m.requestsPerSecond, honoBare.requestsPerSecond)
      } | ${ratio(m.p99, honoBare.p99)} | ${ratio(m.requestsPerSecond, plain.requestsPerSecond)} | ${cpuOf(m)} | ${
        cpuRatio(m)
      } | ${m.non2xx + m.errors} |`
    const meets = (m: Measured) =>
      m.requestsPerSecond >= minRpsRatio * honoBare.requestsPerSecond && m.p99 <= maxP99Ratio * honoBare.p99
    const verdict = (m: Measured) =>
      `**${meets(m) ? "Floor met" : "Floor missed"}** (${m.name}): ${
        ratio(m.requestsPerSecond, honoBare.requestsPerSecond)
      } of the bare forwarder's requests/s (floor ≥ ${minRpsRatio.toFixed(2)}×), p99 ${
        ratio(m.p99, honoBare.p99)
      } of its p99 (floor ≤ ${maxP99Ratio.toFixed(2)}×).`
    return [
      "## Proxy throughput",
      "",
      `\`GET /api/v1/deployments\` (a ~1 KB JSON list of 8 deployments) with autocannon on loopback, ${connections} connections, ${durationSeconds} s per target after a 2 s warm-up, in ${rounds} interleaved rounds (medians shown); each server in its own process on ${cpus().length} cores shared with the load generator. cubeplane-proxy runs \`apps/proxy/dist/main.js\` with a config file: SHA-256 key lookup, a rate limit, operation grants, query validation, Prometheus metrics and one JSON access-log line per request (to /dev/null), cache off. The full-access key gets the upstream page passed through as it came (redacted) once core's \`ListCodec.deployments\` has read it as a list; the scoped key (3 of the 8 deployments) makes the proxy decode the page with core's \`ListCodec.deployments\` (\`DeploymentList\` compiled; anything unusual goes through the schema), filter and re-encode it. The like-for-like peer is a bare Hono forwarder on the proxy's own upstream client (core's transport over undici, one Effect run per request) with no checks; the \`node:http\` passthrough (~30 lines, keep-alive agent, checks nothing) is shown for scale.`,
      "",
      "| Target | req/s | p50 ms | p99 ms | req/s vs bare forwarder | p99 vs bare forwarder | req/s vs passthrough | server CPU µs/request | CPU vs bare forwarder | non-2xx + errors |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      row(direct),
      row(plain),
      row(honoBare),
      row(cubeplane),
      row(scoped),
      "",
      verdict(scoped),
      "",
      verdict(cubeplane),
      "",
      `Server CPU µs/request: the CPU time (user + system, from /proc) of the process serving the target, divided by the requests it answered, median of the rounds — what a request costs the server, which the machine's load moves much less than requests/s. Load average at the end of the run: ${
        loadavg().map((value) => value.toFixed(2)).join(", ")
      }.`,
      "",
      "On a 2-core machine shared by the load generator, the upstream and the proxy (and, here, other work), run-to-run spread of requests/s is ±15% or more."
    ].join("\n")
  } finally {
    await Promise.all(children.map(stop))
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await run())
}
