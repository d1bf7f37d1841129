// Builds dist/cubeplane.js: ONE file (ESM, Node 20) that starts fast.
//
// 1. The CLI (src/bin.ts) is bundled with esbuild: @cubeplane/*, effect and
//    its packages inside, Node built-ins outside, minified, as CommonJS (so
//    the launcher can compile it from a string with vm.compileFunction).
//    Dynamic imports (the HTTP client and schemas, jose, the mock server)
//    stay lazy: their modules run only when first imported.
// 2. That bundle is run once per command to capture `--help` (and
//    `--version`, `--completions`), in colour.
// 3. src/launcher.ts is bundled with both inlined: it prints the captured
//    text for those argument lines, and otherwise compiles and runs the CLI
//    bundle, which it carries as a string (cheap to load when not needed),
//    keeping a V8 code cache of it for the next run.
import { build } from "esbuild"
import { execFile } from "node:child_process"
import console from "node:console"
import { createHash } from "node:crypto"
import { chmod, rm, stat, writeFile } from "node:fs/promises"
import process from "node:process"
import { fileURLToPath, URL } from "node:url"
import { promisify } from "node:util"

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const outfile = here("./dist/cubeplane.js")
const scratch = here("./dist/.cubeplane-main.cjs")

const common = { bundle: true, platform: "node", target: "node20", minify: true, legalComments: "none" }

// 1. The CLI.
const main = await build({
  ...common,
  format: "cjs",
  entryPoints: [here("./src/bin.ts")],
  write: false,
  metafile: process.env.CUBEPLANE_BUILD_META === "1",
  logLevel: "warning"
})
const mainCode = main.outputFiles[0].text
if (main.metafile !== undefined) await writeFile(here("./dist/meta.json"), JSON.stringify(main.metafile))

// 2. What --help, --version and --completions print, rendered by the CLI itself.
await writeFile(scratch, mainCode)
const { examples } = await import("./dist/Cli.js")
const lines = [
  "--version",
  ...["bash", "zsh", "fish", "sh"].map((shell) => `--completions ${shell}`),
  ...Object.keys(examples).flatMap((path) => [`${path} --help`.trim(), `${path} -h`.trim()])
]
const run = promisify(execFile)
const prerendered = {}
try {
  for (let i = 0; i < lines.length; i += 4) {
    await Promise.all(
      lines.slice(i, i + 4).map(async (line) => {
        const { stdout } = await run(process.execPath, [scratch, ...line.split(" ")], {
          env: { PATH: process.env.PATH ?? "", FORCE_COLOR: "1" },
          maxBuffer: 16 * 1024 * 1024
        })
        prerendered[line] = stdout
      })
    )
  }
} finally {
  await rm(scratch, { force: true })
}

// 3. The launcher, with both inlined.
await build({
  ...common,
  format: "esm",
  entryPoints: [here("./src/launcher.ts")],
  outfile,
  define: {
    CUBEPLANE_STATIC: JSON.stringify(prerendered),
    CUBEPLANE_MAIN: JSON.stringify(mainCode),
    CUBEPLANE_BUILD: JSON.stringify(createHash("sha256").update(mainCode).digest("hex").slice(0, 16))
  },
  banner: { js: "#!/usr/bin/env node" },
  logLevel: "warning"
})
await chmod(outfile, 0o755)
const { size } = await stat(outfile)
console.log(
  `dist/cubeplane.js ${(size / 1024).toFixed(0)} KiB (${Object.keys(prerendered).length} pre-rendered outputs)`
)
