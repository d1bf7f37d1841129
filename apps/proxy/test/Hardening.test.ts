/**
 * The proxy's own server, hardened: bounded timeouts on real sockets, the
 * metrics key and listener, and a YAML alias bomb refused at start-up by the
 * real binary (`dist/main.js`, built before `test`).
 */
import * as NodeHttp from "@cubeplane/core/NodeHttp"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Readable } from "node:stream"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import * as Config from "../src/Config.js"
import * as Keys from "../src/Keys.js"
import * as Server from "../src/Server.js"
import { baseConfig, fakeUpstream, key, upstreamKey } from "./helpers.js"

const running: Array<Server.RunningProxy> = []
afterAll(async () => {
  for (const proxy of running) await proxy.close(0)
})

const startWith = async (config: Config.ProxyConfig) => {
  const { upstream } = fakeUpstream(() => ({ status: 200, body: { data: { deployments: [] } } }))
  const proxy = await Server.start({ config, upstream, log: () => undefined }, { port: 0, host: "127.0.0.1" })
  running.push(proxy)
  return proxy
}

/** Resolves when the server closes the socket (the test's timeout is the only clock). */
const closedByServer = (socket: net.Socket): Promise<void> =>
  new Promise((resolve) => {
    socket.on("error", () => undefined)
    socket.once("close", () => resolve())
    // Read what the server sends (a 408), or the socket never sees its end.
    socket.resume()
  })

describe("server timeouts", () => {
  it("closes a connection that never finishes its headers (slowloris)", async () => {
    const proxy = await startWith({ ...baseConfig([]), server: { headersTimeoutMs: 300, idleTimeoutMs: 60_000 } })
    const sockets = Array.from({ length: 5 }, () => net.connect(proxy.port, "127.0.0.1"))
    for (const socket of sockets) socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    await Promise.all(sockets.map(closedByServer))
    expect(sockets.every((socket) => socket.destroyed)).toBe(true)
  })

  it("closes an idle connection, and a keep-alive connection after its timeout", async () => {
    const proxy = await startWith({ ...baseConfig([]), server: { idleTimeoutMs: 300, keepAliveTimeoutMs: 200 } })
    const idle = net.connect(proxy.port, "127.0.0.1")
    await closedByServer(idle)
    const kept = net.connect(proxy.port, "127.0.0.1")
    let answer = ""
    kept.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")))
    kept.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await closedByServer(kept)
    expect(answer).toContain("HTTP/1.1 200")
    expect(answer.toLowerCase()).toContain("x-content-type-options: nosniff")
  })
})

describe("streaming exports and the request timeout", () => {
  it("an export that streams longer than request_timeout_ms is not cut (the bound is on receiving the request)", async () => {
    const header = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"
    const row = (i: number) => `${i},2024-01-15T10:30:00.000Z,Logged in,a@example.com,123,Prod,10.0.0.1,{}\r\n`
    const { upstream } = fakeUpstream(() => ({ status: 200, body: "" }))
    // An upstream whose export trickles: a row every 60 ms, well past the 200 ms request bound.
    const slow: typeof upstream = {
      ...upstream,
      sendExport: (request) =>
        Effect.map(upstream.sendExport(request), (response) => ({
          ...response,
          body: NodeHttp.fromReadable(Readable.from((async function*() {
            yield Buffer.from(header)
            for (let i = 1; i <= 8; i++) {
              await new Promise((resolve) => setTimeout(resolve, 60))
              yield Buffer.from(row(i))
            }
          })()))
        }))
    }
    const config = {
      ...baseConfig([key("auditor", [{ operations: ["exportAuditLog"] }])]),
      server: { headersTimeoutMs: 200, requestTimeoutMs: 200, idleTimeoutMs: 60_000 }
    }
    const proxy = await Server.start({ config, upstream: slow, log: () => undefined }, { port: 0, host: "127.0.0.1" })
    running.push(proxy)
    const response = await fetch(`${proxy.url}/api/v1/audit-logs/export`, {
      headers: { Authorization: "Bearer key-auditor" }
    })
    expect(response.status).toBe(200)
    const text = await response.text()
    expect(text).toBe(header + Array.from({ length: 8 }, (_, i) => row(i + 1)).join(""))
  })
})

