/**
 * `pnpm soak`: two proxy replicas sharing one Redis under mixed traffic for
 * `SOAK_SECONDS` (default 300): a key that stays under its limit, one that is
 * refused most of the time (429), a scoped key whose lists are filtered, a
 * key without a limit, lists from a shared cache (2 s TTL), unknown keys
 * (401) — while the config is rewritten every 15 s (a key added, then
 * removed: live reloads under load). Samples each replica's RSS every 10 s.
 *
 * `SOAK_STORE=memory` runs the same replicas without Redis (each counts
 * its own limits): the peer that says how much of the memory figure is the
 * proxy's own and how much the store's.
 *
 * Passes when no answer is a 5xx and neither replica's RSS peak in the second
 * half of the run (after the warm-up) is more than 25% above its peak in the
 * first half: a leak raises the peaks, the garbage collector's sawtooth does
 * not (two single samples, first and last, can land anywhere on the tooth, so
 * they are shown but not judged). Not part of `pnpm test`: it takes minutes.
 */
import autocannon from "autocannon"
import type { ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { join } from "node:path"
import { proxyEntry, startProxy, startRedis, startUpstream, stop } from "./lib/replicas.js"

const seconds = Number(process.env["SOAK_SECONDS"] ?? 300)
const withRedis = process.env["SOAK_STORE"] !== "memory"
const warmupSeconds = Math.min(60, Math.floor(seconds / 5))
const sha = (key: string) => createHash("sha256").update(key).digest("hex")

const keyLines = (name: string, extra: ReadonlyArray<string>, operations: string, deployments?: string) => [
  `  - name: ${name}`,
  `    hash: sha256:${sha(`cpk_soak_${name}`)}`,
  ...extra,
  "    grants:",
  `      - operations: [${operations}]`,
  ...(deployments === undefined ? [] : [`        deployments: [${deployments}]`])
]

const config = (withRotating: boolean) =>
  [
    "cache:",
    "  ttl_seconds: 2",
    "keys:",
    ...keyLines(
      "steady",
      ["    rate_limit: { requests: 100000000, window_seconds: 60 }"],
      "listDeployments, listEnvironments"
    ),
    ...keyLines("limited", ["    rate_limit: { requests: 100, window_seconds: 10 }"], "listDeployments"),
    ...keyLines(
      "scoped",
      ["    rate_limit: { requests: 100000000, window_seconds: 60 }"],
      "listDeployments",
      "\"123\", \"124\""
    ),
    ...keyLines("admin", [], "\"*\""),
    ...(withRotating ? keyLines("rotating", ["    expires_at: 2999-01-01T00:00:00Z"], "listDeployments") : []),
    ""
  ].join("\n")

const rssMb = (pid: number | undefined): number => {
  if (pid === undefined) return 0
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))
  return Number(line?.replace(/\D+/g, "") ?? 0) / 1024
}

const auth = (name: string) => ({ Authorization: `Bearer cpk_soak_${name}` })
const requests = [
  { method: "GET" as const, path: "/api/v1/deployments", headers: auth("steady") },
  { method: "GET" as const, path: "/api/v1/deployments?limit=5", headers: auth("steady") },
  { method: "GET" as const, path: "/api/v1/deployments", headers: auth("limited") },
  { method: "GET" as const, path: "/api/v1/deployments", headers: auth("scoped") },
  { method: "GET" as const, path: "/api/v1/deployments/123/environments", headers: auth("steady") },
  { method: "GET" as const, path: "/api/v1/deployments", headers: auth("admin") },
  { method: "GET" as const, path: "/api/v1/deployments", headers: auth("rotating") },
  { method: "GET" as const, path: "/api/v1/deployments", headers: { Authorization: "Bearer cpk_nobody" } }
]

