/**
 * Which serial ports could be a pinpad, kept up to date by polling so the bridge can notice
 * a pinpad being plugged in or pulled out.
 *
 * Listing must never take the bridge down: `SerialPort.list()` spawns `udevadm` on Linux and,
 * where it is missing, the spawn error can escape the promise. So on Linux it is only used when
 * `udevadm` is on PATH, and otherwise (or when it fails or hangs) we read sysfs ourselves.
 */
import { EventEmitter } from 'node:events'
import { constants, promises as fs } from 'node:fs'
import path from 'node:path'
import { SerialListError } from '../errors.js'
import { systemClock, type Clock, type Timer } from '../clock.js'

export interface SerialPortEntry {
  path: string
  /** Human-readable name: /dev/serial/by-id name on Linux, friendly name on Windows. */
  name?: string
  manufacturer?: string
  serialNumber?: string
  /** USB ids as lowercase hex, e.g. "1753". */
  vendorId?: string
  productId?: string
  /** 'configured' when the user named the path (--serial), even if the OS lists it too. */
  source: 'os' | 'configured'
}

export type OsPortInfo = Omit<SerialPortEntry, 'source'>
export type PortLister = () => Promise<OsPortInfo[]>

export interface SerialDiscoveryOptions {
  /** Extra paths (--serial PATH) listed whenever they exist, ptys included. */
  configuredPaths?: readonly string[]
  /** Poll period, default 1000 ms. */
  intervalMs?: number
  /** A listing that takes longer is abandoned for this poll, default 3000 ms. */
  listTimeoutMs?: number
  /** The OS listing; null means use the fallback only. Default: see defaultListers(). */
  lister?: PortLister | null
  /** Used when the lister fails, hangs or is null; null keeps the last good OS listing. */
  fallback?: PortLister | null
  /** Told when listing degrades (once per distinct problem), for the log. */
  onWarning?: (message: string) => void
  /** The clock of the polling and the listing timeout (default: the real one). */
  clock?: Clock
}

type DiscoveryEvents = {
  added: [SerialPortEntry]
  removed: [SerialPortEntry]
}

const CANDIDATE_PATTERNS = [
  /^\/dev\/(ttyACM|ttyUSB|rfcomm)\d+$/, // Linux: CDC-ACM, USB-serial, Bluetooth
  /^COM\d+$/i, // Windows
  /^\/dev\/cu\.(usbmodem|usbserial)/, // macOS call-out devices
]

/** Whether an OS-listed path looks like a port a pinpad could be on (not ttyS*, ttyAMA*…). */
export function isCandidatePath(p: string): boolean {
  return CANDIDATE_PATTERNS.some((re) => re.test(p))
}

let udevadmFound: boolean | undefined

/** Whether `udevadm` is an executable on PATH; looked up once per process. */
export async function hasUdevadm(): Promise<boolean> {
  if (udevadmFound !== undefined) return udevadmFound
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)
  let found = false
  for (const dir of dirs) {
    try {
      await fs.access(path.join(dir, 'udevadm'), constants.X_OK)
      found = true
      break
    } catch {
      // not in this directory
    }
  }
  udevadmFound = found
  return found
}

const text = (v: unknown): string | undefined => {
  if (typeof v !== 'string') return undefined
  const t = v.trim()
  return t === '' ? undefined : t
}

/** `SerialPort.list()` in our shape. On Linux call it only when hasUdevadm() is true. */
export async function listWithSerialPort(platform: NodeJS.Platform = process.platform): Promise<OsPortInfo[]> {
  // Loaded on first use: a bridge without serial discovery never loads serialport.
  const { SerialPort } = await import('serialport')
  const ports = await SerialPort.list()
  return ports.map((p) => {
    const info = p as typeof p & { friendlyName?: string }
    let portPath = p.path
    // macOS lists /dev/tty.*; the cu.* twin is the one to open (it does not wait for DCD).
    if (platform === 'darwin') portPath = portPath.replace(/^\/dev\/tty\./, '/dev/cu.')
    return {
      path: portPath,
      // On Linux pnpId is the /dev/serial/by-id name, the same name the sysfs fallback gives.
      name: text(info.friendlyName) ?? (platform === 'linux' ? text(p.pnpId) : undefined),
      manufacturer: text(p.manufacturer),
      serialNumber: text(p.serialNumber),
      vendorId: text(p.vendorId)?.toLowerCase(),
      productId: text(p.productId)?.toLowerCase(),
    }
  })
}

