/**
 * JSON log lines on stdout, one object per line. Lines are gathered for at
 * most 20 ms (or 64 KB) and go out in one write: under load that is one
 * system call for hundreds of requests instead of one each. Each line is
 * copied into the batch's buffer as it is written, so its text is garbage at
 * once instead of living (and being copied by the garbage collector) until
 * the batch goes out. `flush` runs before the process exits.
 *
 * @since 0.1.0
 */

import { Context, Layer } from "effect"

export type LogEntry = Readonly<Record<string, unknown>>

const batchBytes = 64 * 1024
const maxDelayMs = 20
/** The batch being filled: a new buffer per batch (a write to a pipe may still hold the last one). */
let batch: Buffer | undefined
let used = 0
let timer: ReturnType<typeof setTimeout> | undefined

export const flush = (): void => {
  if (timer !== undefined) clearTimeout(timer)
  timer = undefined
  if (batch === undefined || used === 0) return
  const out = batch.subarray(0, used)
  batch = undefined
  used = 0
  process.stdout.write(out)
}

export const write = (entry: LogEntry): void => writeJson(JSON.stringify(entry))

/** Writes one line of JSON text already serialized (see `accessText`). */
export const writeJson = (json: string): void => {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: a line that may not fit goes after a flush.
  const most = 3 * json.length + 1
  if (batch !== undefined && used + most > batchBytes) flush()
  if (most > batchBytes) {
    process.stdout.write(`${json}\n`)
    return
  }
  batch ??= Buffer.allocUnsafe(batchBytes)
  used += batch.write(json, used, "utf8")
  batch[used++] = 0x0a
  timer ??= setTimeout(flush, maxDelayMs)
}

/** What the access log says about one answered request. */
export interface Access {
  readonly requestId: string
  readonly key: string | null
  readonly operation: string | null
  readonly method: string
  readonly path: string
  readonly status: number
  readonly durationMs: number
  readonly cache: string | undefined
  readonly upstreamStatus: number | undefined
  readonly error: string | undefined
}

/** The access-log line of a request, as an entry for a `log` function. */
export const accessEntry = (time: string, access: Access): LogEntry => {
  const entry: Record<string, unknown> = {
    time,
    level: "info",
    msg: "request",
    request_id: access.requestId,
    key: access.key,
    operation: access.operation,
    method: access.method,
    path: access.path,
    status: access.status,
    duration_ms: access.durationMs
  }
  if (access.cache !== undefined) entry["cache"] = access.cache
  if (access.upstreamStatus !== undefined) entry["upstream_status"] = access.upstreamStatus
  if (access.error !== undefined) entry["error"] = access.error
  return entry
}

const json = JSON.stringify

/**
 * Exactly `JSON.stringify(accessEntry(time, access))`, written out field by
 * field: this runs for every request, and serializing a fresh object costs
 * several times as much. Every string the caller can influence goes through
 * `JSON.stringify`.
 */
export const accessText = (time: string, access: Access): string =>
  `{"time":${json(time)},"level":"info","msg":"request","request_id":${json(access.requestId)},"key":${
    json(access.key)
  },"operation":${json(access.operation)},"method":${json(access.method)},"path":${json(access.path)},"status":${
    json(access.status)
  },"duration_ms":${json(access.durationMs)}${access.cache === undefined ? "" : `,"cache":${json(access.cache)}`}${
    access.upstreamStatus === undefined ? "" : `,"upstream_status":${json(access.upstreamStatus)}`
  }${access.error === undefined ? "" : `,"error":${json(access.error)}`}}`

let lastMillis = 0
let lastText = ""

/** `new Date().toISOString()`, formatted once per millisecond however many lines share it. */
export const timestamp = (): string => {
  const now = Date.now()
  if (now !== lastMillis) {
    lastMillis = now
    lastText = new Date(now).toISOString()
  }
  return lastText
}

export const info = (msg: string, fields: Record<string, unknown> = {}): void =>
  write({ time: timestamp(), level: "info", msg, ...fields })

process.once("exit", flush)

/**
 * The access and audit log as a service: JSON lines on stdout with `layer()`,
 * or every entry to a function (tests) with `layer(fn)`.
 */
export class AccessLog extends Context.Tag("cubeplane-proxy/AccessLog")<AccessLog, {
  /** The one access line of an answered request. */
  readonly access: (access: Access) => void
  /** Any other line: an audit line, a warning, an error. */
  readonly event: (entry: LogEntry) => void
}>() {}

export const layer = (sink?: (entry: LogEntry) => void): Layer.Layer<AccessLog> =>
  Layer.succeed(
    AccessLog,
    sink === undefined
      // The default log gets the access line as text, built without an intermediate object.
      ? { access: (access) => writeJson(accessText(timestamp(), access)), event: write }
      : { access: (access) => sink(accessEntry(timestamp(), access)), event: sink }
  )
