#!/usr/bin/env node
/**
 * `cubeplane-proxy` (`node dist/main.js`): configuration from the environment
 * and one file, refusal to start on a bad one (naming the line and field),
 * the embedded demo when `CUBE_API_URL` is unset, graceful shutdown on
 * SIGTERM/SIGINT.
 *
 *   cubeplane-proxy            run the proxy
 *   cubeplane-proxy keygen     print a new proxy key and its hash
 *   cubeplane-proxy --demo     demo mode on the embedded mock, even with CUBE_API_URL set
 *
 * @since 0.1.0
 */
import * as Domain from "@cubeplane/core/Domain"
import { Either, Redacted, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as Config from "./Config.js"
import * as Embedded from "./Embedded.js"
import * as Keys from "./Keys.js"
import * as LiveConfig from "./LiveConfig.js"
import * as Log from "./Log.js"
import { Metrics } from "./Metrics.js"
import * as RedisStore from "./RedisStore.js"
import * as Server from "./Server.js"
import * as Upstream from "./Upstream.js"

const usage = `cubeplane-proxy — scoped, safe access to the Cube Cloud Control Plane API

Usage:
  cubeplane-proxy              run the proxy (see the environment below)
  cubeplane-proxy keygen [name] print a new proxy key and the hash to put in the config
  cubeplane-proxy --demo       demo mode on the embedded mock, even when CUBE_API_URL is set

Environment:
  CUBE_API_URL            the Control Plane (e.g. https://acme.cubecloud.dev); unset: demo mode on the embedded mock
  CUBE_API_KEY            the real API key (required with CUBE_API_URL; never leaves the proxy)
  CUBE_AUTH_SCHEME        bearer | api-key (default: bearer)
  CUBEPLANE_PROXY_CONFIG  the config file, YAML or JSON (required with CUBE_API_URL)
  PORT                    default 8080
  HOST                    default 0.0.0.0 (demo mode: 127.0.0.1)
  SHUTDOWN_TIMEOUT_MS     how long requests in flight may take to finish on SIGTERM (default 10000)
  CUBEPLANE_PROXY_STORE   redis://host:port/db: rate limits and list cache shared by every replica (default: in memory)
  CUBEPLANE_DEMO_SHAPE    demo mode: the wire shape the embedded mock answers in, reference (default) or platform
                          (Cube's published API document: flat lists, cursors, integer ids)

SIGHUP (or saving the config file) reloads the keys without a restart.
`

class StartupError extends Error {}

const info = Log.info

const integerEnv = (name: string, fallback: number, min: number, max: number): number => {
  const text = process.env[name]
  if (text === undefined || text.trim() === "") return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StartupError(`${name} must be an integer from ${min} to ${max}, got "${text}"`)
  }
  return value
}

const loadConfigFile = (path: string): Config.ProxyConfig => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    throw new StartupError(
      `CUBEPLANE_PROXY_CONFIG=${path}: cannot read the file (${error instanceof Error ? error.message : "error"})`
    )
  }
  return Config.parse(text, path)
}

const authScheme = (): "bearer" | "api-key" | undefined => {
  const scheme = process.env["CUBE_AUTH_SCHEME"]?.trim().toLowerCase()
  if (scheme === undefined || scheme === "") return undefined
  if (scheme === "bearer" || scheme === "api-key") return scheme
  throw new StartupError(`CUBE_AUTH_SCHEME must be bearer or api-key, got "${scheme}"`)
}

/** `CUBEPLANE_DEMO_SHAPE`, checked with core's schema of the wire shapes. */
const demoShape = (): Domain.WireShape | undefined => {
  const value = process.env["CUBEPLANE_DEMO_SHAPE"]?.trim().toLowerCase() || undefined
  if (value === undefined) return undefined
  return Either.getOrThrowWith(
    Schema.decodeUnknownEither(Domain.WireShape)(value),
    () => new StartupError(`CUBEPLANE_DEMO_SHAPE must be reference or platform, got "${value}"`)
  )
}

