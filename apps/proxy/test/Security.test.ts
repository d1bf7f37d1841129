import { FastCheck } from "effect"
import { describe, expect, it } from "vitest"
import * as Redact from "../src/Redact.js"
import { baseConfig, catalogKey, harness, key, post, upstreamKey } from "./helpers.js"

const tokenPath = "/api/v1/deployments/123/environments/456/tokens-for-meta-sync"
const tokenAnswer = {
  status: 200,
  body: { data: { token: "eyJ.secret.jwt", created_at: "2024-01-15T10:30:00.000Z", expires_at: null } }
}

const config = baseConfig([
  key("admin", [{ operations: ["*"] }]),
  catalogKey(),
  key("auditor", [{ operations: ["exportAuditLog"] }])
])

const csvHeader = "id,timestamp,event_name,user_email,deployment_id,deployment_name,ip_address,attributes\r\n"
const csvRow = (attributes: string) =>
  `1,2024-01-15T10:30:00.000Z,Logged in,a@example.com,123,Prod,10.0.0.1,"${attributes.replace(/"/g, "\"\"")}"\r\n`

/** `text` split into chunks of `size` characters. */
const chunked = (text: string, size: number): Array<string> => {
  const out: Array<string> = []
  for (let at = 0; at < text.length; at += size) out.push(text.slice(at, at + size))
  return out
}

