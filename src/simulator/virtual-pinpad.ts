/**
 * A software ABECS pinpad: the device logic behind the link (§6). It serves any ByteStream — the
 * in-memory pair of the bridge's built-in device, or a serial port (`mpos-bridge simulate`).
 */
import { COMMANDS, type CommandSpec } from '../abecs/commands/index.js'
import { decodeCommand, encodeResponse, MAX_BLOCK } from '../abecs/packet.js'
import { MalformedPacketError } from '../errors.js'
import { MAX_ABECS_DATA } from '../abecs/control.js'
import { ST } from '../abecs/return-codes.js'
import type { ByteStream } from '../transport/byte-stream.js'
import { buildIso0PinBlock, encryptPinBlock } from '../crypto/pin-block.js'
import { PinpadLink, type LinkFaults, type PinpadLinkEvent, type PinpadLinkOptions } from './pinpad-link.js'
import { KeyStore, type KeySlotsConfig } from './key-store.js'
import { PinpadSecureChannel, type ClearCommandPolicy, type LayerContext } from './secure-channel.js'
import { commandAvailable } from './versions.js'
import { Display } from './display.js'
import { Cardholder, type CardholderOptions } from './cardholder.js'
import { TableMemory } from './table-memory.js'
import { within } from './within.js'
import { DEFAULT_IDENTITY, type PinpadIdentity } from './identity.js'
import type { HandlerContext, HandlerTable, Reply } from './handlers/types.js'
import { controlHandlers } from './handlers/control.js'
import { basicHandlers } from './handlers/basic.js'
import { tableHandlers } from './handlers/tables.js'
import { cardHandlers } from './handlers/card.js'
import { extendedHandlers } from './handlers/extended.js'
import type { CardSession } from './card-session.js'
import { systemClock, type Clock } from '../clock.js'

export interface DukptOptions {
  /** Base derivation key, hex (default: the ANSI X9.24 test BDK). */
  bdk: string
  /** Initial KSN, hex; each PIN entry advances its counter. */
  initialKsn: string
  /** DUKPT:TDES:PIN key indexes present (PP_DKPTTDESP). */
  keyIndexes: number[]
}

export const DEFAULT_DUKPT: DukptOptions = {
  bdk: '0123456789ABCDEFFEDCBA9876543210',
  initialKsn: 'FFFF9876543210E00000',
  keyIndexes: [1],
}

export interface SimulatorTimings {
  /** How long "nobody presents a card" lasts before ST_TIMEOUT (the real pinpad: 2 min with CTLS). */
  noCardTimeoutMs: number
  /** Delay before the cardholder's CANCEL when the amount asks for it. */
  cancelAfterMs: number
  /** The antenna's idle limit (§6.5.1 CEX/CKE: 2 minutes, then PP_EVENT "93"; §6.9.1 GCX without SPE_TIMEOUT: ST_TIMEOUT). */
  ctlsIdleMs: number
  /** A PIN screen without a key for this long ends with ST_TIMEOUT (§6.5.2.4 CHP, §6.5.11 GPN, §6.9.3 GOX without SPE_TIMEOUT: 1 minute). */
  pinIdleMs: number
}

/** One TLI/TLR/TLE load at start: acquirer 0 is the unified set (§4.2.1), others apart (§4.2.2). */
export interface TableLoad {
  acquirer: number
  version: string
  records: Buffer[]
}

/** The PIN key a command names: SPE_MTHDPIN/GPN_METHOD, the index and (MK/WK) the working key. */
export interface PinKeyRef {
  method: string
  index: number
  wkenc?: Buffer
}

export interface VirtualPinpadOptions {
  identity?: Partial<PinpadIdentity>
  /** DUKPT:TDES:PIN registers, all derived from one BDK (the bridge's sandbox reads #01). */
  dukpt?: Partial<DukptOptions>
  /** More key slots (MK/WK and DUKPT, PIN and data) and how many positions exist (§5.1). */
  keys?: KeySlotsConfig
  /** EMV tables loaded at start (unified, or a list of loads), or 'empty' (straight from the factory). */
  tables?: { version: string; records: Buffer[] } | TableLoad[] | 'empty'
  /** Secure session (§5.2): what a command in clear gets while one is up (default: the PPC-930's 'accept'). */
  secure?: { clearCommands?: ClearCommandPolicy }
  cardholder?: Partial<CardholderOptions>
  link?: PinpadLinkOptions
  timings?: Partial<SimulatorTimings>
  /**
   * The clock of everything the pinpad waits for: its link's silences and delays, the cardholder's
   * scripted delays, SPE_TIMEOUT and the other limits above (default: the real one).
   */
  clock?: Clock
}