const run = async (forceDemo: boolean): Promise<void> => {
  const port = integerEnv("PORT", 8080, 0, 65535)
  const graceMs = integerEnv("SHUTDOWN_TIMEOUT_MS", 10_000, 0, 3_600_000)
  const configPath = process.env["CUBEPLANE_PROXY_CONFIG"]?.trim() || undefined
  const apiUrl = forceDemo ? undefined : process.env["CUBE_API_URL"]?.trim() || undefined
  const demo = apiUrl === undefined

  let upstreamUrl: string
  let apiKey: string
  let config: Config.ProxyConfig
  let closeMock: () => Promise<void> = async () => undefined
  let mockUrl = ""
  if (demo) {
    config = configPath === undefined ? Embedded.demoConfig() : loadConfigFile(configPath)
    const shape = demoShape()
    const { Launch } = await import("@cubeplane/testing")
    const mock = await Launch.run({ port: 0, host: "127.0.0.1", ...(shape !== undefined ? { shape } : {}) })
    upstreamUrl = mock.url
    mockUrl = mock.url
    apiKey = Embedded.mockAdminKey
    closeMock = () => mock.close()
  } else {
    const key = process.env["CUBE_API_KEY"]?.trim()
    if (key === undefined || key === "") {
      throw new StartupError("CUBE_API_KEY is not set: the proxy needs the real API key to forward with")
    }
    if (configPath === undefined) {
      throw new StartupError(
        "CUBEPLANE_PROXY_CONFIG is not set: point it at the config file with the proxy keys (see apps/proxy/README.md)" +
          " — or, to try the demo on the embedded mock instead of CUBE_API_URL, run `pnpm start --demo`" +
          " (cubeplane-proxy --demo)"
      )
    }
    try {
      new URL(apiUrl)
    } catch {
      throw new StartupError(`CUBE_API_URL is not a URL: "${apiUrl}"`)
    }
    upstreamUrl = apiUrl
    apiKey = key
    config = loadConfigFile(configPath)
  }
  const host = process.env["HOST"]?.trim() || (demo ? "127.0.0.1" : "0.0.0.0")

  const metrics = new Metrics()
  const upstream = Upstream.make(
    {
      url: upstreamUrl,
      apiKey: Redacted.make(apiKey),
      authScheme: authScheme(),
      timeoutMs: config.upstream.timeoutMs,
      retries: config.upstream.retries
    },
    {
      onRetry: (operation) => metrics.upstreamRetries.inc([operation]),
      onAttemptFailed: (operation, kind) => metrics.upstreamErrors.inc([operation, kind])
    }
  )

  let storeSettings: RedisStore.Settings | undefined
  try {
    storeSettings = RedisStore.settingsOf(config.store, process.env["CUBEPLANE_PROXY_STORE"])
  } catch (error) {
    await closeMock()
    throw new StartupError(`CUBEPLANE_PROXY_STORE / store.url: ${error instanceof Error ? error.message : "invalid"}`)
  }
  const store = storeSettings === undefined ? undefined : await RedisStore.make(storeSettings)
  const keys = LiveConfig.makeLiveKeyRing(config.keys)

  let proxy: Server.RunningProxy
  try {
    proxy = await Server.start({ config, upstream, metrics, keys, ...(store === undefined ? {} : { store }) }, {
      port,
      host
    })
  } catch (error) {
    await store?.close()
    await closeMock()
    throw error
  }
  // Keys reload live from the file (SIGHUP or a save); the demo's built-in keys have no file.
  const watcher = configPath === undefined
    ? undefined
    : LiveConfig.watch({ path: configPath, initial: config, apply: (next) => keys.replace(next.keys) })

  info("listening", {
    url: proxy.url,
    upstream: upstream.origin,
    demo,
    keys: config.keys.map((key) => key.name),
    cache_ttl_seconds: config.cache.ttlSeconds,
    store: store === undefined ? "memory" : store.location,
    ...(store === undefined ? {} : { on_store_error: store.onStoreError })
  })
  if (demo) process.stderr.write(`\n${Embedded.banner(proxy.url, mockUrl)}\n`)

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) {
      info("second signal: exiting now", { signal })
      Log.flush()
      process.exit(1)
    }
    stopping = true
    info("shutting down: finishing requests in flight", { signal, grace_ms: graceMs })
    watcher?.close()
    void proxy.close(graceMs).then(async (inTime) => {
      await store?.close()
      await closeMock()
      info(inTime ? "stopped" : "stopped: requests still running at the deadline were cut", { in_time: inTime })
      Log.flush()
      process.exit(inTime ? 0 : 1)
    })
  }
  process.on("SIGTERM", () => stop("SIGTERM"))
  process.on("SIGINT", () => stop("SIGINT"))
}

const main = async (): Promise<void> => {
  const [command, ...rest] = process.argv.slice(2)
  if (command === "keygen") {
    process.stdout.write(Keys.keygenText(rest[0]))
    return
  }
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(usage)
    return
  }
  if (command !== undefined && command !== "--demo") {
    process.stderr.write(`unknown command "${command}"\n\n${usage}`)
    process.exit(2)
  }
  try {
    await run(command === "--demo")
  } catch (error) {
    // Whatever stopped the start — a bad file, a bad variable, a taken port, anything else —
    // ends in one "refusing to start" line and exit code 2, never a stack trace.
    const known = error instanceof Config.ConfigError || error instanceof StartupError ||
      error instanceof Server.PortInUse
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`cubeplane-proxy: refusing to start: ${known ? message : `unexpected error: ${message}`}\n`)
    process.exit(2)
  }
}

await main()