describe("the export, written straight to the Node response", () => {
  const header = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"
  const row = (i: number, note: string) =>
    `evt_${i},2024-01-01T00:00:00.000Z,Logged in,a@example.com,,,203.0.113.6,"{""note"":""${note}""}"\r\n`
  const exportConfig = baseConfig([key("auditor", [{ operations: ["exportAuditLog"] }])])
  const startExport = async (chunks: ReadonlyArray<string>) => {
    const { upstream } = fakeUpstream(() => ({
      status: 200,
      headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": "attachment; filename=\"a.csv\"" },
      chunks: [...chunks]
    }))
    const proxy = await Server.start({ config: exportConfig, upstream, log: () => undefined }, {
      port: 0,
      host: "127.0.0.1"
    })
    running.push(proxy)
    return fetch(`${proxy.url}/api/v1/audit-logs/export`, { headers: { Authorization: "Bearer key-auditor" } })
  }

  it("long chunks pass byte for byte, the upstream key (plain, JSON-escaped, URL-encoded, split) redacted", async () => {
    const escaped = [...upstreamKey].map((c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("")
    const rows = Array.from({ length: 400 }, (_, i) =>
      row(
        i,
        i === 50 ? upstreamKey : i === 120 ? escaped : i === 300 ? encodeURIComponent(upstreamKey) : "a\\nb, ok"
      )).join("")
    const csv = header + rows
    // Cut into long chunks, one boundary inside the plain key.
    const inKey = csv.indexOf(upstreamKey) + 5
    const response = await startExport([csv.slice(0, inKey), csv.slice(inKey, 20_000), csv.slice(20_000)])
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8")
    expect(response.headers.get("content-disposition")).toBe("attachment; filename=\"a.csv\"")
    expect(response.headers.get("x-content-type-options")).toBe("nosniff")
    expect(response.headers.get("x-request-id")).toMatch(/./)
    const text = await response.text()
    expect(text).toBe(
      csv.replace(upstreamKey, "[REDACTED]").replace(escaped, "[REDACTED]").replace(
        encodeURIComponent(upstreamKey),
        "[REDACTED]"
      )
    )
  })

  it("HEAD: the export's headers, no body", async () => {
    const { upstream } = fakeUpstream(() => ({
      status: 200,
      headers: { "content-type": "text/csv; charset=utf-8" },
      chunks: [header, row(1, "x")]
    }))
    const proxy = await Server.start({ config: exportConfig, upstream, log: () => undefined }, {
      port: 0,
      host: "127.0.0.1"
    })
    running.push(proxy)
    const response = await fetch(`${proxy.url}/api/v1/audit-logs/export`, {
      method: "HEAD",
      headers: { Authorization: "Bearer key-auditor" }
    })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8")
    expect(await response.text()).toBe("")
  })

  it("a CSV that ends inside a quoted field (the upstream ended cleanly) aborts the download", async () => {
    const csv = header + Array.from({ length: 300 }, (_, i) => row(i, "fine")).join("") + "evt_x,\"cut here"
    const response = await startExport([csv.slice(0, 10_000), csv.slice(10_000)])
    expect(response.status).toBe(200)
    await expect(response.text()).rejects.toThrow()
  })
})

describe("/metrics", () => {
  const metricsKey = "cpk_metrics_test"

  it("needs the metrics key when one is configured", async () => {
    const proxy = await startWith({
      ...baseConfig([key("admin", [{ operations: ["*"] }])]),
      metrics: { keyHash: Keys.hash(metricsKey) }
    })
    const anonymous = await fetch(`${proxy.url}/metrics`)
    expect(anonymous.status).toBe(401)
    expect((await anonymous.json()).error).toContain("metrics key")
    const wrong = await fetch(`${proxy.url}/metrics`, { headers: { Authorization: "Bearer key-admin" } })
    expect(wrong.status).toBe(401)
    const right = await fetch(`${proxy.url}/metrics`, { headers: { Authorization: `Bearer ${metricsKey}` } })
    expect(right.status).toBe(200)
    expect(await right.text()).toContain("cubeplane_proxy_requests_total")
  })

  it("on a separate listener: only there, and the API port has no /metrics", async () => {
    const proxy = await startWith({ ...baseConfig([]), metrics: { port: 0, host: "127.0.0.1" } })
    expect(proxy.metricsUrl).toBeDefined()
    expect((await fetch(`${proxy.url}/metrics`)).status).toBe(404)
    await fetch(`${proxy.url}/healthz`)
    const scraped = await fetch(`${proxy.metricsUrl}/metrics`)
    expect(scraped.status).toBe(200)
    expect(scraped.headers.get("x-content-type-options")).toBe("nosniff")
    expect(await scraped.text()).toContain("cubeplane_proxy_requests_total")
    expect((await fetch(`${proxy.metricsUrl}/api/v1/deployments`)).status).toBe(404)
  })
})

/** Sends `text` on a fresh connection and resolves with everything the server sent before it closed. */
const rawExchange = (port: number, text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    let answer = ""
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("utf8")))
    socket.once("error", reject)
    socket.once("close", () => resolve(answer))
    socket.write(text)
  })

