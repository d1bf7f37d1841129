/**
 * JSON log lines on stdout, one object per line. Lines are gathered for at
 * most 20 ms (or 64 KB) and go out in one write: under load that is one
 * system call for hundreds of requests instead of one each. `flush` runs
 * before the process exits.
 *
 * @since 0.1.0
 */

export type LogEntry = Readonly<Record<string, unknown>>

let pending = ""
let timer: ReturnType<typeof setTimeout> | undefined
const maxDelayMs = 20
const maxPending = 64 * 1024

export const flush = (): void => {
  if (timer !== undefined) clearTimeout(timer)
  timer = undefined
  if (pending === "") return
  const text = pending
  pending = ""
  process.stdout.write(text)
}

export const write = (entry: LogEntry): void => {
  pending += `${JSON.stringify(entry)}\n`
  if (pending.length >= maxPending) flush()
  else timer ??= setTimeout(flush, maxDelayMs)
}

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
