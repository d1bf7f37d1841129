/**
 * Keys that change without a restart: the config file is read again on
 * SIGHUP and whenever it changes on disk (watched through its folder, so an
 * editor's save-by-rename and a ConfigMap's symlink swap are seen too;
 * changes within 100 ms are read once, and a read that finds the same text
 * does nothing).
 *
 * A file that validates replaces the keys, their grants and their rate
 * limits at once: the next request is checked against the new set. A request
 * already past authentication keeps the key it was admitted with (its grants
 * and limit travel with it), so requests in flight finish under the rules they
 * started with. A file that does not validate is refused with one `warn` line
 * naming its first problem, and the rules in force stay.
 *
 * Only `keys` applies live; a change to another section (upstream, cache,
 * server, metrics, store) is logged as needing a restart.
 *
 * @since 0.2.0
 */
import { Layer } from "effect"
import { readFileSync, watch as watchFolder } from "node:fs"
import { dirname } from "node:path"
import type { KeyConfig, ProxyConfig } from "./Config.js"
import * as Config from "./Config.js"
import * as Keys from "./Keys.js"
import * as Log from "./Log.js"

/** A key ring whose keys can be replaced while the proxy runs. */
export interface LiveKeyRing extends Keys.KeyRing {
  readonly replace: (keys: ReadonlyArray<KeyConfig>) => void
}

export const makeLiveKeyRing = (keys: ReadonlyArray<KeyConfig>): LiveKeyRing => {
  let ring = Keys.makeKeyRing(keys)
  return {
    find: (presented) => ring.find(presented),
    replace: (next) => {
      ring = Keys.makeKeyRing(next)
    }
  }
}

/** `ProxyKeys` backed by a live ring. */
export const layerKeys = (ring: LiveKeyRing): Layer.Layer<Keys.ProxyKeys> => Layer.succeed(Keys.ProxyKeys, ring)

/** Whether a key is past its `expires_at` at `now`. */
export const isExpired = (key: KeyConfig, now: number): boolean => key.expiresAt !== undefined && now >= key.expiresAt

export interface Watcher {
  /** Reads the file now and applies or refuses it (what SIGHUP does). */
  readonly reload: (reason: string) => void
  readonly close: () => void
}

const liveSections = new Set(["keys"])

/**
 * Watches `path` and calls `apply` with each new valid config. `current` is
 * the config in force (to say which non-live sections changed).
 */
export const watch = (options: {
  readonly path: string
  readonly initial: ProxyConfig
  readonly apply: (config: ProxyConfig) => void
  readonly log?: (entry: Log.LogEntry) => void
  readonly debounceMs?: number
}): Watcher => {
  const log = options.log ?? Log.write
  const debounceMs = options.debounceMs ?? 100
  let current = options.initial
  let lastText: string | undefined
  try {
    lastText = readFileSync(options.path, "utf8")
  } catch {
    lastText = undefined
  }

  const reload = (reason: string): void => {
    let text: string
    try {
      text = readFileSync(options.path, "utf8")
    } catch (error) {
      // A save-by-rename leaves the name missing for a moment: the next event reads it again.
      if (reason === "SIGHUP") {
        log({
          time: Log.timestamp(),
          level: "warn",
          msg: "config reload refused: the old config stays in force",
          reason,
          error: `cannot read ${options.path}: ${error instanceof Error ? error.message : "error"}`
        })
      }
      return
    }
    if (reason !== "SIGHUP" && text === lastText) return
    lastText = text
    let next: ProxyConfig
    try {
      next = Config.parse(text, options.path)
    } catch (error) {
      log({
        time: Log.timestamp(),
        level: "warn",
        msg: "config reload refused: the old config stays in force",
        reason,
        error: error instanceof Config.ConfigError
          ? `${options.path}: ${error.problems[0] ?? "invalid"}${
            error.problems.length > 1 ? ` (and ${error.problems.length - 1} more)` : ""
          }`
          : error instanceof Error
          ? error.message
          : String(error)
      })
      return
    }
    const needRestart = Object.keys({ ...current, ...next }).filter((section) =>
      !liveSections.has(section) &&
      JSON.stringify(Reflect.get(current, section)) !== JSON.stringify(Reflect.get(next, section))
    )
    const before = new Map(current.keys.map((key) => [key.name, JSON.stringify(key)]))
    const after = new Set(next.keys.map((key) => key.name))
    const added = next.keys.filter((key) => !before.has(key.name)).map((key) => key.name)
    const removed = current.keys.filter((key) => !after.has(key.name)).map((key) => key.name)
    const changed = next.keys.filter((key) => before.has(key.name) && before.get(key.name) !== JSON.stringify(key))
      .map((key) => key.name)
    options.apply(next)
    current = next
    log({
      time: Log.timestamp(),
      level: "info",
      msg: "config reloaded",
      reason,
      keys: next.keys.length,
      added,
      removed,
      changed,
      // Named as in the file (`auth_failures`, not the decoded `authFailures`).
      ...(needRestart.length > 0
        ? { restart_needed_for: needRestart.map((section) => section.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) }
        : {})
    })
  }

  let timer: ReturnType<typeof setTimeout> | undefined
  const schedule = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = undefined
      reload("file changed")
    }, debounceMs)
  }
  // Any change in the folder is read (at most once per debounce): a Kubernetes ConfigMap update
  // swaps a `..data` symlink, so the event never names the file itself. Unchanged text is ignored.
  const watcher = watchFolder(dirname(options.path), () => schedule())
  watcher.on("error", (error) =>
    log({
      time: Log.timestamp(),
      level: "warn",
      msg: "config file watch failed: reload with SIGHUP",
      error: error.message
    }))
  const onHangup = () => reload("SIGHUP")
  process.on("SIGHUP", onHangup)
  return {
    reload,
    close: () => {
      if (timer !== undefined) clearTimeout(timer)
      watcher.close()
      process.off("SIGHUP", onHangup)
    }
  }
}
