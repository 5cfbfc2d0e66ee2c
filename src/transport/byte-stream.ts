/**
 * The one thing the ABECS link needs from a transport: bytes in both directions and a way to
 * learn that the other end went away. A serial port, a pseudo-terminal and the in-memory pair
 * of the virtual pinpad all provide it.
 */
import { systemClock, type Clock } from '../clock.js'
export interface ByteStream {
  /** Human-readable name for logs and errors (a port path, "virtual pinpad 1"…). */
  readonly description: string
  readonly closed: boolean
  write(data: Uint8Array): void
  /** Subscribes to incoming bytes; returns the unsubscribe function. */
  onData(listener: (chunk: Buffer) => void): () => void
  /** Called once when the stream ends for any reason (closed by us, unplugged, I/O error). */
  onClose(listener: (reason: string) => void): () => void
  close(): Promise<void>
}

/** Minimal event plumbing shared by ByteStream implementations. */
export class ByteStreamBase {
  #closed = false
  readonly #data = new Set<(chunk: Buffer) => void>()
  readonly #close = new Set<(reason: string) => void>()

  get closed(): boolean {
    return this.#closed
  }

  onData(listener: (chunk: Buffer) => void): () => void {
    this.#data.add(listener)
    return () => this.#data.delete(listener)
  }

  onClose(listener: (reason: string) => void): () => void {
    if (this.#closed) {
      queueMicrotask(() => listener('already closed'))
      return () => {}
    }
    this.#close.add(listener)
    return () => this.#close.delete(listener)
  }

  protected emitData(chunk: Buffer): void {
    if (this.#closed) return
    for (const l of [...this.#data]) l(chunk)
  }

  /** Marks the stream closed and tells the listeners, once. */
  protected emitClose(reason: string): void {
    if (this.#closed) return
    this.#closed = true
    const listeners = [...this.#close]
    this.#close.clear()
    this.#data.clear()
    for (const l of listeners) l(reason)
  }
}

class MemoryEnd extends ByteStreamBase implements ByteStream {
  peer!: MemoryEnd
  constructor(
    readonly description: string,
    readonly clock: Clock,
  ) {
    super()
  }

  write(data: Uint8Array): void {
    if (this.closed) return
    const copy = Buffer.from(data)
    // Asynchronous like a real port: the writer never re-enters its own handler.
    this.clock.setImmediate(() => this.peer.emitData(copy))
  }

  async close(): Promise<void> {
    this.shutdown('closed')
  }

  shutdown(reason: string): void {
    this.emitClose(reason)
    this.peer.emitClose(reason === 'closed' ? 'peer closed' : reason)
  }
}

/**
 * Two connected in-memory streams: what one writes the other receives, after the I/O already due
 * (`clock.setImmediate`: a manual clock thereby knows when the bytes in flight have all arrived).
 */
export function memoryPair(
  a = 'host',
  b = 'pinpad',
  clock: Clock = systemClock,
): [ByteStream & { shutdown(reason: string): void }, ByteStream & { shutdown(reason: string): void }] {
  const x = new MemoryEnd(a, clock)
  const y = new MemoryEnd(b, clock)
  x.peer = y
  y.peer = x
  return [x, y]
}
