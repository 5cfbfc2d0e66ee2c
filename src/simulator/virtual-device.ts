/**
 * The built-in virtual pinpad as a device the bridge can open: each open gets a fresh in-memory
 * pair with the pinpad on the far end. It can be unplugged and plugged back like a USB pinpad.
 * The pinpad may be made on the first open (a PinpadSource): the device is listed before then.
 */
import { EventEmitter } from 'node:events'
import { memoryPair, type ByteStream } from '../transport/byte-stream.js'
import type { VirtualPinpad } from './virtual-pinpad.js'
import { SerialOpenError } from '../errors.js'
import type { InMemoryDevice } from '../transport/registry.js'

/** A pinpad made when first needed: who it will say it is (for the device list), and how to make it. */
export interface PinpadSource {
  identity: { model: string; manufacturer: string }
  make(): Promise<VirtualPinpad>
}

export class VirtualDevice extends EventEmitter<{ unplugged: []; plugged: [] }> implements InMemoryDevice {
  #present = true
  #host: (ByteStream & { shutdown(reason: string): void }) | undefined
  #pinpad: VirtualPinpad | undefined
  #making: Promise<VirtualPinpad> | undefined
  readonly #source: PinpadSource | undefined

  constructor(
    pinpad: VirtualPinpad | PinpadSource,
    readonly path: string,
  ) {
    super()
    if ('make' in pinpad) this.#source = pinpad
    else this.#pinpad = pinpad
  }

  /** The pinpad, once made (see load()). */
  get pinpad(): VirtualPinpad {
    if (!this.#pinpad) throw new Error(`${this.path}: the virtual pinpad is not made yet (await load() first)`)
    return this.#pinpad
  }

  get loaded(): boolean {
    return this.#pinpad !== undefined
  }

  /** The pinpad, made now if it was not yet. */
  load(): Promise<VirtualPinpad> {
    if (this.#pinpad) return Promise.resolve(this.#pinpad)
    return (this.#making ??= this.#source!.make().then((pinpad) => (this.#pinpad = pinpad)))
  }

  get model(): string {
    return (this.#pinpad ?? this.#source!).identity.model
  }

  get manufacturer(): string {
    return (this.#pinpad ?? this.#source!).identity.manufacturer
  }

  get present(): boolean {
    return this.#present
  }

  /** Opens the "port": the host end of a new in-memory pair (once the pinpad is made, on the first open). */
  connect(): ByteStream | Promise<ByteStream> {
    if (!this.#present) throw new SerialOpenError(this.path, 'the virtual pinpad is unplugged')
    if (!this.#pinpad) return this.load().then(() => this.connect())
    this.#host?.shutdown('reopened')
    // The pair runs on the pinpad's clock, so a test that moves it also delivers the bytes in flight.
    const [host, device] = memoryPair(this.path, `${this.path} (pinpad)`, this.#pinpad.clock)
    this.#pinpad.attach(device)
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
