import type * as Transport from "@cubeplane/core/Transport"
import { Redacted } from "effect"
import { Readable } from "node:stream"
import { type AppDeps, type LogEntry, makeApp } from "../src/App.js"
import * as Config from "../src/Config.js"
import type { ProxyConfig } from "../src/Config.js"
import * as Keys from "../src/Keys.js"
import { Metrics } from "../src/Metrics.js"
import * as Upstream from "../src/Upstream.js"

export type FakeAnswer =
  | {
    readonly status: number
    /** A string is sent as it is, anything else as JSON. */
    readonly body?: unknown
    /** The body as these chunks, one after the other. */
    readonly chunks?: ReadonlyArray<string>
    readonly headers?: Record<string, string>
  }
  /** No answer: undici's headers timeout, or a refused connection. */
  | { readonly fail: "timeout" | "refused" }

/** What reached the fake upstream. */
export interface FakeCall {
  readonly method: string
  /** Path and query, e.g. `/api/v1/deployments?limit=5`. */
  readonly path: string
  readonly body: string | undefined
  readonly headers: Readonly<Record<string, string>>
}

/** The real key the fake upstream stands for: it must never reach a caller. */
export const upstreamKey = "sk-REAL-upstream-key-0123"

/**
 * The proxy's real upstream (core's transport: auth, retries, error mapping)
 * over an in-memory exchange that records what reached it and answers from `handler`.
 */
export const fakeUpstream = (
  handler: (request: FakeCall) => FakeAnswer,
  options: { readonly retries?: number } = {}
) => {
  const calls: Array<FakeCall> = []
  const exchange: Transport.Exchange<Readable> = async (request) => {
    const url = new URL(request.url)
    const call: FakeCall = {
      method: request.method,
      path: url.pathname + url.search,
      body: request.body,
      headers: request.headers
    }
    calls.push(call)
    const answer = handler(call)
    if ("fail" in answer) {
      const code = answer.fail === "timeout" ? "UND_ERR_HEADERS_TIMEOUT" : "ECONNREFUSED"
      throw Object.assign(new Error(code), { code })
    }
    const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? {})
    const chunks = answer.chunks ?? [text]
    const body = Readable.from(chunks.map((chunk) => Buffer.from(chunk)))
    return {
      status: answer.status,
      headers: { "content-type": "application/json", ...answer.headers },
      body,
      text: async () => chunks.join(""),
      discard: () => void body.resume()
    }
  }
  const upstream = Upstream.make(
    {
      url: "http://upstream.test",
      apiKey: Redacted.make(upstreamKey),
      timeoutMs: 1000,
      retries: options.retries ?? 0,
      retryBaseDelayMs: 1
    },
    {},
    exchange
  )
  return { upstream, calls }
}

export const deploymentsPage = (ids: ReadonlyArray<string>, offset = 0, total = ids.length) => ({
  data: { deployments: ids.map((id) => ({ id, name: `Deployment ${id}`, created_at: "2024-01-15T10:30:00.000Z" })) },
  pagination: { offset, limit: 100, total }
})

export const environmentsPage = (ids: ReadonlyArray<string>) => ({
  data: { environments: ids.map((id) => ({ id, name: `Env ${id}`, type: "production" })) },
  pagination: { offset: 0, limit: 100, total: ids.length }
})

/** Keys used across the unit tests: the key text is `key-<name>`. */
export const keyOf = (name: string) => `key-${name}`

export const baseConfig = (keys: ProxyConfig["keys"], cacheTtl = 0): ProxyConfig => ({
  upstream: { timeoutMs: 1000, retries: 0 },
  cache: { ttlSeconds: cacheTtl, maxEntries: 100 },
  keys
})

export const key = (
  name: string,
  grants: ProxyConfig["keys"][number]["grants"],
  rateLimit?: { requests: number; windowSeconds: number }
): ProxyConfig["keys"][number] => ({
  name,
  hash: Keys.hash(keyOf(name)),
  grants,
  ...(rateLimit === undefined ? {} : { rateLimit })
})

/** The data catalog's key: meta-sync tokens for environment 456 of deployment 123, tenant `acme`, at most an hour. */
export const catalogKey = () =>
  key("catalog", [{
    operations: ["createMetaSyncToken"],
    deployments: ["123"],
    environments: ["456"],
    token: { maxExpiresIn: 3600, securityContext: { tenant_id: "acme" } }
  }])

export const harness = (
  config: ProxyConfig,
  handler: (request: FakeCall) => FakeAnswer,
  options: { now?: () => number } = {}
) => {
  const { calls, upstream } = fakeUpstream(handler)
  const logs: Array<LogEntry> = []
  const metrics = new Metrics()
  const deps: AppDeps = {
    config,
    upstream,
    metrics,
    log: (entry) => logs.push(entry),
    ...(options.now === undefined ? {} : { now: options.now })
  }
  const app = makeApp(deps)
  const request = (path: string, init: RequestInit & { key?: string } = {}) => {
    const { key: name, ...rest } = init
    const headers = new Headers(rest.headers)
    if (name !== undefined) headers.set("Authorization", `Bearer ${keyOf(name)}`)
    return app.request(path, { ...rest, headers })
  }
  return { app, request, calls, logs, metrics }
}

export const post = (body: unknown, extra: RequestInit = {}): RequestInit => ({
  method: "POST",
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: { "Content-Type": "application/json" },
  ...extra
})

/** The problems `Config.parse` refuses `text` with (fails the test if it is accepted). */
export const problemsOf = (text: string): ReadonlyArray<string> => {
  try {
    Config.parse(text, "proxy.yaml")
  } catch (error) {
    if (error instanceof Config.ConfigError) return error.problems
    throw error
  }
  throw new Error("expected the config to be refused")
}
