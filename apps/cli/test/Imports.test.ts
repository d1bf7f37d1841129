/**
 * The CLI's modules depend on each other one way only: no import cycle,
 * counting static, type-only and lazy (`import()`) imports alike. A cycle
 * (commands/X.ts ⇄ handlers/X.ts, say) means two modules that cannot be
 * understood, or loaded, one without the other.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const src = fileURLToPath(new URL("../src", import.meta.url))

const files = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? files(full) : name.endsWith(".ts") ? [full] : []
  })

/** The modules of src/ that `file` imports, by any kind of import. */
const importsOf = (file: string): Array<string> => {
  const text = readFileSync(file, "utf8")
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((match) => match[1]!)
  return specifiers.map((specifier) => path.resolve(path.dirname(file), specifier.replace(/\.js$/, ".ts")))
}

/** Every cycle, as the list of files around it. */
const cycles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): Array<Array<string>> => {
  const found: Array<Array<string>> = []
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (node: string) => {
    state.set(node, "visiting")
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "visiting") found.push([...stack.slice(stack.indexOf(next)), next])
      else if (state.get(next) === undefined) visit(next)
    }
    stack.pop()
    state.set(node, "done")
  }
  for (const node of graph.keys()) if (state.get(node) === undefined) visit(node)
  return found
}

describe("module dependencies", () => {
  const graph = new Map(files(src).map((file) => [file, importsOf(file)]))

  it("the walk sees the imports (commands load their handlers lazily)", () => {
    expect(graph.get(path.join(src, "commands", "deployments.ts"))).toContain(
      path.join(src, "handlers", "deployments.ts")
    )
    expect(cycles(new Map([["a", ["b"]], ["b", ["a"]]]))).toEqual([["a", "b", "a"]])
  })

  it("has no import cycle", () => {
    expect(cycles(graph).map((cycle) => cycle.map((file) => path.relative(src, file)).join(" → "))).toEqual([])
  })
})