export type PinCapture = { pinBlock: Buffer; ksn: Buffer; pin: string }

/** The 2×16 message of DSP/CLO/RMC: whatever follows CMD_LEN1, at most 32 bytes (§6.5.5). */
const message2x16 = (data: Buffer): string => data.subarray(6, 6 + 32).toString('latin1')

/**
 * Display commands the pinpad must take as they come, where the host-side layouts are strict:
 * §6.5.5 (DSP; CLO by §6.4.5, RMC by §6.5.14) has no error case — short messages are padded,
 * excess ignored, control characters shown as spaces (by Display); §6.5.4 (DEX) fails only when
 * DEX_MSGLEN is wrong or over 160, any character below 20h breaking the line.
 */
const LENIENT_REQUESTS: Record<string, (data: Buffer) => unknown> = {
  DSP: (data) => ({ DSP_MSG: message2x16(data) }),
  CLO: (data) => ({ CLO_MSG: message2x16(data) }),
  RMC: (data) => ({ RMC_MSG: message2x16(data) }),
  DEX: (data) => {
    const blocks = decodeCommand(data).blocks
    const block = blocks[0]
    const len = block?.subarray(0, 3).toString('latin1') ?? ''
    if (blocks.length !== 1 || !/^\d{3}$/.test(len) || Number(len) !== block!.length - 3 || Number(len) > 160) {
      throw new MalformedPacketError('DEX_MSGLEN does not match DEX_MSG (§6.5.4)')
    }
    return { DEX_MSG: block!.subarray(3).toString('latin1') }
  },
}

/** 2.20 §3.3.4: DEX_OPTIONS (N6) may follow DEX_MSG; the message is shown the same way. */
function dex220(data: Buffer): unknown {
  const block = decodeCommand(data).blocks[0]
  const len = Number(block?.subarray(0, 3).toString('latin1'))
  if (block && len === block.length - 9 && /^\d{6}$/.test(block.subarray(-6).toString('latin1'))) {
    return { DEX_MSG: block.subarray(3, 3 + len).toString('latin1') }
  }
  return LENIENT_REQUESTS.DEX!(data)
}

export class VirtualPinpad {
  readonly identity: PinpadIdentity
  readonly display = new Display()
  readonly cardholder: Cardholder
  readonly tables = new TableMemory()
  readonly timings: SimulatorTimings
  readonly keys: KeyStore
  readonly secure: PinpadSecureChannel
  readonly clock: Clock
  /** WKPAN while "PAN Criptografado" is on (DWK, §5.3); erased by CLO/CLX and OPN. */
  wkpan: Buffer | undefined
  readonly #linkOptions: PinpadLinkOptions
  readonly #handlers: HandlerTable = { ...controlHandlers, ...basicHandlers, ...tableHandlers, ...cardHandlers, ...extendedHandlers }
  #link: PinpadLink | undefined
  #linkListeners = new Set<(e: PinpadLinkEvent) => void>()
  /** Faults applied to whichever link is attached. */
  readonly faults: LinkFaults = { stalled: false, nakNext: 0, corruptNext: 0, dropNext: 0, responseDelayMs: 0, garbageNext: 0, held: false }
  opened = false
  /** The card being processed between GCR/GCX and the end of the transaction. */
  session: CardSession | undefined
  #transactions = 0
  /** PP_ICCSTAT / GCR_STATCHIP: how the last chip attempt ended (§6.8.1.1, §6.9.1.1). */
  lastIccStatus: '0' | '1' | '2' = '0'

  constructor(options: VirtualPinpadOptions = {}) {
    this.identity = { ...DEFAULT_IDENTITY, ...options.identity }
    this.clock = options.clock ?? systemClock
    this.cardholder = new Cardholder(options.cardholder, this.clock)
    this.timings = { noCardTimeoutMs: 3000, cancelAfterMs: 400, ctlsIdleMs: 120_000, pinIdleMs: 60_000, ...options.timings }
    // §2.2.2: the inter-byte timeout is 2 s, 1.5 s in 2.20.
    this.#linkOptions = { ...(this.identity.specVersion === '2.20' ? { interByteTimeoutMs: 1500 } : {}), clock: this.clock, ...options.link }
    const dukpt = { ...DEFAULT_DUKPT, ...options.dukpt }
    const pinSlots = Object.fromEntries(dukpt.keyIndexes.map((i) => [String(i).padStart(2, '0'), { bdk: dukpt.bdk, ksn: dukpt.initialKsn }]))
    this.keys = new KeyStore({ ...options.keys, 'DUKPT:TDES:PIN': { ...pinSlots, ...options.keys?.['DUKPT:TDES:PIN'] } })
    this.secure = new PinpadSecureChannel(options.secure?.clearCommands)
    const tables = options.tables
    if (Array.isArray(tables)) for (const load of tables) this.tables.load(load.acquirer, load.version, load.records)
    else if (tables && tables !== 'empty') this.tables.preload(tables.version, tables.records)
  }

