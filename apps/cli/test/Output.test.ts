import * as Domain from "@cubeplane/core/Domain"
import * as NodeHttp from "@cubeplane/core/NodeHttp"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import { createServer } from "node:http"
import { Readable, Writable } from "node:stream"
import { parse as parseYaml } from "yaml"
import type * as NodeBody from "../src/NodeBody.js"
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

describe("Output.writeReadable", () => {
  const upper: NodeBody.Through<string> = {
    chunk: (chunk) => Buffer.from(chunk.toString("latin1").toUpperCase(), "latin1"),
    end: () => Buffer.from("<end>"),
    stopped: () => undefined
  }
  const asMessage = (error: unknown) => `source: ${error instanceof Error ? error.message : String(error)}`

  /** A target that takes `capacity` bytes at once and confirms each write on a later turn (a full pipe). */
  const slowTarget = (capacity: number) => {
    const taken: Array<Buffer> = []
    const target = new Writable({
      highWaterMark: capacity,
      write: (chunk: Buffer, _encoding, callback) => {
        setImmediate(() => {
          // A copy, as the OS takes one: once the write is confirmed, its memory is the writer's again.
          taken.push(Buffer.from(chunk))
          callback()
        })
      }
    })
    return { target, taken }
  }

  it.effect("writes each chunk as `through` maps it, in order, waiting for a full target to drain", () =>
    Effect.gen(function*() {
      const chunks = Array.from({ length: 100 }, (_, k) => Buffer.from(`chunk ${k} ${"x".repeat(k * 7)};`))
      const { taken, target } = slowTarget(256)
      const source = Readable.from(chunks, { objectMode: false })
      let pauses = 0
      source.on("pause", () => pauses++)
      yield* Output.writeReadable(target, NodeHttp.fromReadable(source), upper, asMessage)
      expect(Buffer.concat(taken).toString()).toBe(Buffer.concat(chunks).toString().toUpperCase() + "<end>")
      // The target was full at times: the source waited for it instead of piling up writes.
      expect(pauses).toBeGreaterThan(0)
      expect(target.writableLength).toBe(0)
    }))

  it.effect("a failure `through` reports stops the transfer after the bytes before it", () =>
    Effect.gen(function*() {
      const { taken, target } = slowTarget(1 << 20)
      let seen = 0
      const error = yield* Effect.flip(Output.writeReadable(
        target,
        NodeHttp.fromReadable(Readable.from([Buffer.from("a"), Buffer.from("b"), Buffer.from("c"), Buffer.from("d")])),
        {
          chunk: (chunk) => (seen++, chunk),
          end: () => new Uint8Array(0),
          stopped: () => seen === 2 ? "bad row" : undefined
        },
        asMessage
      ))
      expect(error).toBe("bad row")
      expect(Buffer.concat(taken).toString()).toBe("ab")
    }))

  it.effect("a source that fails (the connection dropped) is `failure(error)`; a throw from `through` too", () =>
    Effect.gen(function*() {
      const dropped = new Readable({ read: () => undefined })
      dropped.push(Buffer.from("first"))
      setImmediate(() => dropped.destroy(new Error("socket hang up")))
      const { target } = slowTarget(1 << 20)
      expect(yield* Effect.flip(Output.writeReadable(target, NodeHttp.fromReadable(dropped), upper, asMessage))).toBe(
        "source: socket hang up"
      )
      const thrown = yield* Effect.flip(Output.writeReadable(
        slowTarget(1 << 20).target,
        NodeHttp.fromReadable(Readable.from([Buffer.from("a")])),
        {
          ...upper,
          chunk: () => {
            throw new Error("bug")
          }
        },
        asMessage
      ))
      expect(thrown).toBe("source: bug")
    }))

  it.effect("a target that fails (EPIPE: the reader went away) is an OutputError, and the source is destroyed", () =>
    Effect.gen(function*() {
      const target = new Writable({
        write: (_chunk, _encoding, callback) => callback(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))
      })
      target.on("error", () => undefined)
      const source = new Readable({ read: () => undefined })
      source.push(Buffer.from("a"))
      const error = yield* Effect.flip(Output.writeReadable(target, NodeHttp.fromReadable(source), upper, asMessage))
      expect(error).toBeInstanceOf(Output.OutputError)
      expect(error).toMatchObject({ code: "EPIPE" })
      expect(source.destroyed).toBe(true)
    }))

  it.effect("a body read into reused buffers (NodeHttp, a real port): each write holds its chunk, every byte arrives", () =>
    Effect.gen(function*() {
      const sent = Buffer.alloc(4 * 1024 * 1024)
      for (let i = 0; i < sent.length; i++) sent[i] = 0x41 + ((i * 7 + (i >> 9)) % 26)
      const server = createServer((_request, response) => {
        response.writeHead(200, { "Content-Length": sent.length })
        response.end(sent)
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const address = server.address()
      const origin = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
      const response = yield* Effect.promise(() =>
        NodeHttp.make()({ method: "GET", url: `${origin}/`, origin, path: "/", headers: {} })
      )
      expect(response.body.reusesMemory).toBe(true)
      // A target slower than the socket: writes wait in its queue while the socket reads on.
      const { taken, target } = slowTarget(1024 * 1024)
      const identity: NodeBody.Through<string> = {
        chunk: (chunk) => chunk,
        end: () => new Uint8Array(0),
        stopped: () => undefined
      }
      yield* Output.writeReadable(target, response.body, identity, asMessage)
      expect(Buffer.concat(taken).equals(sent)).toBe(true)
    }).pipe(Effect.scoped))
})
