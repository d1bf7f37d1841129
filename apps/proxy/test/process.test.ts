/**
 * The proxy as Ops runs it: `node dist/main.js` as a child process, with its
 * configuration from the environment and one file. Needs `dist/` (turbo
 * builds it before `test`; locally: `pnpm build` or `npx tsc -p tsconfig.build.json`).
 */
import * as Domain from "@cubeplane/core/Domain"
import { MockServer, Seed } from "@cubeplane/testing"
import { Schema } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
const cliMain = fileURLToPath(new URL("../../cli/dist/cubeplane.js", import.meta.url))
const run = promisify(execFile)

if (!existsSync(main)) throw new Error(`${main} is missing: build the proxy first (npx tsc -p tsconfig.build.json)`)

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
const adminKey = "cpk_process_test_admin"

let dir: string
let mock: MockServer.RunningServer
const children: Array<ChildProcess> = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cubeplane-proxy-test-"))
  mock = await MockServer.start({ port: 0, seed: Seed.generate({ events: 300_000 }) })
})

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL")
  await mock?.close()
  rmSync(dir, { recursive: true, force: true })
})

const writeConfig = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

const goodConfig = () =>
  writeConfig(
    "proxy.yaml",
    `upstream:
  timeout_ms: 5000
keys:
  - name: admin
    hash: sha256:${sha256(adminKey)}
    grants:
      - operations: ["*"]
`
  )

interface Started {
  readonly child: ChildProcess
  readonly url: string
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

/** Starts `node dist/main.js` and waits for its "listening" line. */
const startProxy = (env: Record<string, string>): Promise<Started> => startProxyWith([], env)

const startProxyWith = (args: ReadonlyArray<string>, env: Record<string, string>): Promise<Started> => {
  const child = spawn(process.execPath, [main, ...args], {
    env: { PATH: process.env["PATH"] ?? "", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    // A safety net for a proxy that never starts (a busy machine may take long), not a speed expectation.
    const timer = setTimeout(() => reject(new Error(`no "listening" line; stderr: ${stderr}`)), 120_000)
    const check = () => {
      const line = stdout.split("\n").find((l) => l.includes("\"msg\":\"listening\""))
      if (line === undefined) return
      clearTimeout(timer)
      child.stdout?.off("data", check)
      resolve({ child, url: JSON.parse(line).url, stdout: () => stdout, stderr: () => stderr, exited })
    }
    child.stdout?.on("data", check)
    void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)))
  })
}