export interface SysfsDirs {
  sysClassTty?: string
  dev?: string
  byId?: string
}

async function exists(p: string, follow = true): Promise<boolean> {
  try {
    await (follow ? fs.stat(p) : fs.lstat(p))
    return true
  } catch {
    return false
  }
}

async function readAttr(dir: string, name: string): Promise<string | undefined> {
  try {
    return text(await fs.readFile(path.join(dir, name), 'utf8'))
  } catch {
    return undefined
  }
}

/** Walks up from the tty's device (USB interface, usb-serial port) to the USB device node. */
async function usbAttributes(deviceLink: string): Promise<Partial<OsPortInfo> & { product?: string }> {
  let dir: string
  try {
    dir = await fs.realpath(deviceLink)
  } catch {
    return {}
  }
  for (let i = 0; i < 4 && dir !== path.dirname(dir); i++, dir = path.dirname(dir)) {
    const vendorId = await readAttr(dir, 'idVendor')
    if (vendorId === undefined) continue
    return {
      vendorId: vendorId.toLowerCase(),
      productId: (await readAttr(dir, 'idProduct'))?.toLowerCase(),
      manufacturer: await readAttr(dir, 'manufacturer'),
      serialNumber: await readAttr(dir, 'serial'),
      product: await readAttr(dir, 'product'),
    }
  }
  return {}
}

/** /dev/serial/by-id: target path → link name (e.g. "usb-Gertec_PPC930_8C01-if00"). */
async function byIdNames(byIdDir: string): Promise<Map<string, string>> {
  const names = new Map<string, string>()
  let links: string[]
  try {
    links = await fs.readdir(byIdDir)
  } catch {
    return names
  }
  for (const link of links) {
    try {
      const target = path.resolve(byIdDir, await fs.readlink(path.join(byIdDir, link)))
      names.set(target, link)
    } catch {
      // vanished or not a link
    }
  }
  return names
}

/**
 * Linux listing without udevadm: /sys/class/tty entries that are real hardware (have a
 * `device` link; bound rfcomm ports are virtual and allowed too), named via /dev/serial/by-id.
 */
export async function listFromSysfs(dirs: SysfsDirs = {}): Promise<OsPortInfo[]> {
  const ttyDir = dirs.sysClassTty ?? '/sys/class/tty'
  const devDir = dirs.dev ?? '/dev'
  let ttys: string[]
  try {
    ttys = await fs.readdir(ttyDir)
  } catch {
    return []
  }
  const names = await byIdNames(dirs.byId ?? path.join(devDir, 'serial', 'by-id'))
  const ports: OsPortInfo[] = []
  for (const tty of ttys.sort()) {
    const devPath = path.join(devDir, tty)
    if (!isCandidatePath(`/dev/${tty}`)) continue
    const deviceLink = path.join(ttyDir, tty, 'device')
    const hardware = await exists(deviceLink, false)
    if (!hardware && !tty.startsWith('rfcomm')) continue
    if (!(await exists(devPath))) continue // udev has not created the node (yet)
    const usb = hardware ? await usbAttributes(deviceLink) : {}
    ports.push({
      path: devPath,
      name: names.get(devPath) ?? usb.product,
      manufacturer: usb.manufacturer,
      serialNumber: usb.serialNumber,
      vendorId: usb.vendorId,
      productId: usb.productId,
    })
  }
  return ports
}

