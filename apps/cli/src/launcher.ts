/**
 * The file users run, `dist/cubeplane.js`, as `build.mjs` assembles it.
 *
 * `--help` (after any command), `--version` and `--completions` are answered
 * here, from the command tree the build read from the CLI (`Spec`), so they
 * start as fast as Node does and fit the terminal's width.
 * Everything else runs the whole CLI (`bin.ts`, bundled as CommonJS), which
 * this file carries in a comment at its end, read back and compiled only
 * then: V8 skips a comment faster still than it reads a string (and far
 * faster than it parses code), so the fast paths do not pay for the code
 * they skip.
 *
 * The compiled CLI is kept as a V8 code cache in `$XDG_CACHE_HOME/cubeplane`
 * (`~/.cache/cubeplane`), one file per build, Node version, CPU, Node options and
 * command noun, written by the first run, so later runs skip most of the compiling. V8 checks the cache against the source and
 * ignores one that does not match; `CUBEPLANE_NO_CACHE=1` turns it off.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { homedir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { setFlagsFromString } from "node:v8"
import { Script } from "node:vm"
import * as Builtins from "./Builtins.js"
import type { CommandSpec } from "./Spec.js"

/** The command tree (help, completions), the examples per command path, and the version, as the build read them. */
declare const CUBEPLANE_SPEC: CommandSpec
declare const CUBEPLANE_EXAMPLES: Readonly<Record<string, ReadonlyArray<string>>>
declare const CUBEPLANE_VERSION: string
/** A hash of the bundled CLI: names its code cache. */
declare const CUBEPLANE_BUILD: string

const env = process.env
const args = process.argv.slice(2)

const isSet = (value: string | undefined) => value !== undefined && value !== "" && value !== "0"

/** A short name for a string (FNV-1a, 32 bits; `node:crypto` would cost every run, `--help` included, its load). */
const fnv1a = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return (hash >>> 0).toString(16).padStart(8, "0")
}

const cacheFile = (): string | undefined => {
  if (isSet(env.CUBEPLANE_NO_CACHE)) return undefined
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== ""
    ? env.XDG_CACHE_HOME
    : path.join(homedir(), ".cache")
  // One cache per command noun: each holds the code its command compiled (the HTTP client, JWT decoding, …).
  const noun = /^[a-z-]+$/.test(process.argv[2] ?? "") ? process.argv[2] : "other"
  // V8 rejects a cache made under other flags: a run with its own Node options (`node --inspect`, NODE_OPTIONS)
  // keeps its own file, instead of rewriting the one every plain run reads (and each then rewriting it back).
  const options = [...process.execArgv, env.NODE_OPTIONS ?? ""].join(" ").trim()
  const flags = options === "" ? "" : `-${fnv1a(options)}`
  return path.join(base, "cubeplane", `${CUBEPLANE_BUILD}-${process.version}-${process.arch}${flags}-${noun}.v8`)
}

const readCache = (file: string | undefined): Buffer | undefined => {
  if (file === undefined) return undefined
  try {
    return readFileSync(file)
  } catch {
    return undefined
  }
}

/** A cache file no run has written for this long belongs to a build (or Node) no longer run: removed. */
const staleAfterMs = 7 * 24 * 60 * 60 * 1000

/**
 * Removes the caches of other builds and Node versions (each ~2 MB, one per command noun) that no
 * run has written for a week (this build's own are kept: they are rewritten only when rejected), and temporary files left by a run that was killed while writing:
 * without this, every upgrade would leave its caches behind for good. Runs only when a cache is
 * written (a new build, or a cache V8 rejected), so plain runs never pay for it. A version still in
 * use side by side (`npx`, a global and a local install) that loses its cache simply writes it again.
 */