export async function run(): Promise<string> {
  if (!existsSync(proxyEntry)) throw new Error(`${proxyEntry} is missing: run \`pnpm build\` first`)
  const children: Array<ChildProcess> = []
  const dir = mkdtempSync(join(tmpdir(), "cubeplane-soak-"))
  const configPath = join(dir, "proxy.yaml")
  const save = (text: string) => {
    writeFileSync(`${configPath}.tmp`, text)
    renameSync(`${configPath}.tmp`, configPath)
  }
  try {
    const redis = await startRedis()
    children.push(redis.child)
    const upstream = await startUpstream()
    children.push(upstream.child)
    save(config(true))
    const store = withRedis ? { store: redis.url } : {}
    const replicas = [
      await startProxy({ upstream: upstream.url, configPath, ...store }),
      await startProxy({ upstream: upstream.url, configPath, ...store })
    ]
    children.push(...replicas.map((replica) => replica.child))

    let rotating = true
    let reloads = 0
    const rotate = setInterval(() => {
      rotating = !rotating
      save(config(rotating))
      reloads++
    }, 15_000)
    const samples: Array<{ at: number; rss: Array<number> }> = []
    const started = Date.now()
    const sample = () =>
      samples.push({ at: (Date.now() - started) / 1000, rss: replicas.map((replica) => rssMb(replica.child.pid)) })
    sample()
    const sampler = setInterval(sample, 5_000)

    console.error(`  soaking for ${seconds} s: 2 replicas × 20 connections, mixed keys, a reload every 15 s`)
    const results = await Promise.all(
      replicas.map((replica) => autocannon({ url: replica.url, connections: 20, duration: seconds, requests }))
    )
    clearInterval(rotate)
    clearInterval(sampler)
    sample()
    const alive = replicas.every((replica) => replica.child.exitCode === null)

    const after = samples.filter((s) => s.at >= warmupSeconds)
    const first = after[0] ?? samples[0]!
    const last = samples.at(-1)!
    const growth = replicas.map((_, i) => (last.rss[i]! - first.rss[i]!) / first.rss[i]!)
    const max = replicas.map((_, i) => Math.max(...samples.map((s) => s.rss[i]!)))
    const middle = (warmupSeconds + seconds) / 2
    const peak = (from: number, to: number, i: number) =>
      Math.max(...after.filter((s) => s.at >= from && s.at < to).map((s) => s.rss[i]!))
    const firstPeak = replicas.map((_, i) => peak(warmupSeconds, middle, i))
    const secondPeak = replicas.map((_, i) => peak(middle, Number.POSITIVE_INFINITY, i))
    const peakGrowth = replicas.map((_, i) => secondPeak[i]! / firstPeak[i]! - 1)
    const count = (stat: string) => results.reduce((sum, r) => sum + Number(Reflect.get(r, stat) ?? 0), 0)
    const total = results.reduce((sum, r) => sum + r.requests.total, 0)
    const statuses = new Map<string, number>()
    for (const result of results) {
      for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
        statuses.set(code, (statuses.get(code) ?? 0) + (stat?.count ?? 0))
      }
    }
    const fiveXx = count("5xx")
    const errors = results.reduce((sum, r) => sum + r.errors + r.timeouts, 0)
    const passed = fiveXx === 0 && errors === 0 && alive && peakGrowth.every((g) => g <= 0.25)
    const mb = (value: number) => value.toFixed(1)
    return [
      withRedis
        ? "## Proxy soak: two replicas on one Redis"
        : "## Proxy soak: two replicas, in-memory stores (the peer)",
      "",
      `${seconds} s of mixed traffic (8 request kinds: in-limit, over-limit, scoped, per-deployment environments, no-limit, a key that comes and goes, an unknown key; list cache 2 s TTL${
        withRedis ? " in Redis" : ""
      }) from autocannon, 20 connections to each of two replicas, ${reloads} live config reloads, on ${cpus().length} cores shared by everything.`,
      "",
      "| | replica A | replica B |",
      "|---|---:|---:|",
      `| req/s | ${Math.round(results[0]!.requests.average)} | ${Math.round(results[1]!.requests.average)} |`,
      `| RSS after ${Math.round(first.at)} s (MB) | ${mb(first.rss[0]!)} | ${mb(first.rss[1]!)} |`,
      `| RSS at the end (MB) | ${mb(last.rss[0]!)} | ${mb(last.rss[1]!)} |`,
      `| RSS max (MB) | ${mb(max[0]!)} | ${mb(max[1]!)} |`,
      `| RSS change, first to last sample after warm-up | ${(growth[0]! * 100).toFixed(1)}% | ${
        (growth[1]! * 100).toFixed(1)
      }% |`,
      `| RSS peak, first half after warm-up (MB) | ${mb(firstPeak[0]!)} | ${mb(firstPeak[1]!)} |`,
      `| RSS peak, second half (MB) | ${mb(secondPeak[0]!)} | ${mb(secondPeak[1]!)} |`,
      `| peak growth (judged) | ${(peakGrowth[0]! * 100).toFixed(1)}% | ${(peakGrowth[1]! * 100).toFixed(1)}% |`,
      "",
      `${total.toLocaleString("en-US")} requests: ${
        [...statuses].sort().map(([code, n]) => `${code}: ${n.toLocaleString("en-US")}`).join(", ")
      }; 5xx: ${fiveXx}; connection errors/timeouts: ${errors}; replicas alive at the end: ${alive ? "both" : "NO"}.`,
      "",
      passed
        ? "**Soak passed**: no 5xx, RSS flat (second-half peak ≤ 1.25× the first-half peak after warm-up)."
        : "**Soak FAILED** (see above)."
    ].join("\n")
  } finally {
    await Promise.all(children.map(stop))
    rmSync(dir, { recursive: true, force: true })
  }
}

const report = await run()
console.log(report)
if (!report.includes("**Soak passed**")) process.exitCode = 1
