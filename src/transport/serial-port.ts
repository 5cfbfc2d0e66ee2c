/**
 * A pinpad on a serial port (USB CDC-ACM, USB-serial adapter, Bluetooth rfcomm, or a pty in
 * tests) as a ByteStream. Line settings are fixed by ABECS §2.1: 8N1, no flow control.
 */
import { readSync, writeSync } from 'node:fs'
import { SerialPort } from 'serialport'
import { ByteStreamBase, type ByteStream } from './byte-stream.js'
import { SerialOpenError, SerialOptionError } from '../errors.js'

export const DEFAULT_BAUD_RATE = 19200

/** How long close() waits for already-queued writes (e.g. a final CAN) to reach the OS. */
const CLOSE_FLUSH_MS = 1000

export interface SerialPortOptions {
  /** Default 19200 (ABECS §2.1). */
  baudRate?: number
}

/** The parts of serialport's Linux/macOS port binding that reading and writing need. */
interface UnixPortBinding {
  fd: number | null
  readonly isOpen: boolean
  poller: { once(event: 'readable' | 'writable', callback: (err: Error | null) => void): unknown }
  read(buffer: Buffer, offset: number, length: number): Promise<{ bytesRead: number; buffer: Buffer }>
  write(buffer: Buffer): Promise<void>
  writeOperation: Promise<void> | null
}

const isUnixPortBinding = (port: unknown): port is UnixPortBinding =>
  typeof port === 'object' && port !== null && 'fd' in port && 'poller' in port && 'read' in port && 'write' in port

const canceled = (): Error => Object.assign(new Error('Port is not open'), { canceled: true })

const wouldBlock = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR'
}

const waitFor = (port: UnixPortBinding, event: 'readable' | 'writable') =>
  new Promise<void>((resolve, reject) => port.poller.once(event, (e) => (e ? reject(e) : resolve())))

/** Marked as serialport's unix binding marks the errors of a port that went away. */
function disconnectIfGone(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException & { disconnect?: boolean }
  if (e.code === 'EBADF' || e.code === 'ENXIO' || e.code === 'UNKNOWN' || e.errno === -1) e.disconnect = true
  return err
}

/**
 * serialport's unix reader reads through libuv's thread pool (a hand-off to a thread and back for
 * every chunk, and a failed EAGAIN read after each one) and retries a 0-byte read at once,
 * forever. The descriptor is non-blocking (O_NONBLOCK): this reader waits until the poller says
 * it is readable, then reads at once on the main thread, one read() per chunk. A hung-up tty (USB
 * pinpad unplugged, or the pty's master closed) reads 0 bytes forever, so if a read was under way
 * at the unplug the process would spin at 100% CPU and never report the loss: here end-of-file is
 * a disconnect.
 */
function readWhenReadable(port: UnixPortBinding): UnixPortBinding['read'] {
  return async (buffer, offset, length) => {
    for (;;) {
      if (!port.isOpen || port.fd === null) throw canceled()
      await waitFor(port, 'readable')
      if (!port.isOpen || port.fd === null) throw canceled()
      let bytesRead: number
      try {
        bytesRead = readSync(port.fd, buffer, offset, length, null)
      } catch (err) {
        if (wouldBlock(err)) continue
        throw disconnectIfGone(err)
      }
      if (bytesRead === 0) throw Object.assign(new Error('the device hung up'), { disconnect: true })
      return { bytesRead, buffer }
    }
  }
}

/**
 * serialport's unix writer without the thread pool: the non-blocking descriptor takes at once what
 * fits in the tty's buffer (a whole ABECS packet, normally); the rest waits for the poller.
 */
function writeNow(port: UnixPortBinding): UnixPortBinding['write'] {
  const writeAll = async (buffer: Buffer): Promise<void> => {
    let offset = 0
    while (offset < buffer.length) {
      if (!port.isOpen || port.fd === null) throw new Error('Port is not open')
      try {
        offset += writeSync(port.fd, buffer, offset, buffer.length - offset)
      } catch (err) {
        if (!wouldBlock(err)) throw disconnectIfGone(err)
        await waitFor(port, 'writable')
      }
    }
  }
  return async (buffer) => {
    if (!Buffer.isBuffer(buffer)) throw new TypeError('"buffer" is not a Buffer')
    if (!port.isOpen) throw new Error('Port is not open')
    // drain() awaits the write under way, as with serialport's own write.
    port.writeOperation = (async () => {
      if (buffer.length === 0) return
      await writeAll(buffer)
      port.writeOperation = null
    })()
    return port.writeOperation
  }
}

/** The platform binding, with readWhenReadable() and writeNow() on Linux and macOS (Windows reads differently). */
const baseBinding = SerialPort.binding
const hangupAwareBinding = {
  list: () => baseBinding.list(),
  async open(options: Parameters<typeof baseBinding.open>[0]) {
    const port: unknown = await baseBinding.open(options as never)
    if (isUnixPortBinding(port)) {
      port.read = readWhenReadable(port)
      port.write = writeNow(port)
    }
    return port
  },
} as unknown as typeof SerialPort.binding

