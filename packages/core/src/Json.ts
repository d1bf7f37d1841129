/**
 * Parsing JSON that someone else wrote, within limits: a size cap, a nesting
 * cap, and no `__proto__` / `constructor` / `prototype` keys.
 *
 * `JSON.parse` itself copes with deep nesting, but the code that touches the
 * value next (`JSON.stringify`, a recursive comparison, a schema) may not, and
 * a key named `__proto__` is an own property of the parsed object that turns
 * into the prototype of any copy made with `{...}` or `Object.assign`: a body
 * that a check reads one way and a copy of it another. Refusing these keys is
 * simpler and safer than defining what they mean.
 *
 * Used by the mock and the proxy for request bodies; runs on any runtime.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"

export interface Limits {
  /** Largest text accepted, in UTF-16 code units (≈ bytes for JSON). Default: 64 KiB. */
  readonly maxLength?: number
  /** Deepest nesting of objects and arrays; the top-level value is depth 1. Default: 32. */
  readonly maxDepth?: number
}

export const defaultLimits = { maxLength: 64 * 1024, maxDepth: 32 } as const

/** Keys that would mean something else to JavaScript than to the JSON they came in. */
export const forbiddenKeys: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

/**
 * The parsed value, or a sentence saying what is wrong with the text (for a
 * 400 `{"error"}` body; it never quotes the text itself).
 */
export const parse = (text: string, limits: Limits = {}): Either.Either<unknown, string> => {
  const maxLength = limits.maxLength ?? defaultLimits.maxLength
  const maxDepth = limits.maxDepth ?? defaultLimits.maxDepth
  if (text.length > maxLength) return Either.left(`the JSON is larger than ${maxLength} bytes`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return Either.left("the body is not valid JSON")
  }
  const problem = check(value, maxDepth)
  return problem === undefined ? Either.right(value) : Either.left(problem)
}

/**
 * Whether a parsed value keeps within `maxDepth` and has no forbidden key:
 * `undefined` when it does, else what is wrong. Iterative, so no value is too
 * deep to check.
 */
export const check = (value: unknown, maxDepth: number = defaultLimits.maxDepth): string | undefined => {
  const stack: Array<{ readonly value: unknown; readonly depth: number; readonly path: string }> = [{
    value,
    depth: 1,
    path: ""
  }]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const current = next.value
    if (typeof current !== "object" || current === null) continue
    if (next.depth > maxDepth) {
      return `the JSON is nested deeper than ${maxDepth} levels${next.path === "" ? "" : ` (at ${shown(next.path)})`}`
    }
    if (Array.isArray(current)) {
      current.forEach((item, index) =>
        stack.push({ value: item, depth: next.depth + 1, path: `${next.path}[${index}]` })
      )
      continue
    }
    for (const key of Object.keys(current)) {
      const path = next.path === "" ? key : `${next.path}.${key}`
      if (forbiddenKeys.has(key)) return `the key "${key}" is not allowed (at ${shown(path)})`
      stack.push({ value: Reflect.get(current, key), depth: next.depth + 1, path })
    }
  }
  return undefined
}

/** A path short enough for an error message. */
const shown = (path: string): string => path.length > 80 ? `${path.slice(0, 77)}…` : path
