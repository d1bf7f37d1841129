import type { Domain } from "@cubeplane/core"
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { MockStore, Seed } from "../src/index.js"
import { eventAt } from "../src/internal/generator.js"

/** A store with 5,000 generated events and seeded ones before, among (some at a generated event's very time) and after them. */
const setUp = () => {
  const store = MockStore.make(Seed.generate({ events: 5_000, seed: 3 }, Seed.demo))
  const log = store.generated!
  const at = (millis: number, id: string, eventName = "Logged in"): Domain.AuditLogEvent => ({
    id,
    timestamp: new Date(millis),
    eventName,
    userEmail: "zoe.martin@example.com",
    deploymentId: null,
    deploymentName: null,
    ipAddress: null,
    attributes: {}
  })
  const time = (index: number) => log.startMillis + index * log.stepMillis
  store.events = [
    at(log.startMillis - 1, "s_before"),
    at(time(0), "s_tie_0"),
    at(time(10) + 1, "s_between"),
    at(time(2_500), "s_tie_2500", "Created budget"),
    at(time(4_999), "s_tie_last"),
    at(time(6_000), "s_after")
  ]
  // The reference: everything, seeded first on equal times (a stable sort of seeded then generated).
  const everything = [...store.events, ...Array.from({ length: log.count }, (_, i) => eventAt(log, i))]
    .sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime())
  return { store, everything, time }
}

const exported = (store: MockStore.MockStore, query: Parameters<typeof MockStore.parseAuditLogQuery>[0]) => {
  const selection = Either.getOrThrow(MockStore.parseAuditLogQuery(query))
  const key = store.keys.get("sk-demo-admin")!
  return [...Either.getOrThrow(MockStore.exportAuditLog(store, key, selection)).events()].map((e) => e.id)
}

describe("the export's selection: seeded and generated events merged by time", () => {
  it("all of them, seeded first on equal times", () => {
    const { everything, store } = setUp()
    expect(exported(store, {})).toStrictEqual(everything.map((e) => e.id))
  })

  it("a time range cuts both sources at the same instants (end exclusive of the next millisecond)", () => {
    const { everything, store, time } = setUp()
    const start = new Date(time(10)).toISOString()
    const end = new Date(time(2_500)).toISOString()
    const inRange = everything.filter((e) => e.timestamp.getTime() >= time(10) && e.timestamp.getTime() <= time(2_500))
    expect(exported(store, { start, end })).toStrictEqual(inRange.map((e) => e.id))
    expect(inRange.map((e) => e.id)).toContain("s_between")
    expect(inRange.map((e) => e.id)).toContain("s_tie_2500")
  })

  it("a filter keeps the order", () => {
    const { everything, store } = setUp()
    const wanted = everything.filter((e) => e.eventName === "Created budget")
    expect(wanted.length).toBeGreaterThan(1)
    expect(exported(store, { eventName: "Created budget" })).toStrictEqual(wanted.map((e) => e.id))
  })
})