/** serialport prefixes its messages with "Error: "; drop it so our messages read cleanly. */
function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err)
  return text.replace(/^Error: /, '')
}

export class SerialByteStream extends ByteStreamBase implements ByteStream {
  readonly description: string
  readonly baudRate: number
  readonly #port: SerialPort
  #closing = false
  #lost: string | undefined
  readonly #pending = new Set<Promise<void>>()
  readonly #ended: Promise<void>
  #resolveEnded!: () => void

  /** Wraps an already open port; use openSerialPort(). */
  constructor(port: SerialPort) {
    super()
    this.#port = port
    this.description = port.path
    this.baudRate = port.baudRate
    this.#ended = new Promise((resolve) => (this.#resolveEnded = resolve))
    port.on('data', (chunk: Buffer) => this.emitData(chunk))
    port.on('error', (err: Error) => this.#lose(errorText(err)))
    port.on('close', (err?: Error | null) => this.#portClosed(err))
  }

  write(data: Uint8Array): void {
    if (this.closed || this.#closing || this.#lost !== undefined) return
    // Copy: the write completes asynchronously and the caller may reuse its buffer.
    const chunk = Buffer.from(data)
    const done = new Promise<void>((resolve) => {
      try {
        this.#port.write(chunk, (err?: Error | null) => {
          if (err) this.#lose(`write failed: ${errorText(err)}`)
          resolve()
        })
      } catch (err) {
        this.#lose(`write failed: ${errorText(err)}`)
        resolve()
      }
    })
    this.#pending.add(done)
    void done.then(() => this.#pending.delete(done))
  }

  async close(): Promise<void> {
    if (this.closed) return
    if (!this.#closing && this.#lost === undefined) {
      this.#closing = true
      await this.#flush()
      if (this.#port.isOpen) {
        // On success the port's 'close' event finishes us.
        this.#port.close((err?: Error | null) => {
          if (err) this.#finish(`closed (${errorText(err)})`)
        })
      } else if (!this.#port.closing) {
        this.#finish('closed')
      }
    }
    await this.#ended
  }

  async #flush(): Promise<void> {
    if (this.#pending.size === 0) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.#pending]),
      // Real time: a real port's driver drains its buffer in real time (no test runs a real port on a manual clock).
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_FLUSH_MS))),
    ])
    clearTimeout(timer)
  }

  /** The port failed (unplugged, I/O error) while we were not closing it ourselves. */
  #lose(detail: string): void {
    if (this.closed || this.#closing || this.#lost !== undefined) return
    this.#lost = `port ${this.description} closed unexpectedly: ${detail}`
    if (this.#port.isOpen) {
      // Release the descriptor; the 'close' event then finishes us.
      this.#port.close(() => this.#finish(this.#lost ?? 'closed'))
    } else if (!this.#port.closing) {
      this.#finish(this.#lost)
    }
  }

  #portClosed(err?: Error | null): void {
    // A stream destroyed by a write error emits 'close' without closing the descriptor.
    if (this.#port.port?.isOpen && !this.#port.closing) this.#port.close(() => {})
    const reason =
      this.#lost ??
      (this.#closing
        ? 'closed'
        : `port ${this.description} closed unexpectedly: ${err ? errorText(err) : 'the port was closed'}`)
    this.#finish(reason)
  }

  #finish(reason: string): void {
    this.emitClose(reason)
    this.#resolveEnded()
  }
}

/**
 * Opens `path` at 8N1 without flow control. Rejects with MPOS_ERR_SERIAL_OPEN when the path
 * does not exist, is not a tty, or is locked by another process.
 */
export async function openSerialPort(path: string, options: SerialPortOptions = {}): Promise<SerialByteStream> {
  const baudRate = options.baudRate ?? DEFAULT_BAUD_RATE
  if (!path) throw new SerialOptionError('path', 'empty')
  if (!Number.isInteger(baudRate) || baudRate <= 0) throw new SerialOptionError('baudRate', String(baudRate))
  // `binding` is a SerialPortStream option that SerialPort's typings leave out.
  const settings = {
    path,
    baudRate,
    dataBits: 8,
    parity: 'none',
    stopBits: 1,
    rtscts: false,
    xon: false,
    xoff: false,
    xany: false,
    autoOpen: false,
    binding: hangupAwareBinding,
  } as const
  let port: SerialPort
  try {
    port = new SerialPort(settings)
  } catch (err) {
    throw new SerialOpenError(path, errorText(err), { cause: err })
  }
  await new Promise<void>((resolve, reject) => {
    port.open((err?: Error | null) =>
      err ? reject(new SerialOpenError(path, errorText(err), { cause: err })) : resolve(),
    )
  })
  return new SerialByteStream(port)
}
