/**
 * The list cache shared by every replica: a list one replica fetched is a
 * hit on the others for `ttl_seconds`. Entries are Redis strings with a TTL
 * (`SET … PX`), keyed by a SHA-256 of the cache key (operation, scope,
 * upstream request), so a key's scope never shows in Redis. Redis's own
 * `maxmemory` policy bounds it; `cache.max_entries` applies to the
 * in-memory cache only.
 *
 * A store error is a miss (the request goes upstream) and a failed write is
 * dropped: the cache never fails a request.
 *
 * @since 0.2.0
 */
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import type { CachedResponse } from "./Cache.js"
import { ListCache } from "./Cache.js"
import type { RedisStore } from "./RedisStore.js"
import { Store } from "./RedisStore.js"

export interface SharedCache {
  readonly enabled: boolean
  readonly get: (key: string) => Promise<CachedResponse | undefined>
  readonly set: (key: string, value: CachedResponse) => Promise<void>
}

// An entry is `<status>\n<content type>\n<body bytes>`.
const encode = (value: CachedResponse): Buffer =>
  Buffer.concat([Buffer.from(`${value.status}\n${value.contentType}\n`, "utf8"), value.body])

const decode = (bytes: Buffer): CachedResponse | undefined => {
  const first = bytes.indexOf(10)
  const second = first < 0 ? -1 : bytes.indexOf(10, first + 1)
  if (second < 0) return undefined
  const status = Number(bytes.subarray(0, first).toString("utf8"))
  if (!Number.isInteger(status)) return undefined
  return { status, contentType: bytes.subarray(first + 1, second).toString("utf8"), body: bytes.subarray(second + 1) }
}

export const make = (store: RedisStore, options: { readonly ttlSeconds: number }): SharedCache => {
  const ttlMs = options.ttlSeconds * 1000
  const redisKey = (key: string) => `${store.prefix}cache:${createHash("sha256").update(key).digest("hex")}`
  return {
    enabled: ttlMs > 0,
    get: async (key) => {
      try {
        const bytes = await store.client.getBuffer(redisKey(key))
        return bytes === null ? undefined : decode(bytes)
      } catch {
        store.failed("cache_get")
        return undefined
      }
    },
    set: async (key, value) => {
      if (ttlMs <= 0) return
      try {
        await store.client.set(redisKey(key), encode(value), "PX", ttlMs)
      } catch {
        store.failed("cache_set")
      }
    }
  }
}

/** `ListCache` in the shared Redis. */
export const layer = (options: { readonly ttlSeconds: number }): Layer.Layer<ListCache, never, Store> =>
  Layer.effect(
    ListCache,
    Effect.map(Store, (store) => {
      const cache = make(store, options)
      return {
        enabled: cache.enabled,
        get: (key) => Effect.promise(() => cache.get(key)),
        set: (key, value) => Effect.promise(() => cache.set(key, value))
      }
    })
  )
