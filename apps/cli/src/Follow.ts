/**
 * `audit-logs follow`: incremental sync of the audit log for a SIEM, with no
 * gap and no duplicate across polls, restarts, crashes and outages.
 *
 * The checkpoint is the newest event timestamp emitted and the ids emitted at
 * exactly that timestamp. Each poll asks the export for events from just
 * before that timestamp (so a server that reads `start` as inclusive or as
 * exclusive both work) and drops what the checkpoint says was emitted: older
 * events, and events at the checkpoint's timestamp whose id it holds. Events
 * are written and flushed first and the checkpoint saved after (atomically),
 * batch by batch, so a crash can at worst repeat the one batch in flight —
 * never lose one. Memory holds one batch and the ids of one timestamp.
 *
 * The export sends events oldest first; within one poll, events are compared
 * with the checkpoint the poll started from, so an out-of-order event inside
 * a poll is still emitted.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

export interface Checkpoint {
  /** The newest event timestamp emitted, as epoch milliseconds. */
  readonly timestamp: number
  /** The ids of the events emitted at exactly `timestamp`. */
  readonly ids: ReadonlyArray<string>
}

/** What the follower needs of an event. */
export interface Event {
  readonly id: string
  readonly timestamp: Date
}

/** Whether an event is new relative to `since` (the checkpoint a poll started from). */
export const isNew = (since: Checkpoint | undefined) => {
  if (since === undefined) return (_: Event) => true
  const seen = new Set(since.ids)
  return (event: Event): boolean => {
    const at = event.timestamp.getTime()
    return at > since.timestamp || (at === since.timestamp && !seen.has(event.id))
  }
}

/** The checkpoint after `events` were emitted. */
export const advance = (checkpoint: Checkpoint | undefined, events: Iterable<Event>): Checkpoint | undefined => {
  let timestamp = checkpoint?.timestamp ?? Number.NEGATIVE_INFINITY
  let ids = new Set(checkpoint?.ids ?? [])
  for (const event of events) {
    const at = event.timestamp.getTime()
    if (at > timestamp) {
      timestamp = at
      ids = new Set([event.id])
    } else if (at === timestamp) {
      ids.add(event.id)
    }
  }
  return Number.isFinite(timestamp) ? { timestamp, ids: [...ids] } : checkpoint
}

/** The export's `start` for the next poll: 1 ms before the checkpoint (the checkpoint's events are filtered out). */
export const startAfter = (checkpoint: Checkpoint | undefined, userStart: string | undefined): string | undefined =>
  checkpoint === undefined ? userStart : new Date(checkpoint.timestamp - 1).toISOString()

// ---------------------------------------------------------------------------
// The state file
// ---------------------------------------------------------------------------

/**
 * What the state file holds: the checkpoint (none until the first event was
 * emitted), and whether the CSV header was written to an output the follower
 * cannot look at (a pipe), so a restart does not write it again.
 */
export interface State {
  readonly checkpoint: Checkpoint | undefined
  readonly csvHeader: boolean
}

export const emptyState: State = { checkpoint: undefined, csvHeader: false }

// `timestamp` and `ids` come together or not at all (before the first event).
const StateJson = Schema.Struct({
  version: Schema.Literal(1),
  timestamp: Schema.optional(Schema.String),
  ids: Schema.optional(Schema.Array(Schema.String)),
  csv_header: Schema.optional(Schema.Boolean)
})

/** The state file's text. */
export const renderState = (state: State): string =>
  JSON.stringify({
    version: 1,
    ...(state.checkpoint !== undefined
      ? { timestamp: new Date(state.checkpoint.timestamp).toISOString(), ids: state.checkpoint.ids }
      : {}),
    csv_header: state.csvHeader
  }) + "\n"

/** The state file is not one this command wrote. */
export class StateError extends Data.TaggedError("StateError")<{ readonly message: string }> {}

const decodeState = Schema.decodeUnknownEither(Schema.parseJson(StateJson))

/** Parses the state file's text. */
export const parseState = (text: string, file: string): Either.Either<State, StateError> =>
  Either.flatMap(
    Either.mapLeft(decodeState(text), (error) =>
      new StateError({
        message: `${file} is not a cubeplane follow state (${
          ParseResult.TreeFormatter.formatErrorSync(error).split("\n").slice(-1)[0]?.trim()
        }) — point --state at a new file to start over`
      })),
    (json): Either.Either<State, StateError> => {
      // A state file written before `csv_header` existed holds a checkpoint only after a header was written.
      const csvHeader = json.csv_header ?? json.timestamp !== undefined
      if (json.timestamp === undefined) return Either.right({ checkpoint: undefined, csvHeader })
      const timestamp = Date.parse(json.timestamp)
      return Number.isNaN(timestamp)
        ? Either.left(new StateError({ message: `${file}: "${json.timestamp}" is not a timestamp` }))
        : Either.right({ checkpoint: { timestamp, ids: json.ids ?? [] }, csvHeader })
    }
  )

