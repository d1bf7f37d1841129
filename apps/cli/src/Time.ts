/**
 * Durations as people type and read them: `--interval 30s`, "expires in 59m 30s".
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/** `500ms`, `30s`, `5m`, `1h`, `1m30s`; a bare number is seconds. `None` if it is not one of those, or not positive. */
export const parseInterval = (text: string): Option.Option<Duration.Duration> => {
  const trimmed = text.trim().toLowerCase()
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const seconds = Number(trimmed)
    return seconds > 0 ? Option.some(Duration.millis(seconds * 1000)) : Option.none()
  }
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== trimmed) return Option.none()
  const millis = parts.reduce((sum, part) => sum + Number(part[1]) * units[part[2]!]!, 0)
  return millis > 0 ? Option.some(Duration.millis(millis)) : Option.none()
}

/** `2d 3h`, `59m 30s`, `12s`: the two largest units, for a human. */
export const humanize = (millis: number): string => {
  const seconds = Math.round(Math.abs(millis) / 1000)
  const parts: Array<[number, string]> = [
    [Math.floor(seconds / 86_400), "d"],
    [Math.floor((seconds % 86_400) / 3_600), "h"],
    [Math.floor((seconds % 3_600) / 60), "m"],
    [seconds % 60, "s"]
  ]
  const start = parts.findIndex(([value]) => value > 0)
  if (start === -1) return "0s"
  return parts.slice(start, start + 2).filter(([value]) => value > 0).map(([value, unit]) => `${value}${unit}`).join(
    " "
  )
}
