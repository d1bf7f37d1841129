import { Effect, Fiber, FiberRef, Layer, ManagedRuntime, Runtime, Scheduler } from "effect"
import { describe, expect, it } from "vitest"
import * as App from "../src/App.js"
import { Metrics } from "../src/Metrics.js"
import * as RequestRuntime from "../src/RequestRuntime.js"
import { baseConfig, deploymentsPage, fakeUpstream } from "./helpers.js"

const runtimeWith = (scheduler = RequestRuntime.scheduler()) => ManagedRuntime.make(Layer.setScheduler(scheduler))

describe("the proxy runtime's scheduler", () => {
  it("resumes many fibers that wait, each to its own result", async () => {
    const runtime = runtimeWith()
    let resumed = 0
    const programs = Array.from(
      { length: 200 },
      (_, index) =>
        Effect.promise(() => new Promise<number>((resolve) => setImmediate(() => resolve(index)))).pipe(
          Effect.flatMap((value) => Effect.promise(() => Promise.resolve(value * 2))),
          Effect.tap(() => Effect.sync(() => resumed++))
        )
    )
    const results = await Promise.all(programs.map((program) => runtime.runPromise(program)))
    expect(results).toEqual(programs.map((_, index) => index * 2))
    expect(resumed).toBe(programs.length)
    await runtime.dispose()
  })

  it("lets timers and I/O run while a fiber yields over and over", async () => {
    const runtime = runtimeWith()
    let yields = 0
    const spinner = runtime.runFork(Effect.forever(Effect.suspend(() => {
      yields++
      return Effect.yieldNow()
    })))
    // A timer fires although the spinning fiber never waits for anything but its own yields.
    const yieldsWhenTimerFired = await new Promise<number>((resolve) => setTimeout(() => resolve(yields), 0))
    expect(yieldsWhenTimerFired).toBeGreaterThan(0)
    await runtime.runPromise(Fiber.interrupt(spinner))
    await runtime.dispose()
  })

  it("makes a fiber that never waits give way to others after maxOpsBeforeYield steps", async () => {
    const runtime = runtimeWith()
    // A finite loop with no yield of its own (`Effect.forever` would yield between rounds): only the
    // scheduler's op count can make it give way before it ends.
    const total = 20 * RequestRuntime.maxOpsBeforeYield
    let steps = 0
    const loop: Effect.Effect<void> = Effect.suspend(() =>
      steps < total ? Effect.flatMap(Effect.sync(() => steps++), () => loop) : Effect.void
    )
    const fork = Runtime.runFork(await runtime.runtime())
    // Started on this stack: it runs until it gives way.
    const busy = fork(loop, { immediate: true })
    // Started after it gave way (or, were it never to, after it ended): sees how far it had got.
    const other = fork(Effect.sync(() => steps), { immediate: true })
    const stepsWhenOtherRan = await runtime.runPromise(Fiber.join(other))
    await runtime.runPromise(Fiber.join(busy))
    expect(steps).toBe(total)
    expect(stepsWhenOtherRan).toBeGreaterThan(0)
    expect(stepsWhenOtherRan).toBeLessThan(total)
    await runtime.dispose()
  })

  it("is the scheduler of the app's runtime", async () => {
    const { upstream } = fakeUpstream(() => ({ status: 200, body: deploymentsPage(["1"]) }))
    const runtime = ManagedRuntime.make(App.layer({ config: baseConfig([]), upstream }, new Metrics()))
    const scheduler = await runtime.runPromise(FiberRef.get(FiberRef.currentScheduler))
    // Not Effect's default (a runner per fiber), which is what the layer replaces.
    expect(scheduler).not.toBe(Scheduler.defaultScheduler)
    expect(scheduler).not.toBeInstanceOf(Scheduler.MixedScheduler)
    await runtime.dispose()
  })
})
