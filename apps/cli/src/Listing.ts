/**
 * `… list` commands: one page (`--limit`, `--offset`) or every page (`--all`),
 * printed in the chosen format as the items arrive.
 */
import type { Page, PageOptions, StreamOptions } from "@cubeplane/core/Domain"
import type { ControlPlaneError } from "@cubeplane/core/Errors"
import { Effect, Stream } from "effect"
import type { CliFailure } from "./Failure.js"
import type { PageFlags } from "./Flags.js"
import type * as Output from "./Output.js"
import { list } from "./Output.js"
import * as Session from "./Session.js"
import * as Stdio from "./Stdio.js"

export type { PageFlags } from "./Flags.js"

const pageOptions = (flags: PageFlags): PageOptions => ({
  ...(flags.offset._tag === "Some" ? { offset: flags.offset.value } : {}),
  ...(flags.limit._tag === "Some" ? { limit: flags.limit.value } : {})
})

const streamOptions = (flags: PageFlags): StreamOptions => ({
  ...(flags.offset._tag === "Some" ? { offset: flags.offset.value } : {}),
  ...(flags.limit._tag === "Some" ? { pageSize: flags.limit.value } : {})
})

export interface Spec<A, I> {
  readonly view: Output.View<A, I>
  readonly flags: PageFlags
  /** `deployments`, `environments`: for the "more pages" hint. */
  readonly noun: string
  readonly page: (options: PageOptions) => Effect.Effect<Page<A>, ControlPlaneError>
  readonly all: (options: StreamOptions) => Stream.Stream<A, ControlPlaneError>
}

/** Prints the list; on a terminal, says on stderr when there are more pages than the one shown. */
export const print = <A, I>(spec: Spec<A, I>): Effect.Effect<void, ControlPlaneError | CliFailure> => {
  const render = list(spec.view, Session.format(spec.flags.output), Session.style())
  if (spec.flags.all) return Session.print(render(spec.all(streamOptions(spec.flags))))
  return Effect.gen(function*() {
    const page = yield* spec.page(pageOptions(spec.flags))
    yield* Session.print(render(Stream.fromIterable(page.items)))
    const { offset, total } = page.pagination
    const shown = page.items.length
    if (Stdio.stderrIsTTY() && offset + shown < total) {
      yield* Stdio.note(
        `Showing ${shown === 0 ? 0 : offset + 1}–${
          offset + shown
        } of ${total} ${spec.noun}: add --all for every page, or --offset ${offset + shown} for the next one.`
      )
    }
  })
}