const jsonEscaped = (text: string) =>
  [...text].map((c) => /[a-z0-9]/i.test(c) ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")

describe("the token body: forwarded exactly as checked", () => {
  it("a __proto__ key cannot smuggle claims past the policy: 400, nothing sent upstream", async () => {
    const { calls, request } = harness(config, () => tokenAnswer)
    const smuggled =
      "{\"security_context\":{\"tenant_id\":\"acme\",\"__proto__\":{\"tenant_id\":\"evil\",\"cubeCloud\":{\"scopes\":[\"data\",\"meta\"]}}},\"expires_in\":60}"
    const response = await request(tokenPath, { ...post(smuggled), key: "catalog" })
    expect(response.status).toBe(400)
    expect((await response.json()).error).toContain("__proto__")
    expect(calls).toHaveLength(0)
  })

  it("constructor and prototype keys anywhere in the body are refused too", async () => {
    const { calls, request } = harness(config, () => tokenAnswer)
    for (
      const body of [
        { security_context: { tenant_id: "acme", nested: { constructor: { prototype: 1 } } }, expires_in: 60 },
        { security_context: { tenant_id: "acme", prototype: 1 }, expires_in: 60 }
      ]
    ) {
      const response = await request(tokenPath, { ...post(body), key: "catalog" })
      expect(response.status).toBe(400)
      expect((await response.json()).error).toMatch(/constructor|prototype/)
    }
    expect(calls).toHaveLength(0)
  })

  it("a field the policy does not know (a top-level cubeCloud) is refused, not dropped: 400 naming it", async () => {
    const { calls, request } = harness(config, () => tokenAnswer)
    const response = await request(tokenPath, {
      ...post({ security_context: { tenant_id: "acme" }, expires_in: 60, cubeCloud: { scopes: ["data"] } }),
      key: "catalog"
    })
    expect(response.status).toBe(400)
    const { error } = await response.json()
    expect(error).toContain("unknown field \"cubeCloud\"")
    expect(error).toContain("security_context, expires_in, scopes")
    expect(calls).toHaveLength(0)
  })

  it("a body that is not UTF-8 is refused, not forwarded with U+FFFD in it", async () => {
    const { calls, request } = harness(config, () => tokenAnswer)
    const bytes = Buffer.concat([
      Buffer.from("{\"security_context\":{\"tenant_id\":\"acme\",\"note\":\""),
      Buffer.from([0xff, 0xfe]),
      Buffer.from("\"},\"expires_in\":60}")
    ])
    const response = await request(tokenPath, { ...post(""), body: bytes, key: "catalog" })
    expect(response.status).toBe(400)
    expect((await response.json()).error).toContain("not valid UTF-8")
    expect(calls).toHaveLength(0)
  })

  it("upstream receives the checked value re-encoded, not the caller's bytes", async () => {
    const { calls, request } = harness(config, () => tokenAnswer)
    const response = await request(tokenPath, {
      ...post(
        "{ \"expires_in\" : 60, \"security_context\":{\"tenant_id\":\"ac\\u006de\",\"team\":[1,{\"x\":true}]}}"
      ),
      key: "catalog"
    })
    expect(response.status).toBe(200)
    expect(calls).toHaveLength(1)
    expect(JSON.parse(calls[0]!.body ?? "")).toEqual({
      security_context: { tenant_id: "acme", team: [1, { x: true }] },
      expires_in: 60
    })
  })

  it("a body nested 5,000 levels deep is a 400, not a 500", async () => {
    const { calls, logs, request } = harness(config, () => tokenAnswer)
    const depth = 5000
    const deep = `{"security_context":{"tenant_id":"acme","x":${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}}}`
    const response = await request(tokenPath, { ...post(deep), key: "admin" })
    expect(response.status).toBe(400)
    expect((await response.json()).error).toContain("nested deeper than")
    expect(calls).toHaveLength(0)
    expect(logs.filter((line) => line.level === "error")).toEqual([])
  })

  it("nesting just within the limit is accepted", async () => {
    const { calls, request } = harness(config, () => tokenAnswer)
    // body (1) → security_context (2) → 30 objects under x (3 to 32): 32 levels.
    const body = `{"security_context":{"x":${"{\"a\":".repeat(30)}1${"}".repeat(30)}}}`
    const response = await request(tokenPath, { ...post(body), key: "admin" })
    expect(response.status).toBe(200)
    expect(calls).toHaveLength(1)
    const tooDeep = `{"security_context":{"x":${"{\"a\":".repeat(31)}1${"}".repeat(31)}}}`
    expect((await request(tokenPath, { ...post(tooDeep), key: "admin" })).status).toBe(400)
  })
})

describe("query counts", () => {
  it("are decimal digits (core's rule): 0x10, 1e1, +3 and \" 5\" are a 400 naming the field, nothing sent upstream", async () => {
    const { calls, request } = harness(config, () => ({ status: 200, body: { data: { deployments: [] } } }))
    for (const query of ["limit=0x10", "offset=1e1", "limit=%2B3", "limit=%205"]) {
      const response = await request(`/api/v1/deployments?${query}`, { key: "admin" })
      expect(response.status, query).toBe(400)
      expect((await response.json()).error, query).toMatch(/^(limit|offset): .*decimal digits/)
    }
    expect(calls).toHaveLength(0)
    expect((await request("/api/v1/deployments?limit=16", { key: "admin" })).status).toBe(200)
  })
})

describe("redaction of the upstream key on every response", () => {
  it("CSV export: the key is redacted even when split across chunks and escaped", async () => {
    const csv = csvHeader + csvRow(`{"note":"${upstreamKey}"}`) + csvRow(`{"note":"${jsonEscaped(upstreamKey)}"}`) +
      csvRow(`{"url":"https://x.test/?k=${encodeURIComponent(upstreamKey).replace(/-/g, "%2D")}"}`)
    for (const size of [1, 3, 7, 16, 1000]) {
      const { request } = harness(config, () => ({ status: 200, chunks: chunked(csv, size) }))
      const response = await request("/api/v1/audit-logs/export", { key: "auditor" })
      expect(response.status).toBe(200)
      const text = await response.text()
      expect(text).not.toContain(upstreamKey)
      expect(text).not.toContain(jsonEscaped(upstreamKey))
      expect(text).not.toContain("%2D")
      expect(text.match(/\[REDACTED\]/g)).toHaveLength(3)
      expect(text.startsWith(csvHeader)).toBe(true)
    }
  })

  it("NDJSON export: the key is redacted too", async () => {
    const csv = csvHeader + csvRow(`{"note":"${upstreamKey}"}`)
    const { request } = harness(config, () => ({ status: 200, chunks: chunked(csv, 5) }))
    const response = await request("/api/v1/audit-logs/export?format=ndjson", { key: "auditor" })
    expect(response.status).toBe(200)
    const text = await response.text()
    expect(text).not.toContain(upstreamKey)
    expect(text).toContain("[REDACTED]")
  })

  it("lists, tokens and errors are redacted in escaped forms as well", async () => {
    const escaped = jsonEscaped(upstreamKey)
    const { request } = harness(config, (req) =>
      req.method === "POST"
        ? { status: 200, body: `{"data":{"token":"${escaped}"}}` }
        : req.path.startsWith("/api/v1/audit")
        ? { status: 500, body: `{"error":"bad ${escaped}"}` }
        : { status: 200, body: `{"data":{"deployments":[{"id":"1","name":"${escaped}"}]}}` })
    for (
      const response of [
        await request("/api/v1/deployments", { key: "admin" }),
        await request(tokenPath, { ...post({ security_context: {} }), key: "admin" }),
        await request("/api/v1/audit-logs/export", { key: "admin" })
      ]
    ) {
      const text = await response.text()
      expect(text).not.toContain(escaped)
      expect(text).toContain("[REDACTED]")
    }
  })
})

/** Everything a fresh streaming redactor sends for these chunks. */
const streamed = (redactor: Redact.Redactor, chunks: ReadonlyArray<Uint8Array>): Buffer => {
  const out: Array<Uint8Array> = []
  const stream = redactor.stream()
  for (const chunk of chunks) stream.push(chunk, (bytes) => out.push(bytes))
  stream.end((bytes) => out.push(bytes))
  return Buffer.concat(out)
}

describe("Redact", () => {
  const key = "sk-live/AbC-123"
  const redactor = Redact.make(key)
  const forms = [
    key,
    jsonEscaped(key),
    jsonEscaped(key).replace(/\\u00([0-9a-f]{2})/g, (_, code: string) => `\\u00${code.toUpperCase()}`),
    key.replace("/", "\\/"),
    encodeURIComponent(key),
    [...key].map((c) => `%${c.charCodeAt(0).toString(16)}`).join(""),
    encodeURIComponent(encodeURIComponent(key)),
    JSON.stringify(JSON.stringify(jsonEscaped(key))).slice(3, -3)
  ]

  it("finds every escaped form of the key, in whole bodies and at every chunk split", () => {
    for (const form of forms) {
      const body = `before ${form} after`
      expect(redactor.text(body)).toBe("before [REDACTED] after")
      for (let split = 0; split <= body.length; split++) {
        const out = streamed(redactor, [Buffer.from(body.slice(0, split)), Buffer.from(body.slice(split))])
        expect(out.toString("utf8")).toBe("before [REDACTED] after")
      }
    }
  })

  it("text: the same as the bytes path, a text without any marker of the key returned as it is", () => {
    const plain = "{\"data\":{\"deployments\":[{\"id\":\"124\",\"name\":\"Zürich 東京\"}]}}"
    expect(redactor.text(plain)).toBe(plain)
    const viaBytes = (text: string) => Buffer.from(redactor.bytes(Buffer.from(text, "utf8"))).toString("utf8")
    const piece = FastCheck.oneof(
      FastCheck.string(),
      FastCheck.constantFrom(...forms, "sk-", "sk", "\\", "%", "%2", "é", "東京")
    )
    FastCheck.assert(
      FastCheck.property(FastCheck.array(piece, { maxLength: 8 }), (pieces) => {
        const text = pieces.join("")
        expect(redactor.text(text)).toBe(viaBytes(text))
      })
    )
  })

  it("long chunks (looked at only where a form can start): the same bytes as matching the whole body", () => {
    // Text full of near misses — backslash escapes that are not the key's, `%` signs, the key's
    // first bytes, a cut-short key — with real forms of the key at random places, cut into
    // chunks long and short: what the stream sends equals the whole body matched at once.
    const noise = FastCheck.constantFrom(
      "evt_1,2024-01-01T00:00:00.000Z,Logged in,,,,203.0.113.6,\"{\"\"note\"\":\"\"a\\nb\"\"}\"\r\n",
      "\\\\\\\\n",
      "\\u00",
      "\\u0073k",
      "%2",
      "%25",
      "sk-live",
      "sk-live/AbC-12",
      "s",
      "\\",
      "%",
      "Zürich 東京 ",
      "x".repeat(300)
    )
    const piece = FastCheck.oneof(noise, noise, noise, FastCheck.constantFrom(...forms))
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(piece, { minLength: 1, maxLength: 80 }),
        FastCheck.array(FastCheck.nat(20_000), { maxLength: 8 }),
        (pieces, cuts) => {
          const whole = Buffer.from(pieces.join(""))
          const at = [...new Set(cuts.map((n) => n % (whole.length + 1)))].sort((x, y) => x - y)
          const chunks = [...at, whole.length].map((to, i) => whole.subarray(i === 0 ? 0 : at[i - 1]!, to))
          const out = streamed(redactor, chunks)
          expect(out.equals(Buffer.from(redactor.bytes(whole)))).toBe(true)
          expect(out.toString("latin1")).not.toContain(key)
        }
      ),
      { numRuns: 400 }
    )
  })

  it("leaves other text, multi-byte characters split across chunks included, as it was", () => {
    const body = "Zürich — 東京 sk-live/AbC-12 (not the key)"
    const bytes = Buffer.from(body)
    for (let split = 0; split <= bytes.length; split++) {
      expect(streamed(redactor, [bytes.subarray(0, split), bytes.subarray(split)]).toString("utf8")).toBe(body)
    }
  })
})

describe("response headers", () => {
  it("nosniff on every response; no-store on token responses; a CSP on /docs", async () => {
    const { request } = harness(config, () => tokenAnswer)
    for (const path of ["/healthz", "/docs", "/openapi.json", "/metrics", "/nope", "/api/v1/deployments"]) {
      expect((await request(path)).headers.get("x-content-type-options")).toBe("nosniff")
    }
    const minted = await request(tokenPath, { ...post({ security_context: { tenant_id: "acme" } }), key: "catalog" })
    expect(minted.status).toBe(200)
    expect(minted.headers.get("cache-control")).toBe("no-store")
    const refused = await request(tokenPath, { ...post({ security_context: { tenant_id: "x" } }), key: "catalog" })
    expect(refused.status).toBe(403)
    expect(refused.headers.get("cache-control")).toBe("no-store")
    const docs = await request("/docs")
    const csp = docs.headers.get("content-security-policy") ?? ""
    expect(csp).toContain("default-src 'none'")
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/)
    expect(csp).toContain("frame-ancestors 'none'")
  })
})
