/// <reference types="node" />
/**
 * The read buffers of `NodeHttp`: 64 KiB each, shared by every transfer of
 * one client, each back in the pool once the socket no longer reads into it
 * and no write of a view of it is pending (`holds`).
 *
 * @internal
 */

export const readSize = 64 * 1024
/** Idle buffers kept for later transfers (4 MiB). */
const maxPooled = 64

export interface Slot {
  readonly buffer: Buffer
  /** Writes of views of it not done yet. */
  holds: number
  /** The socket reads (or may read) into it. */
  reading: boolean
}

export class BufferPool {
  private readonly free: Array<Slot> = []
  /** A buffer for the socket to read into (the pool's, or a new one). */
  take(): Slot {
    const slot = this.free.pop() ?? { buffer: Buffer.allocUnsafeSlow(readSize), holds: 0, reading: false }
    slot.reading = true
    return slot
  }
  /** Back to the pool once nothing reads into it or writes from it. */
  settle(slot: Slot): void {
    if (!slot.reading && slot.holds === 0 && this.free.length < maxPooled) this.free.push(slot)
  }
}
