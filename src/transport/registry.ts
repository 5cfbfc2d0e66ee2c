/**
 * Every pinpad the bridge can use: the virtual pinpad(s) and the serial ports discovery finds.
 * Ids are small integers (as in the original's `list_devices`). A path keeps its id for the life
 * of the process, so a pinpad unplugged and plugged back is the same device to a context.
 */
import { EventEmitter } from 'node:events'
import type { SerialDiscovery, SerialPortEntry } from './discovery.js'
import type { ByteStream } from './byte-stream.js'
import { DeviceNotFoundError } from '../errors.js'

export interface DeviceEntry {
  id: number
  name: string
  manufacturer: string
  kind: 'virtual' | 'serial'
  path: string
}

/**
 * A device that is not a serial port (the virtual pinpad): opened in memory, plugged and
 * unplugged like a USB pinpad. The registry needs no more of it than this.
 */
export interface InMemoryDevice {
  readonly path: string
  readonly model: string
  readonly manufacturer: string
  /** A promise when the device is made on its first open (the virtual pinpad, see src/bridge/virtual-pinpads.ts). */
  connect(): ByteStream | Promise<ByteStream>
  on(event: 'plugged' | 'unplugged', listener: () => void): unknown
}

export interface OpenOptions {
  baudRate?: number
}

export class DeviceRegistry<V extends InMemoryDevice = InMemoryDevice> extends EventEmitter<{ added: [DeviceEntry]; removed: [DeviceEntry] }> {
  readonly #devices = new Map<number, DeviceEntry>()
  readonly #virtual = new Map<number, V>()
  readonly #idsByPath = new Map<string, number>()
  #nextId = 1
  readonly #discovery: SerialDiscovery | undefined
  readonly #open: (path: string, options: OpenOptions) => Promise<ByteStream>
  readonly #defaultBaudRate: number | undefined
  /** The stream opened for each device, until released: a device is opened by one owner at a time. */
  readonly #streams = new Map<number, ByteStream>()

  constructor(
    options: {
      discovery?: SerialDiscovery
      virtual?: V[]
      openSerial?: (path: string, options: OpenOptions) => Promise<ByteStream>
      /** Baud rate of serial ports when initialize does not say (`--baud`). */
      defaultBaudRate?: number
    } = {},
  ) {
    super()
    this.#defaultBaudRate = options.defaultBaudRate
    this.#discovery = options.discovery
    // serialport is loaded when a serial pinpad is first opened, not at start-up.
    this.#open = options.openSerial ?? (async (...args) => (await import('./serial-port.js')).openSerialPort(...args))
    for (const v of options.virtual ?? []) this.addVirtual(v)
    this.#discovery?.on('added', (e) => this.#addSerial(e))
    this.#discovery?.on('removed', (e) => this.#remove(e.path))
  }

  /** Starts polling the serial ports (about once a second). */
  async start(): Promise<void> {
    if (!this.#discovery) return
    for (const e of await this.#discovery.refresh()) this.#addSerial(e)
    this.#discovery.start()
  }

  async stop(): Promise<void> {
    await this.#discovery?.stop()
  }

  get discoveryRunning(): boolean {
    return this.#discovery?.running ?? false
  }

  list(): DeviceEntry[] {
    return [...this.#devices.values()].sort((a, b) => a.id - b.id).map((d) => ({ ...d }))
  }

  get(id: number): DeviceEntry | undefined {
    const d = this.#devices.get(id)
    return d && { ...d }
  }

  virtualDevice(id: number): V | undefined {
    return this.#virtual.get(id)
  }

  /** The id a path has (or had, while the process runs). */
  idOf(path: string): number | undefined {
    return this.#idsByPath.get(path)
  }

  async open(id: number, options: OpenOptions = {}): Promise<ByteStream> {
    const entry = this.#devices.get(id)
    if (!entry) throw new DeviceNotFoundError(String(id))
    const virtual = this.#virtual.get(id)
    const baudRate = options.baudRate ?? this.#defaultBaudRate
    const stream = virtual ? await virtual.connect() : await this.#open(entry.path, baudRate ? { baudRate } : {})
    this.#streams.set(id, stream)
    stream.onClose(() => {
      if (this.#streams.get(id) === stream) this.#streams.delete(id)
    })
    return stream
  }

  /** Closes what is still open of a device its owner let go (a no-op when its link closed it). */
  async release(id: number): Promise<void> {
    const stream = this.#streams.get(id)
    this.#streams.delete(id)
    if (stream && !stream.closed) await stream.close().catch(() => {})
  }

  /** Closes every stream still open (shutdown). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#streams.keys()].map((id) => this.release(id)))
  }

  addVirtual(device: V): DeviceEntry {
    const entry = this.#add({
      name: `${device.model} (virtual)`,
      manufacturer: titleCase(device.manufacturer),
      kind: 'virtual',
      path: device.path,
    })
    this.#virtual.set(entry.id, device)
    device.on('unplugged', () => this.#remove(device.path))
    device.on('plugged', () => {
      const again = this.#add({ ...entry })
      this.#virtual.set(again.id, device)
    })
    return entry
  }

  #addSerial(e: SerialPortEntry): void {
    const id = this.#idsByPath.get(e.path)
    if (id !== undefined && this.#devices.has(id)) return
    this.#add({
      name: e.name ?? e.path.split(/[\\/]/).pop() ?? e.path,
      manufacturer: e.manufacturer ?? '',
      kind: 'serial',
      path: e.path,
    })
  }

  #add(d: Omit<DeviceEntry, 'id'>): DeviceEntry {
    const known = this.#idsByPath.get(d.path)
    if (known !== undefined && this.#devices.has(known)) return { ...this.#devices.get(known)! }
    const entry = { id: known ?? this.#nextId++, ...d }
    this.#devices.set(entry.id, entry)
    this.#idsByPath.set(entry.path, entry.id)
    this.emit('added', { ...entry })
    return entry
  }

  #remove(path: string): void {
    const id = this.#idsByPath.get(path)
    if (id === undefined) return
    const entry = this.#devices.get(id)
    if (!entry) return
    this.#devices.delete(id)
    this.#virtual.delete(id)
    this.emit('removed', { ...entry })
  }
}

const titleCase = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase()