const pruneCaches = (directory: string, ours: string) => {
  const now = Date.now()
  for (const name of readdirSync(directory)) {
    const temporary = name.endsWith(".tmp")
    if (!temporary && (!name.endsWith(".v8") || name.startsWith(ours))) continue
    try {
      const file = path.join(directory, name)
      if (now - statSync(file).mtimeMs > (temporary ? 60 * 60 * 1000 : staleAfterMs)) unlinkSync(file)
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

/** Writes the cache atomically; a cache that cannot be written (read-only home) is simply not kept. */
const writeCache = (file: string, data: Buffer) => {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
    const temporary = `${file}.${process.pid}.tmp`
    writeFileSync(temporary, data, { mode: 0o600 })
    renameSync(temporary, file)
    pruneCaches(path.dirname(file), `${CUBEPLANE_BUILD}-${process.version}-${process.arch}`)
  } catch {
    // Best effort.
  }
}

/**
 * Node reads a socket into a fresh 64 KiB `malloc` block per read; the
 * garbage collector frees them in batches, and glibc's `free` then gives the
 * top of the heap back to the kernel (its trim threshold starts at 128 KiB),
 * so the next reads fault fresh zeroed pages in again: ~50,000 page faults and
 * ~0.1 s of CPU for a 154 MiB export. glibc raises the threshold to twice the
 * size of any block it had to `mmap` once that block is freed (up to 32 MiB
 * blocks): one 16 MiB buffer, never touched (no memory used) and dropped at
 * once, is freed by the first garbage collection, and from then on up to
 * 32 MiB of freed blocks are reused instead of returned. Elsewhere (musl,
 * other allocators) it is a buffer allocated and freed, nothing more.
 */
const raiseMallocTrimThreshold = () => {
  Buffer.allocUnsafeSlow(16 * 1024 * 1024)
}

/**
 * The bundled CLI (CommonJS: it runs as a function of `require`, `module`, …),
 * which the build appended to this file as a comment (`build.mjs`), each
 * comment terminator in it (star, slash) stored as star, NUL, slash.
 */
const bundledCli = (filename: string): string => {
  // The bundle is ASCII (esbuild escapes the rest; the build checks it): latin1 decodes it exactly, twice as fast.
  const text = readFileSync(filename, "latin1")
  const marker = "\n/*CUBEPLANE_MAIN\n"
  const start = text.lastIndexOf(marker)
  const end = text.lastIndexOf("*/")
  if (start < 0 || end < start) throw new Error(`cubeplane: ${filename} does not carry the bundled CLI; rebuild it`)
  return text.slice(start + marker.length, end).replaceAll("*\0/", "*/")
}

const builtIn = Builtins.answer(
  { root: CUBEPLANE_SPEC, examples: CUBEPLANE_EXAMPLES, version: CUBEPLANE_VERSION },
  args,
  {
    columns: process.stdout.isTTY === true ? process.stdout.columns : undefined,
    color: !isSet(env.NO_COLOR) && (isSet(env.FORCE_COLOR) || process.stdout.isTTY === true)
  }
)

if (builtIn?._tag === "Print") {
  process.stdout.write(builtIn.text)
} else if (builtIn?._tag === "Usage") {
  process.stderr.write(`${builtIn.message}\n`)
  process.exitCode = 2
} else {
  if (process.platform === "linux") raiseMallocTrimThreshold()
  const filename = fileURLToPath(import.meta.url)
  const file = cacheFile()
  const cachedData = readCache(file)
  // V8 drops the bytecode of functions that have not run for a few garbage collections ("flushing"):
  // by the exit, the start-up code (the module bodies, the command line's parsing) would be gone
  // from the cache, and every later run would parse the whole bundle again to compile it (~50 ms).
  // So the run that writes the cache keeps its bytecode. V8 accepts a cache only under the flags it
  // was made with, so every run reads it under the same flag; a run that read it puts the default
  // back at once, because Node's own code cache (for its built-in modules, loaded later) is
  // rejected under any other flags (each built-in would be compiled from source: 10–25 ms more).
  setFlagsFromString("--no-flush-bytecode")
  const script = new Script(
    `(function (require, module, exports, __filename, __dirname) {${bundledCli(filename)}\n})`,
    {
      filename,
      ...(cachedData !== undefined ? { cachedData } : {})
    }
  )
  const writing = file !== undefined && (cachedData === undefined || script.cachedDataRejected === true)
  if (!writing) setFlagsFromString("--flush-bytecode")
  if (file !== undefined && writing) {
    // At exit, the cache holds every function this run compiled.
    process.once("exit", () => writeCache(file, script.createCachedData()))
  }
  const cli: unknown = script.runInThisContext()
  if (typeof cli !== "function") throw new TypeError("cubeplane: the bundled CLI did not compile to a function")
  const module = { exports: {} }
  cli(createRequire(import.meta.url), module, module.exports, filename, path.dirname(filename))
}
