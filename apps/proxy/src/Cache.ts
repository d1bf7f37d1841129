/**
 * A small TTL cache for list responses, keyed by what makes a response
 * differ: the operation, the ids the key may see (its scope) and the exact
 * upstream request. Keys with the same scope share entries; keys with
 * different scopes never see each other's lists. The audit log and tokens
 * are never cached (the app only consults the cache for the two lists).
 *
 * Bounded: the oldest entry goes when `maxEntries` is reached. The clock is
 * injected for tests.
 *
 * @since 0.1.0
 */

import { Context, Effect, Layer } from "effect"

export interface CachedResponse {
  readonly status: number
  readonly contentType: string
  readonly body: Uint8Array
}

export interface ResponseCache {
  readonly enabled: boolean
  readonly get: (key: string) => CachedResponse | undefined
  readonly set: (key: string, value: CachedResponse) => void
  readonly size: () => number
}

export const makeCache = (
  options: { readonly ttlSeconds: number; readonly maxEntries: number },
  now: () => number = Date.now
): ResponseCache => {
  const ttlMs = options.ttlSeconds * 1000
  const entries = new Map<string, { readonly expiresAt: number; readonly value: CachedResponse }>()
  return {
    enabled: ttlMs > 0,
    get: (key) => {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      if (now() >= entry.expiresAt) {
        entries.delete(key)
        return undefined
      }
      return entry.value
    },
    set: (key, value) => {
      if (ttlMs <= 0) return
      entries.delete(key)
      if (entries.size >= options.maxEntries) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
      entries.set(key, { expiresAt: now() + ttlMs, value })
    },
    size: () => entries.size
  }
}

/**
 * The list cache as a service: per process with `layerMemory`; a cache shared
 * across replicas is another layer with the same interface.
 */
export class ListCache extends Context.Tag("cubeplane-proxy/ListCache")<ListCache, {
  readonly enabled: boolean
  readonly get: (key: string) => Effect.Effect<CachedResponse | undefined>
  readonly set: (key: string, value: CachedResponse) => Effect.Effect<void>
}>() {}

export const layerMemory = (
  options: { readonly ttlSeconds: number; readonly maxEntries: number },
  now: () => number = Date.now
): Layer.Layer<ListCache> =>
  Layer.sync(ListCache, () => {
    const cache = makeCache(options, now)
    return {
      enabled: cache.enabled,
      get: (key) => Effect.sync(() => cache.get(key)),
      set: (key, value) => Effect.sync(() => cache.set(key, value))
    }
  })
