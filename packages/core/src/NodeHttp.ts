/// <reference types="node" preserve="true" />
/**
 * An HTTP/1.1 client for Node made for long bodies passed on as they come
 * (the audit-log export): a core `Transport.Exchange`, so
 * `Transport.makeRaw(options, NodeHttp.make())` adds the key header, the
 * retry policy, the deadline and the status → error mapping.
 *
 * Node-only (Node ≥ 20): it reads the socket (`node:net`, `node:tls` for
 * `https:`, loaded only then) with `onread` into 64 KiB buffers taken from a
 * pool and given back once every write of them is done, so a long transfer
 * allocates no memory per read. Why that matters: Node's own clients read
 * each 64 KiB into a fresh `ArrayBuffer`, which V8 counts as external memory
 * until a collection frees it; a 150 MB export churns through 150 MB of
 * them — collections it would not otherwise need, and fresh pages the
 * kernel must fault in (see BENCHMARKS.md). Nothing else in core uses a
 * Node API, and the package index does not load this module.
 *
 * One request per connection (`Connection: close`). Bodies are framed by
 * `Content-Length`, `Transfer-Encoding: chunked` or the close of the
 * connection; a connection that closes before its framing's end is a
 * cut-off (`Sink.fail`), never a clean end. Each attempt is bounded like
 * undici's: connecting and the response head within `timeout`, then each
 * gap between reads of the body (not while the reader has paused it).
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import type { Readable } from "node:stream"
import * as internal from "./internal/nodeHttpExchange.js"
import * as Transport from "./Transport.js"

/** Where a `Body` goes, piece by piece. */
export interface Sink {
  /**
   * One piece of the body, in order. Its memory may be reused once this
   * returns, unless `Body.hold` was called during it (or `reusesMemory` is false).
   */
  readonly chunk: (bytes: Buffer) => void
  /** The body ended where its framing said (or at the close of a body without length). */
  readonly end: () => void
  /** The body was cut off, timed out or failed; nothing follows. */
  readonly fail: (error: Error) => void
}

/** A response body, pushed to a `Sink` once started, with backpressure. */
export interface Body {
  /** Starts the flow into `sink` (once). Bytes and an end that came before are delivered first. */
  readonly start: (sink: Sink) => void
  /** Stops reading after the current read (a few more pieces of it may follow). */
  readonly pause: () => void
  readonly resume: () => void
  /** Drops the transfer: no more calls to the sink. */
  readonly destroy: () => void
  /**
   * During `sink.chunk`: keeps that piece's memory until the returned
   * function is called (call it once the write of any view of it is done).
   * Outside a chunk, or for a body that does not reuse memory, a no-op.
   */
  readonly hold: () => () => void
  /** Whether pieces' memory is reused after `sink.chunk` returns (views kept longer must be held or copied). */
  readonly reusesMemory: boolean
}

/** An answer with its body unread. */
export type Response = Transport.ExchangeResponse<Body>

export interface Options {
  /** Connecting and the response head, then each gap between body reads. Default: `Transport.defaultTimeout`. */
  readonly timeout?: Duration.DurationInput
  /** For `https:`: the certificate authorities to trust instead of Node's (e.g. a private CA); PEM. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>
}

/** How a body that stopped before its framing's end fails (its `code` is `ECONNRESET`, as Node's own client says). */
export const cutOffMessage: string = internal.cutOffMessage

/**
 * The client: each call is one request on a new connection to the request's
 * origin (`http:` or `https:`). A failure before the response head rejects
 * with an error whose `code` core's `Transport.connectionError` reads
 * (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`, `UND_ERR_HEADERS_TIMEOUT`, …);
 * header values never appear in an error. The read buffers are shared by the
 * calls of one client.
 */
export const make = (options: Options = {}): Transport.Exchange<Body> =>
  internal.make(
    Duration.toMillis(Duration.decode(options.timeout ?? Transport.defaultTimeout)),
    options.ca === undefined ? {} : { ca: [options.ca].flat() }
  )

const release = (): void => undefined

/**
 * A Node stream (an in-memory exchange in tests, undici's body) as a `Body`;
 * its pieces are never reused. A stream that failed or was destroyed before
 * `start` fails the sink at `start` (give the stream an `error` listener
 * meanwhile, or Node throws its error).
 */
export const fromReadable = (source: Readable): Body => {
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
      const errored = source.errored
      if (errored !== null) return finish(() => sink.fail(errored instanceof Error ? errored : internal.cutOff()))
      if (source.destroyed && !source.readableEnded) return finish(() => sink.fail(internal.cutOff()))
      source.on("data", (chunk: Buffer) => {
        if (!done) sink.chunk(chunk)
      })
      source.once("end", () => finish(sink.end))
      source.once("error", (error) => finish(() => sink.fail(error)))
      source.once("close", () => {
        if (!source.readableEnded) finish(() => sink.fail(internal.cutOff()))
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
