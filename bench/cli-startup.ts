/**
 * CLI cold start: how long `cubeplane --help` takes from process start to
 * exit, for the bundled CLI (one esbuild file, the one users run) and the
 * unbundled one (tsc's output, hundreds of ES modules resolved from
 * node_modules), against the floor: `node -e ''`, a Node process that does
 * nothing. Target: the bundled CLI within 3× the floor.
 *
 * The three commands run round-robin (so a busy moment on the machine hits
 * all of them alike), after two warm-up rounds that fill the OS file cache.
 */
import { spawnSync } from "node:child_process"
import { existsSync, statSync } from "node:fs"
import { performance } from "node:perf_hooks"
import { fileURLToPath } from "node:url"

const RUNS = 20
const WARMUP = 2
const TARGET = 3

const bundled = fileURLToPath(new URL("../apps/cli/dist/cubeplane.js", import.meta.url))
const unbundled = fileURLToPath(new URL("../apps/cli/dist/bin.js", import.meta.url))

interface Case {
  readonly name: string
  readonly args: ReadonlyArray<string>
}

const cases: ReadonlyArray<Case> = [
  { name: "`node -e ''` (the floor)", args: ["-e", ""] },
  { name: "`cubeplane --help`, bundled (`dist/cubeplane.js`)", args: [bundled, "--help"] },
  { name: "`cubeplane --help`, unbundled (`dist/bin.js`, tsc output)", args: [unbundled, "--help"] }
]

const once = (args: ReadonlyArray<string>): number => {
  const started = performance.now()
  const result = spawnSync(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "" }
  })
  const elapsed = performance.now() - started
  if (result.status !== 0) {
    throw new Error(`node ${args.join(" ")} exited ${result.status}: ${String(result.stderr).slice(0, 500)}`)
  }
  return elapsed
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 0 ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[mid]!
}
const mean = (values: ReadonlyArray<number>) => values.reduce((sum, v) => sum + v, 0) / values.length

export async function run(): Promise<string> {
  for (const file of [bundled, unbundled]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`pnpm build\` first`)
  }
  const samples: Array<Array<number>> = cases.map(() => [])
  for (let round = 0; round < WARMUP + RUNS; round++) {
    cases.forEach((c, k) => {
      const ms = once(c.args)
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
  return [
    "## CLI cold start",
    "",
    `\`cubeplane --help\` from process start to exit, ${RUNS} runs of each command round-robin after ${WARMUP} warm-up rounds.`,
    `The bundle is one ${
      (size / 1024).toFixed(0)
    } KiB ESM file (esbuild, minified); the HTTP client, schemas, YAML, JWT`,
    "decoding and the mock server load only when a command needs them.",
    "",
    "| command | median ms | mean ms | median vs `node -e ''` | mean vs `node -e ''` |",
    "|---|---:|---:|---:|---:|",
    ...rows,
    "",
    `Target: bundled ≤ ${TARGET}× \`node -e ''\` — ${bundledRatio <= TARGET ? "met" : "NOT met"} (${
      bundledRatio.toFixed(2)
    }×).`,
    `The unbundled CLI takes ${(median(samples[2]!) / median(samples[1]!)).toFixed(1)}× as long as the bundled one.`
  ].join("\n")
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  run().then((section) => console.log(section))
}
