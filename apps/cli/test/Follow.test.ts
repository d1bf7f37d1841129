import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Stream, TestClock } from "effect"
import * as Follow from "../src/Follow.js"

interface Event extends Follow.Event {
  readonly name: string
}

const at = (iso: string) => new Date(iso)
const event = (id: string, time: string): Event => ({ id, timestamp: at(time), name: `event ${id}` })

describe("checkpoint logic", () => {
  const events = [
    event("a", "2024-01-01T00:00:00.000Z"),
    event("b", "2024-01-01T00:00:01.000Z"),
    event("c", "2024-01-01T00:00:01.000Z")
  ]

  it("the checkpoint keeps the newest timestamp and every id emitted at it", () => {
    expect(Follow.advance(undefined, events)).toEqual({
      timestamp: Date.parse("2024-01-01T00:00:01.000Z"),
      ids: ["b", "c"]
    })
  })

  it("an event at the checkpoint's timestamp is new only if its id was not emitted", () => {
    const checkpoint = Follow.advance(undefined, events.slice(0, 2))
    const fresh = Follow.isNew(checkpoint)
    expect(events.filter(fresh).map((e) => e.id)).toEqual(["c"])
    expect(fresh(event("d", "2024-01-01T00:00:00.500Z"))).toBe(false)
    expect(fresh(event("e", "2024-01-01T00:00:02.000Z"))).toBe(true)
  })

  it("ids at the same timestamp accumulate across batches", () => {
    const first = Follow.advance(undefined, [events[1]!])
    expect(Follow.advance(first, [events[2]!])?.ids).toEqual(["b", "c"])
  })

  it("a state file from before `csv_header` existed counts its checkpoint as a header already written", () => {
    expect(
      Follow.parseState("{\"version\":1,\"timestamp\":\"2024-01-01T00:00:01.000Z\",\"ids\":[\"b\"]}", "s.json")
    ).toEqual(
      Either.right({ checkpoint: { timestamp: Date.parse("2024-01-01T00:00:01.000Z"), ids: ["b"] }, csvHeader: true })
    )
  })

  it("polls from 1 ms before the checkpoint, so inclusive and exclusive `start` both work", () => {
    expect(Follow.startAfter({ timestamp: Date.parse("2024-01-01T00:00:01.000Z"), ids: ["b"] }, undefined)).toBe(
      "2024-01-01T00:00:00.999Z"
    )
    expect(Follow.startAfter(undefined, "2024-01-01")).toBe("2024-01-01")
  })

  it("the state file round-trips and rejects what it did not write", () => {
    const checkpoint = { timestamp: Date.parse("2024-01-01T00:00:01.000Z"), ids: ["b", "c"] }
    for (
      const state of [
        { checkpoint, csvHeader: false },
        { checkpoint, csvHeader: true },
        { checkpoint: undefined, csvHeader: true }
      ]
    ) {
      expect(Follow.parseState(Follow.renderState(state), "state.json")).toEqual(Either.right(state))
    }
    expect(Either.isLeft(Follow.parseState("{\"hello\":1}", "state.json"))).toBe(true)
    expect(Either.isLeft(Follow.parseState("not json", "state.json"))).toBe(true)
  })
})

/** An audit log the test appends to, exported like the server does (oldest first, `start` inclusive). */
const makeLog = () => {
  const log: Array<Event> = []
  const polls: Array<string | undefined> = []
  let failuresLeft = 0
  let failure: "Unauthorized" | "ServerError" = "ServerError"
  return {
    add: (...events: Array<Event>) => log.push(...events),
    failNext: (count: number, kind: "Unauthorized" | "ServerError") => {
      failuresLeft = count
      failure = kind
    },
    polls,
    poll: (start: string | undefined): Stream.Stream<Event, { readonly _tag: string }> =>
      Stream.suspend(() => {
        polls.push(start)
        if (failuresLeft > 0) {
          failuresLeft--
          return Stream.fail({ _tag: failure })
        }
        const from = start === undefined ? Number.NEGATIVE_INFINITY : Date.parse(start)
        const selected = log.filter((e) => e.timestamp.getTime() >= from)
          .sort((x, y) => x.timestamp.getTime() - y.timestamp.getTime())
        // Two events per chunk: the checkpoint advances batch by batch.
        return Stream.fromIterable(selected).pipe(Stream.rechunk(2))
      })
  }
}

