import * as Domain from "@cubeplane/core/Domain"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import { parse as parseYaml } from "yaml"
import * as Output from "../src/Output.js"
import * as Views from "../src/Views.js"

const decodeDeployment = Schema.decodeUnknownSync(Domain.Deployment)

const wire = [
  { id: "123", name: "My Deployment", created_at: "2024-01-15T10:30:00.000Z", region: "eu-west-1" },
  { id: "124", name: "Other, \"quoted\"", created_at: "2024-02-01T00:00:00.000Z" },
  { id: "125", name: "Third", created_at: "2024-03-01T00:00:00.000Z" }
]
const deployments = wire.map((item) => decodeDeployment(item))

/** The items in two chunks, the way pages arrive. */
const twoPages = Stream.concat(Stream.fromIterable(deployments.slice(0, 2)), Stream.fromIterable(deployments.slice(2)))

const render = (format: Output.Format, items: Stream.Stream<Domain.Deployment> = twoPages, color = false) =>
  Stream.runCollect(Output.list(Views.deployment, format, { color })(items)).pipe(
    Effect.map((chunks) => Chunk.toReadonlyArray(chunks))
  )

describe("Output.list", () => {
  it.effect("json: ONE array of every item across pages, in the wire format with unknown fields kept", () =>
    Effect.gen(function*() {
      const pieces = yield* render("json")
      expect(JSON.parse(pieces.join(""))).toEqual(wire)
      // Streamed: the opening bracket goes out before any item, one piece per page.
      expect(pieces[0]).toBe("[")
      expect(pieces.length).toBe(4)
    }))

  it.effect("json: an empty list is []", () =>
    Effect.gen(function*() {
      expect((yield* render("json", Stream.empty)).join("")).toBe("[]\n")
    }))

  it.effect("ndjson: one wire object per line", () =>
    Effect.gen(function*() {
      const lines = (yield* render("ndjson")).join("").trimEnd().split("\n")
      expect(lines.map((line) => JSON.parse(line))).toEqual(wire)
    }))

  it.effect("yaml: one sequence, even though it is written page by page", () =>
    Effect.gen(function*() {
      expect(parseYaml((yield* render("yaml")).join(""))).toEqual(wire)
      expect(parseYaml((yield* render("yaml", Stream.empty)).join(""))).toEqual([])
    }))

  it.effect("csv: a header, then RFC 4180 rows (quotes doubled, CRLF)", () =>
    Effect.gen(function*() {
      expect((yield* render("csv")).join("")).toBe(
        "ID,NAME,CREATED\r\n" +
          "123,My Deployment,2024-01-15T10:30:00.000Z\r\n" +
          "124,\"Other, \"\"quoted\"\"\",2024-02-01T00:00:00.000Z\r\n" +
          "125,Third,2024-03-01T00:00:00.000Z\r\n"
      )
    }))

  it.effect("csv: without the header when asked (follow's later runs)", () =>
    Effect.gen(function*() {
      const text = yield* Stream.runCollect(
        Output.list(Views.deployment, "csv", { color: false }, { header: false })(Stream.make(deployments[2]!))
      )
      expect(Chunk.join(text, "")).toBe("125,Third,2024-03-01T00:00:00.000Z\r\n")
    }))

  it.effect("table: aligned columns from the first page, no ANSI without colour", () =>
    Effect.gen(function*() {
      const text = (yield* render("table")).join("")
      expect(text).toMatchInlineSnapshot(`
        "ID   NAME             CREATED
        123  My Deployment    2024-01-15T10:30:00.000Z
        124  Other, "quoted"  2024-02-01T00:00:00.000Z
        125  Third            2024-03-01T00:00:00.000Z
        "
      `)
      expect(text).not.toMatch(/\x1b/)
    }))

  it.effect("table: a bold header with colour", () =>
    Effect.gen(function*() {
      const text = (yield* render("table", twoPages, true)).join("")
      expect(text.startsWith("\x1b[1mID")).toBe(true)
    }))

  it.effect("table: an empty list still shows its header", () =>
    Effect.gen(function*() {
      expect((yield* render("table", Stream.empty)).join("")).toBe("ID  NAME  CREATED\n")
    }))
})

describe("Output.one", () => {
  const token = Schema.decodeUnknownSync(Domain.MetaSyncToken)({
    token: "eyJhbGciOiJIUzI1NiJ9.e30.sig",
    created_at: "2024-01-15T10:30:00.000Z",
    expires_at: "2024-01-15T11:30:00.000Z",
    echo: true
  })

  it.effect("json: the object as the API sent it (the token in clear: printing it is the point)", () =>
    Effect.gen(function*() {
      const text = yield* Output.one(Views.metaSyncToken, "json", { color: false }, token)
      expect(JSON.parse(text)).toEqual({
        token: "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        created_at: "2024-01-15T10:30:00.000Z",
        expires_at: "2024-01-15T11:30:00.000Z",
        echo: true
      })
    }))

  it.effect("table: one KEY value line per column", () =>
    Effect.gen(function*() {
      const text = yield* Output.one(Views.metaSyncToken, "table", { color: false }, token)
      expect(text).toBe(
        "TOKEN    eyJhbGciOiJIUzI1NiJ9.e30.sig\nCREATED  2024-01-15T10:30:00.000Z\nEXPIRES  2024-01-15T11:30:00.000Z\n"
      )
    }))
})

describe("Output.write", () => {
  it.effect("returns only after the target took each chunk, in order", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const target: Output.Target = {
        write: (chunk, callback) => {
          setTimeout(() => {
            written.push(String(chunk))
            callback()
          }, 1)
          return true
        }
      }
      yield* Output.write(target)(Stream.make("a", "b", "c"))
      expect(written).toEqual(["a", "b", "c"])
    }))

  it.effect("a closed pipe is an OutputError with code EPIPE", () =>
    Effect.gen(function*() {
      const target: Output.Target = {
        write: (_chunk, callback) => {
          callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))
          return false
        }
      }
      const error = yield* Effect.flip(Output.write(target)(Stream.make("a")))
      expect(error.code).toBe("EPIPE")
    }))
})

describe("Output.displayWidth", () => {
  it("counts wide characters twice and combining marks not at all, so tables stay aligned", () => {
    expect(Output.displayWidth("渡辺's sandbox")).toBe(14)
    expect(Output.displayWidth("Données")).toBe(7)
    expect(Output.displayWidth("e\u0301")).toBe(1)
  })
})
