/**
 * Files that are either complete or absent: written to a temporary file
 * beside the target, flushed to disk (fsync), then renamed over it. A reader
 * (or a restart after a crash) sees the old file or the new one, never half
 * of one. If the write fails or is interrupted, the temporary file is removed
 * and the target is left as it was.
 */
import type * as NodeHttp from "@cubeplane/core/NodeHttp"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { randomBytes } from "node:crypto"
import * as nodeFs from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as NodeBody from "./NodeBody.js"

/** A file could not be read or written; says which and why. */
export class FileError extends Data.TaggedError("FileError")<{
  readonly message: string
  readonly path: string
}> {}

const reason = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") {
    switch (error.code) {
      case "ENOENT":
        return "the directory does not exist"
      case "EACCES":
      case "EPERM":
        return "permission denied"
      case "ENOSPC":
        return "no space left on the device"
      case "EISDIR":
        return "it is a directory"
      default:
        return error.code
    }
  }
  return error instanceof Error ? error.message : String(error)
}

const fail = (file: string, action: string) => (error: unknown) =>
  new FileError({ path: file, message: `Could not ${action} ${file}: ${reason(error)}` })

export interface Options {
  /** File mode of the result, e.g. `0o600` for secrets. Default: `0o644` (minus the umask). */
  readonly mode?: number
}

