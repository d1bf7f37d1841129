import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as Json from "../src/Json.js"

describe("Json.parse", () => {
  it("parses JSON within the limits", () => {
    expect(Json.parse("{\"a\":[1,{\"b\":null}]}")).toEqual(Either.right({ a: [1, { b: null }] }))
  })

  it("refuses text that is not JSON, too large, or too deep, saying which", () => {
    expect(Json.parse("{nope")).toEqual(Either.left("the body is not valid JSON"))
    expect(Json.parse("[1, 2, 3]", { maxLength: 4 })).toEqual(Either.left("the JSON is larger than 4 bytes"))
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`
    const refused = Json.parse(deep, { maxLength: 1_000_000, maxDepth: 32 })
    expect(Either.isLeft(refused) && refused.left).toContain("nested deeper than 32 levels")
    expect(Either.isRight(Json.parse("[[[1]]]", { maxDepth: 3 }))).toBe(true)
    expect(Either.isLeft(Json.parse("[[[[1]]]]", { maxDepth: 3 }))).toBe(true)
  })

  it("refuses __proto__, constructor and prototype keys at any depth", () => {
    for (const key of ["__proto__", "constructor", "prototype"]) {
      const refused = Json.parse(`{"a":{"b":[{"${key}":{"x":1}}]}}`)
      expect(refused).toEqual(Either.left(`the key "${key}" is not allowed (at a.b[0].${key})`))
    }
  })
})
