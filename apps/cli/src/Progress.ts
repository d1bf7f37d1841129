/**
 * The progress line of a long export on stderr: rows, bytes and rate,
 * redrawn at most ten times a second, only on a terminal.
 */
import * as Effect from "effect/Effect"

const units = ["B", "KB", "MB", "GB", "TB"]

/** `1.5 MB`, `312 B`. */
export const formatBytes = (bytes: number): string => {
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}

/**
 * `1234567` → `1,234,567` (a whole number ≥ 0). Not `toLocaleString("en-US")`:
 * its first call loads ICU's number formatting, ~10 ms at the start of an
 * export that should run at the speed of the wire.
 */
export const groupDigits = (n: number): string => {
  const digits = String(Math.trunc(n))
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1)
  for (let at = out.length; at < digits.length; at += 3) out += `,${digits.slice(at, at + 3)}`
  return out
}

/** `1,234 rows · 1.5 MB · 3.2 MB/s`. */
export const line = (rows: number, bytes: number, elapsedMillis: number): string =>
  `${groupDigits(rows)} rows · ${formatBytes(bytes)} · ${
    formatBytes(elapsedMillis > 0 ? (bytes * 1000) / elapsedMillis : 0)
  }/s`

export interface Progress {
  readonly update: (rows: number, bytes: number) => Effect.Effect<void>
  /** `update` as a plain call, for code that runs outside Effect (a Node stream's chunks). */
  readonly set: (rows: number, bytes: number) => void
  readonly done: Effect.Effect<void>
}

const silent: Progress = { update: () => Effect.void, set: () => undefined, done: Effect.void }

/** A progress line on `stream` if `enabled`, else nothing. */
export const make = (enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress => {
  if (!enabled) return silent
  const started = Date.now()
  let drawn = 0
  let lastRows = 0
  let lastBytes = 0
  const draw = () => {
    drawn = Date.now()
    stream.write(`\r\x1b[K${line(lastRows, lastBytes, drawn - started)}`)
  }
  const set = (rows: number, bytes: number) => {
    lastRows = rows
    lastBytes = bytes
    if (Date.now() - drawn >= 100) draw()
  }
  return {
    update: (rows, bytes) => Effect.sync(() => set(rows, bytes)),
    set,
    done: Effect.sync(() => {
      draw()
      stream.write("\n")
    })
  }
}