const statusAndError = (answer: string) => {
  const [head = "", body = ""] = answer.split("\r\n\r\n", 2)
  const type = /^content-type: *(.*)$/im.exec(head)?.[1]
  return { status: Number(head.split(" ")[1]), type, error: String(Object(JSON.parse(body)).error) }
}

describe("requests Node's parser refuses, and ambiguous keys", () => {
  const startRecording = async () => {
    const { calls, upstream } = fakeUpstream(() => ({ status: 200, body: { data: { deployments: [] } } }))
    const config = baseConfig([
      key("viewer", [{ operations: ["listDeployments"] }]),
      key("admin", [{
        operations: ["*"]
      }])
    ])
    const proxy = await Server.start({ config, upstream, log: () => undefined }, { port: 0, host: "127.0.0.1" })
    running.push(proxy)
    return { proxy, calls }
  }

  it("not HTTP, or a smuggling attempt (Content-Length with Transfer-Encoding): 400 with an {error} body", async () => {
    const { calls, proxy } = await startRecording()
    for (
      const text of [
        "GARBAGE\r\n\r\n",
        "GET /api/v1/deployments HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        "POST /api/v1/deployments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-admin\r\nContent-Length: 5\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/v1/deployments HTTP/1.1\r\nHost: x\r\n\r\n"
      ]
    ) {
      const answer = statusAndError(await rawExchange(proxy.port, text))
      expect(answer.status).toBe(400)
      expect(answer.type).toBe("application/json")
      expect(answer.error).toContain("not valid HTTP/1.1")
    }
    expect(calls).toHaveLength(0)
  })

  it("headers too large (a long URL): 431 saying what to shorten", async () => {
    const { calls, proxy } = await startRecording()
    const answer = statusAndError(
      await rawExchange(
        proxy.port,
        `GET /api/v1/deployments?x=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-admin\r\n\r\n`
      )
    )
    expect(answer.status).toBe(431)
    expect(answer.error).toContain("shorter URL")
    expect(calls).toHaveLength(0)
  })

  it("two Authorization headers, in either order, or two keys in one: 401, whichever key comes first", async () => {
    const { calls, proxy } = await startRecording()
    const ask = (authorization: string) =>
      rawExchange(
        proxy.port,
        `GET /api/v1/deployments HTTP/1.1\r\nHost: x\r\n${authorization}Connection: close\r\n\r\n`
      )
    for (
      const authorization of [
        "Authorization: Bearer key-viewer\r\nAuthorization: Bearer key-admin\r\n",
        "Authorization: Bearer key-admin\r\nAuthorization: Bearer key-viewer\r\n",
        "Authorization: Bearer key-admin, Bearer key-viewer\r\n",
        "Authorization: Bearer key-admin key-viewer\r\n"
      ]
    ) {
      const answer = statusAndError(await ask(authorization))
      expect(answer.status).toBe(401)
      expect(answer.error).toContain("malformed Authorization header")
    }
    expect(calls).toHaveLength(0)
    // One header with one key still works.
    expect(statusAndError(await ask("Authorization: Bearer key-admin\r\n")).status).toBe(200)
  })
})

const aliasBomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
keys: []
`

describe("bad configuration", () => {
  it("a YAML alias bomb is a ConfigError, not a crash", () => {
    expect(() => Config.parse(aliasBomb, "bomb.yaml")).toThrow(Config.ConfigError)
    expect(() => Config.parse(aliasBomb, "bomb.yaml")).toThrow(/aliases/)
  })

  it("server and metrics settings are checked like the rest", () => {
    expect(() => Config.parse("server:\n  headers_timeout_ms: 0\nkeys: []\n", "c.yaml")).toThrow(
      /server\.headers_timeout_ms/
    )
    expect(() => Config.parse("metrics:\n  key_hash: nope\nkeys: []\n", "c.yaml")).toThrow(/metrics\.key_hash/)
  })

  it("the binary refuses an alias bomb with one line and exit code 2", async () => {
    const main = fileURLToPath(new URL("../dist/main.js", import.meta.url))
    expect(existsSync(main)).toBe(true)
    const dir = mkdtempSync(join(tmpdir(), "cubeplane-proxy-bomb-"))
    try {
      const path = join(dir, "bomb.yaml")
      writeFileSync(path, aliasBomb)
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, [main], {
          env: {
            PATH: process.env["PATH"] ?? "",
            PORT: "0",
            CUBE_API_URL: "http://127.0.0.1:9",
            CUBE_API_KEY: "sk-x",
            CUBEPLANE_PROXY_CONFIG: path
          }
        }, (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }))
      })
      expect(code).toBe(2)
      expect(stderr).toContain("refusing to start")
      expect(stderr).toContain("aliases")
      expect(stderr).not.toMatch(/\n\s+at /)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