const makeSink = () => {
  const journal: Array<string> = []
  const emitted: Array<string> = []
  let saved: Follow.Checkpoint | undefined
  return {
    journal,
    emitted,
    saved: () => saved,
    emit: (events: ReadonlyArray<Event>) =>
      Effect.sync(() => {
        for (const e of events) emitted.push(e.id)
        journal.push(`emit ${events.map((e) => e.id).join(",")}`)
      }),
    save: (checkpoint: Follow.Checkpoint) =>
      Effect.sync(() => {
        saved = checkpoint
        journal.push(`save ${checkpoint.ids.join(",")}`)
      })
  }
}

const interval = Duration.seconds(30)

const follower = (log: ReturnType<typeof makeLog>, sink: ReturnType<typeof makeSink>, reports: Array<string>) => ({
  poll: log.poll,
  emit: sink.emit,
  save: sink.save,
  report: (error: { readonly _tag: string }, wait: Duration.Duration) =>
    Effect.sync(() => {
      reports.push(`${error._tag} ${Duration.toMillis(wait)}`)
    }),
  isFatalAtStart: (error: { readonly _tag: string }) => error._tag === "Unauthorized",
  stalled: (after: Duration.Duration) => ({ _tag: `Stalled after ${Duration.toMillis(after)} ms` })
})

