/**
 * A body being written on, chunk by chunk, with no Effect step per chunk:
 * the export's raw path (core's `NodeHttp` responses, read into reused
 * buffers) to stdout (`Output.writeReadable`) or to a file
 * (`AtomicFile.writeReadable`). Both run a body the same way (`run`) and
 * take the same `Through`; each writes its own way (`Sink`). Loading it
 * loads nothing else.
 */
import type * as NodeHttp from "@cubeplane/core/NodeHttp"

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
  /**
   * `chunk` may keep views of a chunk after it returns (the NDJSON
   * transcoder's partial rows): a chunk whose memory the body reuses is then
   * copied for it.
   */
  readonly keepsInput?: boolean
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
 * and for the end go to `sink.write` (called while the body delivers the
 * chunk, so a sink that writes asynchronously can `source.hold()` its
 * memory); the transfer stops after a chunk's bytes when `through` says so,
 * at once when `through` throws or the source fails (`failure(error)`, a
 * cut-off included), and without a word when a write fails (the sink knows).
 * Returns `detach`, which stops taking the source's chunks, for a sink that
 * ends the transfer later on its own (an asynchronous write error, an
 * interruption); on every other end the source is already detached.
 */
export const run = <E>(
  source: NodeHttp.Body,
  through: Through<E>,
  failure: (error: unknown) => E,
  sink: Sink<E>
): () => void => {
  let attached = true
  const detach = () => {
    attached = false
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
  const copy = source.reusesMemory && through.keepsInput === true
  source.start({
    chunk: (chunk) => {
      if (attached) step(() => through.chunk(copy ? Buffer.from(chunk) : chunk))
    },
    end: () => {
      if (attached && !sink.ended() && step(() => through.end())) end(undefined)
    },
    fail: (error) => {
      if (attached && !sink.ended()) end({ error: failure(error) })
    }
  })
  return detach
}
