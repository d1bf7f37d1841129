/**
 * The upstream export body as the proxy consumes it: chunks pushed to a sink,
 * with pause/resume for backpressure, and — because the raw client
 * (`RawHttp.ts`) reads the socket into buffers it reuses — a way to keep a
 * chunk's memory until an asynchronous write of it is done (`hold`).
 *
 * Why reused buffers: Node reads a socket into a fresh 64 KiB `ArrayBuffer`
 * per read, and V8 counts those as external memory until a collection frees
 * them. A 161 MB export churns through 161 MB of them; that pressure alone
 * starts V8's collections, and in a process whose old-generation limit is
 * tight it makes them full Mark-Compacts, one every ~30 MB, that free
 * nothing (see BENCHMARKS.md, "the proxy's two GC modes").
 *
 * @since 0.2.0
 */
import type { Readable } from "node:stream"

export interface ExportSink {
  /**
   * One piece of the body, in order. Its memory may be reused once this
   * returns, unless `ExportBody.hold` was called during it.
   */
  readonly chunk: (bytes: Buffer) => void
  /** The body ended where its framing said (or at the close of a body without length). */
  readonly end: () => void
  /** The body was cut off, timed out or failed; nothing follows. */
  readonly fail: (error: Error) => void
}

export interface ExportBody {
  /** Starts the flow into `sink` (once). */
  readonly start: (sink: ExportSink) => void
  /** Stops reading the upstream after the current read (a few more chunks of it may follow). */
  readonly pause: () => void
  readonly resume: () => void
  /** Drops the transfer: no more calls to the sink. */
  readonly destroy: () => void
  /**
   * During `sink.chunk`: keeps that chunk's memory until the returned
   * function is called (call it when the write of any view of it is done).
   * Outside a chunk, or for a body that does not reuse memory, a no-op.
   */
  readonly hold: () => () => void
  /** Whether chunks' memory is reused after `sink.chunk` returns (views of them must be held or copied). */
  readonly reusesMemory: boolean
}

const release = (): void => undefined

/** The cut-off message: the upstream closed the connection before the body's end. */
export const cutOffMessage = "the upstream closed the export before its end"

/** A Node stream (an in-memory exchange, undici's body) as an `ExportBody`; its chunks are never reused. */
export const fromReadable = (source: Readable): ExportBody => {
  let started = false
  let done = false
  return {
    start: (sink) => {
      if (started) return
      started = true
      const finish = (action: () => void) => {
        if (done) return
        done = true
        action()
      }
      source.on("data", (chunk: Buffer) => {
        if (!done) sink.chunk(chunk)
      })
      source.once("end", () => finish(sink.end))
      source.once("error", (error) => finish(() => sink.fail(error)))
      source.once("close", () => {
        if (!source.readableEnded) finish(() => sink.fail(new Error(cutOffMessage)))
      })
    },
    pause: () => void source.pause(),
    resume: () => void source.resume(),
    destroy: () => {
      done = true
      source.destroy()
    },
    hold: () => release,
    reusesMemory: false
  }
}
