/**
 * How a request's fiber runs: on the app's services and this module's
 * scheduler, and nothing else (`forkOn`).
 *
 * A request's fiber is forked on a runtime that holds the built services and
 * the scheduler only. The app's runtime carries other fiber refs (runtime
 * flags, the tracer switch), which every fork would copy into a new map with
 * a new stack per ref, and Effect's own runtime metrics (a counter, a gauge
 * and a lifetime histogram per fiber, in Effect's registry) would be updated
 * for every request although the proxy never exports them (its metrics are
 * its own).
 *
 * The scheduler: when a request's fiber resumes (its
 * upstream answered, its body was read), the resumption runs from one queue
 * shared by every fiber, drained on the microtask queue — Effect's
 * `MixedScheduler` as it was before 3.20.
 *
 * Effect 3.20+ gives every fiber its own runner (a `WeakMap` entry, a runner
 * object, its buckets and a promise per hop) so that fibers resumed together
 * never share an `AsyncLocalStorage` context. The proxy uses no async
 * context, and that bookkeeping was ~4 KB of garbage per forwarded request;
 * a shared queue allocates nothing per task.
 *
 * Like Effect's default, it never starves the event loop: after
 * `maxChainedDrains` drains in a row that each left work for the next (a
 * fiber that yields over and over), the next drain waits for a timer, so
 * I/O and timers get their turn; a fiber yields after `maxOpsBeforeYield`
 * steps, as with Effect's default. Priorities are not used by the proxy; tasks
 * run in the order they were scheduled.
 *
 * @since 0.2.0
 */
import { type Effect, type Fiber, FiberRef, FiberRefs, Runtime, RuntimeFlags, Scheduler } from "effect"

/** Drains chained on the microtask queue before one waits for a timer (Effect's default scheduler's figure). */
export const maxChainedDrains = 2048

/**
 * Steps a fiber runs before it yields: Effect's default `currentMaxOpsBeforeYield`, which the
 * proxy never changes. Read as a constant, it is not looked up in the fiber's refs at every step.
 */
export const maxOpsBeforeYield = 2048

const resolved = Promise.resolve()

export const scheduler = (): Scheduler.Scheduler => {
  // Two arrays used in turn, their slots cleared after a drain but never shrunk: scheduling a
  // task allocates nothing but the one promise reaction of its drain.
  let queue: Array<Scheduler.Task | undefined> = []
  let queued = 0
  let spare: Array<Scheduler.Task | undefined> = []
  let scheduled = false
  /** Drains in a row that each left work for the next. */
  let chained = 0

  const drain = (): void => {
    const batch = queue
    const size = queued
    queue = spare
    queued = 0
    let next = 0
    try {
      while (next < size) {
        const task = batch[next]!
        batch[next++] = undefined
        task()
      }
    } finally {
      // A task that throws (Effect's never do) leaves the rest of its batch for the next drain.
      while (next < size) {
        queue[queued++] = batch[next]
        batch[next++] = undefined
      }
      spare = batch
      if (queued === 0) {
        scheduled = false
        chained = 0
      } else {
        chained++
        schedule()
      }
    }
  }
  const afterTimer = (): void => {
    chained = 0
    drain()
  }
  const schedule = (): void => {
    if (chained >= maxChainedDrains) setTimeout(afterTimer, 0)
    else void resolved.then(drain)
  }

  return Scheduler.make(
    (task) => {
      queue[queued++] = task
      if (scheduled) return
      scheduled = true
      schedule()
    },
    (fiber) => fiber.currentOpCount > maxOpsBeforeYield ? 0 : false
  )
}

/** Interruption and cooperative yielding, without Effect's runtime metrics. */
const requestFlags = RuntimeFlags.make(RuntimeFlags.Interruption, RuntimeFlags.CooperativeYielding)

/** Forks programs on `runtime`'s services and scheduler only (see above). */
export const forkOn = <R>(runtime: Runtime.Runtime<R>) => {
  const lean = Runtime.make({ context: runtime.context, fiberRefs: FiberRefs.empty(), runtimeFlags: requestFlags })
  const options = { scheduler: FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentScheduler) }
  return <A, E>(program: Effect.Effect<A, E, R>): Fiber.RuntimeFiber<A, E> => Runtime.runFork(lean, program, options)
}