/** The listers SerialDiscovery uses unless told otherwise. */
export async function defaultListers(
  platform: NodeJS.Platform = process.platform,
): Promise<{ lister: PortLister | null; fallback: PortLister | null }> {
  if (platform === 'linux') {
    return {
      lister: (await hasUdevadm()) ? () => listWithSerialPort(platform) : null,
      fallback: () => listFromSysfs(),
    }
  }
  return { lister: () => listWithSerialPort(platform), fallback: null }
}

class ListTimeout extends Error {}

async function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number): Promise<T> {
  let timer: Timer | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = clock.setTimeout(() => reject(new ListTimeout(`no answer within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clock.clearTimeout(timer)
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err))

function sameEntry(a: SerialPortEntry, b: SerialPortEntry): boolean {
  return (
    a.path === b.path &&
    a.name === b.name &&
    a.manufacturer === b.manufacturer &&
    a.serialNumber === b.serialNumber &&
    a.vendorId === b.vendorId &&
    a.productId === b.productId &&
    a.source === b.source
  )
}

/** Keeps only candidate ports, with string fields only, one entry per path. */
function normalize(ports: unknown): OsPortInfo[] {
  if (!Array.isArray(ports)) return []
  const byPath = new Map<string, OsPortInfo>()
  for (const raw of ports as Partial<Record<keyof OsPortInfo, unknown>>[]) {
    const p = text(raw?.path)
    if (p === undefined || !isCandidatePath(p) || byPath.has(p)) continue
    const entry: OsPortInfo = { path: p }
    for (const key of ['name', 'manufacturer', 'serialNumber', 'vendorId', 'productId'] as const) {
      const value = text(raw[key])
      if (value !== undefined) entry[key] = value
    }
    byPath.set(p, entry)
  }
  return [...byPath.values()]
}

/**
 * Polls for candidate pinpad ports. Emits `added` / `removed` with the entry; list() is the
 * current snapshot, sorted by path. Never throws or rejects because of a listing failure.
 */
export class SerialDiscovery extends EventEmitter<DiscoveryEvents> {
  readonly #configured: string[]
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #onWarning: (message: string) => void
  readonly #listers: Promise<{ lister: PortLister | null; fallback: PortLister | null }>
  readonly #clock: Clock
  #entries: SerialPortEntry[] = []
  #lastOs: OsPortInfo[] = []
  #running = false
  #epoch = 0
  #timer: Timer | undefined
  #polling: Promise<void> | undefined
  /** A lister call that outlived its timeout; no new call starts until it settles. */
  #stuck: Promise<unknown> | undefined
  #lastWarning: string | undefined

  constructor(options: SerialDiscoveryOptions = {}) {
    super()
    this.#configured = [...new Set(options.configuredPaths ?? [])]
    this.#intervalMs = options.intervalMs ?? 1000
    this.#timeoutMs = options.listTimeoutMs ?? 3000
    this.#onWarning = options.onWarning ?? (() => {})
    this.#clock = options.clock ?? systemClock
    const { lister, fallback } = options
    this.#listers =
      lister !== undefined && fallback !== undefined
        ? Promise.resolve({ lister, fallback })
        : defaultListers().then((d) => ({
            lister: lister === undefined ? d.lister : lister,
            fallback: fallback === undefined ? d.fallback : fallback,
          }))
  }

  get running(): boolean {
    return this.#running
  }

  /** Current snapshot, sorted by path. */
  list(): SerialPortEntry[] {
    return this.#entries.map((e) => ({ ...e }))
  }

  /** Polls now and then every intervalMs until stop(). */
  start(): void {
    if (this.#running) return
    this.#running = true
    const epoch = ++this.#epoch
    const tick = async (): Promise<void> => {
      await this.refresh()
      if (this.#running && this.#epoch === epoch) {
        this.#timer = this.#clock.setTimeout(tick, this.#intervalMs)
        this.#timer.unref() // the server, not discovery, keeps the process alive
      }
    }
    void tick()
  }

  /** Stops polling; resolves once a poll in progress (bounded by listTimeoutMs) is over. */
  async stop(): Promise<void> {
    this.#running = false
    this.#epoch++
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#polling
  }

  /** One poll now (joined with one already running); resolves with the new snapshot. */
  async refresh(): Promise<SerialPortEntry[]> {
    this.#polling ??= this.#poll().finally(() => (this.#polling = undefined))
    await this.#polling
    return this.list()
  }

  async #poll(): Promise<void> {
    const epoch = this.#epoch
    try {
      const os = await this.#listOs()
      if (os !== undefined) this.#lastOs = os
      const next = await this.#merge(this.#lastOs)
      if (epoch !== this.#epoch) return // stopped meanwhile: keep quiet
      this.#apply(next)
    } catch (err) {
      this.#warn(`serial port discovery failed: ${message(err)}`)
    }
  }

  /** The OS ports, or undefined to keep the previous ones. */
  async #listOs(): Promise<OsPortInfo[] | undefined> {
    const { lister, fallback } = await this.#listers
    if (lister) {
      if (this.#stuck) {
        this.#warn(new SerialListError(`the previous listing is still running after ${this.#timeoutMs} ms`).message)
      } else {
        const call = (async () => lister())() // also catches a synchronous throw
        try {
          const ports = normalize(await withTimeout(this.#clock, call, this.#timeoutMs))
          this.#lastWarning = undefined
          return ports
        } catch (err) {
          if (err instanceof ListTimeout) {
            const stuck = call.then(
              () => {},
              () => {},
            )
            this.#stuck = stuck
            void stuck.then(() => {
              if (this.#stuck === stuck) this.#stuck = undefined
            })
          }
          this.#warn(new SerialListError(message(err)).message)
        }
      }
    }
    if (!fallback) return undefined
    try {
      return normalize(await withTimeout(this.#clock, (async () => fallback())(), this.#timeoutMs))
    } catch (err) {
      this.#warn(new SerialListError(`fallback: ${message(err)}`).message)
      return undefined
    }
  }

  async #merge(os: OsPortInfo[]): Promise<SerialPortEntry[]> {
    const byPath = new Map<string, SerialPortEntry>()
    for (const p of os) byPath.set(p.path, { ...p, source: 'os' })
    for (const wanted of this.#configured) {
      let real: string | undefined
      try {
        real = await fs.realpath(wanted)
      } catch {
        // missing, or not a filesystem path (Windows COM ports)
      }
      // A configured by-id link and the OS entry it points to are one device.
      const osEntry = byPath.get(wanted) ?? (real !== undefined ? byPath.get(real) : undefined)
      if (real === undefined && osEntry === undefined) continue
      if (osEntry) byPath.delete(osEntry.path)
      byPath.set(wanted, { ...osEntry, path: wanted, source: 'configured' })
    }
    return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }

  #apply(next: SerialPortEntry[]): void {
    const before = new Map(this.#entries.map((e) => [e.path, e]))
    const after = new Map(next.map((e) => [e.path, e]))
    // Keep unchanged entries as they were so the snapshot is stable between polls.
    this.#entries = next.map((e) => {
      const old = before.get(e.path)
      return old && sameEntry(old, e) ? old : e
    })
    const removed = [...before.values()].filter((e) => !after.has(e.path))
    const added = next.filter((e) => !before.has(e.path))
    for (const e of removed) this.#emitSafely('removed', e)
    for (const e of added) this.#emitSafely('added', e)
  }

  #emitSafely(event: keyof DiscoveryEvents, entry: SerialPortEntry): void {
    try {
      this.emit(event, { ...entry })
    } catch (err) {
      this.#warn(`a serial discovery '${event}' listener threw: ${message(err)}`)
    }
  }

  #warn(text: string): void {
    if (text === this.#lastWarning) return
    this.#lastWarning = text
    try {
      this.#onWarning(text)
    } catch {
      // a logger must not break discovery
    }
  }
}
