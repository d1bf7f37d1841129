import { FastCheck } from "effect"
import { describe, expect, it, vi } from "vitest"
import * as Log from "../src/Log.js"

const access: Log.Access = {
  requestId: "3f1c1d2e-8d2a-4a43-9f3e-2b1f9c8e7a61",
  key: "catalog",
  operation: "listDeployments",
  method: "GET",
  path: "/api/v1/deployments",
  status: 200,
  durationMs: 1.25,
  cache: undefined,
  upstreamStatus: undefined,
  error: undefined
}
const time = "2026-11-29T10:00:00.000Z"

describe("the access-log line", () => {
  it("is the JSON of the access entry, with the optional fields only when set", () => {
    expect(JSON.parse(Log.accessText(time, access))).toEqual({
      time,
      level: "info",
      msg: "request",
      request_id: access.requestId,
      key: "catalog",
      operation: "listDeployments",
      method: "GET",
      path: "/api/v1/deployments",
      status: 200,
      duration_ms: 1.25
    })
    const refused = { ...access, key: null, operation: null, status: 502, upstreamStatus: 500, cache: "MISS" }
    expect(JSON.parse(Log.accessText(time, { ...refused, error: "upstream failed" }))).toMatchObject({
      key: null,
      operation: null,
      cache: "MISS",
      upstream_status: 500,
      error: "upstream failed"
    })
  })

  it("writes exactly what JSON.stringify writes for the entry, whatever the caller put in the path or error", () => {
    const text = FastCheck.oneof(
      FastCheck.string({ unit: "binary" }),
      FastCheck.constantFrom("\"", "\\", "\n", "\u2028")
    )
    FastCheck.assert(
      FastCheck.property(
        text,
        text,
        FastCheck.option(text, { nil: null }),
        FastCheck.option(text, { nil: undefined }),
        FastCheck.option(FastCheck.constantFrom("HIT", "MISS"), { nil: undefined }),
        FastCheck.option(FastCheck.integer({ min: 100, max: 599 }), { nil: undefined }),
        FastCheck.double({ min: 0, max: 1e6, noNaN: true }),
        (path, method, key, error, cache, upstreamStatus, durationMs) => {
          const given: Log.Access = { ...access, path, method, key, error, cache, upstreamStatus, durationMs }
          expect(Log.accessText(time, given)).toBe(JSON.stringify(Log.accessEntry(time, given)))
        }
      )
    )
  })
})

describe("the batched stdout writer", () => {
  it("writes every line whole and in order: non-ASCII text, many lines past one batch, a line longer than a batch", () => {
    const written: Array<Buffer> = []
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(Buffer.from(chunk))
      return true
    })
    try {
      Log.flush()
      const lines = [
        JSON.stringify({ msg: "café ☕ 𝄞 \u2028" }),
        ...Array.from({ length: 2_000 }, (_, i) => JSON.stringify({ n: i, pad: "é".repeat(i % 50) })),
        JSON.stringify({ big: "x€".repeat(100_000) }),
        JSON.stringify({ msg: "after the big one" })
      ]
      for (const line of lines) Log.writeJson(line)
      Log.flush()
      expect(Buffer.concat(written).toString("utf8")).toBe(lines.map((line) => `${line}\n`).join(""))
      // Batched: far fewer writes than lines.
      expect(written.length).toBeLessThan(20)
    } finally {
      spy.mockRestore()
    }
  })
})
