// Builds dist/cubeplane.js: ONE file (ESM, Node 20) that starts fast.
//
// 1. The CLI (src/bin.ts) is bundled with esbuild: @cubeplane/*, effect and
//    its packages inside, Node built-ins outside, minified, as CommonJS (so
//    the launcher can compile it from a string with vm.compileFunction).
//    Dynamic imports (the HTTP client and schemas, jose, the mock server)
//    stay lazy: their modules run only when first imported (a built-in's as a
//    `require` at that point: see `supported` below).
// 2. The command tree (`Spec`), the examples and the version are read from
//    the compiled CLI (dist/Cli.js).
// 3. src/launcher.ts is bundled with the tree inlined: it answers --help,
//    --version and --completions from it (rendered for the terminal it runs
//    in), and otherwise compiles and runs the CLI bundle, keeping a V8 code
//    cache of it for the next run. The CLI bundle is carried in a comment at
//    the end of the file, which the launcher reads back only when it runs it:
//    V8 skips a comment faster than it reads a string literal of the same
//    size (~1 MB: ~4 ms less for every run, `--help` included). A `*/` in the
//    bundle (4 of them, in regular expressions and strings) is stored as
//    `*<NUL>/` — esbuild writes no NUL byte — and put back by the launcher.
import { build } from "esbuild"
import console from "node:console"
import { createHash } from "node:crypto"
import { chmod, stat, writeFile } from "node:fs/promises"
import process from "node:process"
import { fileURLToPath, URL } from "node:url"

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const outfile = here("./dist/cubeplane.js")

const common = { bundle: true, platform: "node", target: "node20", minify: true, legalComments: "none" }

// 1. The CLI.
const main = await build({
  ...common,
  format: "cjs",
  // The launcher runs this bundle with `vm.Script`, where a real `import()` fails
  // (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING): a dynamic import of a Node built-in (core's
  // NodeHttp loads `node:tls` only for an https URL) becomes a `require` when it runs.
  supported: { "dynamic-import": false },
  entryPoints: [here("./src/bin.ts")],
  write: false,
  metafile: process.env.CUBEPLANE_BUILD_META === "1",
  logLevel: "warning",
  // @cubeplane/testing's `Seed.demoFile()` names its file by `import.meta.url`, empty in this CommonJS bundle; the
  // CLI never calls it (the demo seed is bundled as JSON: `Seed.demo`), so the warning on every build says nothing.
  logOverride: { "empty-import-meta": "silent" }
})
const mainCode = main.outputFiles[0].text
// The launcher reads the bundle back as latin1 and finds `*/` stored as `*<NUL>/`: ASCII, and no NUL of its own.
if (/[^\x01-\x7f]/.test(mainCode)) {
  throw new Error("the CLI bundle is not ASCII without NUL: the launcher cannot carry it")
}
if (main.metafile !== undefined) await writeFile(here("./dist/meta.json"), JSON.stringify(main.metafile))

// 2. What --help, --version and --completions need: the command tree, the examples, the version.
const { context } = await import("./dist/Cli.js")
const { root, examples, version } = context()

// 3. The launcher, with both inlined.
const launcher = await build({
  ...common,
  format: "esm",
  entryPoints: [here("./src/launcher.ts")],
  write: false,
  define: {
    CUBEPLANE_SPEC: JSON.stringify(root),
    CUBEPLANE_EXAMPLES: JSON.stringify(examples),
    CUBEPLANE_VERSION: JSON.stringify(version),
    CUBEPLANE_BUILD: JSON.stringify(createHash("sha256").update(mainCode).digest("hex").slice(0, 16))
  },
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning"
})
// The marker and the escape are the launcher's (`src/launcher.ts`, `bundledCli`).
const payload = `\n/*CUBEPLANE_MAIN\n${mainCode.replaceAll("*/", "*\0/")}*/\n`
await writeFile(outfile, launcher.outputFiles[0].text + payload)
await chmod(outfile, 0o755)
const { size } = await stat(outfile)
console.log(`dist/cubeplane.js ${(size / 1024).toFixed(0)} KiB`)
