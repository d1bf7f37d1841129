/**
 * Turns a schema's parse error into lines that name the bad field, e.g.
 * `deployments[0].environments[1].type: Expected "production" | "staging" | "development", actual "prod"`.
 */
import { ParseResult } from "effect"

export interface Issue {
  /** `deployments[0].environments[1].type`, or `` for the root. */
  readonly path: string
  readonly message: string
}

export const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

/**
 * One issue per field, the most specific first: an optional field that failed reports why its
 * value was wrong, not that it "expected undefined".
 */
const expectedActual = /^Expected (.+), actual (.+)$/s

export const issuesOf = (error: ParseResult.ParseError): Array<Issue> => {
  const byPath = new Map<string, Issue>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const path = formatPath(issue.path)
    if (issue._tag === "Type" && issue.message.startsWith("Expected undefined")) continue
    const previous = byPath.get(path)
    if (previous !== undefined) {
      // A union reports one issue per member: say "Expected A | B, actual X" once.
      const a = expectedActual.exec(previous.message)
      const b = expectedActual.exec(issue.message)
      if (a !== null && b !== null && a[2] === b[2]) {
        byPath.set(path, { path, message: `Expected ${a[1]} | ${b[1]}, actual ${a[2]}` })
      }
      continue
    }
    byPath.set(path, { path, message: issue.message })
  }
  if (byPath.size === 0) {
    return [{ path: "", message: ParseResult.TreeFormatter.formatErrorSync(error) }]
  }
  return [...byPath.values()]
}

export const render = (issue: Issue): string => issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`
