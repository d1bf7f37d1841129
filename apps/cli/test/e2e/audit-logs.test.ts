/**
 * The audit log under stress: an export cut mid-stream leaves no file, and a
 * follower killed mid-run resumes with no gap and no duplicate.
 */
import * as Domain from "@cubeplane/core/Domain"
import { MockServer, MockStore, Seed } from "@cubeplane/testing"
import { Schema } from "effect"
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer, type ServerResponse } from "node:http"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import type { Cli } from "./harness.js"
import { baseEnv, clearFaults, cli as cliPath, completeLines, eventually, fault, makeCli } from "./harness.js"

let mock: Awaited<ReturnType<typeof MockServer.start>>
let cli: Cli
let env: Record<string, string>

beforeAll(async () => {
  // 3,000 generated events: an export of a few hundred KB.
  mock = await MockServer.start({ port: 0, seed: Seed.generate({ events: 3000 }) })
  cli = makeCli()
  env = { CUBE_API_URL: mock.url, CUBE_API_KEY: "sk-demo-auditor" }
})
afterAll(async () => {
  await mock?.close()
  cli?.cleanup()
})
afterEach(async () => {
  await clearFaults(mock.url)
})

describe("audit-logs export --out", () => {
  it.each(["csv", "ndjson", "json"])("cut off mid-stream (%s): no file, no temporary file, exit 1", async (format) => {
    const dir = `${cli.configHome}/cut-${format}`
    mkdirSync(dir)
    await fault(mock.url, { operation: "exportAuditLog", truncateAfterBytes: 50_000 })
    const result = await cli.run(["audit-logs", "export", "--format", format, "--out", `${dir}/audit.${format}`], {
      env
    })
    expect(result.code).toBe(1)
    expect(readdirSync(dir)).toEqual([])
    expect(result.stderr).toContain(`Nothing was written to ${dir}/audit.${format}`)
  })

  it("complete: the file holds every event", async () => {
    const dir = `${cli.configHome}/whole`
    mkdirSync(dir)
    const result = await cli.run(["audit-logs", "export", "--format", "ndjson", "--out", `${dir}/audit.ndjson`], {
      env
    })
    expect(result.code).toBe(0)
    expect(readFileSync(`${dir}/audit.ndjson`, "utf8").trim().split("\n").length).toBe(3000)
  })

  it("interrupted with Ctrl-C while waiting: no file, no temporary file, exit 130", async () => {
    const dir = `${cli.configHome}/interrupted`
    mkdirSync(dir)
    await fault(mock.url, { operation: "exportAuditLog", latencyMs: 5_000 })
    const exporter = cli.start(["audit-logs", "export", "--out", `${dir}/audit.csv`], { env })
    await eventually(() => readdirSync(dir).length > 0, "the temporary file")
    exporter.child.kill("SIGINT")
    const result = await exporter.done
    expect(result.code).toBe(130)
    expect(readdirSync(dir)).toEqual([])
  })

  it("a reader that stops early (| head -1) ends the export quietly, exit 0", async () => {
    const { execFile } = await import("node:child_process")
    const { promisify } = await import("node:util")
    const { stdout, stderr } = await promisify(execFile)(
      "bash",
      ["-c", `node ${cliPath} audit-logs export --format ndjson | head -1; echo "exit \${PIPESTATUS[0]}"`],
      { env: { PATH: process.env.PATH ?? "", HOME: cli.configHome, ...env } }
    )
    const [first, exit] = stdout.trim().split("\n")
    expect(JSON.parse(first!).id).toBeDefined()
    expect(exit).toBe("exit 0")
    expect(stderr).toBe("")
  })

  /** A one-route server for the export, answering each request with `answer(n)` (n = 1, 2, …). */
  const exportServer = async (answer: (n: number, response: ServerResponse) => void) => {
    let requests = 0
    const server = createServer((request, response) => {
      request.resume()
      answer(++requests, response)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
    const address = server.address()
    return {
      url: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`,
      requests: () => requests,
      close: () => new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  const csvHeader = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"
  const csvRow = (k: number) =>
    `evt_${k},2024-01-01T00:00:00.000Z,Logged in,a@example.com,,,203.0.113.7,"{""note"":""row ${k}""}"\r\n`

  it("CSV that ends cleanly but inside a quoted field: cut off, the old file kept, exit 1", async () => {
    const dir = `${cli.configHome}/quoted-cut`
    mkdirSync(dir)
    const target = `${dir}/audit.csv`
    writeFileSync(target, "the previous export\n")
    const body = csvHeader + Array.from({ length: 2000 }, (_, k) => csvRow(k)).join("") + "evt_cut,2024-01-01,\"half"
    const server = await exportServer((_, response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(body)
    })
    try {
      const result = await cli.run(["audit-logs", "export", "--out", target], {
        env: { ...env, CUBE_API_URL: server.url }
      })
      expect(result.code).toBe(1)
      expect(result.stderr).toContain("The audit-log export is cut off after 2000 rows")
      expect(result.stderr).toContain(`Nothing was written to ${target}`)
      expect(readdirSync(dir)).toEqual(["audit.csv"])
      expect(readFileSync(target, "utf8")).toBe("the previous export\n")
    } finally {
      await server.close()
    }
  })

  it("a 503 is retried; --verbose shows each attempt, never the key; the file is the second answer", async () => {
    const dir = `${cli.configHome}/retried`
    mkdirSync(dir)
    const body = csvHeader + Array.from({ length: 500 }, (_, k) => csvRow(k)).join("")
    const server = await exportServer((n, response) => {
      if (n === 1) {
        response.writeHead(503, { "content-type": "application/json" }).end("{\"error\":\"busy\"}")
        return
      }
      response.writeHead(200, { "content-type": "text/csv", "x-request-id": "req-42" })
      response.end(body)
    })
    try {
      const result = await cli.run(["audit-logs", "export", "--verbose", "--out", `${dir}/audit.csv`], {
        env: { ...env, CUBE_API_URL: server.url }
      })
      expect(result.code).toBe(0)
      expect(server.requests()).toBe(2)
      expect(readFileSync(`${dir}/audit.csv`, "utf8")).toBe(body)
      expect(result.stderr).toContain("cubeplane: → GET /api/v1/audit-logs/export")
      expect(result.stderr).toContain("cubeplane: ← 503 GET /api/v1/audit-logs/export")
      expect(result.stderr).toContain("cubeplane: ← 200 GET /api/v1/audit-logs/export (request id req-42)")
      expect(result.stderr).not.toContain(env["CUBE_API_KEY"])
    } finally {
      await server.close()
    }
  })

  // Bodies of a few hundred KB: each chunk of NDJSON is larger than a pipe holds, so writing stdout waits for its
  // reader (the harness reads it through a pipe).
  const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => csvRow(from + k)).join("")
  const ids = (text: string) => text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line).id)

  /** `export --format FORMAT` from a server that answers with `answer`: once to stdout, once `--out` a fresh folder. */
  const bothWays = async (format: "csv" | "ndjson", name: string, answer: (response: ServerResponse) => void) => {
    const dir = `${cli.configHome}/${name}`
    mkdirSync(dir)
    const out = `${dir}/audit.${format}`
    const server = await exportServer((_, response) => answer(response))
    const run = (extra: ReadonlyArray<string>) =>
      cli.run(["audit-logs", "export", "--format", format, ...extra], { env: { ...env, CUBE_API_URL: server.url } })
    try {
      return { dir, out, toStdout: await run([]), toFile: await run(["--out", out]) }
    } finally {
      await server.close()
    }
  }

  /** The `--out` run failed saying `reason`, and said that nothing was written — nor was anything left in its folder. */
  const expectNoFile = (
    { dir, out, toFile }: Awaited<ReturnType<typeof bothWays>>,
    reason: string
  ) => {
    expect(toFile.code).toBe(1)
    expect(toFile.stderr).toContain(reason)
    expect(toFile.stderr).toContain(`Nothing was written to ${out}`)
    expect(readdirSync(dir)).toEqual([])
  }

  it("ndjson, a row the schemas refuse: the lines before it, exit 1 naming the event; with --out, no file", async () => {
    const body = csvHeader + rows(0, 4000) +
      `evt_bad,yesterday,Logged in,a@example.com,,,203.0.113.7,{}\r\n` + rows(4000, 5000)
    const run = await bothWays("ndjson", "ndjson-bad-row", (response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(body)
    })
    const { toStdout } = run
    expect(toStdout.code).toBe(1)
    expect(ids(toStdout.stdout)).toEqual(Array.from({ length: 4000 }, (_, k) => `evt_${k}`))
    expect(toStdout.stdout.endsWith("\n")).toBe(true)
    expect(toStdout.stderr).toContain("the audit-log CSV is malformed (event \"evt_bad\"")
    expectNoFile(run, "the audit-log CSV is malformed (event \"evt_bad\"")
  })

  it("ndjson, the connection dropped mid-body: complete lines only, exit 1 saying so; with --out, no file", async () => {
    const first = csvHeader + rows(0, 3000)
    const whole = first + rows(3000, 6000)
    const run = await bothWays("ndjson", "ndjson-dropped", (response) => {
      response.writeHead(200, { "content-type": "text/csv", "content-length": String(Buffer.byteLength(whole)) })
      // Half the body, cut inside a row, then the connection is dropped.
      response.write(whole.slice(0, first.length + 20), () => response.socket?.destroy())
    })
    const { toStdout } = run
    expect(toStdout.code).toBe(1)
    expect(toStdout.stderr).toContain(
      "The connection dropped while reading the response to GET /api/v1/audit-logs/export"
    )
    expect(toStdout.stdout === "" || toStdout.stdout.endsWith("\n")).toBe(true)
    const written = ids(toStdout.stdout)
    expect(written).toEqual(Array.from({ length: written.length }, (_, k) => `evt_${k}`))
    expect(written.length).toBeLessThanOrEqual(3000)
    expectNoFile(run, "The connection dropped while reading the response")
  })

  it("ndjson, a 200 whose header is not an export's and no rows: exit 1 saying so, nothing out; with --out, no file", async () => {
    const run = await bothWays("ndjson", "ndjson-not-export", (response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end("<!doctype html><title>Sign in</title>\n")
    })
    const { toStdout } = run
    expect(toStdout.code).toBe(1)
    expect(toStdout.stdout).toBe("")
    expect(toStdout.stderr).toContain("the header is not an audit-log export's")
    expect(toStdout.stderr).not.toMatch(/\n\s+at /)
    expectNoFile(run, "the header is not an audit-log export's")
  })

  it("ndjson: every row, through a pipe, to stdout and to --out alike, with the same bytes", async () => {
    const body = csvHeader + rows(0, 8000)
    const { out, toFile, toStdout } = await bothWays("ndjson", "ndjson-whole", (response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(body)
    })
    expect(toStdout.code).toBe(0)
    expect(ids(toStdout.stdout)).toEqual(Array.from({ length: 8000 }, (_, k) => `evt_${k}`))
    expect(toFile.code).toBe(0)
    expect(readFileSync(out, "utf8")).toBe(toStdout.stdout)
  })

  it("csv: every byte, through a pipe, to stdout and to --out alike", async () => {
    const body = csvHeader + rows(0, 8000)
    const { out, toFile, toStdout } = await bothWays("csv", "csv-whole", (response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(body)
    })
    expect(toStdout.code).toBe(0)
    expect(toStdout.stdout).toBe(body)
    expect(toFile.code).toBe(0)
    expect(readFileSync(out, "utf8")).toBe(body)
  })

  it("csv whose columns are not the mock's (Cube publishes none): every byte as sent, to stdout and to --out", async () => {
    const body = "Time,Event,User\r\n2024-01-01T00:00:00Z,Created user,a@example.com\r\n"
    const { out, toFile, toStdout } = await bothWays("csv", "csv-other-columns", (response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(body)
    })
    expect(toStdout.code).toBe(0)
    expect(toStdout.stdout).toBe(body)
    expect(toFile.code).toBe(0)
    expect(readFileSync(out, "utf8")).toBe(body)
  })

  it("csv, the connection dropped mid-body: what came before it, exit 1 saying so; with --out, no file", async () => {
    const whole = csvHeader + rows(0, 6000)
    const run = await bothWays("csv", "csv-dropped", (response) => {
      response.writeHead(200, { "content-type": "text/csv", "content-length": String(Buffer.byteLength(whole)) })
      response.write(whole.slice(0, 200_000), () => response.socket?.destroy())
    })
    const { toStdout } = run
    expect(toStdout.code).toBe(1)
    expect(toStdout.stderr).toContain(
      "The connection dropped while reading the response to GET /api/v1/audit-logs/export"
    )
    expect(whole.startsWith(toStdout.stdout)).toBe(true)
    expect(toStdout.stdout.length).toBeLessThan(whole.length)
    expectNoFile(run, "The connection dropped while reading the response")
  })

  it("csv that ends cleanly inside a quoted field, to stdout: exit 1 'cut off'; with --out, no file", async () => {
    const body = csvHeader + rows(0, 2000) + "evt_cut,2024-01-01,\"half"
    const run = await bothWays("csv", "csv-quoted-cut", (response) => {
      response.writeHead(200, { "content-type": "text/csv" })
      response.end(body)
    })
    expect(run.toStdout.code).toBe(1)
    expect(run.toStdout.stderr).toContain("cut off after 2000 rows")
    expect(run.toStdout.stdout).toBe(body)
    expectNoFile(run, "cut off after 2000 rows")
  })

  it("cut off to stdout: exit 1 (a consumer never mistakes a cut for the end)", async () => {
    await fault(mock.url, { operation: "exportAuditLog", truncateAfterBytes: 50_000 })
    const result = await cli.run(["audit-logs", "export"], { env })
    expect(result.code).toBe(1)
    expect(result.stderr).not.toBe("")
  })
})

const later = (n: number, from: number): Array<Domain.AuditLogEvent> =>
  Array.from({ length: n }, (_, k) =>
    Schema.decodeUnknownSync(Domain.AuditLogEvent)({
      id: `late_${from + k}`,
      // After the generated events (which start 2024-01-01, 10 s apart); two share each timestamp.
      timestamp: new Date(Date.UTC(2025, 0, 1) + Math.floor((from + k) / 2) * 1000).toISOString(),
      event_name: "Logged in",
      user_email: `user${k}@example.com`,
      deployment_id: null,
      deployment_name: null,
      ip_address: "203.0.113.7",
      attributes: { attempt: from + k }
    }))

describe("audit-logs follow", () => {
  it("killed with SIGKILL, events added, restarted: every event exactly once, in order", async () => {
    const state = `${cli.configHome}/follow/state.json`
    const args = ["audit-logs", "follow", "--state", state, "--interval", "200ms", "--format", "ndjson"]
    // Only complete lines: the follower may be in the middle of writing the last one.
    const ids = (stdout: string) => completeLines(stdout).map((line) => JSON.parse(line).id)

    // Run 1: catches up on the 3,000 events, then is killed without warning.
    const first = cli.start(args, { env, timeoutMs: 60_000 })
    await eventually(() => ids(first.output().stdout).length >= 3000 && existsSync(state), "the first run to catch up")
    MockStore.addAuditEvents(mock.store, later(10, 0))
    await eventually(() => ids(first.output().stdout).length >= 3010, "the first run to see new events")
    // Killed once the checkpoint of the last event is saved: a kill before that repeats the batch, by design.
    await eventually(() => readFileSync(state, "utf8").includes("late_9"), "the checkpoint of the new events")
    first.child.kill("SIGKILL")
    const firstResult = await first.done
    expect(firstResult.signal).toBe("SIGKILL")

    // While it is down: more events, including some at the checkpoint's own timestamp, and an outage.
    MockStore.addAuditEvents(mock.store, later(10, 10))
    await fault(mock.url, { operation: "exportAuditLog", status: 503, times: 6 })

    // Run 2: resumes from the checkpoint, rides out the outage, catches up, stops on Ctrl-C.
    const second = cli.start(args, { env, timeoutMs: 60_000 })
    await eventually(() => ids(second.output().stdout).length >= 10, "the second run to catch up")
    second.child.kill("SIGINT")
    const secondResult = await second.done
    expect(secondResult.code).toBe(130)

    const all = [...ids(firstResult.stdout), ...ids(secondResult.stdout)]
    const expected = [
      ...Array.from({ length: 3000 }, (_, k) => k),
      ...Array.from({ length: 20 }, (_, k) => `late_${k}`)
    ]
    expect(all.length).toBe(expected.length)
    expect(new Set(all).size).toBe(all.length)
    expect(all.slice(3000)).toEqual(expected.slice(3000))
    const checkpoint = JSON.parse(readFileSync(state, "utf8"))
    expect(checkpoint.ids).toEqual(["late_18", "late_19"])
  })

  it("a wrong key at the first poll stops with exit 4 instead of spinning", async () => {
    const result = await cli.run(
      ["audit-logs", "follow", "--state", `${cli.configHome}/x/state.json`],
      { env: { ...env, CUBE_API_KEY: "sk-wrong-key-0000" } }
    )
    expect(result.code).toBe(4)
  })

  // Events in 2031, after everything else in the mock.
  const in2031 = (ids: ReadonlyArray<string>) =>
    ids.map((id, k) =>
      Schema.decodeUnknownSync(Domain.AuditLogEvent)({
        id,
        timestamp: new Date(Date.UTC(2031, 0, 1) + k * 1000).toISOString(),
        event_name: "Logged in",
        user_email: "csv@example.com",
        deployment_id: null,
        deployment_name: null,
        ip_address: "203.0.113.7",
        attributes: {}
      })
    )
  const csvArgs = (state: string) => [
    "audit-logs",
    "follow",
    "--state",
    state,
    "--interval",
    "1h",
    "--format",
    "csv",
    "--start",
    "2031-01-01",
    "--verbose"
  ]
  const header = "id,timestamp,event_name,"
  /** The follower has finished a poll (the export answered, and its events were written). */
  const polled = (stderr: string) => /← 200 GET \/api\/v1\/audit-logs\/export/.test(stderr)

  it("csv appended to a file (>>): exactly one header across kills and restarts, before any event and after", async () => {
    const dir = `${cli.configHome}/follow-csv-file`
    mkdirSync(dir)
    const out = `${dir}/audit.csv`
    const state = `${dir}/state.json`
    /** `cubeplane … >> audit.csv`, stopped with `signal` once `until` holds. */
    const runAppending = async (signal: NodeJS.Signals, until: (stderr: string) => boolean) => {
      const fd = openSync(out, "a")
      const child = spawn(process.execPath, [cliPath, ...csvArgs(state)], {
        env: { ...baseEnv(cli.configHome), ...env },
        stdio: ["ignore", fd, "pipe"]
      })
      closeSync(fd)
      let stderr = ""
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      await eventually(() => until(stderr), "the follower to poll")
      child.kill(signal)
      await exited
    }
    // No events yet: killed without warning, twice, then stopped cleanly.
    await runAppending("SIGKILL", polled)
    await runAppending("SIGKILL", polled)
    await runAppending("SIGTERM", polled)
    expect(readFileSync(out, "utf8").split("\r\n").filter((line) => line.startsWith(header)).length).toBe(1)
    // Then events, and more restarts.
    const added = ["csv_file_1", "csv_file_2", "csv_file_3"]
    MockStore.addAuditEvents(mock.store, in2031(added))
    // Killed once the last event's checkpoint is saved (a kill before that repeats the batch, by design).
    await runAppending("SIGKILL", () => existsSync(state) && readFileSync(state, "utf8").includes("csv_file_3"))
    await runAppending("SIGTERM", polled)
    const rows = readFileSync(out, "utf8").trimEnd().split("\r\n")
    expect(rows[0]!.startsWith(header)).toBe(true)
    expect(rows.filter((row) => row.startsWith(header)).length).toBe(1)
    expect(rows.slice(1).map((row) => row.split(",")[0])).toEqual(added)
  })

  it("csv into a pipe: the state file remembers the header, so a restart does not repeat it", async () => {
    const state = `${cli.configHome}/follow-csv-pipe/state.json`
    const first = cli.start(csvArgs(state), { env })
    await eventually(() => polled(first.output().stderr), "the first run to poll")
    first.child.kill("SIGKILL")
    expect((await first.done).stdout.startsWith(header)).toBe(true)
    expect(JSON.parse(readFileSync(state, "utf8")).csv_header).toBe(true)
    const second = cli.start(csvArgs(state), { env })
    await eventually(() => polled(second.output().stderr), "the second run to poll")
    second.child.kill("SIGTERM")
    const result = await second.done
    expect(result.code).toBe(143)
    expect(result.stdout.includes(header)).toBe(false)
  })

  it("an export that stalls after its headers is abandoned with a line on stderr, and retried", async () => {
    // A Control Plane whose first export sends its headers and the CSV header, then nothing.
    const csv = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"
    let exports = 0
    const stalled: Array<ServerResponse> = []
    const server = createServer((request, response) => {
      if (!request.url?.startsWith("/api/v1/audit-logs/export")) {
        response.writeHead(404).end()
        return
      }
      exports++
      response.writeHead(200, { "content-type": "text/csv" })
      if (exports === 1) {
        response.write(csv)
        stalled.push(response)
        return
      }
      response.end(`${csv}evt_after_stall,2024-01-01T00:00:00.000Z,Logged in,a@example.com,,,203.0.113.7,{}\r\n`)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
    const address = server.address()
    const url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
    try {
      const follower = cli.start([
        "audit-logs",
        "follow",
        "--state",
        `${cli.configHome}/follow-stall/state.json`,
        "--stall-timeout",
        "1s"
      ], { env: { ...env, CUBE_API_URL: url } })
      await eventually(() => follower.output().stdout.includes("evt_after_stall"), "the retried export")
      follower.child.kill("SIGTERM")
      const result = await follower.done
      expect(result.stderr).toMatch(/The audit-log export sent nothing for 1s .* retrying in 1s/)
      expect(exports).toBe(2)
    } finally {
      for (const response of stalled) response.destroy()
      server.close()
    }
  })
})

describe("mock serve", () => {
  it("serves the demo data until Ctrl-C (exit 130)", async () => {
    const server = cli.start(["mock", "serve", "--port", "0"], { allowSecrets: true })
    await eventually(() => /on (http:\/\/\S+)/.test(server.output().stdout), "the mock to start")
    const url = /on (http:\/\/\S+)/.exec(server.output().stdout)![1]!
    const result = await cli.run(["deployments", "list"], { env: { CUBE_API_URL: url, CUBE_API_KEY: "sk-demo-admin" } })
    expect(JSON.parse(result.stdout).map((d: { id: string }) => d.id)).toEqual(["123", "124", "125"])
    server.child.kill("SIGINT")
    expect((await server.done).code).toBe(130)
  })
})
