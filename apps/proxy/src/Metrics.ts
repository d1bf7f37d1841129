/**
 * Prometheus metrics, served as text at `/metrics`. Plain counters in maps:
 * a request costs a few map updates, no allocation beyond the label key.
 *
 * - `cubeplane_proxy_requests_total{operation,status,key}`
 * - `cubeplane_proxy_request_duration_seconds{operation}` (histogram, to the response headers)
 * - `cubeplane_proxy_upstream_errors_total{operation,kind}`
 *   (`timeout`, `connection`, `status_5xx`, `status_429`, `status_401`, `stream`)
 * - `cubeplane_proxy_upstream_retries_total{operation}`
 * - `cubeplane_proxy_cache_requests_total{operation,result}` (`hit` / `miss`)
 * - `cubeplane_proxy_rate_limited_total{key}`
 * - `cubeplane_proxy_tokens_minted_total{key}`
 * - `cubeplane_proxy_requests_in_flight`
 *
 * @since 0.1.0
 */

import { Context, Layer } from "effect"

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

class Counter {
  readonly values = new Map<string, { labels: ReadonlyArray<string>; value: number }>()
  constructor(readonly name: string, readonly help: string, readonly labelNames: ReadonlyArray<string>) {}
  inc(labels: ReadonlyArray<string>, by = 1): void {
    const id = labels.join("\u0000")
    const entry = this.values.get(id)
    if (entry === undefined) this.values.set(id, { labels, value: by })
    else entry.value += by
  }
  /** `inc` for one label without building an array per call (a per-request counter). */
  inc1(a: string): void {
    const entry = this.values.get(a)
    if (entry === undefined) this.inc([a])
    else entry.value++
  }
  /** `inc` for three labels without building an array per call (the per-request counter). */
  inc3(a: string, b: string, c: string): void {
    const entry = this.values.get(`${a}\u0000${b}\u0000${c}`)
    if (entry === undefined) this.inc([a, b, c])
    else entry.value++
  }
  render(out: Array<string>): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`)
    for (const { labels, value } of this.values.values()) {
      out.push(`${this.name}${labelText(this.labelNames, labels)} ${value}`)
    }
  }
}

class Histogram {
  readonly series = new Map<string, { counts: Array<number>; sum: number; count: number }>()
  constructor(readonly name: string, readonly help: string, readonly labelName: string) {}
  observe(label: string, seconds: number): void {
    let entry = this.series.get(label)
    if (entry === undefined) {
      entry = { counts: buckets.map(() => 0), sum: 0, count: 0 }
      this.series.set(label, entry)
    }
    for (let i = 0; i < buckets.length; i++) {
      if (seconds <= buckets[i]!) {
        entry.counts[i]!++
        break
      }
    }
    entry.sum += seconds
    entry.count++
  }
  render(out: Array<string>): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`)
    for (const [label, entry] of this.series) {
      let cumulative = 0
      for (let i = 0; i < buckets.length; i++) {
        cumulative += entry.counts[i]!
        out.push(`${this.name}_bucket{${this.labelName}="${escape(label)}",le="${buckets[i]}"} ${cumulative}`)
      }
      out.push(`${this.name}_bucket{${this.labelName}="${escape(label)}",le="+Inf"} ${entry.count}`)
      out.push(`${this.name}_sum{${this.labelName}="${escape(label)}"} ${entry.sum}`)
      out.push(`${this.name}_count{${this.labelName}="${escape(label)}"} ${entry.count}`)
    }
  }
}

const escape = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const labelText = (names: ReadonlyArray<string>, values: ReadonlyArray<string>): string =>
  names.length === 0 ? "" : `{${names.map((name, i) => `${name}="${escape(values[i] ?? "")}"`).join(",")}}`

export type UpstreamErrorKind = "timeout" | "connection" | "status_5xx" | "status_429" | "status_401" | "stream"

export class Metrics {
  readonly requests = new Counter(
    "cubeplane_proxy_requests_total",
    "Requests answered, by operation, status and key.",
    [
      "operation",
      "status",
      "key"
    ]
  )
  readonly duration = new Histogram(
    "cubeplane_proxy_request_duration_seconds",
    "Time to the response headers, by operation.",
    "operation"
  )
  readonly upstreamErrors = new Counter(
    "cubeplane_proxy_upstream_errors_total",
    "Failed upstream attempts, by operation and kind.",
    ["operation", "kind"]
  )
  readonly upstreamRetries = new Counter("cubeplane_proxy_upstream_retries_total", "Upstream retries, by operation.", [
    "operation"
  ])
  readonly cache = new Counter("cubeplane_proxy_cache_requests_total", "List cache lookups, by operation and result.", [
    "operation",
    "result"
  ])
  readonly rateLimited = new Counter(
    "cubeplane_proxy_rate_limited_total",
    "Requests refused by a rate limit, by key.",
    [
      "key"
    ]
  )
  readonly authLockouts = new Counter(
    "cubeplane_proxy_auth_lockouts_total",
    "Requests refused 429 because their address had too many failed authentications (auth_failures).",
    []
  )
  readonly tokensMinted = new Counter("cubeplane_proxy_tokens_minted_total", "Meta-sync tokens minted, by key.", [
    "key"
  ])
  readonly keyRequests = new Counter("cubeplane_proxy_key_requests_total", "API requests by an identified key.", [
    "key"
  ])
  readonly keyRefusals = new Counter(
    "cubeplane_proxy_key_refusals_total",
    "Refused API requests of an identified key, by status (401 expired, 400/413 invalid, 403 forbidden, 429 rate limited, 503 store unavailable).",
    ["key", "status"]
  )
  inFlight = 0
  /** Renders metrics of other parts (the shared store) after the proxy's own. */
  readonly sources: Array<(out: Array<string>) => void> = []

  /** Counts one answer to the API request of key `key`. */
  countKey(key: string, status: number): void {
    this.keyRequests.inc1(key)
    if ((status >= 400 && status < 500) || status === 503) this.keyRefusals.inc([key, String(status)])
  }

  render(): string {
    const out: Array<string> = []
    this.requests.render(out)
    this.duration.render(out)
    this.upstreamErrors.render(out)
    this.upstreamRetries.render(out)
    this.cache.render(out)
    this.rateLimited.render(out)
    this.authLockouts.render(out)
    this.tokensMinted.render(out)
    this.keyRequests.render(out)
    this.keyRefusals.render(out)
    out.push(
      "# HELP cubeplane_proxy_requests_in_flight Requests being answered now.",
      "# TYPE cubeplane_proxy_requests_in_flight gauge",
      `cubeplane_proxy_requests_in_flight ${this.inFlight}`
    )
    for (const source of this.sources) source(out)
    return out.join("\n") + "\n"
  }
}

/** The metrics registry as a service (`/metrics` renders it). */
export class ProxyMetrics extends Context.Tag("cubeplane-proxy/ProxyMetrics")<ProxyMetrics, Metrics>() {}

export const layer = (metrics: Metrics = new Metrics()): Layer.Layer<ProxyMetrics> =>
  Layer.succeed(ProxyMetrics, metrics)
