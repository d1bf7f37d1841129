/**
 * The Redis every replica shares: one `ioredis` client per process, its
 * connection state, and reconnection.
 *
 * A store that is down must never hang or crash the proxy, so the client
 * fails fast instead of waiting: no offline queue (a command sent while
 * disconnected fails at once), no per-command retries, and every command
 * bounded by `timeoutMs`. The client keeps reconnecting in the background
 * (100 ms, 200 ms, … at most 1 s apart) for as long as the process runs;
 * `/readyz` reports the state, and state changes are logged once each, never
 * the URL's password.
 *
 * The rate limits (`RateLimit.layerRedis`) and the list cache
 * (`Cache.layerRedis`) are layers on this service.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer } from "effect"
import type { Redis } from "ioredis"
import type { StoreSettings } from "./Config.js"
import * as Log from "./Log.js"

export type StoreState = "connecting" | "ready" | "down"

export interface RedisStore {
  readonly client: Redis
  /** Prepended to every key the proxy writes. */
  readonly prefix: string
  /** What a rate-limited key gets while the store cannot answer. */
  readonly onStoreError: "deny" | "allow"
  /** `redis://host:port/db`, without credentials: safe to log and show. */
  readonly location: string
  readonly state: () => StoreState
  /** The last connection error, without credentials. */
  readonly lastError: () => string | undefined
  /** Counts a failed command (for `/metrics`); `take` and the cache call it. */
  readonly failed: (operation: string) => void
  readonly failures: () => ReadonlyMap<string, number>
  readonly close: () => Promise<void>
}

/** The store's settings once the URL is known (from `CUBEPLANE_PROXY_STORE` or the file's `store.url`). */
export interface Settings {
  readonly url: string
  readonly onStoreError: "deny" | "allow"
  readonly timeoutMs: number
  readonly keyPrefix: string
}

/** A refused store URL: says what is wrong and what a good one looks like. */
export class StoreUrlError extends Error {
  override readonly name = "StoreUrlError"
}

/**
 * The store settings of a config and the environment: `undefined` means the
 * in-memory store. `CUBEPLANE_PROXY_STORE` wins over the file's `store.url`.
 */
export const settingsOf = (
  store: StoreSettings | undefined,
  fromEnvironment: string | undefined
): Settings | undefined => {
  const url = fromEnvironment?.trim() || store?.url?.trim() || undefined
  if (url === undefined) return undefined
  parseUrl(url)
  return {
    url,
    onStoreError: store?.onStoreError ?? "deny",
    timeoutMs: store?.timeoutMs ?? 1000,
    keyPrefix: store?.keyPrefix ?? "cubeplane-proxy:"
  }
}

/** Checks a store URL and returns it without credentials. */
export const parseUrl = (url: string): string => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new StoreUrlError(`the store URL is not a URL; expected redis://host:port/db, e.g. redis://127.0.0.1:6379/0`)
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new StoreUrlError(
      `the store URL must start with redis:// or rediss://, got ${parsed.protocol}//…; e.g. redis://127.0.0.1:6379/0`
    )
  }
  const db = parsed.pathname.replace(/^\//, "")
  if (db !== "" && !/^\d{1,2}$/.test(db)) {
    throw new StoreUrlError(`the store URL's database must be a number (redis://host:port/0), got "/${db}"`)
  }
  return `${parsed.protocol}//${parsed.hostname}:${parsed.port || "6379"}/${db === "" ? "0" : db}`
}

/**
 * Connects (in the background) and returns at once: the proxy starts even while Redis is down.
 * The client library is loaded here, so a proxy without a store never loads it.
 */
