/**
 * A third adversarial pass on real ports: what the second left open — an
 * upstream export that is not an export, the status the access log and the
 * metrics record for an export answered 502, a caller waiting longer than
 * the idle timeout, a hostile list answer on the full-access path.
 */
import { Redacted } from "effect"
import * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, describe, expect, it } from "vitest"
import type { ProxyConfig } from "../src/Config.js"
import type { LogEntry } from "../src/Log.js"
import { Metrics } from "../src/Metrics.js"
import * as Server from "../src/Server.js"
import * as Upstream from "../src/Upstream.js"
import { baseConfig, key, keyOf, upstreamKey } from "./helpers.js"

const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const close of closers.splice(0)) await close()
})

/** A real upstream answering with `answer`. */
const startUpstream = async (answer: (request: http.IncomingMessage, response: http.ServerResponse) => void) => {
  const server = http.createServer(answer)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  closers.push(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const startProxy = async (url: string, config: ProxyConfig = baseConfig([key("admin", [{ operations: ["*"] }])])) => {
  const upstream = Upstream.make({ url, apiKey: Redacted.make(upstreamKey), timeoutMs: 5_000, retries: 0 })
  const logs: Array<LogEntry> = []
  const metrics = new Metrics()
  const proxy = await Server.start({ config, upstream, metrics, log: (entry) => logs.push(entry) }, {
    port: 0,
    host: "127.0.0.1"
  })
  closers.push(() => proxy.close(0))
  return { proxy, logs, metrics }
}

const get = async (base: string, path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${keyOf("admin")}`, ...headers } })
  return { status: response.status, headers: response.headers, text: await response.text() }
}

/** The access-log lines (`msg: "request"`) of `path`. */
const accessLines = (logs: ReadonlyArray<LogEntry>, path: string) =>
  logs.filter((entry) => entry["msg"] === "request" && entry["path"] === path)

const exportHeader = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"

describe("an upstream export that is not an audit-log CSV", () => {
  it("?format=ndjson: a 502 {error} saying so, not an empty 200; the log and the metrics record the 502", async () => {
    const url = await startUpstream((_request, response) => {
      // A 200 whose body is some other file: a login page, a one-line error, a CSV of something else.
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.end("<!doctype html><title>Sign in</title>\n")
    })
    const { logs, metrics, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    const answer = await get(proxy.url, `${path}?format=ndjson`)
    expect({ status: answer.status, type: answer.headers.get("content-type") }).toEqual({
      status: 502,
      type: "application/json"
    })
    expect(JSON.parse(answer.text)).toEqual({
      error: expect.stringMatching(
        /^the upstream Control Plane's export is not the expected audit-log CSV: CSV row 1: the header is not an audit-log export's: it lacks the columns id, timestamp/
      )
    })
    const lines = accessLines(logs, path)
    expect(lines.map((line) => [line["status"], line["upstream_status"]])).toEqual([[502, 200]])
    expect(lines[0]!["error"]).toBe("the upstream export failed before its first bytes")
    expect(metrics.render()).toContain(
      `cubeplane_proxy_requests_total{operation="exportAuditLog",status="502",key="admin"} 1`
    )
    expect(metrics.render()).not.toContain(`operation="exportAuditLog",status="200"`)
  })

  it("the plain CSV export is passed on as sent, whatever its columns (Cube publishes none): only ?format=ndjson needs the audit-log header", async () => {
    // A tenant whose CSV names its columns otherwise than the mock does: the bytes are the caller's to read.
    const other = "Time,Event,User\r\n2024-01-01T00:00:00Z,Created user,a@example.com\r\n"
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.end(other)
    })
    const { proxy } = await startProxy(url)
    const csv = await get(proxy.url, "/api/v1/audit-logs/export")
    expect({ status: csv.status, text: csv.text }).toEqual({ status: 200, text: other })
    expect((await get(proxy.url, "/api/v1/audit-logs/export?format=ndjson")).status).toBe(502)
  })

  it("an export of the header alone is an empty 200, logged 200", async () => {
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.end(exportHeader)
    })
    const { logs, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    const ndjson = await get(proxy.url, `${path}?format=ndjson`)
    expect({ status: ndjson.status, text: ndjson.text }).toEqual({ status: 200, text: "" })
    const csv = await get(proxy.url, path)
    expect({ status: csv.status, text: csv.text }).toEqual({ status: 200, text: exportHeader })
    expect(accessLines(logs, path).map((line) => line["status"])).toEqual([200, 200])
  })

  it("a failure after the first bytes is logged with the status the caller got (200), its transfer cut", async () => {
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      // ~300 KB of good rows (many reads, more than the redactor holds back), then a row that is not an event.
      const good = Array.from({ length: 5_000 }, (_, k) => `evt_${k},2024-01-15T10:30:00.000Z,Logged in,,,,,{}\r\n`)
      response.end(exportHeader + good.join("") + "evt_bad,yesterday,x,,,,,{}\r\n")
    })
    const { logs, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    await expect(get(proxy.url, `${path}?format=ndjson`)).rejects.toThrow()
    expect(accessLines(logs, path).map((line) => line["status"])).toEqual([200])
  })
})

/** Waits for `condition`, checking after each turn of the event loop's timers (never a fixed sleep as the check). */
export const until = async (condition: () => boolean, what: string): Promise<void> => {
  for (let turns = 0; !condition(); turns++) {
    if (turns > 5_000) throw new Error(`never happened: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe("a caller that leaves before the export's first bytes", () => {
  it("is logged 499 (it got nothing), the request no longer in flight, the upstream transfer dropped", async () => {
    let upstreamClosed = false
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.write("id,")
      response.on("close", () => {
        upstreamClosed = true
      })
    })
    const { logs, metrics, proxy } = await startProxy(url)
    const path = "/api/v1/audit-logs/export"
    const controller = new AbortController()
    const request = fetch(`${proxy.url}${path}`, {
      headers: { Authorization: `Bearer ${keyOf("admin")}` },
      signal: controller.signal
    })
    await until(() => metrics.inFlight === 1, "the request is in flight")
    controller.abort()
    await expect(request).rejects.toThrow()
    await until(() => accessLines(logs, path).length === 1, "the access line")
    expect(accessLines(logs, path)[0]!["status"]).toBe(499)
    expect(metrics.inFlight).toBe(0)
    await until(() => upstreamClosed, "the upstream transfer is dropped")
  })
})

/** A raw connection that sends `text`; `cut` tells whether the proxy has closed its side of it. */
const rawCaller = (proxy: Server.RunningProxy, text: string) => {
  let accepted: net.Socket | undefined
  proxy.server.once("connection", (socket: net.Socket) => {
    accepted = socket
  })
  const caller = net.connect(proxy.port, "127.0.0.1")
  caller.on("error", () => undefined)
  caller.write(text)
  return { caller, cut: () => accepted?.destroyed === true }
}

describe("pipelined requests on one connection", () => {
  it("two exports sent back to back are both answered in full (the second's answer waits for the socket)", async () => {
    const body = exportHeader + "evt_1,2024-01-15T10:30:00.000Z,Logged in,,,,,{}\r\n"
    // The first export stays open until the second request has reached the upstream: the second's answer is
    // then ready while the first still holds the caller's socket.
    let requests = 0
    const url = await startUpstream((_request, response) => {
      requests++
      response.writeHead(200, { "Content-Type": "text/csv" })
      if (requests === 1) {
        response.write(exportHeader)
        void until(() => requests === 2, "the second request upstream").then(() =>
          setImmediate(() => response.end(body.slice(exportHeader.length)))
        )
      } else response.end(body)
    })
    const { logs, proxy } = await startProxy(url, {
      ...baseConfig([key("admin", [{ operations: ["*"] }])]),
      server: { idleTimeoutMs: 1_000 }
    })
    const request = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keyOf("admin")}\r\n\r\n`
    const { caller } = rawCaller(
      proxy,
      request("/api/v1/audit-logs/export") + request("/api/v1/audit-logs/export?format=ndjson")
    )
    let received = ""
    caller.setEncoding("utf8")
    caller.on("data", (data: string) => (received += data))
    await until(
      () => received.includes("evt_1,2024") && received.includes("\"id\":\"evt_1\""),
      "both answers, the CSV and the NDJSON"
    )
    expect(received.match(/^HTTP\/1\.1 200 /gm)).toHaveLength(2)
    caller.destroy()
    const path = "/api/v1/audit-logs/export"
    await until(() => accessLines(logs, path).length === 2, "two access lines")
    expect(accessLines(logs, path).map((line) => line["status"])).toEqual([200, 200])
  })
})

describe("idle_timeout_ms shorter than the upstream's wait", () => {
  const config = (idleTimeoutMs: number): ProxyConfig => ({
    ...baseConfig([key("admin", [{ operations: ["*"] }])]),
    server: { idleTimeoutMs }
  })
  const page = JSON.stringify({
    data: { deployments: [{ id: "123", name: "Prod", created_at: "2024-01-15T10:30:00.000Z" }] },
    pagination: { offset: 0, limit: 20, total: 1 }
  })

  it("the caller gets the upstream's answer: the idle timer does not cut a caller the proxy keeps waiting", async () => {
    // The upstream answers only once the proxy's idle timer has fired on the caller's socket.
    let proxyTimedOut = false
    const url = await startUpstream((request, response) => {
      void until(() => proxyTimedOut, "the proxy's idle timeout").then(() => {
        if ((request.url ?? "").includes("export")) {
          response.writeHead(200, { "Content-Type": "text/csv" })
          response.end(exportHeader + "evt_1,2024-01-15T10:30:00.000Z,Logged in,,,,,{}\r\n")
        } else {
          response.writeHead(200, { "Content-Type": "application/json" })
          response.end(page)
        }
      })
    })
    for (const path of ["/api/v1/deployments", "/api/v1/audit-logs/export?format=ndjson"]) {
      // A proxy (so a connection) per path: a kept-alive connection could be cut, idle, between the two.
      const { proxy } = await startProxy(url, config(100))
      proxy.server.on("timeout", () => {
        proxyTimedOut = true
      })
      proxyTimedOut = false
      const answer = await get(proxy.url, path)
      expect({ path, status: answer.status, timedOut: proxyTimedOut }).toEqual({ path, status: 200, timedOut: true })
      expect(answer.text).toContain(path.includes("export") ? "\"id\":\"evt_1\"" : "\"id\":\"123\"")
    }
  })

  it("a caller that stops reading a streaming export is still cut by it", async () => {
    // An export that never ends, written as fast as the proxy reads it.
    let upstreamClosed = false
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": "text/csv" })
      response.write(exportHeader)
      let i = 0
      const more = () => {
        while (!upstreamClosed && response.write(`evt_${i++},2024-01-15T10:30:00.000Z,Logged in,,,,,{}\r\n`));
      }
      response.on("drain", more)
      response.on("close", () => {
        upstreamClosed = true
      })
      more()
    })
    const { proxy } = await startProxy(url, config(200))
    const { caller, cut } = rawCaller(
      proxy,
      `GET /api/v1/audit-logs/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${keyOf("admin")}\r\n\r\n`
    )
    // The caller reads nothing: its socket fills, the proxy's writes wait, the idle timer cuts it.
    caller.pause()
    await until(cut, "the proxy closes the caller's connection")
    await until(() => upstreamClosed, "the upstream transfer is dropped")
    caller.destroy()
  })

  it("a caller that stops half-way through its request body is still cut by it", async () => {
    const url = await startUpstream((_request, response) => response.end("{}"))
    const { proxy } = await startProxy(url, {
      ...config(200),
      server: { idleTimeoutMs: 200, requestTimeoutMs: 60_000 }
    })
    const { caller, cut } = rawCaller(
      proxy,
      `POST /api/v1/deployments/123/environments/456/tokens-for-meta-sync HTTP/1.1\r\nHost: x\r\n` +
        `Authorization: Bearer ${keyOf("admin")}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sec`
    )
    await until(cut, "the proxy closes the caller's connection")
    caller.destroy()
  })
})

describe("a 2xx from upstream that is not what the operation answers with", () => {
  const hostile: ReadonlyArray<readonly [string, string]> = [
    ["text/html", "<!doctype html><script>alert(document.cookie)</script>"],
    ["application/json", "<script>alert(1)</script>"],
    ["application/json", JSON.stringify({ error: "maintenance" })],
    ["application/json", "[1, 2, 3]"],
    ["text/plain", "ok"],
    ["application/json", ""]
  ]
  const config = baseConfig([
    key("admin", [{ operations: ["*"] }]),
    key("scoped", [{ operations: ["listDeployments", "listEnvironments"], deployments: ["123"] }]),
    {
      ...key("catalog", [{
        operations: ["createMetaSyncToken"],
        deployments: ["123"],
        environments: ["456"],
        token: { maxExpiresIn: 3600, securityContext: { tenant_id: "acme" } }
      }])
    }
  ])

  it("lists: a 502 {error} for the full-access key as for a scoped one, never the body under a JSON type", async () => {
    let current: readonly [string, string] = hostile[0]!
    const url = await startUpstream((_request, response) => {
      response.writeHead(200, { "Content-Type": current[0] })
      response.end(current[1])
    })
    const { proxy } = await startProxy(url, config)
    for (const answer of hostile) {
      current = answer
      for (
        const [name, path] of [["admin", "/api/v1/deployments"], ["scoped", "/api/v1/deployments"], [
          "admin",
          "/api/v1/deployments/123/environments"
        ]] as const
      ) {
        const got = await get(proxy.url, path, { Authorization: `Bearer ${keyOf(name)}` })
        expect({ answer, name, path, status: got.status, type: got.headers.get("content-type") }).toEqual({
          answer,
          name,
          path,
          status: 502,
          type: "application/json"
        })
        expect(JSON.parse(got.text).error).toMatch(/^the upstream Control Plane sent an answer the proxy cannot read/)
        // The body is not passed on: the answer is the proxy's own `{"error"}` object.
        expect(Object.keys(JSON.parse(got.text))).toEqual(["error"])
      }
    }
    // A real page still passes through as it came for the full-access key.
    current = [
      "application/json",
      JSON.stringify({
        data: { deployments: [{ id: "123", name: "Prod", created_at: "2024-01-15T10:30:00.000Z" }] },
        pagination: { offset: 0, limit: 20, total: 1 },
        extra: "kept"
      })
    ]
    const page = await get(proxy.url, "/api/v1/deployments")
    expect({ status: page.status, text: page.text }).toEqual({ status: 200, text: current[1] })
  })

  it("tokens: a 2xx that is not a meta-sync token is a 502 {error}", async () => {
    let current: readonly [string, string] = hostile[0]!
    const url = await startUpstream((request, response) => {
      request.resume()
      request.on("end", () => {
        response.writeHead(201, { "Content-Type": current[0] })
        response.end(current[1])
      })
    })
    const { proxy } = await startProxy(url, config)
    const mint = async () => {
      const response = await fetch(`${proxy.url}/api/v1/deployments/123/environments/456/tokens-for-meta-sync`, {
        method: "POST",
        headers: { Authorization: `Bearer ${keyOf("catalog")}`, "Content-Type": "application/json" },
        body: JSON.stringify({ security_context: { tenant_id: "acme" }, expires_in: 60 })
      })
      return { status: response.status, type: response.headers.get("content-type"), text: await response.text() }
    }
    for (const answer of hostile) {
      current = answer
      const got = await mint()
      expect({ answer, status: got.status, type: got.type }).toEqual({ answer, status: 502, type: "application/json" })
      expect(JSON.parse(got.text).error).toContain("is not a meta-sync token")
    }
    current = ["application/json", JSON.stringify({ data: { token: "eyJ.a.b", expires_at: "2030-01-01T00:00:00Z" } })]
    const minted = await mint()
    expect({ status: minted.status, text: minted.text }).toEqual({ status: 201, text: current[1] })
  })
})
