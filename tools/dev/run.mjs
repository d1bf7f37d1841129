// Runs a built program of this repo from a clone, building it first: what `pnpm start`,
// `pnpm cubeplane` and `pnpm mock` do.
//
//   node tools/dev/run.mjs <proxy|cli|mock> [args...]
//
// - The build (turbo, cached: instant once built) writes only to stderr, and says what it
//   is doing on a first run instead of staying silent for a minute.
// - The program runs as a child with the terminal; Ctrl-C and SIGTERM reach it (it stops
//   cleanly on its own), and this exits with its code, so a Ctrl-C ends quietly.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import process from "node:process"
import { fileURLToPath, pathToFileURL, URL } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))

const targets = {
  proxy: {
    // The CLI too, so the `pnpm cubeplane …` line the proxy prints runs at once.
    filters: ["@cubeplane/proxy...", "@cubeplane/cli..."],
    entry: "apps/proxy/dist/main.js",
    what: "the proxy, the mock Control Plane and the CLI"
  },
  cli: { filters: ["@cubeplane/cli..."], entry: "apps/cli/dist/cubeplane.js", what: "the CLI" },
  mock: { filters: ["@cubeplane/testing..."], entry: "packages/testing/dist/bin.js", what: "the mock Control Plane" }
}

let current

const run = (command, commandArgs, stdio) =>
  new Promise((resolve) => {
    const child = spawn(command, commandArgs, { cwd: root, stdio })
    current = child
    child.on("error", (error) => {
      process.stderr.write(`could not run ${command}: ${error.message}\n`)
      resolve(1)
    })
    child.on("exit", (code, signal) => resolve(code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1)))
  })

/** Builds the target if needed, then runs it with `args`; exits with its exit code. */
export const runTarget = async (name, args) => {
  const target = targets[name]
  if (target === undefined) {
    process.stderr.write(`usage: node tools/dev/run.mjs <${Object.keys(targets).join("|")}> [args...]\n`)
    process.exit(2)
  }
  // Ctrl-C reaches the program from the terminal (same process group): this only waits for it.
  // A SIGTERM sent to this process alone is passed on.
  process.on("SIGINT", () => {})
  process.on("SIGTERM", () => current?.kill("SIGTERM"))
  if (!existsSync(new URL(target.entry, `file://${root}`))) {
    process.stderr.write(`First run: building ${target.what} (TypeScript and a bundle; about a minute)…\n`)
  }
  const turbo = fileURLToPath(new URL("node_modules/.bin/turbo", `file://${root}`))
  const built = await run(
    turbo,
    ["run", "build", ...target.filters.map((filter) => `--filter=${filter}`), "--output-logs=errors-only"],
    ["ignore", 2, 2]
  )
  if (built !== 0) {
    process.stderr.write(`The build failed (exit ${built}); the errors are above.\n`)
    process.exit(built)
  }
  process.exit(await run(process.execPath, [target.entry, ...args], "inherit"))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await runTarget(process.argv[2], process.argv.slice(3))
}
