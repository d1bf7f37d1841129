/**
 * The `cubeplane` executable: runs `Cli.main` and exits with its code.
 * Ctrl-C (SIGINT) and SIGTERM interrupt the command, which runs its cleanup
 * (a half-written export is removed, a follow stops between batches) and
 * exits 130 / 143; a second signal exits at once.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { main } from "./Cli.js"
import { ExitCode } from "./Failure.js"

// Built-in options (--help, --version, --completions) are listed once, in the root help, not under every command.
const platform = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  CliConfig.layer({ showBuiltIns: false })
)

// Writers report a closed pipe themselves; without a listener Node would throw.
process.stdout.on("error", () => undefined)
process.stderr.on("error", () => undefined)

const fiber = Effect.runFork(Effect.provide(main(process.argv), platform))

let signalled: number | undefined
const onSignal = (code: number) => () => {
  if (signalled !== undefined) process.exit(code)
  signalled = code
  Effect.runFork(Fiber.interrupt(fiber))
}
process.on("SIGINT", onSignal(ExitCode.interrupted))
process.on("SIGTERM", onSignal(ExitCode.terminated))

fiber.addObserver((exit) => {
  const code = Exit.isSuccess(exit) ? exit.value : (signalled ?? ExitCode.interrupted)
  // Exit once stdout has taken everything (fetch keep-alive sockets would otherwise hold the process open).
  process.stdout.write("", () => process.exit(signalled ?? code))
})
