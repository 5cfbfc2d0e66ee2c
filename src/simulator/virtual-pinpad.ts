/**
 * A software ABECS pinpad: the device logic behind the link (§6). It serves any ByteStream — the
 * in-memory pair of the bridge's built-in device, or a serial port (`mpos-bridge simulate`).
 */
import { COMMANDS, commandInfo, type CommandSpec } from '../abecs/commands/index.js'
import { decodeCommand, encodeResponse, MAX_BLOCK } from '../abecs/packet.js'
import { MalformedPacketError } from '../errors.js'
import { MAX_ABECS_DATA } from '../abecs/control.js'
import { ST } from '../abecs/return-codes.js'
import type { ByteStream } from '../transport/byte-stream.js'
import { DukptKeyStore, parseKsn } from '../crypto/dukpt.js'
import { buildIso0PinBlock, encryptPinBlock } from '../crypto/pin-block.js'
import { PinpadLink, type LinkFaults, type PinpadLinkEvent, type PinpadLinkOptions } from './pinpad-link.js'
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
import type { CardSession } from './card-session.js'

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
  /** A PIN screen without a key for this long ends with ST_TIMEOUT (§6.5.11: 1 minute). */
  pinInactivityMs: number
  /** Waiting for a card with CTLS on and no SPE_TIMEOUT ends after this (§6.9.1: 2 minutes). */
  contactlessIdleMs: number
}

export interface VirtualPinpadOptions {
  identity?: Partial<PinpadIdentity>
  dukpt?: Partial<DukptOptions>
  /** EMV tables loaded at start, or 'empty' (a pinpad straight from the factory). */
  tables?: { version: string; records: Buffer[] } | 'empty'
  cardholder?: Partial<CardholderOptions>
  link?: PinpadLinkOptions
  timings?: Partial<SimulatorTimings>
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

export class VirtualPinpad {
  readonly identity: PinpadIdentity
  readonly display = new Display()
  readonly cardholder: Cardholder
  readonly tables = new TableMemory()
  readonly timings: SimulatorTimings
  readonly dukptKeyIndexes: number[]
  readonly #keys = new Map<number, DukptKeyStore>()
  readonly #lastKsn = new Map<number, Buffer>()
  readonly #linkOptions: PinpadLinkOptions
  readonly #handlers: HandlerTable = { ...controlHandlers, ...basicHandlers, ...tableHandlers, ...cardHandlers }
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
    this.cardholder = new Cardholder(options.cardholder)
    this.timings = { noCardTimeoutMs: 3000, cancelAfterMs: 400, pinInactivityMs: 60_000, contactlessIdleMs: 120_000, ...options.timings }
    this.#linkOptions = options.link ?? {}
    const dukpt = { ...DEFAULT_DUKPT, ...options.dukpt }
    this.dukptKeyIndexes = [...dukpt.keyIndexes]
    for (const index of dukpt.keyIndexes) {
      this.#keys.set(index, new DukptKeyStore(Buffer.from(dukpt.bdk, 'hex'), parseKsn(dukpt.initialKsn)))
    }
    if (options.tables && options.tables !== 'empty') this.tables.preload(options.tables.version, options.tables.records)
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

  /** Processes one command packet into its response packet (§6.2.2). */
  async handle(data: Buffer, { signal, notify }: { signal: AbortSignal; notify: (m: string) => void }): Promise<Buffer | undefined> {
    const id = data.subarray(0, 3).toString('latin1')
    const spec = (COMMANDS as Record<string, CommandSpec<any, any>>)[id]
    const info = commandInfo(id)
    const handler = (this.#handlers as Record<string, (req: any, ctx: HandlerContext) => Reply<any> | Promise<Reply<any>>>)[id]
    // §2.3.4: unknown commands — and "Abecs" commands on a 1.x pinpad — get ERR + ST_INVCALL.
    if (!spec || !handler || (info?.tlv && this.identity.specVersion === '1.08')) return encodeResponse('ERR', ST.INVCALL)
    let request: unknown
    try {
      request = LENIENT_REQUESTS[id]?.(data) ?? spec.decodeRequest(decodeCommand(data).blocks)
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

  /** Key positions the pinpad has: 00–09 (as its key maps say, §3.1.3.2) and any loaded beyond. */
  keySlotSupported(index: number): boolean {
    return index < 10 || this.dukptKeyIndexes.includes(index)
  }

  /** KSN of the last PIN entry with this key (the initial KSN before any), for GIX. */
  currentKsn(keyIndex: number): Buffer | undefined {
    const store = this.#keys.get(keyIndex)
    if (!store) return undefined
    return this.#lastKsn.get(keyIndex) ?? store.ksn
  }

  /**
   * Asks the cardholder for a PIN and returns it as an ISO-0 block encrypted under the next
   * DUKPT PIN key (the KSN advances on every entry), or the ABECS status of the failure.
   */
  async capturePin(
    ctx: HandlerContext,
    message: string,
    min: number,
    max: number,
    pan: string,
    keyIndex: number,
    inactivityMs = this.timings.pinInactivityMs,
  ): Promise<PinCapture | number | 'aborted'> {
    const store = this.#keys.get(keyIndex)
    if (!store) return ST.ERRKEY
    this.display.show2x16(message, 'PIN')
    const action = await within(inactivityMs, ctx.signal, (signal) => this.cardholder.waitForPin(signal))
    if (action === 'aborted') return 'aborted'
    if (action === 'timeout') return ST.TIMEOUT
    if (action.type === 'key') return action.key === 'cancel' ? ST.CANCEL : ST.TIMEOUT
    if (action.pin.length < min || action.pin.length > max || !/^\d+$/.test(action.pin)) return ST.INVPARM
    const { ksn, pinKey } = store.next()
    this.#lastKsn.set(keyIndex, ksn)
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

  /** CLO/CLX (§6.4.5): resources released, tracks for GTK erased. */
  close(): void {
    this.opened = false
    if (this.session) this.session.tracksForGtk = undefined
  }
}
