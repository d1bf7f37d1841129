/**
 * The one writer for every output format: `table`, `json`, `ndjson`, `yaml`
 * and `csv`, for lists (streamed as they arrive) and for single values.
 *
 * `json`, `ndjson` and `yaml` print the wire format: a value is encoded back
 * with the schema it was decoded with, so unknown fields survive. `table` and
 * `csv` print the view's columns. A list in `json` is ONE array, written item
 * by item as the pages arrive; a `table` takes its column widths from the
 * first chunk and never waits for the end of the stream.
 *
 * Rendering (`list`, `one`) is pure: a stream of text. `write` sends text to
 * a Node stream and returns only once the OS has it, which is what lets
 * `audit-logs follow` checkpoint after its events are out.
 */
import { encodeRow as csvRow } from "@cubeplane/core/Csv"
import type * as NodeHttp from "@cubeplane/core/NodeHttp"
import * as Chunk from "effect/Chunk"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { Writable } from "node:stream"
import type { Format } from "./Flags.js"
import * as NodeBody from "./NodeBody.js"

export type { Format } from "./Flags.js"

/** One column of `table` and `csv` output. */
export interface Column<A> {
  readonly header: string
  readonly value: (item: A) => string | number | boolean | null | undefined
  /**
   * A field only some servers send (e.g. `deploymentUrl`): a table shows it
   * only when the first rows have it; `csv` always has it, so its columns are fixed.
   */
  readonly optional?: boolean
}

/** How a kind of value prints. */
export interface View<A, I> {
  /** Encodes a value back to its wire JSON, unknown fields included. */
  readonly schema: Schema.Schema<A, I>
  /**
   * The same encoding as `schema`, compiled for speed (core's `AuditLog.toJson`
   * for audit events): used for `json`, `ndjson` and `yaml` when given.
   */
  readonly toJson?: (value: A) => I
  /** The columns of `table` and `csv` output, in order. */
  readonly columns: ReadonlyArray<Column<A>>
}

export interface Style {
  /** ANSI bold for table headers (a terminal, and `NO_COLOR` unset). */
  readonly color: boolean
}

const cell = (value: string | number | boolean | null | undefined): string =>
  value === null || value === undefined ? "" : String(value)

const indent = (text: string, by: string): string => by + text.replaceAll("\n", `\n${by}`)

const bold = (text: string, style: Style) => (style.color ? `\x1b[1m${text}\x1b[22m` : text)

/** Code points a terminal draws two columns wide (CJK, Hangul, full-width forms, most emoji). */
const isWide = (code: number): boolean =>
  (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0xa4cf && code !== 0x303f) ||
  (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe30 && code <= 0xfe4f) ||
  (code >= 0xff00 && code <= 0xff60) || (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1faff) ||
  (code >= 0x20000 && code <= 0x3fffd)

/** Combining marks take no column of their own. */
const isZeroWidth = (code: number): boolean =>
  (code >= 0x300 && code <= 0x36f) || code === 0x200d || (code >= 0xfe00 && code <= 0xfe0f)

/** The columns `text` takes in a terminal, so a table stays aligned with `渡辺` or `é` in it. */
export const displayWidth = (text: string): number => {
  let width = 0
  for (const char of text) {
    const code = char.codePointAt(0)!
    width += isZeroWidth(code) ? 0 : isWide(code) ? 2 : 1
  }
  return width
}

const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - displayWidth(text)))

/** Lines of a table whose widths come from `widths` (grown to fit what it has seen). */
const tableLines = (rows: ReadonlyArray<ReadonlyArray<string>>, widths: Array<number>): string => {
  let out = ""
  for (const row of rows) {
    out += row.map((value, k) => (k === row.length - 1 ? value : pad(value, widths[k]!))).join("  ").trimEnd() + "\n"
  }
  return out
}

const encoder = <A, I>(view: View<A, I>): (value: A) => unknown => view.toJson ?? Schema.encodeSync(view.schema)

type YamlModule = typeof import("yaml")

// `yaml` is only loaded when YAML is asked for: `--help` and JSON output do not pay for it.
const loadYaml: Effect.Effect<YamlModule> = Effect.promise(() => import("yaml"))

export interface ListOptions {
  /** The header row of `csv` and `table`. Default: true (`audit-logs follow` prints it once, on its first run). */
  readonly header?: boolean
}

/**
 * A list, rendered as text chunks as the items arrive.
 *
 * @example
 * ```ts
 * Output.list(deploymentView, "json", style)(cp.deployments()) // "[\n  {...},\n  {...}\n]\n"
 * ```
 */
