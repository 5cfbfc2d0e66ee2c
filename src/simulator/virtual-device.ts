/**
 * The built-in virtual pinpad as a device the bridge can open: each open gets a fresh in-memory
 * pair with the pinpad on the far end. It can be unplugged and plugged back like a USB pinpad.
 */
import { EventEmitter } from 'node:events'
import { memoryPair, type ByteStream } from '../transport/byte-stream.js'
import type { VirtualPinpad } from './virtual-pinpad.js'
import { SerialOpenError } from '../errors.js'
import type { InMemoryDevice } from '../transport/registry.js'

export class VirtualDevice extends EventEmitter<{ unplugged: []; plugged: [] }> implements InMemoryDevice {
  #present = true
  #host: (ByteStream & { shutdown(reason: string): void }) | undefined

  constructor(
    readonly pinpad: VirtualPinpad,
    readonly path: string,
  ) {
    super()
  }

  get model(): string {
    return this.pinpad.identity.model
  }

  get manufacturer(): string {
    return this.pinpad.identity.manufacturer
  }

  get present(): boolean {
    return this.#present
  }

  /** Opens the "port": the host end of a new in-memory pair. */
  connect(): ByteStream {
    if (!this.#present) throw new SerialOpenError(this.path, 'the virtual pinpad is unplugged')
    this.#host?.shutdown('reopened')
    // The pair runs on the pinpad's clock, so a test that moves it also delivers the bytes in flight.
    const [host, device] = memoryPair(this.path, `${this.path} (pinpad)`, this.pinpad.clock)
    this.pinpad.attach(device)
    this.#host = host
    return host
  }

  /** As if the cable were pulled: the open stream closes with a reason, the device disappears. */
  unplug(): void {
    if (!this.#present) return
    this.#present = false
    this.#host?.shutdown(`${this.path} unplugged`)
    this.#host = undefined
    this.emit('unplugged')
  }

  plug(): void {
    if (this.#present) return
    this.#present = true
    this.emit('plugged')
  }
}
