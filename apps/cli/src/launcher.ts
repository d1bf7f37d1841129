/**
 * The file users run, `dist/cubeplane.js`, as `build.mjs` assembles it.
 *
 * `--help` (after any command), `--version` and `--completions` print text
 * the CLI itself rendered at build time, so they start as fast as Node does.
 * Everything else runs the whole CLI (`bin.ts`, bundled as CommonJS), which
 * this file carries as a string and compiles only then: a string costs Node
 * a fraction of what parsing the same code costs, so the fast paths do not
 * pay for the code they skip.
 */
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { compileFunction } from "node:vm"

/** Pre-rendered output by exact argument line (`"deployments list --help"`), ANSI colour included. */
declare const CUBEPLANE_STATIC: Readonly<Record<string, string>>
/** The bundled CLI (CommonJS: it runs as a function of `require`, `module`, …). */
declare const CUBEPLANE_MAIN: string

const line = process.argv.slice(2).join(" ")
const prerendered = Object.hasOwn(CUBEPLANE_STATIC, line) ? CUBEPLANE_STATIC[line] : undefined

if (prerendered !== undefined) {
  const env = process.env
  const color = (env.NO_COLOR === undefined || env.NO_COLOR === "") &&
    ((env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") ||
      process.stdout.isTTY === true)
  process.stdout.write(color ? prerendered : prerendered.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ""))
} else {
  const filename = fileURLToPath(import.meta.url)
  const cli = compileFunction(CUBEPLANE_MAIN, ["require", "module", "exports", "__filename", "__dirname"], { filename })
  const module = { exports: {} }
  cli(createRequire(import.meta.url), module, module.exports, filename, path.dirname(filename))
}
