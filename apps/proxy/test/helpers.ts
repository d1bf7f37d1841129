import { Readable } from "node:stream"
import { type AppDeps, type LogEntry, makeApp } from "../src/App.js"
import type { ProxyConfig } from "../src/Config.js"
import * as Keys from "../src/Keys.js"
import { Metrics } from "../src/Metrics.js"
import * as Redact from "../src/Redact.js"
import type { Upstream, UpstreamRequest, UpstreamResponse } from "../src/Upstream.js"
import { UpstreamFailure } from "../src/Upstream.js"

export type FakeAnswer =
  | {
    readonly status: number
    /** A string is sent as it is, anything else as JSON; an array of strings is sent as that many chunks. */
    readonly body?: unknown
    readonly chunks?: ReadonlyArray<string>
    readonly headers?: Record<string, string>
  }
  | UpstreamFailure

/** The real key the fake upstream stands for: it must never reach a caller. */
export const upstreamKey = "sk-REAL-upstream-key-0123"

/** An in-memory upstream: records what reached it and answers from `handler`. */
export const fakeUpstream = (handler: (request: UpstreamRequest) => FakeAnswer) => {
  const calls: Array<UpstreamRequest> = []
  const upstream: Upstream = {
    origin: "http://upstream.test",
    send: async (request) => {
      calls.push(request)
      const answer = handler(request)
      if (answer instanceof UpstreamFailure) throw answer
      const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? {})
      const response: UpstreamResponse = {
        status: answer.status,
        headers: { "content-type": "application/json", ...answer.headers },
        body: Readable.from((answer.chunks ?? [text]).map((chunk) => Buffer.from(chunk)))
      }
      return response
    },
    close: () => undefined,
    redactor: Redact.make(upstreamKey)
  }
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

export const harness = (
  config: ProxyConfig,
  handler: (request: UpstreamRequest) => FakeAnswer,
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
