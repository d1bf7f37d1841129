/**
 * Keys that change while the proxy runs: the store and lifecycle fields of
 * the config file, and the watcher that swaps the keys on a save or SIGHUP
 * and refuses a broken file. Waits on conditions (the watcher's callback),
 * never on the clock.
 */
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as Config from "../src/Config.js"
import * as Keys from "../src/Keys.js"
import * as LiveConfig from "../src/LiveConfig.js"
import type { LogEntry } from "../src/Log.js"
import { problemsOf } from "./helpers.js"
import { until } from "./redis.js"

const keyText = (name: string, extra = "") =>
  `  - name: ${name}\n    hash: sha256:${
    Keys.hash(`cpk_${name}`)
  }${extra}\n    grants:\n      - operations: [listDeployments]\n`

describe("the store and key lifecycle in the config file", () => {
  it("reads expires_at as an instant and the store section with its defaults", () => {
    const config = Config.parse(
      `store:\n  url: redis://127.0.0.1:6379/0\nkeys:\n${keyText("a", "\n    expires_at: 2026-12-31T23:00:00+01:00")}`,
      "proxy.yaml"
    )
    expect(config.keys[0]?.expiresAt).toBe(Date.parse("2026-12-31T22:00:00Z"))
    expect(config.store).toEqual({
      url: "redis://127.0.0.1:6379/0",
      onStoreError: "deny",
      timeoutMs: 1000,
      keyPrefix: "cubeplane-proxy:"
    })
  })

  it("refuses an expires_at without a time zone and an unknown on_store_error, naming the field", () => {
    expect(problemsOf(`keys:\n${keyText("a", "\n    expires_at: 2026-12-31")}`)).toEqual([
      "line 4, column 17: keys[0].expires_at: Expected an ISO 8601 instant with a time zone, e.g. 2026-12-31T00:00:00Z"
    ])
    // A day the calendar does not have is refused by core's one date rule, not rolled over into March.
    expect(problemsOf(`keys:\n${keyText("a", "\n    expires_at: 2026-02-30T00:00:00Z")}`)).toEqual([
      "line 4, column 17: keys[0].expires_at: Expected an ISO 8601 instant with a time zone, e.g. 2026-12-31T00:00:00Z (February 2026 has 28 days)"
    ])
    const [problem] = problemsOf(`store:\n  on_store_error: maybe\nkeys: []\n`)
    expect(problem).toBe("line 2, column 19: store.on_store_error: Expected deny or allow")
  })
})

describe("LiveConfig.watch", () => {
  let dir: string
  let path: string
  let watcher: LiveConfig.Watcher | undefined
  const logs: Array<LogEntry> = []

  const save = (text: string) => {
    writeFileSync(`${path}.tmp`, text)
    renameSync(`${path}.tmp`, path)
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cubeplane-live-"))
    path = join(dir, "proxy.yaml")
    logs.length = 0
  })
  afterEach(() => {
    watcher?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const begin = (text: string) => {
    save(text)
    const initial = Config.parse(text, path)
    const ring = LiveConfig.makeLiveKeyRing(initial.keys)
    const applied: Array<Config.ProxyConfig> = []
    watcher = LiveConfig.watch({
      path,
      initial,
      apply: (next) => {
        ring.replace(next.keys)
        applied.push(next)
      },
      log: (entry) => logs.push(entry)
    })
    return { ring, applied }
  }

  it("swaps the keys when the file is saved, and says what changed", async () => {
    const { applied, ring } = begin(`keys:\n${keyText("old")}${keyText("kept")}`)
    const admittedBefore = ring.find("cpk_old")
    save(`keys:\n${keyText("kept", "\n    rate_limit: { requests: 5 }")}${keyText("new")}`)
    await until(() => applied.length === 1, "the saved file to be applied")
    expect(ring.find("cpk_old")).toBeUndefined()
    expect(ring.find("cpk_new")?.name).toBe("new")
    expect(ring.find("cpk_kept")?.rateLimit).toEqual({ requests: 5, windowSeconds: 60 })
    // What a request admitted before the swap holds is unchanged: it finishes under the old rules.
    expect(admittedBefore?.name).toBe("old")
    expect(logs.find((entry) => entry["msg"] === "config reloaded")).toMatchObject({
      added: ["new"],
      removed: ["old"],
      changed: ["kept"]
    })
  })

  it("sees a Kubernetes-style ConfigMap update (a `..data` symlink swapped, the file itself untouched)", async () => {
    mkdirSync(join(dir, "v1"))
    mkdirSync(join(dir, "v2"))
    writeFileSync(join(dir, "v1", "proxy.yaml"), `keys:\n${keyText("old")}`)
    writeFileSync(join(dir, "v2", "proxy.yaml"), `keys:\n${keyText("new")}`)
    symlinkSync("v1", join(dir, "..data"))
    symlinkSync(join("..data", "proxy.yaml"), path)
    const initial = Config.parse(readFileSync(path, "utf8"), path)
    const ring = LiveConfig.makeLiveKeyRing(initial.keys)
    watcher = LiveConfig.watch({ path, initial, apply: (next) => ring.replace(next.keys), log: (e) => logs.push(e) })
    symlinkSync("v2", join(dir, "..data_tmp"))
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"))
    await until(() => ring.find("cpk_new") !== undefined, "the swapped ConfigMap to be applied")
    expect(ring.find("cpk_old")).toBeUndefined()
  })

  it("refuses a broken file with one warning and keeps the keys in force", async () => {
    const { applied, ring } = begin(`keys:\n${keyText("old")}`)
    save(`keys:\n  - name: old\n    hash: nope\n    grants: []\n`)
    await until(
      () => logs.some((entry) => entry["msg"] === "config reload refused: the old config stays in force"),
      "the refusal"
    )
    const refusals = logs.filter((entry) => String(entry["msg"]).startsWith("config reload refused"))
    expect(refusals).toHaveLength(1)
    expect(String(refusals[0]?.["error"])).toContain("keys[0].hash")
    expect(applied).toHaveLength(0)
    expect(ring.find("cpk_old")?.name).toBe("old")
  })

  it("reloads on SIGHUP, and notes sections that need a restart", async () => {
    const { applied, ring } = begin(`keys:\n${keyText("old")}`)
    watcher?.close()
    // Written in place while nothing watches the folder: only the signal can bring it in.
    writeFileSync(path, `cache:\n  ttl_seconds: 5\nauth_failures:\n  limit: 3\nkeys:\n${keyText("new")}`)
    watcher = LiveConfig.watch({
      path,
      initial: Config.parse(`keys:\n${keyText("old")}`, path),
      apply: (next) => {
        ring.replace(next.keys)
        applied.push(next)
      },
      log: (entry) => logs.push(entry)
    })
    process.emit("SIGHUP")
    expect(applied).toHaveLength(1)
    expect(ring.find("cpk_new")?.name).toBe("new")
    expect(logs.find((entry) => entry["msg"] === "config reloaded")).toMatchObject({
      reason: "SIGHUP",
      // Named as in the file.
      restart_needed_for: ["cache", "auth_failures"]
    })
  })

  it("knows an expired key by its expires_at", () => {
    const [key] = Config.parse(`keys:\n${keyText("a", "\n    expires_at: 2026-01-01T00:00:00Z")}`, "p").keys
    expect(LiveConfig.isExpired(key!, Date.parse("2025-12-31T23:59:59Z"))).toBe(false)
    expect(LiveConfig.isExpired(key!, Date.parse("2026-01-01T00:00:00Z"))).toBe(true)
  })
})
