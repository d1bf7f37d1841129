/**
 * Proxy keys: what a caller presents, stored in the config only as SHA-256
 * hashes and compared in constant time.
 *
 * A key is looked up by its hash (a `Map` keyed by the hex digest, so the
 * per-request cost is one SHA-256 and one map lookup), then the stored and
 * computed digests are compared with `timingSafeEqual`, so the comparison
 * takes the same time however many leading bytes match.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import * as crypto from "node:crypto"
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { KeyConfig } from "./Config.js"

/** The prefix of keys printed by `keygen`: recognisable in a secret scanner, never sent upstream. */
export const keyPrefix = "cpk_"

/** A proxy key in text: `cpk_` (or URL-encoded `cpk%5F`) and the key's characters after it. */
const keyLike = /cpk(?:_|%5[fF])[A-Za-z0-9_%-]*/g

/** Keys no shorter than this are looked for in text; a shorter one would match ordinary words. */
const minHiddenLength = 8

/**
 * `text` (a path, an error message, a request id: anything a caller wrote that the proxy echoes or
 * logs) with every proxy key in it replaced by `[REDACTED]`: keys made by `keygen` (and the demo
 * keys) by their `cpk_` prefix, and `presented`, the key this request authenticated with (or
 * tried to), whatever it looks like. A caller who puts a key in a URL or a header other than
 * `Authorization` does not get it written to the access log.
 */
export const hide = (text: string, presented: string | undefined): string => {
  let out = text
  if (presented !== undefined && presented.length >= minHiddenLength && out.includes(presented)) {
    out = out.split(presented).join("[REDACTED]")
  }
  return out.includes("cpk") ? out.replace(keyLike, "[REDACTED]") : out
}

/** The SHA-256 hex digest of a key, as the config stores it (after `sha256:`). */
export const hash = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex")

// One-shot `crypto.hash` (Node ≥ 20.12) costs a seventh of `createHash` per call: this is per request.
const sha256 = (text: string): Buffer =>
  typeof crypto.hash === "function"
    ? crypto.hash("sha256", text, "buffer")
    : createHash("sha256").update(text, "utf8").digest()

/** A new random key (256 bits) and the line to paste into the config. */
export const generate = (): { readonly key: string; readonly hash: string } => {
  const key = `${keyPrefix}${randomBytes(32).toString("base64url")}`
  return { key, hash: `sha256:${hash(key)}` }
}

/** Finds the configured key a presented key belongs to. */
export interface KeyRing {
  readonly find: (presented: string) => KeyConfig | undefined
}

export const makeKeyRing = (keys: ReadonlyArray<KeyConfig>): KeyRing => {
  const byHash = new Map<string, { readonly digest: Buffer; readonly key: KeyConfig }>()
  for (const key of keys) byHash.set(key.hash, { digest: Buffer.from(key.hash, "hex"), key })
  return {
    find: (presented) => {
      const digest = sha256(presented)
      const entry = byHash.get(digest.toString("hex"))
      return entry !== undefined && timingSafeEqual(entry.digest, digest) ? entry.key : undefined
    }
  }
}

/**
 * The key in an `Authorization` header: `Bearer <key>` or `Api-Key <key>`
 * (the two schemes Cube Cloud accepts, so every client works unchanged);
 * `undefined` for anything else, two keys included.
 */
export const fromAuthorization = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const space = header.indexOf(" ")
  if (space <= 0) return undefined
  const scheme = header.slice(0, space).toLowerCase()
  if (scheme !== "bearer" && scheme !== "api-key") return undefined
  const key = header.slice(space + 1).trim()
  // A key has no spaces or commas: a comma is two `Authorization` headers joined (see `Server.createServer`).
  return key === "" || key.length > 512 || /[\s,]/.test(key) ? undefined : key
}

/** `cubeplane-proxy keygen`: prints a new key and the config line for it. */
export const keygenText = (name = "my-tool"): string => {
  const { hash: digest, key } = generate()
  return [
    `key:  ${key}`,
    `hash: ${digest}`,
    "",
    "Give the key to the tool (it sends `Authorization: Bearer <key>`); put only the hash in the config:",
    "",
    "keys:",
    `  - name: ${name}`,
    `    hash: ${digest}`,
    "    grants:",
    "      - operations: [listDeployments, listEnvironments]",
    ""
  ].join("\n")
}

/** The proxy's keys as a service: from the config file with `layer`; another key store is another layer. */
export class ProxyKeys extends Context.Tag("cubeplane-proxy/ProxyKeys")<ProxyKeys, KeyRing>() {}

export const layer = (keys: ReadonlyArray<KeyConfig>): Layer.Layer<ProxyKeys> =>
  Layer.sync(ProxyKeys, () => makeKeyRing(keys))
