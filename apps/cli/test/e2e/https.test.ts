/**
 * The export over https, as against the real Cube Cloud: the built CLI (its
 * bundle runs in `vm.Script`, where a real `import()` fails) loads TLS only
 * for an https URL, and trusts what Node trusts — here a test certificate
 * given by `NODE_EXTRA_CA_CERTS`, Node's own way to add one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import * as https from "node:https"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Cli } from "./harness.js"
import { makeCli } from "./harness.js"

/** Core's self-signed test certificate for 127.0.0.1 (its key protects nothing). */
const certFile = fileURLToPath(new URL("../../../../packages/core/test/support/tls/cert.pem", import.meta.url))
const keyFile = fileURLToPath(new URL("../../../../packages/core/test/support/tls/key.pem", import.meta.url))

const csv = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n" +
  Array.from(
    { length: 3000 },
    (_, k) => `evt_${k},2024-01-01T00:00:00.000Z,Logged in,a@example.com,,,203.0.113.7,"{""n"":${k}}"\r\n`
  ).join("")

let cli: Cli
let server: https.Server
let url: string
/** TCP connections the server took: one per attempt. */
let connections = 0

beforeAll(async () => {
  cli = makeCli()
  server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (request, response) => {
    request.resume()
    response.writeHead(200, { "content-type": "text/csv" })
    response.end(csv)
  })
  server.on("connection", () => {
    connections++
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
  const address = server.address()
  url = `https://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
})
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve))
  cli?.cleanup()
})

describe("audit-logs export over https", () => {
  it("a trusted server: every byte to --out and to stdout, and NDJSON", async () => {
    const env = { CUBE_API_URL: url, CUBE_API_KEY: "sk-demo-auditor", NODE_EXTRA_CA_CERTS: certFile }
    const dir = `${cli.configHome}/trusted`
    mkdirSync(dir)
    const toFile = await cli.run(["audit-logs", "export", "--out", `${dir}/audit.csv`], { env })
    expect(toFile.stderr).toBe("")
    expect(toFile.code).toBe(0)
    expect(readFileSync(`${dir}/audit.csv`, "utf8")).toBe(csv)
    const toStdout = await cli.run(["audit-logs", "export"], { env })
    expect(toStdout.code).toBe(0)
    expect(toStdout.stdout).toBe(csv)
    const ndjson = await cli.run(["audit-logs", "export", "--format", "ndjson"], { env })
    expect(ndjson.code).toBe(0)
    expect(ndjson.stdout.trim().split("\n").map((line) => JSON.parse(line).id)).toEqual(
      Array.from({ length: 3000 }, (_, k) => `evt_${k}`)
    )
  })

  it("a certificate Node does not trust: one attempt, exit 1 naming the reason and the fix, no file", async () => {
    const dir = `${cli.configHome}/untrusted`
    mkdirSync(dir)
    const before = connections
    const result = await cli.run(["audit-logs", "export", "--out", `${dir}/audit.csv`], {
      env: { CUBE_API_URL: url, CUBE_API_KEY: "sk-demo-auditor" }
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("DEPTH_ZERO_SELF_SIGNED_CERT")
    expect(result.stderr).toContain("NODE_EXTRA_CA_CERTS")
    // The next attempt would meet the same certificate: no retries.
    expect(connections - before).toBe(1)
    expect(result.stderr).toContain(`Nothing was written to ${dir}/audit.csv`)
    expect(existsSync(`${dir}/audit.csv`)).toBe(false)
    expect(readdirSync(dir)).toEqual([])
  })

  it("the typed client's commands say the same, after one attempt", async () => {
    const before = connections
    const result = await cli.run(["deployments", "list"], {
      env: { CUBE_API_URL: url, CUBE_API_KEY: "sk-demo-auditor" }
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("TLS certificate is not trusted")
    expect(result.stderr).toContain("NODE_EXTRA_CA_CERTS")
    expect(result.stderr).not.toContain("sk-demo-auditor")
    expect(connections - before).toBe(1)
  })
})
