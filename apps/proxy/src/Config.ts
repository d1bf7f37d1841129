/**
 * The proxy's configuration file: its keys and their grants, the cache and
 * the upstream settings. YAML or JSON (JSON is YAML), path in
 * `CUBEPLANE_PROXY_CONFIG`; the upstream URL and its real key come from the
 * environment only (`CUBE_API_URL`, `CUBE_API_KEY`), never from the file.
 *
 * The file's keys are snake_case like the API's wire format; the decoded
 * value is camelCase. A bad file is refused with the line, column and field
 * that is wrong, so Ops can fix it without guessing.
 *
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"
import { LineCounter, parseDocument } from "yaml"
import { ProxyConfig } from "./ConfigSchema.js"

export * from "./ConfigSchema.js"

/** A refused configuration: every problem, each with its place in the file. */
export class ConfigError extends Error {
  override readonly name = "ConfigError"
  constructor(readonly source: string, readonly problems: ReadonlyArray<string>) {
    super(`${source}: invalid proxy configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`)
  }
}

type Path = ReadonlyArray<PropertyKey>

/** `keys[1].grants[0].token.max_expires_in` */
export const formatPath = (path: Path): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else out += out === "" ? String(segment) : `.${String(segment)}`
  }
  return out === "" ? "(top level)" : out
}

/** YAML aliases (`*name`) a config may expand. */
const maxAliases = 100

const decode = Schema.decodeUnknownEither(ProxyConfig, { errors: "all", onExcessProperty: "error" })

/**
 * Parses and validates a configuration file's text. `source` names the file in
 * messages. Throws `ConfigError` naming the line and field of each problem.
 */
export const parse = (text: string, source: string): ProxyConfig => {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((error) => {
        const { col, line } = lineCounter.linePos(error.pos[0])
        return `line ${line}, column ${col}: ${error.message.split("\n")[0]}`
      })
    )
  }

  const where = (path: Path): string => {
    // The deepest node that exists on the path: a missing field points at its parent.
    for (let length = path.length; length >= 0; length--) {
      const node: unknown = length === 0 ? doc.contents : doc.getIn(path.slice(0, length), true)
      const range = rangeOf(node)
      if (range !== undefined) {
        const { col, line } = lineCounter.linePos(range)
        return `line ${line}, column ${col}: `
      }
    }
    return ""
  }

  // Aliases are expanded by `toJS`: a few lines of YAML may expand to billions of nodes
  // ("billion laughs"); the yaml library stops at `maxAliasCount`.
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: maxAliases })
  } catch (error) {
    throw new ConfigError(source, [
      `the file cannot be read as data (${
        error instanceof Error ? error.message.split("\n")[0] : "error"
      }); it uses more than ${maxAliases} YAML aliases (*name) or aliases that refer to themselves`
    ])
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    // Not a mapping at all (an empty file, a list, text): say what the file must look like, not what a schema saw.
    throw new ConfigError(source, [
      `${
        where([])
      }the file must be a YAML (or JSON) mapping with a \`keys:\` list at the top, e.g. \`keys: []\`; it is ${
        value === null || value === undefined ? "empty" : Array.isArray(value) ? "a list" : `a ${typeof value}`
      } (see the README for the format)`
    ])
  }
  const decoded = decode(value)
  if (Either.isLeft(decoded)) {
    const issues = relevant(ParseResult.ArrayFormatter.formatErrorSync(decoded.left))
    throw new ConfigError(
      source,
      issues.map((issue) => `${where(issue.path)}${formatPath(issue.path)}: ${describe(issue)}`)
    )
  }
  const problems = check(decoded.right).map(({ message, path }) => `${where(path)}${formatPath(path)}: ${message}`)
  if (problems.length > 0) throw new ConfigError(source, problems)
  return decoded.right
}

const rangeOf = (node: unknown): number | undefined => {
  if (typeof node !== "object" || node === null || !("range" in node)) return undefined
  const range: unknown = node.range
  return Array.isArray(range) && typeof range[0] === "number" ? range[0] : undefined
}

// An optional field is `X | undefined`: when X fails, the schema also reports "Expected
// undefined" for the field and its parents. Only the real problem is worth reading.
const relevant = (
  issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>
): ReadonlyArray<ParseResult.ArrayFormatterIssue> => {
  const noise = (issue: ParseResult.ArrayFormatterIssue) => /^Expected undefined, actual/.test(issue.message)
  const real = issues.filter((issue) => !noise(issue))
  return real.length > 0 ? real : issues
}

const describe = (issue: ParseResult.ArrayFormatterIssue): string => {
  if (issue._tag === "Unexpected") return "unknown field (check its spelling; see the README for the format)"
  if (issue._tag === "Missing") return "is required"
  return issue.message
}

/** Rules a schema cannot say: unique names and hashes, token rules only where tokens are granted. */
const check = (config: ProxyConfig): Array<{ path: Path; message: string }> => {
  const problems: Array<{ path: Path; message: string }> = []
  const names = new Map<string, number>()
  const hashes = new Map<string, number>()
  config.keys.forEach((key, k) => {
    const sameName = names.get(key.name)
    if (sameName !== undefined) {
      problems.push({ path: ["keys", k, "name"], message: `"${key.name}" is also the name of keys[${sameName}]` })
    } else names.set(key.name, k)
    const sameHash = hashes.get(key.hash)
    if (sameHash !== undefined) {
      problems.push({ path: ["keys", k, "hash"], message: `the same hash as keys[${sameHash}]: one key, two names` })
    } else hashes.set(key.hash, k)
    key.grants.forEach((grant, g) => {
      const mintsTokens = grant.operations.includes("*") || grant.operations.includes("createMetaSyncToken")
      if (grant.token !== undefined && !mintsTokens) {
        problems.push({
          path: ["keys", k, "grants", g, "token"],
          message: "token rules apply to createMetaSyncToken, which this grant does not list in operations"
        })
      }
      if (grant.token?.securityContext !== undefined && "cubeCloud" in grant.token.securityContext) {
        problems.push({
          path: ["keys", k, "grants", g, "token", "security_context", "cubeCloud"],
          message: "`cubeCloud` is reserved for Cube Cloud and cannot be required"
        })
      }
    })
  })
  return problems
}