const temporaryPath = (target: string) =>
  path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`)

/** Makes the rename itself durable: fsync the directory (best effort: not every platform allows it). */
const syncDirectory = (directory: string) =>
  Effect.promise(async () => {
    try {
      const handle = await fs.open(directory, "r")
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
    } catch {
      // Directories cannot be opened for fsync on some platforms (Windows); the rename still happened.
    }
  })

/** `writeReadable`: how much is written between two background flushes. */
const syncEvery = 32 * 1024 * 1024

/** Bytes handed to the OS but not yet confirmed written, before the source is paused. */
const maxBytesInFlight = 4 * 1024 * 1024
/** Writes not yet awaited (most already done): awaited oldest first beyond this, so the list stays short. */
const maxWritesInFlight = 16

/**
 * Writes the chunks in order, each at its own offset (`pwritev`), without
 * waiting for one write to finish before reading the next chunk: reading
 * the network and writing the disk overlap. The source waits only while
 * more than a few megabytes are in flight. Succeeds once all is written.
 */
const writeThrough = <E, R>(
  handle: fs.FileHandle,
  chunks: Stream.Stream<string | Uint8Array, E, R>,
  onError: (error: unknown) => FileError
): Effect.Effect<void, E | FileError, R> =>
  Effect.suspend(() => {
    let position = 0
    let bytesInFlight = 0
    const inFlight: Array<Promise<void>> = []
    const writeAt = async (pieces: Array<Uint8Array>, at: number, length: number): Promise<void> => {
      let done = 0
      while (done < length) {
        const rest = done === 0 ? pieces : [Buffer.concat(pieces).subarray(done)]
        const { bytesWritten } = await handle.writev(rest, at + done)
        done += bytesWritten
      }
      bytesInFlight -= length
    }
    const settle = (pending: Promise<void> | undefined) =>
      pending === undefined ? Effect.void : Effect.tryPromise({ try: () => pending, catch: onError })
    const written = Stream.runForEachChunk(chunks, (chunk) =>
      Effect.suspend(() => {
        const pieces: Array<Uint8Array> = []
        let length = 0
        for (const piece of chunk) {
          const bytes = typeof piece === "string" ? Buffer.from(piece) : piece
          pieces.push(bytes)
          length += bytes.length
        }
        if (length > 0) {
          const write = writeAt(pieces, position, length)
          // Failures are reported when the write is awaited; until then, do not let them go unhandled.
          write.catch(() => undefined)
          inFlight.push(write)
          position += length
          bytesInFlight += length
        }
        return Effect.whileLoop({
          while: () => bytesInFlight > maxBytesInFlight || inFlight.length > maxWritesInFlight,
          body: () => settle(inFlight.shift()),
          step: () => undefined
        })
      }))
    const drained = Effect.suspend(() => Effect.forEach(inFlight.splice(0), settle, { discard: true }))
    // On failure, wait for the writes already started, so the file is not closed under them.
    return Effect.zipRight(written, drained).pipe(
      Effect.onError(() => Effect.promise(() => Promise.allSettled(inFlight)))
    )
  })

/**
 * The temporary file beside `target`, written by `write`, then flushed,
 * closed and renamed over `target`; on failure or interruption, removed.
 */
const atomically = <E, R>(
  target: string,
  options: Options,
  write: (handle: fs.FileHandle) => Effect.Effect<void, E | FileError, R>
): Effect.Effect<void, E | FileError, R> => {
  const temporary = temporaryPath(target)
  const attempt = <A>(action: string, run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: fail(target, action) })
  return Effect.acquireUseRelease(
    attempt("create a temporary file beside", () => fs.open(temporary, "wx", options.mode ?? 0o644)),
    (handle) =>
      write(handle).pipe(
        Effect.zipRight(
          // Once everything is written, finish even if interrupted: a rename half-seen by the cleanup would be worse.
          Effect.uninterruptible(
            attempt("flush", () => handle.sync()).pipe(
              Effect.zipRight(attempt("close", () => handle.close())),
              Effect.zipRight(attempt("rename into", () => fs.rename(temporary, target))),
              Effect.zipRight(syncDirectory(path.dirname(target)))
            )
          )
        )
      ),
    (handle, exit) =>
      Exit.isSuccess(exit)
        ? Effect.void
        : Effect.promise(async () => {
          await handle.close().catch(() => undefined)
          await fs.rm(temporary, { force: true })
        })
  )
}

/**
 * Writes a stream to `target` atomically: nothing appears at `target` unless
 * the whole stream was written and synced.
 */
export const writeStream =
  (target: string, options: Options = {}) =>
  <E, R>(chunks: Stream.Stream<string | Uint8Array, E, R>): Effect.Effect<void, E | FileError, R> =>
    atomically(target, options, (handle) => writeThrough(handle, chunks, fail(target, "write")))

/**
 * Writes a response body (core's `NodeHttp`) to `target` atomically, like
 * `writeStream`, without an Effect step per chunk: for a download that
 * should run at the speed of the disk. `open` (say, the request) runs once
 * the temporary file exists; each chunk is written as it arrives,
 * synchronously (`fs.writeSync` into the page cache: on a busy machine, a
 * hand-off to the thread pool per 64 KB costs more than the copy, and while
 * a write blocks, the socket is simply not read — backpressure for free), so
 * a chunk's write is done before the body reuses its memory for the next
 * read (no `hold` needed), and flushed to disk in the background
 * every 32 MiB, so the fsync after the last byte is short. What is written
 * for each chunk, and whether to stop, is `through`'s (a failure it reports
 * fails the write: the file is not kept). An error of the source (or a throw
 * from `through`) becomes `failure(error)`; interrupting destroys the source
 * and removes the temporary file.
 */
export const writeReadable = (target: string, options: Options = {}) =>
<E, R>(
  open: Effect.Effect<NodeHttp.Body, E, R>,
  through: NodeBody.Through<E>,
  failure: (error: unknown) => E
): Effect.Effect<void, E | FileError, R> =>
  atomically(
    target,
    options,
    (handle) => Effect.flatMap(open, (source) => pump(handle.fd, source, through, failure, fail(target, "write")))
  )

const pump = <E>(
  fd: number,
  source: NodeHttp.Body,
  through: NodeBody.Through<E>,
  failure: (error: unknown) => E,
  onWriteError: (error: unknown) => FileError
): Effect.Effect<void, E | FileError> =>
  Effect.async<void, E | FileError>((resume) => {
    let position = 0
    let settled = false
    // The data written so far is flushed to disk in the background every `syncEvery` bytes
    // (`fdatasync` on the thread pool, one at a time), so the final fsync — which a caller waits
    // for after the last byte — has only the tail left to write.
    let synced = 0
    let syncing: Promise<unknown> = Promise.resolve()
    let syncError: unknown = undefined
    /** Ends the transfer: with its failure, or with success (`undefined`). */
    const finish = (outcome: { readonly failed: E | FileError } | undefined) => {
      if (settled) return
      settled = true
      // A failure stops the transfer (on success the source has ended anyway); `NodeBody.run` has
      // stopped reading it.
      source.destroy()
      // A background flush still running is waited for; one that failed fails the write (a later
      // fsync need not report the same error again).
      void syncing.then(() =>
        resume(
          outcome !== undefined
            ? Effect.fail(outcome.failed)
            : syncError !== undefined
            ? Effect.fail(onWriteError(syncError))
            : Effect.void
        )
      )
    }
    const flushInBackground = () => {
      if (position - synced < syncEvery) return
      synced = position
      syncing = syncing.then(() =>
        new Promise<void>((resolve) =>
          nodeFs.fdatasync(fd, (error) => {
            if (error !== null) syncError = error
            resolve()
          })
        )
      )
    }
    /** Writes `bytes` at `position`; false if that failed (the transfer is then finished). */
    const write = (bytes: Uint8Array): boolean => {
      try {
        for (let done = 0; done < bytes.length;) {
          done += nodeFs.writeSync(fd, bytes, done, bytes.length - done, position + done)
        }
      } catch (error) {
        finish({ failed: onWriteError(error) })
        return false
      }
      position += bytes.length
      flushInBackground()
      return true
    }
    NodeBody.run(source, through, failure, {
      write,
      done: (outcome) => finish(outcome === undefined ? undefined : { failed: outcome.error }),
      ended: () => settled
    })
    // Interrupted: stop reading (no write is ever in flight between chunks).
    return Effect.sync(() => {
      settled = true
      source.destroy()
    })
  })

/** Writes `content` to `target` atomically (temporary file, fsync, rename). */
export const writeFile = (target: string, content: string, options: Options = {}): Effect.Effect<void, FileError> =>
  writeStream(target, options)(Stream.make(content))
