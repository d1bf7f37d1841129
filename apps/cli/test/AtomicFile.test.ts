/**
 * `AtomicFile.writeReadable`: a Node stream to a file that is either whole or
 * absent — on a failure of the source, of the check, or an interruption, the
 * temporary file is gone and an existing target is left as it was.
 */
import * as NodeHttp from "@cubeplane/core/NodeHttp"
import { Effect, Either, Fiber } from "effect"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PassThrough, Readable } from "node:stream"
import { afterEach, describe, expect, it } from "vitest"
import * as AtomicFile from "../src/AtomicFile.js"
import type * as NodeBody from "../src/NodeBody.js"

/** Opens a Node stream as the body of an answer (core's `NodeHttp.fromReadable`). */
const opened = (source: Readable) => Effect.sync(() => NodeHttp.fromReadable(source))

const dirs: Array<string> = []
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cubeplane-atomic-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const asMessage = (error: unknown) => error instanceof Error ? error.message : String(error)

const none = new Uint8Array(0)
/** Writes each chunk as it came, and never stops the transfer. */
const copy: NodeBody.Through<string> = { chunk: (chunk) => chunk, end: () => none, stopped: () => undefined }

describe("AtomicFile.writeReadable", () => {
  it("writes every chunk, in order, and shows each to `inspect` before the file is kept", async () => {
    const dir = freshDir()
    const target = join(dir, "out.csv")
    const chunks = Array.from({ length: 200 }, (_, k) => Buffer.from(`row ${k},${"x".repeat(k * 13)}\n`))
    const seen: Array<number> = []
    let ended = false
    await Effect.runPromise(
      AtomicFile.writeReadable(target)(
        opened(Readable.from(chunks)),
        {
          chunk: (chunk) => {
            seen.push(chunk.length)
            return chunk
          },
          end: () => {
            ended = true
            return none
          },
          stopped: () => undefined
        },
        asMessage
      )
    )
    expect(readFileSync(target).equals(Buffer.concat(chunks))).toBe(true)
    expect(seen).toEqual(chunks.map((chunk) => chunk.length))
    expect(ended).toBe(true)
    expect(readdirSync(dir)).toEqual(["out.csv"])
  })

  it("a long stream (past the background flushes every 32 MiB): every byte, in order", async () => {
    const dir = freshDir()
    const target = join(dir, "big.csv")
    const chunk = (k: number) => Buffer.alloc(64 * 1024, k % 251)
    const count = 1_100 // about 69 MiB
    await Effect.runPromise(
      AtomicFile.writeReadable(target)(
        opened(
          Readable.from((function*() {
            for (let k = 0; k < count; k++) yield chunk(k)
          })())
        ),
        copy,
        asMessage
      )
    )
    const written = readFileSync(target)
    expect(written.length).toBe(count * 64 * 1024)
    for (let k = 0; k < count; k += 97) expect(written[k * 64 * 1024 + 5]).toBe(k % 251)
    expect(readdirSync(dir)).toEqual(["big.csv"])
  })

  it("a check that fails at the end: its failure, the old file as it was, no temporary file", async () => {
    const dir = freshDir()
    const target = join(dir, "out.csv")
    writeFileSync(target, "old")
    const result = await Effect.runPromise(Effect.either(
      AtomicFile.writeReadable(target)(
        opened(Readable.from([Buffer.from("a,\"b")])),
        {
          ...copy,
          end: () => {
            throw new Error("ends inside quotes")
          }
        },
        asMessage
      )
    ))
    expect(Either.isLeft(result) && result.left).toBe("ends inside quotes")
    expect(readFileSync(target, "utf8")).toBe("old")
    expect(readdirSync(dir)).toEqual(["out.csv"])
  })

  it.each(["after a chunk", "at the end"])(
    "a failure `through` reports (%s): that failure, the old file as it was, no temporary file",
    async (when) => {
      const dir = freshDir()
      const target = join(dir, "out.csv")
      writeFileSync(target, "old")
      let failure: string | undefined
      let chunks = 0
      const result = await Effect.runPromise(Effect.either(
        AtomicFile.writeReadable(target)(
          opened(Readable.from([Buffer.from("a,b\n"), Buffer.from("c,d\n"), Buffer.from("e,\"f")])),
          {
            chunk: (chunk) => {
              if (++chunks === 2 && when === "after a chunk") failure = "a bad row"
              return chunk
            },
            end: () => {
              failure = "ends inside quotes"
              return none
            },
            stopped: () => failure
          },
          asMessage
        )
      ))
      expect(Either.isLeft(result) && result.left).toBe(when === "after a chunk" ? "a bad row" : "ends inside quotes")
      // Stopped after the second chunk: the third is not read.
      expect(chunks).toBe(when === "after a chunk" ? 2 : 3)
      expect(readFileSync(target, "utf8")).toBe("old")
      expect(readdirSync(dir)).toEqual(["out.csv"])
    }
  )

  it.each(["while it is read", "before it is read"])(
    "a source that fails midway (%s): its error, mapped; nothing written",
    async (when) => {
      const dir = freshDir()
      const target = join(dir, "out.csv")
      const source = new PassThrough()
      // Node throws an 'error' nobody listens to; the body finds it in `errored` when started.
      source.on("error", () => undefined)
      let chunks = 0
      const result = Effect.runPromise(Effect.either(
        AtomicFile.writeReadable(target)(
          opened(source),
          {
            ...copy,
            chunk: (chunk) => {
              chunks++
              return chunk
            }
          },
          (error) => `source: ${asMessage(error)}`
        )
      ))
      source.write(Buffer.from("first part\n"))
      if (when === "while it is read") {
        while (chunks === 0) await new Promise((resolve) => setImmediate(resolve))
      }
      source.destroy(new Error("connection reset"))
      const outcome = await result
      expect(Either.isLeft(outcome) && outcome.left).toBe("source: connection reset")
      expect(readdirSync(dir)).toEqual([])
    }
  )

  it("interrupted mid-transfer: the source is destroyed and the temporary file removed", async () => {
    const dir = freshDir()
    const target = join(dir, "out.csv")
    const source = new PassThrough()
    let chunks = 0
    const fiber = Effect.runFork(
      AtomicFile.writeReadable(target)(opened(source), {
        ...copy,
        chunk: (chunk) => {
          chunks++
          return chunk
        }
      }, asMessage)
    )
    source.write(Buffer.from("some bytes\n"))
    // Wait until the chunk went through (a condition, not a delay).
    while (chunks === 0) await new Promise((resolve) => setImmediate(resolve))
    expect(readdirSync(dir)).toHaveLength(1)
    await Effect.runPromise(Fiber.interrupt(fiber))
    expect(source.destroyed).toBe(true)
    expect(readdirSync(dir)).toEqual([])
  })
})
