/**
 * The shared store's cost: a rate-limited key through cubeplane-proxy with
 * its windows in this process's memory (the peer) and in Redis (one Lua
 * script per request, on a `redis-server` on loopback). Same proxy build,
 * same config, same upstream; only `CUBEPLANE_PROXY_STORE` differs.
 *
 * autocannon, 50 connections, 2 s warm-up, then 5 interleaved rounds
 * (memory, redis, memory, …); medians shown.
 */
import autocannon from "autocannon"
import type { ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { proxyEntry, startProxy, startRedis, startUpstream, stop } from "./lib/replicas.js"
import { median } from "./lib/stats.js"

const connections = 50
const durationSeconds = Number(process.env["BENCH_PROXY_SECONDS"] ?? 10)
const rounds = 5
const benchKey = "cpk_bench_store_key"

interface Measured {
  readonly rps: number
  readonly p50: number
  readonly p99: number
  readonly non2xx: number
  readonly errors: number
}

const load = async (url: string, seconds: number): Promise<Measured> => {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    headers: { Authorization: `Bearer ${benchKey}` }
  })
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors
  }
}

export async function run(): Promise<string> {
  if (!existsSync(proxyEntry)) throw new Error(`${proxyEntry} is missing: run \`pnpm build\` first`)
  const children: Array<ChildProcess> = []
  const dir = mkdtempSync(join(tmpdir(), "cubeplane-bench-store-"))
  try {
    const redis = await startRedis()
    children.push(redis.child)
    const upstream = await startUpstream()
    children.push(upstream.child)
    const configPath = join(dir, "proxy.yaml")
    writeFileSync(
      configPath,
      [
        "keys:",
        "  - name: bench",
        `    hash: sha256:${createHash("sha256").update(benchKey).digest("hex")}`,
        // High enough that every request is counted and allowed: the cost measured is the count itself.
        "    rate_limit: { requests: 100000000, window_seconds: 60 }",
        "    grants:",
        "      - operations: [listDeployments]",
        ""
      ].join("\n")
    )
    const memory = await startProxy({ upstream: upstream.url, configPath })
    children.push(memory.child)
    const shared = await startProxy({ upstream: upstream.url, configPath, store: redis.url })
    children.push(shared.child)

    console.error(
      `  measuring (50 connections, 2 s warm-up, then ${rounds} interleaved rounds, ${durationSeconds} s each)`
    )
    // Forwarded: the whole request. Limit only: `limit=0` is refused with 400 by validation, which
    // runs right after the rate limit, so the proxy answers by itself and the store's cost stands out.
    const forwarded = "/api/v1/deployments"
    const limitOnly = "/api/v1/deployments?limit=0"
    const targets = [
      { name: "in-memory store, forwarded (200)", url: `${memory.url}${forwarded}` },
      { name: "Redis store, forwarded (200)", url: `${shared.url}${forwarded}` },
      { name: "in-memory store, limit only (400)", url: `${memory.url}${limitOnly}` },
      { name: "Redis store, limit only (400)", url: `${shared.url}${limitOnly}` }
    ]
    for (const target of targets) await load(target.url, 2)
    const runs = targets.map(() => [] as Array<Measured>)
    const roundSeconds = Math.max(1, Math.round(durationSeconds / rounds))
    for (let round = 0; round < rounds; round++) {
      for (const [index, target] of targets.entries()) runs[index]!.push(await load(target.url, roundSeconds))
    }
    const [inMemory, redisStore, memoryOnly, redisOnly] = runs.map((measured, index) => {
      const result = {
        name: targets[index]!.name,
        rps: median(measured.map((m) => m.rps)),
        p50: median(measured.map((m) => m.p50)),
        p99: median(measured.map((m) => m.p99)),
        // The limit-only rows are 400 by design: only transport errors count against them.
        failed: measured.reduce((sum, m) => sum + (index < 2 ? m.non2xx : 0) + m.errors, 0)
      }
      console.error(`  ${result.name}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms`)
      return result
    })
    if (inMemory === undefined || redisStore === undefined || memoryOnly === undefined || redisOnly === undefined) {
      throw new Error("a target was not measured")
    }
    const ratio = (a: number, b: number) => (b === 0 ? "—" : `${(a / b).toFixed(2)}×`)
    const row = (m: typeof inMemory, peer: typeof inMemory) =>
      `| ${m.name} | ${Math.round(m.rps).toLocaleString("en-US")} | ${m.p50} | ${m.p99} | ${ratio(m.rps, peer.rps)} | ${
        ratio(m.p99, peer.p99)
      } | ${m.failed} |`
    return [
      "## Proxy: rate limits in Redis vs in memory",
      "",
      `\`GET /api/v1/deployments\` with a rate-limited key (limit high enough that every request is counted and allowed): forwarded to the upstream (200), and with \`limit=0\`, which validation refuses right after the rate limit (400: the proxy answers by itself, so the store's cost is not hidden behind the upstream's). Autocannon on loopback, ${connections} connections, ${durationSeconds} s per target after a 2 s warm-up, ${rounds} interleaved rounds (medians shown), on ${cpus().length} cores shared by the load generator, the upstream, both proxies and redis-server. Same build and config; the Redis row sets \`CUBEPLANE_PROXY_STORE\` (one EVALSHA per request: INCR + window expiry, atomic).`,
      "",
      "| Store, request | req/s | p50 ms | p99 ms | req/s vs memory | p99 vs memory | unexpected answers + errors |",
      "|---|---:|---:|---:|---:|---:|---:|",
      row(inMemory, inMemory),
      row(redisStore, inMemory),
      row(memoryOnly, memoryOnly),
      row(redisOnly, memoryOnly),
      "",
      `Forwarded, the shared store serves ${
        ratio(redisStore.rps, inMemory.rps)
      } of the in-memory store's requests/s (p99 ${redisStore.p99} ms vs ${inMemory.p99} ms); on the limit alone, ${
        ratio(redisOnly.rps, memoryOnly.rps)
      } (p99 ${redisOnly.p99} ms vs ${memoryOnly.p99} ms): the price of one limit for every replica.`
    ].join("\n")
  } finally {
    await Promise.all(children.map(stop))
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await run())
}
