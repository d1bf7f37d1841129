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
// 3. src/launcher.ts is bundled with both inlined: it answers --help,
//    --version and --completions from the tree (rendered for the terminal it
//    runs in), and otherwise compiles and runs the CLI bundle, which it
//    carries as a string (cheap to load when not needed), keeping a V8 code
//    cache of it for the next run.
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
  logLevel: "warning"
})
const mainCode = main.outputFiles[0].text
if (main.metafile !== undefined) await writeFile(here("./dist/meta.json"), JSON.stringify(main.metafile))

// 2. What --help, --version and --completions need: the command tree, the examples, the version.
const { context } = await import("./dist/Cli.js")
const { root, examples, version } = context()

// 3. The launcher, with both inlined.
await build({
  ...common,
  format: "esm",
  entryPoints: [here("./src/launcher.ts")],
  outfile,
  define: {
    CUBEPLANE_SPEC: JSON.stringify(root),
    CUBEPLANE_EXAMPLES: JSON.stringify(examples),
    CUBEPLANE_VERSION: JSON.stringify(version),
    CUBEPLANE_MAIN: JSON.stringify(mainCode),
    CUBEPLANE_BUILD: JSON.stringify(createHash("sha256").update(mainCode).digest("hex").slice(0, 16))
  },
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning"
})
await chmod(outfile, 0o755)
const { size } = await stat(outfile)
console.log(`dist/cubeplane.js ${(size / 1024).toFixed(0)} KiB`)