// ---------------------------------------------------------------------------
// The loop
// ---------------------------------------------------------------------------

export interface Follower<A extends Event, E, EOut> {
  /** The export from `start` on (oldest first). */
  readonly poll: (start: string | undefined) => Stream.Stream<A, E>
  /** Writes a batch and returns once it is flushed. */
  readonly emit: (events: ReadonlyArray<A>) => Effect.Effect<void, EOut>
  /** Saves the checkpoint atomically. */
  readonly save: (checkpoint: Checkpoint) => Effect.Effect<void, EOut>
  /** Says that a poll failed and when the next attempt is. */
  readonly report: (error: E, retryIn: Duration.Duration) => Effect.Effect<void>
  /** Errors that stop the follower if the very first poll fails with them (bad key, bad filter). */
  readonly isFatalAtStart: (error: E) => boolean
  /** The error for a poll that received nothing for `stallTimeout` (reported and retried like any failed poll). */
  readonly stalled: (after: Duration.Duration) => E
}

export interface FollowOptions {
  readonly interval: Duration.Duration
  /** `--start`, used until there is a checkpoint. */
  readonly start?: string | undefined
  /** The first wait after a failed poll; doubled per failure up to `max(interval, 1 min)`. Default: 1 s. */
  readonly retryBase?: Duration.Duration
  /**
   * A poll that receives no event for this long (an export whose body stalls after its
   * headers, a connection that silently died) is abandoned and retried. Default: 60 s.
   */
  readonly stallTimeout?: Duration.Duration
}

export const defaultStallTimeout: Duration.Duration = Duration.seconds(60)

/** The wait before the next attempt after `failures` consecutive failed polls. */
export const retryDelay = (
  failures: number,
  interval: Duration.Duration,
  base: Duration.Duration
): Duration.Duration => {
  const cap = Math.max(Duration.toMillis(interval), 60_000)
  return Duration.millis(Math.min(cap, Duration.toMillis(base) * 2 ** Math.max(0, failures - 1)))
}

class PollFailed<E> {
  constructor(readonly error: E) {}
}

/**
 * Polls forever (until interrupted): emits new events batch by batch, saving
 * the checkpoint after each flushed batch; sleeps `interval` after a good
 * poll, backs off after a failed one. A batch and its checkpoint are not
 * interrupted halfway, so Ctrl-C never separates them.
 */
export const follow = <A extends Event, E, EOut>(
  follower: Follower<A, E, EOut>,
  initial: Checkpoint | undefined,
  options: FollowOptions
): Effect.Effect<never, E | EOut> =>
  Effect.gen(function*() {
    let checkpoint = initial
    let failures = 0
    let succeededOnce = false
    const base = options.retryBase ?? Duration.seconds(1)
    const stallTimeout = options.stallTimeout ?? defaultStallTimeout

    const isPollFailure = (error: PollFailed<E> | EOut): error is PollFailed<E> => error instanceof PollFailed

    // The poll's own errors come back as a value (to retry); the writer's (EOut) stop the follower.
    const pollOnce: Effect.Effect<Either.Either<void, E>, EOut> = Effect.suspend(() => {
      const since = checkpoint
      const fresh = isNew(since)
      return follower.poll(startAfter(since, options.start)).pipe(
        // The limit is on the wait for each next piece, so a long but moving export is never cut.
        Stream.timeoutFail(() => follower.stalled(stallTimeout), stallTimeout),
        Stream.mapError((error) => new PollFailed(error)),
        Stream.runForEachChunk((chunk) => {
          const batch: Array<A> = []
          for (const event of chunk) if (fresh(event)) batch.push(event)
          if (batch.length === 0) return Effect.void
          return Effect.uninterruptible(
            follower.emit(batch).pipe(
              Effect.zipRight(Effect.suspend(() => {
                const next = advance(checkpoint, batch)
                if (next === undefined) return Effect.void
                return Effect.map(follower.save(next), () => {
                  checkpoint = next
                })
              }))
            )
          )
        }),
        Effect.map(() => Either.void),
        Effect.catchIf(isPollFailure, (failure) => Effect.succeed(Either.left(failure.error)))
      )
    })

    while (true) {
      const result = yield* pollOnce
      if (Either.isRight(result)) {
        succeededOnce = true
        failures = 0
        yield* Effect.sleep(options.interval)
        continue
      }
      const error = result.left
      if (!succeededOnce && follower.isFatalAtStart(error)) return yield* Effect.fail(error)
      failures++
      const wait = retryDelay(failures, options.interval, base)
      yield* follower.report(error, wait)
      yield* Effect.sleep(wait)
    }
  })
