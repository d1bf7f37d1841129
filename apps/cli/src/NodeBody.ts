/**
 * A Node body being written on, chunk by chunk, with no Effect step per
 * chunk: the export's raw path (`NodeExchange`'s responses) to stdout
 * (`Output.writeReadable`) or to a file (`AtomicFile.writeReadable`). Both
 * follow the body the same way and take the same `Through`. Types and one
 * function only: loading it loads nothing else.
 */
import type { Readable } from "node:stream"

/**
 * What is done with each chunk of a body as it is written on (to stdout by
 * `Output.writeReadable`, to a file by `AtomicFile.writeReadable`): the bytes
 * to write for it, and whether the transfer must stop.
 */
export interface Through<E> {
  /** The bytes to write for a chunk of the source. Throwing fails the transfer (see the writer's `failure`). */
  readonly chunk: (chunk: Buffer) => Uint8Array
  /** The bytes to write once the source ended. Throwing fails the transfer (see the writer's `failure`). */
  readonly end: () => Uint8Array
  /**
   * A failure the last `chunk` or `end` met, asked once its bytes are
   * handed on: the transfer stops with it, after the bytes before it (the
   * lines before a bad row still go out to stdout; a file is not kept).
   */
  readonly stopped: () => E | undefined
}

/** How a body ends for `follow`: each chunk, its end, or how it failed. */
export interface Follower {
  readonly data: (chunk: Buffer) => void
  readonly end: () => void
  readonly fail: (error: unknown) => void
}

/**
 * Follows a body (an exchange's response): its chunks, then its end, or its
 * failure — an error, or a close before the end — also if that happened
 * before this was called (between the answer and this step: an error is
 * then kept in `errored`). The caller detaches `on.data` itself when it stops.
 */
export const follow = (source: Readable, on: Follower): void => {
  const cut = () => new Error("the body ended before its end")
  if (source.errored !== null) return on.fail(source.errored)
  if (source.destroyed && !source.readableEnded) return on.fail(cut())
  source.on("data", on.data)
  source.once("end", on.end)
  source.once("error", on.fail)
  source.once("close", () => {
    if (!source.readableEnded) on.fail(cut())
  })
}
