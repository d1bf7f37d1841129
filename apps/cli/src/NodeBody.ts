/**
 * A Node body being written on, chunk by chunk, with no Effect step per
 * chunk: the export's raw path (`NodeExchange`'s responses) to stdout
 * (`Output.writeReadable`) or to a file (`AtomicFile.writeReadable`). Both
 * run a body the same way (`run`) and take the same `Through`; each writes
 * its own way (`Sink`). Loading it loads nothing else.
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
interface Follower {
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
const follow = (source: Readable, on: Follower): void => {
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

/** The writer's half of `run`: where the bytes go, and how it learns the transfer is over. */
export interface Sink<E> {
  /** Writes `bytes`; false if that failed (the sink has then ended the transfer itself). */
  readonly write: (bytes: Uint8Array) => boolean
  /** The transfer is over: failed with `error`, or done (`undefined`). */
  readonly done: (outcome: { readonly error: E } | undefined) => void
  /** Whether the sink has already ended the transfer (a failed write, an interruption). */
  readonly ended: () => boolean
}

/**
 * Writes a body on, chunk by chunk: the bytes `through` gives for each chunk
 * and for the end go to `sink.write`; the transfer stops after a chunk's
 * bytes when `through` says so, at once when `through` throws or the source
 * fails (`failure(error)`), and without a word when a write fails (the sink
 * knows). Returns `detach`, which stops reading the source, for a sink that
 * ends the transfer later on its own (an asynchronous write error, an
 * interruption); on every other end the source is already detached.
 */
export const run = <E>(
  source: Readable,
  through: Through<E>,
  failure: (error: unknown) => E,
  sink: Sink<E>
): () => void => {
  const onData = (chunk: Buffer) => {
    step(() => through.chunk(chunk))
  }
  const detach = () => {
    source.off("data", onData)
  }
  const end = (outcome: { readonly error: E } | undefined) => {
    detach()
    sink.done(outcome)
  }
  /** Writes what `next` gives; false once the transfer is over (a throw, a failed write, `through` stopped). */
  const step = (next: () => Uint8Array): boolean => {
    let bytes: Uint8Array
    try {
      bytes = next()
    } catch (error) {
      end({ error: failure(error) })
      return false
    }
    if (!sink.write(bytes)) {
      detach()
      return false
    }
    const stopped = through.stopped()
    if (stopped === undefined) return true
    end({ error: stopped })
    return false
  }
  follow(source, {
    data: onData,
    end: () => {
      if (!sink.ended() && step(() => through.end())) end(undefined)
    },
    fail: (error) => {
      if (!sink.ended()) end({ error: failure(error) })
    }
  })
  return detach
}
