/**
 * CLI cold start: how long `cubeplane --help` takes from process start to
 * exit, for the bundled CLI (one file, the one users run) and the unbundled
 * one (tsc's output, hundreds of ES modules resolved from node_modules),
 * against the floor: `node -e ''`, a Node process that does nothing.
 * Target: the bundled `--help` within 3× the floor.
 *
 * The bundled file prints `--help` from text the CLI rendered at build time,
 * so the table also shows a command that runs the whole CLI: `tokens inspect`
 * of a JWT (offline, no network), bundled and unbundled.
 *
 * Every command runs with a clean environment (PATH only): variables such as
 * NODE_EXTRA_CA_CERTS make every Node process slower and would flatter the
 * ratios. They run round-robin (so a busy moment on the machine hits all of
 * them alike), after two warm-up rounds that fill the OS file cache.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { median } from "./lib/stats.js"

const RUNS = 20
const WARMUP = 2
const TARGET = 3

const bundled = fileURLToPath(new URL("../apps/cli/dist/cubeplane.js", import.meta.url))
const unbundled = fileURLToPath(new URL("../apps/cli/dist/bin.js", import.meta.url))

interface Case {
  readonly name: string
  readonly args: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
}

// A well-formed JWT ({"alg":"HS256","typ":"JWT"}, {"tenant_id":"acme","exp":4102444800}); the signature is not checked.
const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0ZW5hbnRfaWQiOiJhY21lIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJl"

const cases: ReadonlyArray<Case> = [
  { name: "`node -e ''` (the floor)", args: ["-e", ""] },
  { name: "`cubeplane --help`, bundled (`dist/cubeplane.js`)", args: [bundled, "--help"] },
  { name: "`cubeplane --help`, unbundled (`dist/bin.js`, tsc output)", args: [unbundled, "--help"] },
  { name: "`cubeplane tokens inspect JWT -o json`, bundled", args: [bundled, "tokens", "inspect", jwt, "-o", "json"] },
  {
    name: "`cubeplane tokens inspect JWT -o json`, bundled, no code cache (a first run)",
    args: [bundled, "tokens", "inspect", jwt, "-o", "json"],
    env: { CUBEPLANE_NO_CACHE: "1" }
  },
  {
    name: "`cubeplane tokens inspect JWT -o json`, unbundled",
    args: [unbundled, "tokens", "inspect", jwt, "-o", "json"]
  }
]

const once = (c: Case, cacheHome: string): number => {
  const started = performance.now()
  const result = spawnSync(process.execPath, c.args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", XDG_CACHE_HOME: cacheHome, ...c.env }
  })
  const elapsed = performance.now() - started
  if (result.status !== 0) {
    throw new Error(`node ${c.args.join(" ")} exited ${result.status}: ${String(result.stderr).slice(0, 500)}`)
  }
  return elapsed
}

const mean = (values: ReadonlyArray<number>) => values.reduce((sum, v) => sum + v, 0) / values.length

export async function run(): Promise<string> {
  for (const file of [bundled, unbundled]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` first`)
  }
  // The bundled CLI keeps a V8 code cache: in a directory of this run's own, warmed by the warm-up rounds.
  const cacheHome = mkdtempSync(path.join(tmpdir(), "cubeplane-bench-cache-"))
  const samples: Array<Array<number>> = cases.map(() => [])
  for (let round = 0; round < WARMUP + RUNS; round++) {
    cases.forEach((c, k) => {
      const ms = once(c, cacheHome)
      if (round >= WARMUP) samples[k]!.push(ms)
    })
  }
  const floor = median(samples[0]!)
  const floorMean = mean(samples[0]!)
  const rows = cases.map((c, k) => {
    const med = median(samples[k]!)
    const avg = mean(samples[k]!)
    return `| ${c.name} | ${med.toFixed(1)} | ${avg.toFixed(1)} | ${(med / floor).toFixed(2)}× | ${
      (avg / floorMean).toFixed(2)
    }× |`
  })
  const bundledRatio = median(samples[1]!) / floor
  const size = statSync(bundled).size
  rmSync(cacheHome, { recursive: true, force: true })
  const wholeBundled = median(samples[3]!) / floor
  const wholeUncached = median(samples[4]!) / floor
  const wholeUnbundled = median(samples[5]!) / floor
  return [
    "## CLI cold start",
    "",
    `From process start to exit, ${RUNS} runs of each command round-robin after ${WARMUP} warm-up rounds, in a clean`,
    "environment (PATH only). The bundle is one " + (size / 1024).toFixed(0) +
    " KiB ES module: `--help`, `--version` and",
    "`--completions` print text the CLI rendered at build time; every other command compiles the whole CLI, which the",
    "file carries in a comment at its end (esbuild, minified; the HTTP client, schemas, JWT decoding and the mock server run only",
    "when a command needs them) and keeps compiled as a V8 code cache after its first run (the warm-up rounds here),",
    "start-up code included: the run that writes it keeps V8 from flushing bytecode that ran only at start-up.",
    "",
    "| command | median ms | mean ms | median vs `node -e ''` | mean vs `node -e ''` |",
    "|---|---:|---:|---:|---:|",
    ...rows,
    "",
    `Target: bundled \`--help\` ≤ ${TARGET}× \`node -e ''\` — ${bundledRatio <= TARGET ? "met" : "NOT met"} (${
      bundledRatio.toFixed(2)
    }×). A command that runs the whole CLI is ${wholeBundled.toFixed(1)}× the floor bundled (${
      wholeUncached.toFixed(1)
    }× on a first run, without the code cache) and ${
      wholeUnbundled.toFixed(1)
    }× unbundled: loading Effect, @effect/cli and the schemas is most of that.`
  ].join("\n")
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then((section) => console.log(section))
}
