// Bundles the CLI into ONE file, dist/cubeplane.js, so `cubeplane --help`
// starts fast (one module to compile, no resolution of hundreds of files).
// @cubeplane/*, effect and its packages are bundled; Node built-ins are not.
// Dynamic imports (the HTTP client and schemas, yaml, jose, the mock server)
// stay lazy: esbuild keeps them in this file but runs them only when imported.
import { build } from "esbuild"
import console from "node:console"
import { chmod, stat } from "node:fs/promises"
import process from "node:process"
import { fileURLToPath, URL } from "node:url"

const outfile = fileURLToPath(new URL("./dist/cubeplane.js", import.meta.url))

const result = await build({
  entryPoints: [fileURLToPath(new URL("./src/bin.ts", import.meta.url))],
  outfile,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  treeShaking: true,
  metafile: process.env.CUBEPLANE_BUILD_META === "1",
  banner: {
    // A shebang, and `require` for the few CommonJS dependencies that call it.
    js:
      "#!/usr/bin/env node\nimport { createRequire as __cubeplaneRequire } from \"node:module\";const require = __cubeplaneRequire(import.meta.url);"
  },
  logLevel: "warning"
})

await chmod(outfile, 0o755)
if (result.metafile !== undefined) {
  const { writeFile } = await import("node:fs/promises")
  await writeFile(new URL("./dist/meta.json", import.meta.url), JSON.stringify(result.metafile))
}
const { size } = await stat(outfile)
console.log(`dist/cubeplane.js ${(size / 1024).toFixed(0)} KiB`)
