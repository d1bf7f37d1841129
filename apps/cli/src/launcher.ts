/**
 * The file users run, `dist/cubeplane.js`, as `build.mjs` assembles it.
 *
 * `--help` (after any command), `--version` and `--completions` print text
 * the CLI itself rendered at build time, so they start as fast as Node does.
 * Everything else runs the whole CLI (`bin.ts`, bundled as CommonJS), which
 * this file carries as a string and compiles only then: a string costs Node
 * a fraction of what parsing the same code costs, so the fast paths do not
 * pay for the code they skip.
 *
 * The compiled CLI is kept as a V8 code cache in `$XDG_CACHE_HOME/cubeplane`
 * (`~/.cache/cubeplane`), one file per build, Node version, CPU and command
 * noun, written by the first run, so later runs skip most of the compiling. V8 checks the cache against the source and
 * ignores one that does not match; `CUBEPLANE_NO_CACHE=1` turns it off.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { homedir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"

/** Pre-rendered output by exact argument line (`"deployments list --help"`), ANSI colour included. */
declare const CUBEPLANE_STATIC: Readonly<Record<string, string>>
/** The bundled CLI (CommonJS: it runs as a function of `require`, `module`, …). */
declare const CUBEPLANE_MAIN: string
/** A hash of `CUBEPLANE_MAIN`: names its code cache. */
declare const CUBEPLANE_BUILD: string

const env = process.env
const args = process.argv.slice(2)

/** `--help` anywhere asks for the help of the command named before it (as `Cli.helpFirst` does). */
const helpLine = (): string | undefined => {
  if (!args.includes("--help") && !args.includes("-h")) return undefined
  let path = ""
  for (const arg of args) {
    if (arg.startsWith("-")) break
    const candidate = path === "" ? arg : `${path} ${arg}`
    if (!Object.hasOwn(CUBEPLANE_STATIC, `${candidate} --help`)) break
    path = candidate
  }
  return path === "" ? "--help" : `${path} --help`
}

const line = helpLine() ?? args.join(" ")
const prerendered = Object.hasOwn(CUBEPLANE_STATIC, line) ? CUBEPLANE_STATIC[line] : undefined

const isSet = (value: string | undefined) => value !== undefined && value !== "" && value !== "0"

const cacheFile = (): string | undefined => {
  if (isSet(env.CUBEPLANE_NO_CACHE)) return undefined
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== ""
    ? env.XDG_CACHE_HOME
    : path.join(homedir(), ".cache")
  // One cache per command noun: each holds the code its command compiled (the HTTP client, JWT decoding, …).
  const noun = /^[a-z-]+$/.test(process.argv[2] ?? "") ? process.argv[2] : "other"
  return path.join(base, "cubeplane", `${CUBEPLANE_BUILD}-${process.version}-${process.arch}-${noun}.v8`)
}

const readCache = (file: string | undefined): Buffer | undefined => {
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch {
    return undefined
  }
}

/** Writes the cache atomically; a cache that cannot be written (read-only home) is simply not kept. */
const writeCache = (file: string, data: Buffer) => {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
    const temporary = `${file}.${process.pid}.tmp`
    writeFileSync(temporary, data, { mode: 0o600 })
    renameSync(temporary, file)
  } catch {
    // Best effort.
  }
}

if (prerendered !== undefined) {
  const color = !isSet(env.NO_COLOR) && (isSet(env.FORCE_COLOR) || process.stdout.isTTY === true)
  process.stdout.write(color ? prerendered : prerendered.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ""))
} else {
  const filename = fileURLToPath(import.meta.url)
  const file = cacheFile()
  const cachedData = readCache(file)
  const script = new Script(`(function (require, module, exports, __filename, __dirname) {${CUBEPLANE_MAIN}\n})`, {
    filename,
    ...(cachedData !== undefined ? { cachedData } : {})
  })
  if (file !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    // At exit, the cache holds every function this run compiled.
    process.once("exit", () => writeCache(file, script.createCachedData()))
  }
  const cli: unknown = script.runInThisContext()
  if (typeof cli !== "function") throw new TypeError("cubeplane: the bundled CLI did not compile to a function")
  const module = { exports: {} }
  cli(createRequire(import.meta.url), module, module.exports, filename, path.dirname(filename))
}