describe("Follow.follow", () => {
  it.effect("emits each event once, polls every interval, and saves the checkpoint after each emitted batch", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const sink = makeSink()
      log.add(
        event("1", "2024-01-01T00:00:01Z"),
        event("2", "2024-01-01T00:00:02Z"),
        event("3", "2024-01-01T00:00:02Z")
      )
      const fiber = yield* Effect.fork(Follow.follow(follower(log, sink, []), undefined, { interval }))
      yield* TestClock.adjust(Duration.millis(1))
      expect(sink.emitted).toEqual(["1", "2", "3"])
      expect(sink.journal).toEqual(["emit 1,2", "save 2", "emit 3", "save 2,3"])

      // Nothing new: the next poll emits nothing.
      yield* TestClock.adjust(interval)
      expect(sink.emitted).toEqual(["1", "2", "3"])
      expect(log.polls.length).toBe(2)

      // An event at the checkpoint's own timestamp and a later one arrive.
      log.add(event("4", "2024-01-01T00:00:02Z"), event("5", "2024-01-01T00:00:03Z"))
      yield* TestClock.adjust(interval)
      expect(sink.emitted).toEqual(["1", "2", "3", "4", "5"])
      expect(log.polls[2]).toBe("2024-01-01T00:00:01.999Z")
      expect(sink.saved()).toEqual({ timestamp: Date.parse("2024-01-01T00:00:03Z"), ids: ["5"] })
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a restart from the saved checkpoint continues with no gap and no duplicate", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const first = makeSink()
      log.add(event("1", "2024-01-01T00:00:01Z"), event("2", "2024-01-01T00:00:02Z"))
      const run1 = yield* Effect.fork(Follow.follow(follower(log, first, []), undefined, { interval }))
      yield* TestClock.adjust(Duration.millis(1))
      yield* Fiber.interrupt(run1)

      log.add(event("3", "2024-01-01T00:00:02Z"), event("4", "2024-01-01T00:00:04Z"))
      const second = makeSink()
      const run2 = yield* Effect.fork(Follow.follow(follower(log, second, []), first.saved(), { interval }))
      yield* TestClock.adjust(Duration.millis(1))
      yield* Fiber.interrupt(run2)
      expect([...first.emitted, ...second.emitted]).toEqual(["1", "2", "3", "4"])
    }))

  it.effect("retries a failing poll with a doubling backoff instead of stopping, then catches up", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const sink = makeSink()
      const reports: Array<string> = []
      log.add(event("1", "2024-01-01T00:00:01Z"))
      const fiber = yield* Effect.fork(Follow.follow(follower(log, sink, reports), undefined, { interval }))
      yield* TestClock.adjust(Duration.millis(1))
      log.add(event("2", "2024-01-01T00:00:02Z"))
      log.failNext(3, "ServerError")
      yield* TestClock.adjust(interval) // fails: retry in 1 s
      yield* TestClock.adjust(Duration.seconds(1)) // fails: retry in 2 s
      yield* TestClock.adjust(Duration.seconds(2)) // fails: retry in 4 s
      expect(reports).toEqual(["ServerError 1000", "ServerError 2000", "ServerError 4000"])
      expect(sink.emitted).toEqual(["1"])
      yield* TestClock.adjust(Duration.seconds(4))
      expect(sink.emitted).toEqual(["1", "2"])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("even an auth error is retried once following has started", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const reports: Array<string> = []
      const fiber = yield* Effect.fork(Follow.follow(follower(log, makeSink(), reports), undefined, { interval }))
      yield* TestClock.adjust(Duration.millis(1))
      log.failNext(1, "Unauthorized")
      yield* TestClock.adjust(interval)
      expect(reports).toEqual(["Unauthorized 1000"])
      expect(fiber.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("stops on an auth error at the very first poll (a wrong key should not spin)", () =>
    Effect.gen(function*() {
      const log = makeLog()
      log.failNext(1, "Unauthorized")
      const error = yield* Effect.flip(Follow.follow(follower(log, makeSink(), []), undefined, { interval }))
      expect(error).toEqual({ _tag: "Unauthorized" })
    }))

  it.effect("a failed write stops the follower before the checkpoint moves", () =>
    Effect.gen(function*() {
      const log = makeLog()
      let saved = 0
      log.add(event("1", "2024-01-01T00:00:01Z"))
      const error = yield* Effect.flip(Follow.follow(
        {
          ...follower(log, makeSink(), []),
          emit: () => Effect.fail("EPIPE" as const),
          save: () => Effect.sync(() => saved++)
        },
        undefined,
        { interval }
      ))
      expect(error).toBe("EPIPE")
      expect(saved).toBe(0)
    }))

  it.effect("a poll that stalls mid-export is abandoned after the stall timeout, reported, and retried", () =>
    Effect.gen(function*() {
      const log = makeLog()
      const sink = makeSink()
      const reports: Array<string> = []
      log.add(event("1", "2024-01-01T00:00:01Z"), event("2", "2024-01-01T00:00:02Z"))
      let stallNext = true
      const stallingFollower = {
        ...follower(log, sink, reports),
        // The first poll sends one event, then nothing (a body that stops without closing).
        poll: (start: string | undefined) =>
          stallNext
            ? Stream.concat(
              Stream.take(log.poll(start), 1),
              Stream.fromEffect(Effect.sync(() => (stallNext = false))).pipe(Stream.zipRight(Stream.never))
            )
            : log.poll(start)
      }
      const stallTimeout = Duration.seconds(10)
      const fiber = yield* Effect.fork(Follow.follow(stallingFollower, undefined, { interval, stallTimeout }))
      yield* TestClock.adjust(Duration.millis(1))
      expect(sink.emitted).toEqual(["1"])
      expect(reports).toEqual([])
      yield* TestClock.adjust(stallTimeout)
      expect(reports).toEqual(["Stalled after 10000 ms 1000"])
      yield* TestClock.adjust(Duration.seconds(1))
      expect(sink.emitted).toEqual(["1", "2"])
      yield* Fiber.interrupt(fiber)
    }))

  it("the backoff is capped at the larger of the interval and one minute", () => {
    expect(Duration.toMillis(Follow.retryDelay(1, interval, Duration.seconds(1)))).toBe(1000)
    expect(Duration.toMillis(Follow.retryDelay(20, interval, Duration.seconds(1)))).toBe(60_000)
    expect(Duration.toMillis(Follow.retryDelay(20, Duration.minutes(5), Duration.seconds(1)))).toBe(300_000)
  })
})
