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
import { Data, Duration, Effect, Either, ParseResult, Schema, Stream } from "effect"

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

const StateJson = Schema.Struct({
  version: Schema.Literal(1),
  timestamp: Schema.String,
  ids: Schema.Array(Schema.String)
})

/** The state file's text. */
export const renderState = (checkpoint: Checkpoint): string =>
  JSON.stringify({ version: 1, timestamp: new Date(checkpoint.timestamp).toISOString(), ids: checkpoint.ids }) + "\n"

/** The state file is not one this command wrote. */
export class StateError extends Data.TaggedError("StateError")<{ readonly message: string }> {}

const decodeState = Schema.decodeUnknownEither(Schema.parseJson(StateJson))

/** Parses the state file's text. */
export const parseState = (text: string, file: string): Either.Either<Checkpoint, StateError> =>
  Either.flatMap(
    Either.mapLeft(decodeState(text), (error) =>
      new StateError({
        message: `${file} is not a cubeplane follow state (${
          ParseResult.TreeFormatter.formatErrorSync(error).split("\n").slice(-1)[0]?.trim()
        }) — point --state at a new file to start over`
      })),
    (json) => {
      const timestamp = Date.parse(json.timestamp)
      return Number.isNaN(timestamp)
        ? Either.left(new StateError({ message: `${file}: "${json.timestamp}" is not a timestamp` }))
        : Either.right({ timestamp, ids: json.ids })
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
}

export interface FollowOptions {
  readonly interval: Duration.Duration
  /** `--start`, used until there is a checkpoint. */
  readonly start?: string | undefined
  /** The first wait after a failed poll; doubled per failure up to `max(interval, 1 min)`. Default: 1 s. */
  readonly retryBase?: Duration.Duration
}

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

    const isPollFailure = (error: PollFailed<E> | EOut): error is PollFailed<E> => error instanceof PollFailed

    // The poll's own errors come back as a value (to retry); the writer's (EOut) stop the follower.
    const pollOnce: Effect.Effect<Either.Either<void, E>, EOut> = Effect.suspend(() => {
      const since = checkpoint
      const fresh = isNew(since)
      return follower.poll(startAfter(since, options.start)).pipe(
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
