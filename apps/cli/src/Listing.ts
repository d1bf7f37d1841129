/**
 * `… list` commands: one page (`--limit`/`--offset`, or `--first`/`--after` on
 * servers that page by cursor) or every page (`--all`, following whichever
 * the server does), printed in the chosen format as the items arrive.
 */
import type { Page, PageOptions, StreamOptions } from "@cubeplane/core/Domain"
import { pageOptionsProblem, totalOf } from "@cubeplane/core/Domain"
import type { ControlPlaneError } from "@cubeplane/core/Errors"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { CliFailure } from "./Failure.js"
import * as Failure from "./Failure.js"
import type { PageFlags } from "./Flags.js"
import type * as Output from "./Output.js"
import { list } from "./Output.js"
import * as Session from "./Session.js"
import * as Stdio from "./Stdio.js"

export type { PageFlags } from "./Flags.js"

const pageOptions = (flags: PageFlags): PageOptions => ({
  ...(flags.offset._tag === "Some" ? { offset: flags.offset.value } : {}),
  ...(flags.limit._tag === "Some" ? { limit: flags.limit.value } : {}),
  ...(flags.first._tag === "Some" ? { first: flags.first.value } : {}),
  ...(flags.after._tag === "Some" ? { after: flags.after.value } : {})
})

const streamOptions = (flags: PageFlags): StreamOptions => ({
  ...(flags.offset._tag === "Some" ? { offset: flags.offset.value } : {}),
  ...(flags.after._tag === "Some" ? { after: flags.after.value } : {}),
  ...(flags.limit._tag === "Some" ? { pageSize: flags.limit.value } : {}),
  ...(flags.first._tag === "Some" ? { pageSize: flags.first.value } : {})
})

/** The page flags' own problem, before anything is sent (exit 2); each flag's value is checked as it is parsed. */
const checkFlags = (flags: PageFlags): Effect.Effect<void, CliFailure> =>
  pageOptionsProblem(pageOptions(flags)) === undefined ? Effect.void : Effect.fail(Failure.usage(
    "page by offset (--offset, --limit) or by cursor (--first, --after), not both: servers refuse a request that mixes them"
  ))

/** What a terminal user is told when there is more than the page shown. */
const moreHint = (page: Page<unknown>, noun: string): string | undefined => {
  const shown = page.items.length
  const cursor = page.pageInfo?.endCursor ?? undefined
  if (page.pageInfo !== undefined) {
    return page.pageInfo.hasNextPage === true && cursor !== undefined
      ? `Showing ${shown} ${noun}: add --all for every page, or --after ${JSON.stringify(cursor)} for the next one.`
      : undefined
  }
  const offset = page.pagination?.offset ?? 0
  const total = totalOf(page)
  return total !== undefined && offset + shown < total
    ? `Showing ${shown === 0 ? 0 : offset + 1}–${
      offset + shown
    } of ${total} ${noun}: add --all for every page, or --offset ${offset + shown} for the next one.`
    : undefined
}

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
  return Effect.gen(function*() {
    yield* checkFlags(spec.flags)
    if (spec.flags.all) return yield* Session.print(render(spec.all(streamOptions(spec.flags))))
    const page = yield* spec.page(pageOptions(spec.flags))
    yield* Session.print(render(Stream.fromIterable(page.items)))
    const hint = moreHint(page, spec.noun)
    if (Stdio.stderrIsTTY() && hint !== undefined) yield* Stdio.note(hint)
  })
}