  /** DUKPT:TDES:PIN indexes loaded (PP_DKPTTDESP). */
  get dukptKeyIndexes(): number[] {
    return this.keys.loaded('DUKPT:TDES:PIN')
  }

  /** Serves the pinpad protocol on a stream (one at a time; a new one replaces the old). */
  attach(stream: ByteStream): PinpadLink {
    this.#link?.detach()
    const link = new PinpadLink(stream, (data, ctx) => this.handle(data, ctx), this.#linkOptions, this.faults)
    // One dispatcher per link: listeners come and go through the set alone.
    link.onEvent((e) => {
      for (const l of [...this.#linkListeners]) l(e)
    })
    this.#link = link
    stream.onClose(() => {
      if (this.#link === link) this.#link = undefined
    })
    return link
  }

  detach(): void {
    this.#link?.detach()
    this.#link = undefined
  }

  /** Link-level events (commands, responses, NAKs…) of the attached link and any later one. */
  onLinkEvent(listener: (e: PinpadLinkEvent) => void): () => void {
    this.#linkListeners.add(listener)
    return () => this.#linkListeners.delete(listener)
  }

  /** Processes one command packet (sealed or not, §5.2.2) into its response packet (§6.2.2). */
  async handle(
    data: Buffer,
    ctx: { signal: AbortSignal; notify: (m: string) => void; sendPacket?: (p: Buffer) => void },
  ): Promise<Buffer | undefined> {
    const layer: LayerContext = { ...ctx, sendPacket: ctx.sendPacket ?? ((p) => ctx.notify(p.subarray(9).toString('latin1'))) }
    // A 1.x pinpad knows no secure session: a DC2 packet is just an unknown command to it.
    if (this.identity.specVersion === '1.08') return this.#process(data, layer)
    return this.secure.handle(data, layer, (clear, c) => this.#process(clear, c), () => this.close())
  }

  async #process(data: Buffer, { signal, notify }: LayerContext): Promise<Buffer | undefined> {
    const id = data.subarray(0, 3).toString('latin1')
    const spec = (COMMANDS as Record<string, CommandSpec<any, any>>)[id]
    const handler = (this.#handlers as Record<string, (req: any, ctx: HandlerContext) => Reply<any> | Promise<Reply<any>>>)[id]
    // §2.3.4: unknown commands — and commands this version lacks ("Abecs" ones on 1.x) — get ERR + ST_INVCALL.
    if (!spec || !handler || !commandAvailable(id, this.identity.specVersion)) return encodeResponse('ERR', ST.INVCALL)
    let request: unknown
    try {
      const lenient = id === 'DEX' && this.identity.specVersion === '2.20' ? dex220 : LENIENT_REQUESTS[id]
      request = lenient?.(data) ?? spec.decodeRequest(decodeCommand(data).blocks)
    } catch {
      return encodeResponse(id, ST.INVPARM)
    }
    const mandatory = (spec as { mandatory?: { request?: string[] } }).mandatory?.request ?? []
    if (mandatory.some((name) => (request as Record<string, unknown>)[name] === undefined)) return encodeResponse(id, ST.MANDAT)
    // §6.4.1: a command without a previous OPN gets OPN's processing first.
    if (!this.opened) this.opened = true
    let reply: Reply<any>
    try {
      reply = await handler(request, { pad: this, signal, notify })
    } catch {
      // The pinpad always answers a command it ACKed; a fault of the simulation is ST_INTERR (§3.1.1).
      return signal.aborted ? undefined : encodeResponse(id, ST.INTERR)
    }
    if (reply === 'aborted' || signal.aborted) return undefined
    if (reply.status !== ST.OK && !spec.resultStatuses?.includes(reply.status)) return encodeResponse(id, reply.status)
    let blocks: Buffer[]
    try {
      blocks = reply.blocks ?? (reply.response === undefined ? [] : spec.encodeResponse(reply.response, request))
    } catch {
      // Never silence: the host waits for the answer of a command the pinpad ACKed (§2.2.2).
      return encodeResponse(id, ST.INTERR)
    }
    // §3.1.1 ST_RSPOVRFL: an answer larger than a block (N3, §2.3) or a packet (§2.2.1).
    if (blocks.some((b) => b.length > MAX_BLOCK)) return encodeResponse(id, ST.RSPOVRFL)
    const response = encodeResponse(id, reply.status, blocks)
    return response.length > MAX_ABECS_DATA ? encodeResponse(id, ST.RSPOVRFL) : response
  }

  // --- Services the handlers share ----------------------------------------------------

  /** Key positions the pinpad has (as its key maps say, §3.1.3.2) and any loaded beyond. */
  keySlotSupported(index: number): boolean {
    return index < this.keys.positions || this.dukptKeyIndexes.includes(index)
  }

  /** KSN of the last PIN entry with this key (the initial KSN before any), for GIX. */
  currentKsn(keyIndex: number): Buffer | undefined {
    const found = this.keys.dukpt('DUKPT:TDES:PIN', keyIndex)
    return 'key' in found ? found.key.ksn : undefined
  }

  /** ST_OK, or why this PIN key cannot be used (checked before any PIN is asked for, §6.5.11). */
  pinKeyStatus(ref: PinKeyRef): number {
    const cipher = this.#pinCipher(ref)
    return typeof cipher === 'number' ? cipher : ST.OK
  }

  /** §3.1.3 SPE_MTHDPIN: "1" MK/WK:TDES, "3" DUKPT:TDES; DES ("0", "2") keys are never loaded. */
  #pinCipher(ref: PinKeyRef): number | (() => { key: Buffer; ksn: Buffer }) {
    if (!/^[0-3]$/.test(ref.method)) return ST.INVPARM
    if (ref.method === '3') {
      const found = this.keys.dukpt('DUKPT:TDES:PIN', ref.index)
      if ('status' in found) return found.status
      return () => {
        const { ksn, pinKey } = found.key.next()
        return { key: pinKey, ksn }
      }
    }
    if (ref.method === '1') {
      const found = this.keys.workingKey('MK:TDES:PIN', ref.index, ref.wkenc)
      if ('status' in found) return found.status
      return () => ({ key: found.key, ksn: Buffer.alloc(10) })
    }
    return this.keys.status(ref.method === '0' ? 'MK:DES:PIN' : 'DUKPT:DES:PIN', ref.index)
  }

  /**
   * Asks the cardholder for a PIN and returns it as an ISO-0 block encrypted under the next DUKPT
   * PIN key (the KSN advances on every entry) or the MK/WK working key (KSN zeros, §3.3.11), or the
   * ABECS status of the failure. A bare number is a DUKPT:TDES:PIN index.
   */
  async capturePin(
    ctx: HandlerContext,
    message: string,
    min: number,
    max: number,
    pan: string,
    key: number | PinKeyRef,
    inactivityMs = this.timings.pinIdleMs,
  ): Promise<PinCapture | number | 'aborted'> {
    const cipher = this.#pinCipher(typeof key === 'number' ? { method: '3', index: key } : key)
    if (typeof cipher === 'number') return cipher
    this.display.show2x16(message, 'PIN')
    const action = await within(this.clock, inactivityMs, ctx.signal, (signal) => this.cardholder.waitForPin(signal))
    if (action === 'aborted') return 'aborted'
    if (action === 'timeout') return ST.TIMEOUT
    if (action.type === 'key') return action.key === 'cancel' ? ST.CANCEL : ST.TIMEOUT
    if (action.pin.length < min || action.pin.length > max || !/^\d+$/.test(action.pin)) return ST.INVPARM
    const { key: pinKey, ksn } = cipher()
    // §6.5.11: PANs of 2 to 19 digits; shorter than 13, zeros on the left (ISO-0 takes 12 digits before the check digit).
    const pinBlock = encryptPinBlock(buildIso0PinBlock(action.pin, pan.padStart(13, '0')), pinKey)
    return { pinBlock, ksn, pin: action.pin }
  }

  /** The Transaction Sequence Counter (9F41) of the next chip transaction. */
  nextTransactionNumber(): number {
    return ++this.#transactions
  }

  /** PAN of the card read by GCR/GCX, for GPN with an empty PAN (§6.5.11). */
  cardPan(): string | undefined {
    return this.session?.card.pan
  }

  endCardSession(): void {
    this.session = undefined
  }

  /** CLO/CLX (§6.4.5): resources released, tracks for GTK erased, secure session and WKPAN gone. */
  close(): void {
    this.opened = false
    if (this.session) this.session.tracksForGtk = undefined
    this.secure.end()
    this.wkpan = undefined
  }
}