export const list =
  <A, I>(view: View<A, I>, format: Format, style: Style, options: ListOptions = {}) =>
  <E, R>(items: Stream.Stream<A, E, R>): Stream.Stream<string, E, R> => {
    switch (format) {
      case "json": {
        const encode = encoder(view)
        return Stream.suspend(() => {
          let count = 0
          const body = Stream.mapChunks(items, (chunk) => {
            let text = ""
            for (const item of chunk) {
              text += (count === 0 ? "\n" : ",\n") + indent(JSON.stringify(encode(item), null, 2), "  ")
              count++
            }
            return text === "" ? Chunk.empty() : Chunk.of(text)
          })
          return Stream.make("[").pipe(
            Stream.concat(body),
            Stream.concat(Stream.sync(() => (count === 0 ? "]\n" : "\n]\n")))
          )
        })
      }
      case "ndjson": {
        // One text per input chunk (one write per chunk, not per line).
        const encode = encoder(view)
        return Stream.mapChunks(items, (chunk) => {
          let text = ""
          for (const item of chunk) text += JSON.stringify(encode(item)) + "\n"
          return text === "" ? Chunk.empty() : Chunk.of(text)
        })
      }
      case "yaml": {
        const encode = encoder(view)
        return Stream.unwrap(Effect.map(loadYaml, (YAML) =>
          Stream.suspend(() => {
            let count = 0
            const body = Stream.mapChunks(items, (chunk) => {
              const values = Chunk.toReadonlyArray(chunk).map(encode)
              count += values.length
              // A sequence per chunk: concatenated, they are one YAML sequence.
              return values.length === 0 ? Chunk.empty() : Chunk.of(YAML.stringify(values))
            })
            return Stream.concat(body, Stream.suspend(() => (count === 0 ? Stream.make("[]\n") : Stream.empty)))
          })))
      }
      case "csv": {
        return Stream.suspend(() => {
          let columns: ReadonlyArray<Column<A>> | undefined
          const rows = Stream.mapChunks(items, (chunk) => {
            const values = Chunk.toReadonlyArray(chunk)
            if (values.length === 0) return Chunk.empty()
            let text = ""
            if (columns === undefined) {
              columns = presentColumns(view.columns, values)
              if (options.header !== false) text += csvRow(columns.map((column) => column.header))
            }
            for (const item of values) text += csvRow(columns.map((column) => cell(column.value(item))))
            return Chunk.of(text)
          })
          // An empty list still has its header.
          const headerIfEmpty = Stream.suspend(() =>
            columns === undefined && options.header !== false
              ? Stream.make(csvRow(view.columns.filter((column) => column.optional !== true).map((c) => c.header)))
              : Stream.empty
          )
          return Stream.concat(rows, headerIfEmpty)
        })
      }
      case "table": {
        const always = view.columns.filter((column) => column.optional !== true)
        return Stream.suspend(() => {
          let columns: ReadonlyArray<Column<A>> | undefined
          let widths: Array<number> | undefined
          const body = Stream.mapChunks(items, (chunk) => {
            const values = Chunk.toReadonlyArray(chunk)
            if (values.length === 0) return Chunk.empty()
            let text = ""
            if (columns === undefined || widths === undefined) {
              const present = presentColumns(view.columns, values)
              columns = present
              const headers = present.map((column) => column.header)
              const firstRows = values.map((item) => present.map((column) => cell(column.value(item))))
              widths = headers.map((header, k) =>
                Math.max(displayWidth(header), ...firstRows.map((row) => displayWidth(row[k]!)))
              )
              if (options.header !== false) text += headerLine(headers, widths, style)
            }
            const shown = columns
            const rows = values.map((item) => shown.map((column) => cell(column.value(item))))
            return Chunk.of(text + tableLines(rows, widths))
          })
          // An empty list still says what its columns would have been.
          const headerIfEmpty = Stream.suspend(() => {
            const headers = always.map((column) => column.header)
            return widths === undefined && options.header !== false
              ? Stream.make(headerLine(headers, headers.map(displayWidth), style))
              : Stream.empty
          })
          return Stream.concat(body, headerIfEmpty)
        })
      }
    }
  }

/** The columns to print: every column, less the optional ones none of the first rows has. */
const presentColumns = <A>(columns: ReadonlyArray<Column<A>>, rows: ReadonlyArray<A>): ReadonlyArray<Column<A>> =>
  columns.filter((column) => column.optional !== true || rows.some((item) => cell(column.value(item)) !== ""))

const headerLine = (headers: ReadonlyArray<string>, widths: ReadonlyArray<number>, style: Style) =>
  bold(
    headers.map((header, k) => (k === headers.length - 1 ? header : pad(header, widths[k]!))).join("  ").trimEnd(),
    style
  ) +
  "\n"