export const make = async (settings: Settings, log: (entry: Log.LogEntry) => void = Log.write): Promise<RedisStore> => {
  const location = parseUrl(settings.url)
  const { Redis } = await import("ioredis")
  const client = new Redis(settings.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.timeoutMs,
    connectTimeout: Math.max(1000, settings.timeoutMs),
    // Reconnect forever, at most a second apart: the store comes back without a restart.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    // Never let a reconnect replay writes: a command that failed was answered as a store error.
    autoResendUnfulfilledCommands: false
  })
  let state: StoreState = "connecting"
  let lastError: string | undefined
  let closing = false
  const failures = new Map<string, number>()
  const note = (next: StoreState, extra: Record<string, unknown> = {}) => {
    if (next === state || closing) return
    state = next
    log({
      time: Log.timestamp(),
      level: next === "ready" ? "info" : "warn",
      msg: next === "ready" ? "store connected" : "store unreachable: retrying",
      store: location,
      ...extra
    })
  }
  client.on("ready", () => {
    lastError = undefined
    note("ready")
  })
  // ioredis reports each failed connection attempt here; without a listener it would print them all.
  client.on("error", (error: unknown) => {
    lastError = safeMessage(error, settings.url)
    note("down", { error: lastError })
  })
  client.on("close", () => note("down", lastError === undefined ? {} : { error: lastError }))
  return {
    client,
    prefix: settings.keyPrefix,
    onStoreError: settings.onStoreError,
    location,
    state: () => state,
    lastError: () => lastError,
    failed: (operation) => failures.set(operation, (failures.get(operation) ?? 0) + 1),
    failures: () => failures,
    close: async () => {
      closing = true
      try {
        await client.quit()
      } catch {
        client.disconnect()
      }
    }
  }
}

/** An error's message with the URL's credentials (if any) taken out. */
const safeMessage = (error: unknown, url: string): string => {
  const message = error instanceof Error ? error.message : String(error)
  const password = (() => {
    try {
      return decodeURIComponent(new URL(url).password)
    } catch {
      return ""
    }
  })()
  return password === "" ? message : message.split(password).join("[redacted]")
}

/** `/readyz`'s view of the store. */
export const readiness = (store: RedisStore): { readonly ok: boolean; readonly body: Record<string, unknown> } =>
  store.state() === "ready"
    ? { ok: true, body: { status: "ready", location: store.location } }
    : {
      ok: false,
      body: {
        status: store.state(),
        location: store.location,
        on_store_error: store.onStoreError,
        ...(store.lastError() === undefined ? {} : { error: store.lastError() })
      }
    }

/**
 * `/readyz` with the store: its state is always in the body; a store that is
 * down makes the replica unready only under `on_store_error: deny`, when it
 * refuses rate-limited keys (under `allow` it still serves them, unlimited).
 */
export const withStore = (
  upstream: { readonly ok: boolean; readonly body: Record<string, unknown> },
  store: RedisStore
): { readonly ok: boolean; readonly body: Record<string, unknown> } => {
  const own = readiness(store)
  const ok = upstream.ok && (own.ok || store.onStoreError === "allow")
  return {
    ok,
    body: {
      ...upstream.body,
      ...(upstream.ok && !ok
        ? { error: `the shared store (${store.location}) is unreachable and store.on_store_error is deny` }
        : {}),
      store: own.body
    }
  }
}

/** The store's Prometheus lines: whether it is connected, and failed commands by operation. */
export const renderMetrics = (store: RedisStore, out: Array<string>): void => {
  out.push(
    "# HELP cubeplane_proxy_store_up 1 while the shared store is connected, else 0.",
    "# TYPE cubeplane_proxy_store_up gauge",
    `cubeplane_proxy_store_up ${store.state() === "ready" ? 1 : 0}`,
    "# HELP cubeplane_proxy_store_errors_total Shared-store commands that failed or timed out, by operation.",
    "# TYPE cubeplane_proxy_store_errors_total counter"
  )
  for (const [operation, count] of store.failures()) {
    out.push(`cubeplane_proxy_store_errors_total{operation="${operation}"} ${count}`)
  }
}

/** The store as a service: the Redis layers of `RateLimits` and `ListCache` are built on it. */
export class Store extends Context.Tag("cubeplane-proxy/RedisStore")<Store, RedisStore>() {}

/** Connects on build, quits when the scope closes. */
export const layer = (settings: Settings): Layer.Layer<Store> =>
  Layer.scoped(
    Store,
    Effect.acquireRelease(Effect.promise(() => make(settings)), (store) => Effect.promise(store.close))
  )
