/**
 * The library as a user gets it: `@cubeplane/core` and `@cubeplane/testing`
 * packed by `pnpm pack` (what a publish uploads), installed into a fresh
 * project with plain npm by the READMEs' own `npm install` lines, exactly as
 * written (only the `@cubeplane/*` names point at the packed files, which are
 * not on the registry). Then every TypeScript block of those READMEs is
 * type-checked against the installed packages and run against the mock
 * Control Plane on a free port: a block that calls the API runs with node, a
 * block that is a test runs under the project's own vitest.
 *
 * Needs the npm registry (as `pnpm install` does). npm's cache makes later runs quick.
 */
import { MockServer } from "@cubeplane/testing"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const readmes = ["README.md", "packages/core/README.md", "packages/testing/README.md"]
const packed = { "@cubeplane/core": "packages/core", "@cubeplane/testing": "packages/testing" } as const

interface Block {
  readonly readme: string
  readonly language: string
  readonly code: string
}

const blocksOf = (readme: string): Array<Block> =>
  [...readFileSync(path.join(root, readme), "utf8").matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({
    readme,
    language: match[1] ?? "",
    code: match[2] ?? ""
  }))

const blocks = readmes.flatMap(blocksOf)

/** `npm install …` lines of shell blocks (not the global pnpm install of the root README), comments cut. */
const installLines = blocks.filter((block) => block.language === "sh" || block.language === "bash").flatMap((block) =>
  block.code.split("\n").map((line) => line.replace(/\s+#.*$/, "").trim()).filter((line) =>
    /^npm install (?!-g\b)/.test(line)
  )
)

/** The README's TypeScript blocks, each as a file: `*.test.ts` for those written for vitest. */
const snippets = blocks.filter((block) => block.language === "ts").map((block, index) => {
  const base = `${block.readme.replace(/\/?README\.md$/, "").replace(/\W+/g, "-") || "root"}-${index + 1}`
  const isTest = /from "(@effect\/vitest|vitest)"/.test(block.code)
  return { ...block, file: isTest ? `${base}.test.ts` : `${base}.ts`, isTest }
})

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, args: ReadonlyArray<string>, options: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  new Promise<Run>((resolve) => {
    execFile(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      maxBuffer: 64 * 1024 * 1024,
      // A safety net for a hung process, not a speed expectation.
      timeout: 300_000
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1
      resolve({ code, stdout, stderr })
    })
  })

const expectOk = (result: Run, what: string) =>
  expect(result.code, `${what} failed:\n${result.stdout}\n${result.stderr}`).toBe(0)

let dir: string
let project: string
let mock: MockServer.RunningServer

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cubeplane-packed-"))
  project = path.join(dir, "project")
  mkdirSync(project)
  const tarballs: Record<string, string> = {}
  for (const [name, folder] of Object.entries(packed)) {
    const result = await run("pnpm", ["pack", "--pack-destination", dir], { cwd: path.join(root, folder) })
    expectOk(result, `pnpm pack in ${folder}`)
    const file = readdirSync(dir).find((entry) => entry.startsWith(name.slice(1).replace("/", "-")))
    expect(file, `the tarball of ${name}`).toBeDefined()
    tarballs[name] = path.join(dir, file ?? "")
  }
  writeFileSync(
    path.join(project, "package.json"),
    JSON.stringify({ name: "readme-user", private: true, type: "module" })
  )
  expect(installLines.length, "the READMEs' npm install lines").toBeGreaterThanOrEqual(2)
  for (const line of installLines) {
    const args = line.split(/\s+/).slice(1).map((word) => tarballs[word] ?? word)
    expectOk(await run("npm", [...args, "--no-audit", "--no-fund"], { cwd: project }), line)
  }
  mock = await MockServer.start({ port: 0 })
})

afterAll(async () => {
  await mock?.close()
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

const installedVersion = (name: string): string | undefined => {
  const file = path.join(project, "node_modules", name, "package.json")
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).version : undefined
}

describe("installed with plain npm, as the READMEs say", () => {
  it("Effect 3 and a matching @effect/platform, a consistent tree, and nothing the packages do not use", async () => {
    expect(installedVersion("effect")).toMatch(/^3\./)
    expect(installedVersion("@effect/platform")).toMatch(/^0\.97\./)
    for (const unused of ["@effect/cluster", "@effect/sql", "@effect/rpc", "@effect/platform-node"]) {
      expect(installedVersion(unused), `${unused} was installed`).toBeUndefined()
    }
    // Missing or conflicting (peer) dependencies make `npm ls` fail, as they make the next `npm install` fail.
    expectOk(await run("npm", ["ls", "--all"], { cwd: project }), "npm ls --all")
  })

  it("every TypeScript block of the READMEs type-checks against the packed packages", async () => {
    const folder = path.join(project, "snippets")
    mkdirSync(folder, { recursive: true })
    for (const snippet of snippets) writeFileSync(path.join(folder, snippet.file), snippet.code)
    writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: true,
          outDir: "dist",
          rootDir: "snippets",
          types: ["node"],
          // A user's project has @types/node; the README lines are about the packages.
          typeRoots: [path.join(path.dirname(createRequire(import.meta.url).resolve("@types/node/package.json")), "..")]
        },
        include: ["snippets"]
      })
    )
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
    expectOk(await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project }), "tsc")
    expect(snippets.length).toBeGreaterThanOrEqual(6)
  })

  const env = () => ({
    PATH: process.env.PATH ?? "",
    HOME: project,
    CUBE_API_URL: mock.url,
    CUBE_API_KEY: "sk-demo-admin"
  })

  it.each(snippets.filter((snippet) => !snippet.isTest).map((snippet) => [snippet.file, snippet] as const))(
    "%s runs against the mock",
    async (file, snippet) => {
      const compiled = path.join(project, "dist", file.replace(/\.ts$/, ".js"))
      expect(existsSync(compiled), `${compiled} (compiled by the type-check test)`).toBe(true)
      const result = await run(process.execPath, [compiled], { cwd: project, env: env() })
      expectOk(result, `${file} (from ${snippet.readme})`)
      // A block that calls the API must have reached the mock.
      if (snippet.code.includes("HttpControlPlane") || snippet.code.includes("createClient")) {
        expect(result.stdout, `${file} printed nothing`).not.toBe("")
      }
    }
  )

  it("the READMEs' test examples pass under the project's own vitest", async () => {
    const tests = snippets.filter((snippet) => snippet.isTest)
    expect(tests.length).toBeGreaterThanOrEqual(1)
    const vitest = path.join(project, "node_modules", "vitest", "vitest.mjs")
    const result = await run(process.execPath, [vitest, "run", "--root", project, "snippets"], {
      cwd: project,
      env: env()
    })
    expectOk(result, "vitest")
    expect(result.stdout + result.stderr).toMatch(new RegExp(`Test Files +${tests.length} passed`))
  })
})