/** A single value: an object in `json`, one line in `ndjson`, a `KEY  value` list in `table`. */
export const one = <A, I>(view: View<A, I>, format: Format, style: Style, value: A): Effect.Effect<string> => {
  switch (format) {
    case "json":
      return Effect.sync(() => JSON.stringify(encoder(view)(value), null, 2) + "\n")
    case "ndjson":
      return Effect.sync(() => JSON.stringify(encoder(view)(value)) + "\n")
    case "yaml":
      return Effect.map(loadYaml, (YAML) => YAML.stringify(encoder(view)(value)))
    case "csv":
      return Effect.sync(() =>
        csvRow(view.columns.map((column) => column.header)) +
        csvRow(view.columns.map((column) => cell(column.value(value))))
      )
    case "table":
      return Effect.sync(() => {
        const width = Math.max(...view.columns.map((column) => displayWidth(column.header)))
        return view.columns
          .map((column) => `${bold(pad(column.header, width), style)}  ${cell(column.value(value))}`.trimEnd())
          .join("\n") + "\n"
      })
  }
}

/** Stdout (or a file) went away while writing: a closed pipe (`| head`) or a full disk. */
export class OutputError extends Data.TaggedError("OutputError")<{
  readonly message: string
  readonly code: string | undefined
}> {}

/** What `write` needs of a Node stream. */
export interface Target {
  write(chunk: string | Uint8Array, callback: (error?: Error | null) => void): boolean
}

const errorCode = (error: Error): string | undefined =>
  "code" in error && typeof error.code === "string" ? error.code : undefined

/** Writes one chunk; succeeds once the stream has handed it to the OS (so a checkpoint may follow). */
export const writeChunk = (target: Target, chunk: string | Uint8Array): Effect.Effect<void, OutputError> =>
  Effect.async<void, OutputError>((resume) => {
    target.write(chunk, (error) => {
      if (error === null || error === undefined) resume(Effect.void)
      else {
        const code = errorCode(error)
        resume(Effect.fail(
          new OutputError({
            code,
            message: code === "EPIPE" ? "the output was closed before everything was written" : error.message
          })
        ))
      }
    })
  })

/** Writes a text stream to `target`, chunk by chunk, each flushed before the next is pulled. */
export const write =
  (target: Target) => <E, R>(text: Stream.Stream<string | Uint8Array, E, R>): Effect.Effect<void, E | OutputError, R> =>
    Stream.runForEach(text, (chunk) => writeChunk(target, chunk))

/**
 * Writes a response body (the export's, core's `NodeHttp`) to `target`
 * (stdout), each chunk mapped by `through`, without an Effect step per
 * chunk: each write holds the memory of the chunk it came from until it is
 * done (`source.hold()`: the body reads into reused buffers), and the source
 * is paused while `target` is full (a pipe whose reader is slower) and
 * resumed at its `drain`. Succeeds once `target` has taken the last byte. An error of
 * the source (or a throw from `through`) becomes `failure(error)`; a write
 * that fails (the reader went away: `EPIPE`) an `OutputError`. Either way,
 * or interrupted, the source is destroyed.
 */
export const writeReadable = <E>(
  target: Writable,
  source: NodeHttp.Body,
  through: NodeBody.Through<E>,
  failure: (error: unknown) => E
): Effect.Effect<void, E | OutputError> =>
  Effect.async<void, E | OutputError>((resume) => {
    let settled = false
    /** Writes handed to `target` whose callback has not come yet. */
    let writing = 0
    /** How the transfer ends once the writes in flight are done (`undefined`: not yet known). */
    let outcome: Effect.Effect<void, E | OutputError> | undefined
    const settle = () => {
      if (settled || outcome === undefined || writing > 0) return
      settled = true
      resume(outcome)
    }
    /** Stops reading (`NodeBody.run` has detached the source); `result` is the outcome unless a write failed first. */
    const stop = (result: Effect.Effect<void, E | OutputError>) => {
      if (outcome !== undefined) return
      outcome = result
      target.off("drain", onDrain)
      source.destroy()
      settle()
    }
    const written = (error?: Error | null) => {
      writing--
      if (error !== null && error !== undefined) {
        const code = errorCode(error)
        outcome = Effect.fail(
          new OutputError({
            code,
            message: code === "EPIPE" ? "the output was closed before everything was written" : error.message
          })
        )
        detach()
        target.off("drain", onDrain)
        source.destroy()
      }
      settle()
    }
    const onDrain = () => {
      if (outcome === undefined) source.resume()
    }
    const detach = NodeBody.run(source, through, failure, {
      // Hands `bytes` to `target` (a failure comes to `written`); pauses the source while `target` is full.
      write: (bytes) => {
        if (bytes.length === 0) return true
        writing++
        const release = source.hold()
        const settled = (error?: Error | null) => {
          release()
          written(error)
        }
        if (!target.write(bytes, settled)) {
          source.pause()
          target.once("drain", onDrain)
        }
        return true
      },
      done: (result) => stop(result === undefined ? Effect.void : Effect.fail(result.error)),
      ended: () => outcome !== undefined
    })
    // Interrupted: stop reading (what was handed to `target` is its own).
    return Effect.sync(() => {
      outcome ??= Effect.void
      settled = true
      detach()
      target.off("drain", onDrain)
      source.destroy()
    })
  })