const runMain = async (args: ReadonlyArray<string>, env: Record<string, string>) => {
  try {
    const { stderr, stdout } = await run(process.execPath, [main, ...args], {
      env: { PATH: process.env["PATH"] ?? "", ...env },
      timeout: 120_000
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const field = (name: string): unknown =>
      typeof error === "object" && error !== null && name in error ? Reflect.get(error, name) : undefined
    const code = field("code")
    const stdout = field("stdout")
    const stderr = field("stderr")
    return {
      code: typeof code === "number" ? code : -1,
      stdout: typeof stdout === "string" ? stdout : "",
      stderr: typeof stderr === "string" ? stderr : ""
    }
  }
}

/** The words of a shell command line: quotes, backslash-newline continuations and escapes, as `sh` reads them. */
const shellWords = (line: string): Array<string> => {
  const words: Array<string> = []
  let word: string | undefined
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === "\\" && line[i + 1] === "\n") {
      i++
    } else if (c === "\\") {
      word = (word ?? "") + (line[++i] ?? "")
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      word = (word ?? "") + line.slice(i + 1, end)
      i = end
    } else if (c === "\"") {
      const end = line.indexOf("\"", i + 1)
      word = (word ?? "") + line.slice(i + 1, end)
      i = end
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else {
      word = (word ?? "") + c
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

/**
 * Runs a printed `curl` command as curl would, with fetch (a minimal machine has no curl):
 * the flags the banner uses (-s, -X, -H, -d, the URL); any other flag fails the test.
 */
const runCurl = async (line: string): Promise<string> => {
  const [program, ...args] = shellWords(line)
  expect(program).toBe("curl")
  let method: string | undefined
  let body: string | undefined
  let url: string | undefined
  const headers = new Headers()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "-s") continue
    else if (arg === "-X") method = args[++i]
    else if (arg === "-H") {
      const header = args[++i] ?? ""
      headers.append(header.slice(0, header.indexOf(":")), header.slice(header.indexOf(":") + 1).trim())
    } else if (arg === "-d") body = args[++i]
    else if (!arg.startsWith("-") && url === undefined) url = arg
    else throw new Error(`the banner's curl uses ${arg}, which this test does not know`)
  }
  expect(url).toBeDefined()
  // curl -d without -X sends a POST with this content type.
  if (body !== undefined && !headers.has("content-type")) {
    headers.set("content-type", "application/x-www-form-urlencoded")
  }
  const response = await fetch(url ?? "", {
    method: method ?? (body !== undefined ? "POST" : "GET"),
    headers,
    ...(body !== undefined ? { body } : {})
  })
  return response.text()
}

const rssKb = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"))
  return Number(line?.replace(/\D+/g, "") ?? 0)
}

/** Polls `check` until it holds; the limit only ends a wait that would hang. */
const until = async (check: () => boolean | Promise<boolean>, what: string): Promise<void> => {
  const deadline = Date.now() + 120_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

describe("startup", () => {
  it("keygen prints a key and the hash of exactly that key", async () => {
    const { code, stdout } = await runMain(["keygen", "datahub"], {})
    expect(code).toBe(0)
    const key = /^key: +(\S+)$/m.exec(stdout)?.[1] ?? ""
    const hash = /^hash: +sha256:([0-9a-f]{64})$/m.exec(stdout)?.[1]
    expect(key).toMatch(/^cpk_[A-Za-z0-9_-]{40,}$/)
    expect(hash).toBe(sha256(key))
    expect(stdout).toContain("- name: datahub")
  })

  it("refuses a bad config, naming the line and the field", async () => {
    const path = writeConfig(
      "bad.yaml",
      `keys:
  - name: catalog
    hash: sha256:${"a".repeat(64)}
    grants:
      - operations: [createMetaSyncToken]
        token:
          max_expires_in: "an hour"
`
    )
    const { code, stderr } = await runMain([], {
      CUBE_API_URL: mock.url,
      CUBE_API_KEY: "sk-demo-admin",
      CUBEPLANE_PROXY_CONFIG: path
    })
    expect(code).toBe(2)
    expect(stderr).toContain("refusing to start")
    expect(stderr).toContain(`${path}: invalid proxy configuration`)
    expect(stderr).toContain("line 7, column 27: keys[0].grants[0].token.max_expires_in:")
  })

  it("refuses to start without the real key or the config file, saying which", async () => {
    const noKey = await runMain([], { CUBE_API_URL: mock.url, CUBEPLANE_PROXY_CONFIG: goodConfig() })
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain("CUBE_API_KEY is not set")
    const noConfig = await runMain([], { CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-admin" })
    expect(noConfig.code).toBe(2)
    expect(noConfig.stderr).toContain("CUBEPLANE_PROXY_CONFIG is not set")
    expect(noConfig.stderr).toContain("pnpm start --demo")
    const missingFile = await runMain([], {
      CUBE_API_URL: mock.url,
      CUBE_API_KEY: "sk-demo-admin",
      CUBEPLANE_PROXY_CONFIG: join(dir, "nope.yaml")
    })
    expect(missingFile.stderr).toContain("cannot read the file")
  })

  it("says clearly when the port is taken", async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()))
    const address = blocker.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    try {
      const { code, stderr } = await runMain([], {
        CUBE_API_URL: mock.url,
        CUBE_API_KEY: "sk-demo-admin",
        CUBEPLANE_PROXY_CONFIG: goodConfig(),
        PORT: String(port),
        HOST: "127.0.0.1"
      })
      expect(code).toBe(2)
      expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use`)
    } finally {
      blocker.close()
    }
  })
})

describe("the embedded default (pnpm start)", () => {
  it("runs on the embedded mock, says so, and the printed commands work as printed", async () => {
    const proxy = await startProxy({})
    try {
      const banner = proxy.stderr()
      expect(banner).toContain("DEMO MODE")
      expect(banner).toContain("EMBEDDED MOCK")
      const lines = banner.split("\n").map((line) => line.trim())
      const listCurl = lines.find((line) => line.startsWith("curl -s -H"))
      expect(listCurl).toContain(proxy.url)
      const list = await runCurl(listCurl ?? "")
      expect(JSON.parse(list).data.deployments[0].id).toBe("123")
      // The token command spans three lines joined by backslashes, as a shell reads them.
      const start = banner.indexOf("curl -s -X POST")
      const tokenCurl = banner.slice(
        start,
        banner.indexOf("tokens-for-meta-sync", start) + "tokens-for-meta-sync".length
      )
      const token = await runCurl(tokenCurl)
      expect(JSON.parse(token).data.token).toMatch(/^eyJ/)
      const cliLine = lines.find((line) => line.includes("pnpm cubeplane"))
      expect(cliLine).toMatch(
        /^CUBE_API_URL=http:\/\/127\.0\.0\.1:\d+ CUBE_API_KEY=\S+ pnpm cubeplane deployments list$/
      )
      if (existsSync(cliMain)) {
        const cli = await run("sh", ["-c", (cliLine ?? "").replace("pnpm cubeplane", `node ${cliMain}`)])
        expect(cli.stdout).toContain("My Deployment")
      }
    } finally {
      proxy.child.kill("SIGTERM")
      expect(await proxy.exited).toBe(0)
    }
  })
})

describe("demo mode in Cube's platform shape (CUBEPLANE_DEMO_SHAPE)", () => {
  it("the embedded mock answers as Cube's published document says; a scoped key's list still filters", async () => {
    const proxy = await startProxy({ CUBEPLANE_DEMO_SHAPE: "platform" })
    try {
      const admin = await fetch(`${proxy.url}/api/v1/deployments?limit=2`, {
        headers: { Authorization: "Bearer cpk_demo_admin" }
      })
      const body = await admin.json()
      expect(body.items.map((d: { id: number }) => d.id)).toEqual([123, 124])
      expect(body.pageInfo.hasNextPage).toBe(true)
      const viewer = await fetch(`${proxy.url}/api/v1/deployments`, {
        headers: { Authorization: "Bearer cpk_demo_viewer" }
      })
      expect(viewer.status).toBe(200)
      const visible = Schema.decodeUnknownSync(Domain.DeploymentList)(await viewer.json())
      expect(visible.items.map((d) => d.id)).toEqual(["123"])
    } finally {
      proxy.child.kill("SIGTERM")
      expect(await proxy.exited).toBe(0)
    }
  })

  it("a shape it does not know is refused at start, saying which are", async () => {
    const bad = await runMain([], { CUBEPLANE_DEMO_SHAPE: "openapi" })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(
      "refusing to start: CUBEPLANE_DEMO_SHAPE must be reference or platform, got \"openapi\""
    )
  })
})

describe("demo mode with CUBE_API_URL exported (as the CLI's README suggests)", () => {
  it("--demo runs on the embedded mock anyway", async () => {
    const proxy = await startProxyWith(["--demo"], { CUBE_API_URL: "https://acme.cubecloud.dev", CUBE_API_KEY: "sk-x" })
    try {
      expect(proxy.stderr()).toContain("DEMO MODE")
      const response = await fetch(`${proxy.url}/api/v1/deployments`, {
        headers: { Authorization: "Bearer cpk_demo_admin" }
      })
      expect(response.status).toBe(200)
    } finally {
      proxy.child.kill("SIGINT")
      expect(await proxy.exited).toBe(0)
    }
  })
})

describe("a running proxy", () => {
  it("streams a large export to a slow reader without buffering it", async () => {
    const proxy = await startProxy({
      CUBE_API_URL: mock.url,
      CUBE_API_KEY: "sk-demo-admin",
      CUBEPLANE_PROXY_CONFIG: goodConfig()
    })
    const pid = proxy.child.pid ?? 0
    try {
      // Warm up: one full export at full speed, so the baseline already includes what any
      // transfer costs (V8's young generation, socket buffers); then measure a slow one.
      const warm = await fetch(`${proxy.url}/api/v1/audit-logs/export`, {
        headers: { Authorization: `Bearer ${adminKey}` }
      })
      let warmBytes = 0
      const reader = warm.body?.getReader()
      for (let read = await reader?.read(); read !== undefined && !read.done; read = await reader?.read()) {
        warmBytes += read.value.byteLength
      }
      expect(warmBytes).toBeGreaterThan(45_000_000)
      const baseline = rssKb(pid)
      let peak = baseline
      // Sampled only while the reader is slow: that is when a buffering proxy would pull the remaining
      // ~48 MB from the (fast, local) mock into memory. The full-speed drain afterwards is left out, since
      // V8 grows the heap lazily there whatever the proxy does.
      let slowPhase = true
      const sampler = setInterval(() => {
        if (slowPhase) peak = Math.max(peak, rssKb(pid))
      }, 50)
      const slowPhaseBytes = 1_500_000
      const { bytes, lines, slowBytes } = await new Promise<{ bytes: number; lines: number; slowBytes: number }>(
        (resolve, reject) => {
          const request = http.get(`${proxy.url}/api/v1/audit-logs/export`, {
            headers: { Authorization: `Bearer ${adminKey}` }
          }, (response) => {
            let bytes = 0
            let lines = 0
            let slowBytes = 0
            response.on("data", (chunk: Buffer) => {
              bytes += chunk.length
              for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++
              if (bytes < slowPhaseBytes) {
                // The slow phase, its first 1.5 MB: about 300 KB/s (the proxy meanwhile has ~48 MB to send).
                slowBytes = bytes
                response.pause()
                setTimeout(() => response.resume(), Math.ceil(chunk.length / 300))
              } else if (slowPhase) {
                slowPhase = false
                peak = Math.max(peak, rssKb(pid))
              }
            })
            response.on("end", () => resolve({ bytes, lines, slowBytes }))
            response.on("error", reject)
          })
          request.on("error", reject)
        }
      )
      clearInterval(sampler)
      const grownMb = (peak - baseline) / 1024
      expect(lines).toBe(300_001)
      expect(bytes).toBeGreaterThan(45_000_000)
      expect(slowBytes).toBeLessThan(bytes / 10)
      expect(slowBytes).toBeGreaterThan(slowPhaseBytes / 2)
      // Buffering the export would grow the proxy by ~48 MB while the reader dawdles (the slow phase).
      expect(grownMb, `the proxy grew by ${grownMb.toFixed(1)} MB`).toBeLessThan(12)
    } finally {
      proxy.child.kill("SIGTERM")
      await proxy.exited
    }
  })

  it("finishes requests in flight on SIGTERM, refuses new ones, and exits 0", async () => {
    const proxy = await startProxy({
      CUBE_API_URL: mock.url,
      CUBE_API_KEY: "sk-demo-admin",
      CUBEPLANE_PROXY_CONFIG: goodConfig()
    })
    await fetch(`${mock.url}/__mock/faults`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ operation: "listDeployments", times: 1, latencyMs: 5000 })
    })
    try {
      const inFlight = fetch(`${proxy.url}/api/v1/deployments`, { headers: { Authorization: `Bearer ${adminKey}` } })
      // The request is in flight once the mock has taken its one-time fault (it answers 5 s later).
      await until(async () => {
        const body: { faults?: unknown } = await (await fetch(`${mock.url}/__mock/faults`)).json()
        return Array.isArray(body.faults) && body.faults.length === 0
      }, "the request to reach the mock")
      proxy.child.kill("SIGTERM")
      await until(() => proxy.stdout().includes("shutting down: finishing requests in flight"), "the shutdown to start")
      await expect(fetch(`${proxy.url}/healthz`)).rejects.toThrow()
      const response = await inFlight
      expect(response.status).toBe(200)
      expect((await response.json()).data.deployments.length).toBeGreaterThan(0)
      expect(await proxy.exited).toBe(0)
      expect(proxy.stdout()).toContain("\"msg\":\"shutting down: finishing requests in flight\"")
      expect(proxy.stdout()).toContain("\"msg\":\"stopped\"")
    } finally {
      await fetch(`${mock.url}/__mock/faults`, { method: "DELETE" })
    }
  })
})
