/**
 * The host link against a hostile pinpad: scenarios, the hostile peer and the checks of
 * test/abecs/link-fuzz.test.ts (its header says what is checked). Runs in a worker thread
 * (test/helpers/fuzz-worker.ts); it must not import tap.
 */
import { getEventListeners } from 'node:events'
import fc from 'fast-check'
import { HostLink, type LinkTimings } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { COMMANDS, type CommandSpec } from '../../src/abecs/commands/index.js'
import { decodeResponse, encodeCommand, encodeResponse } from '../../src/abecs/packet.js'
import { FrameDecoder, type FrameEvent } from '../../src/abecs/frame.js'
import { abecsCrc } from '../../src/abecs/crc.js'
import { ACK, CAN, DC2, DC3, EOT, ETB, NAK, SYN } from '../../src/abecs/control.js'
import { memoryPair, type ByteStream } from '../../src/transport/byte-stream.js'
import { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import { VirtualClock } from '../helpers/virtual-clock.js'
import { count } from '../helpers/fuzz-worker.js'
import { controls, delayMs, delivery, frameBytes, garbage, mangle, pad3, pieces, stacks, watchCrashes, type Delivery, type Mangle } from '../helpers/fuzz.js'

const spec = (id: string) => (COMMANDS as Record<string, CommandSpec<any, any>>)[id]!

// --- The commands under test and their good answers ---------------------------------

type HostCommand = 'OPN' | 'GIN' | 'DSP' | 'GIX' | 'GKY' | 'RMC'
const BLOCKING: ReadonlySet<HostCommand> = new Set(['GKY', 'RMC'])
const REQUESTS: Record<HostCommand, object> = {
  OPN: {},
  GIN: { GIN_ACQIDX: '00' },
  DSP: { DSP_MSG: 'FUZZ' },
  GIX: { SPE_IDLIST: [0x8001, 0x8007] },
  GKY: {},
  RMC: { RMC_MSG: 'RETIRE O CARTAO' },
}
const HOST_COMMANDS = Object.keys(REQUESTS) as HostCommand[]
const commandPacket = (cmd: HostCommand) => encodeCommand(cmd, spec(cmd).encodeRequest(REQUESTS[cmd]))

const ginAnswer = (serial: string) =>
  encodeResponse(
    'GIN',
    0,
    spec('GIN').encodeResponse(
      { layout: '00', GIN_MNAME: 'GERTEC', GIN_MODEL: 'MOBI PIN 10', GIN_CTLSSUP: 'C', GIN_SOVER: 'OS', GIN_SPECVER: '2.12', GIN_MANVER: '001.00 261127', GIN_SERNUM: serial },
      REQUESTS.GIN,
    ),
  )
// PP_SERNUM is A..32: its length byte is 13h, 16h or 17h (escaped on the wire) for 19, 22, 23 characters.
const gixAnswer = (serial: string) => encodeResponse('GIX', 0, spec('GIX').encodeResponse({ PP_SERNUM: serial, PP_SPECVER: '2.12' }, REQUESTS.GIX))

/** Serial numbers whose answer's CRC has a byte equal to DC3, SYN or ETB (never escaped, §2.2.1). */
function specialCrcSerials(answer: (serial: string) => Buffer): string[] {
  const found = new Map<string, string>()
  for (let i = 0; found.size < 6 && i < 100_000; i++) {
    const serial = `VPP${String(i).padStart(13, '0')}`
    const crc = abecsCrc(answer(serial), ETB)
    for (const [half, byte] of [['hi', crc >> 8], ['lo', crc & 0xff]] as const) {
      if ((byte === DC3 || byte === SYN || byte === ETB) && !found.has(`${half}${byte}`)) found.set(`${half}${byte}`, serial)
    }
  }
  return [...found.values()]
}
const GIN_SPECIAL = specialCrcSerials(ginAnswer)
const GIX_SPECIAL = specialCrcSerials(gixAnswer)

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c))
const serialText = (max: number) => fc.string({ unit: printable, maxLength: max })

/** A correct answer to `cmd` (GKY: one of its answer statuses, §3.3.10). */
function goodAnswer(cmd: HostCommand): fc.Arbitrary<Buffer> {
  switch (cmd) {
    case 'GIN':
      return fc.oneof(serialText(20), fc.constantFrom(...GIN_SPECIAL)).map(ginAnswer)
    case 'GIX':
      // Serials of 19, 22 and 23 characters put DC3, SYN and ETB in PP_SERNUM's length (escaped).
      return fc.oneof(serialText(32), fc.constantFrom(...GIX_SPECIAL), fc.constantFrom(19, 22, 23).map((n) => 'S'.repeat(n))).map(gixAnswer)
    case 'GKY':
      return fc.constantFrom(0, 4, 5, 6, 7, 8, 13).map((s) => Buffer.from(`GKY${pad3(s)}`, 'latin1'))
    default:
      return fc.constant(Buffer.from(`${cmd}000`, 'latin1'))
  }
}

const latin1 = (s: string) => Buffer.from(s, 'latin1')
const ntm = () => fc.string({ unit: printable, minLength: 32, maxLength: 32 }).map((m) => latin1(`NTM000032${m}`))

/** Packet data a pinpad (or a broken one) might frame while `cmd` runs. */
function packetData(cmd: HostCommand): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 8, arbitrary: goodAnswer(cmd) },
    { weight: 2, arbitrary: ntm() },
    // An answer of another command (a cancelled or timed-out one, §2.2.2.3).
    { weight: 2, arbitrary: fc.constantFrom(...HOST_COMMANDS.filter((c) => c !== cmd), 'GCR', 'GOC', 'XYZ').map((id) => latin1(`${id}000`)) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 999 }).map((s) => latin1(`ERR${pad3(s)}`)) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 999 }).map((s) => latin1(`${cmd}${pad3(s)}`)) },
    // Right id, then anything: a bad status, broken blocks, a layout of the wrong size.
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.concat([latin1(cmd), b])) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)) },
    // Past the 2049-byte limit (§2.2.1).
    { weight: 1, arbitrary: fc.integer({ min: 2050, max: 2600 }).map((n) => Buffer.concat([latin1(`${cmd}000`), Buffer.alloc(n - 6, 0x41)])) },
  )
}

type Chunk = { kind: 'frame'; data: Buffer; mangle: Mangle } | { kind: 'raw'; bytes: Buffer }

function chunk(cmd: HostCommand): fc.Arbitrary<Chunk> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('frame' as const), data: packetData(cmd), mangle: mangle() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: controls() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: garbage() }) },
  )
}

const chunkBytes = (c: Chunk) => (c.kind === 'raw' ? c.bytes : frameBytes(c.data, c.mangle))
/**
 * Packets a host may legitimately take from this chunk: those whose whole good frame its bytes end
 * with — a good frame, the second start of 'doubled', and a raw SYN (or an escape broken by a SYN)
 * right after the frame's own SYN, where a receiver restarting on the SYN (§2.2.3) finds the packet
 * intact behind it.
 */
const goodFrames = (c: Chunk) => {
  if (c.kind !== 'frame') return []
  const whole = frameBytes(c.data, { kind: 'none' })
  const bytes = frameBytes(c.data, c.mangle)
  return bytes.length >= whole.length && bytes.subarray(bytes.length - whole.length).equals(whole) ? [c.data] : []
}

/**
 * Every good packet present in the bytes as they went down the wire: from each SYN, the unescaped
 * data up to ETB and two CRC bytes that check out (§2.2.1). Chunks interleave in time (a spontaneous
 * frame's SYN may land in the CRC slot of a frame whose CRC byte was corrupted from SYN): the wire,
 * not the scenario's intent, says what a receiver could have taken. Written independently of
 * FrameDecoder; permissive on timing (a 2 s gap only ever loses packets).
 */
export function framesOnWire(wire: Buffer, maxLength = 4096): Buffer[] {
  const found: Buffer[] = []
  for (let i = 0; i < wire.length; i++) {
    if (wire[i] !== SYN) continue
    const data: number[] = []
    for (let j = i + 1; j < wire.length && data.length <= maxLength; j++) {
      const b = wire[j]!
      if (b === SYN) break // a restart: scanned from there on its own
      if (b === ETB) {
        if (j + 2 < wire.length && ((wire[j + 1]! << 8) | wire[j + 2]!) === abecsCrc(Buffer.from(data), ETB)) found.push(Buffer.from(data))
        break
      }
      if (b === DC3) {
        const next = wire[++j]
        if (next === undefined || next === SYN) break
        data.push((next - 0x20) & 0xff)
      } else data.push(b)
    }
  }
  return found
}

interface Emission {
  delayMs: number
  chunk: Chunk
  delivery: Delivery
}

const emission = (cmd: HostCommand): fc.Arbitrary<Emission> => fc.record({ delayMs: delayMs(), chunk: chunk(cmd), delivery: delivery() })
const sendNow = (c: Chunk): Emission => ({ delayMs: 0, chunk: c, delivery: { cuts: [], critical: false, gapMs: 0 } })
const control = (byte: number): Chunk => ({ kind: 'raw', bytes: Buffer.of(byte) })
const good = (data: Buffer): Chunk => ({ kind: 'frame', data, mangle: { kind: 'none' } })

/** What the pinpad does when the host's command arrives: mostly right, often not. */
function onCommand(cmd: HostCommand): fc.Arbitrary<readonly Emission[]> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(delayMs(), fc.array(ntm(), { maxLength: 2 }), goodAnswer(cmd), delivery(), delayMs())
        .map(([ackDelay, notes, answer, d, answerDelay]) => [
          { ...sendNow(control(ACK)), delayMs: ackDelay },
          ...notes.map((n) => sendNow(good(n))),
          { delayMs: answerDelay, chunk: good(answer), delivery: d },
        ]),
    },
    { weight: 1, arbitrary: fc.constant([sendNow(control(NAK))]) },
    { weight: 1, arbitrary: fc.constant([sendNow(control(ACK))]) },
    { weight: 1, arbitrary: fc.constant([]) },
    // Acknowledged, then anything: broken answers (NAKed by the host), notifications, noise…
    { weight: 3, arbitrary: fc.array(emission(cmd), { minLength: 1, maxLength: 4 }).map((rest) => [sendNow(control(ACK)), ...rest]) },
    { weight: 2, arbitrary: fc.array(emission(cmd), { minLength: 1, maxLength: 4 }) },
  )
}

/** What the pinpad does on the host's NAK of a bad answer (§2.2.2.2: send it again). */
function onNak(cmd: HostCommand): fc.Arbitrary<readonly Emission[]> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(goodAnswer(cmd), delivery(), delayMs()).map(([a, d, delay]) => [{ delayMs: delay, chunk: good(a), delivery: d }]) },
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 3, arbitrary: fc.array(emission(cmd), { minLength: 1, maxLength: 3 }) },
  )
}

/** What the pinpad does on CAN (§2.2.2.3: EOT) — perhaps while its answer is half-sent. */
function onCan(cmd: HostCommand): fc.Arbitrary<readonly Emission[]> {
  return fc.oneof(
    { weight: 4, arbitrary: delayMs().map((d) => [{ ...sendNow(control(EOT)), delayMs: d }]) },
    {
      weight: 2,
      arbitrary: fc.tuple(goodAnswer(cmd), fc.nat()).map(([answer, at]) => {
        const frame = frameBytes(answer, { kind: 'none' })
        const cut = 1 + (at % (frame.length - 1))
        return [sendNow({ kind: 'raw', bytes: frame.subarray(0, cut) }), sendNow(control(EOT)), sendNow({ kind: 'raw', bytes: frame.subarray(cut) })]
      }),
    },
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: fc.array(emission(cmd), { minLength: 1, maxLength: 3 }) },
  )
}

const sometimes = <T>(arb: fc.Arbitrary<T>, weight: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 10 - weight, arbitrary: fc.constant(undefined) }, { weight, arbitrary: arb })

interface HostScenario {
  /** Mostly the specification's (2 s, 10 s, 500 ms, 3 tries), sometimes what a caller may set instead. */
  timings: Partial<LinkTimings>
  command: HostCommand
  idleBefore: Chunk[]
  idleGapMs: number
  onCommand: (readonly Emission[])[]
  onNak: (readonly Emission[])[]
  onCan: (readonly Emission[])[]
  spontaneous: Emission[]
  abortAtMs: number | undefined
  cancelAtMs: number | undefined
  /** After the exchange, cancel() while idle (the CAN/EOT handshake open() does) with the hostile pinpad still there. */
  cancelAfter: boolean
  closeAtMs: number | undefined
  idleAfter: Chunk[]
}

/** Link timings: the specification's, or others a caller may choose (the bridge shortens them for a connect budget). */
const timings: fc.Arbitrary<Partial<LinkTimings>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        ackTimeoutMs: fc.constantFrom(2000, 250, 50),
        responseTimeoutMs: fc.constantFrom(10_000, 500, 100),
        interByteTimeoutMs: fc.constantFrom(2000, 1500, 100, 0),
        silenceMs: fc.constantFrom(500, 50),
        cancelTimeoutMs: fc.constantFrom(2000, 250),
        maxSends: fc.integer({ min: 1, max: 4 }),
        maxResponseNaks: fc.integer({ min: 0, max: 4 }),
        maxCancels: fc.integer({ min: 1, max: 3 }),
      },
      { requiredKeys: [] },
    ),
  },
)

function scenarioFor(command: HostCommand): fc.Arbitrary<HostScenario> {
  return fc.record({
    timings,
    command: fc.constant(command),
    idleBefore: fc.array(chunk(command), { maxLength: 2 }),
    idleGapMs: fc.constantFrom(0, 0, 0, 10, 600, 2500),
    onCommand: fc.array(onCommand(command), { minLength: 1, maxLength: 4 }),
    onNak: fc.array(onNak(command), { maxLength: 4 }),
    onCan: fc.array(onCan(command), { maxLength: 4 }),
    spontaneous: fc.array(emission(command), { maxLength: 3 }),
    // A blocking command waits forever (§2.2.2): its caller always gives up at some point.
    abortAtMs: BLOCKING.has(command) ? fc.integer({ min: 0, max: 30_000 }) : sometimes(fc.integer({ min: 0, max: 15_000 }), 2),
    cancelAtMs: sometimes(fc.integer({ min: 0, max: 15_000 }), 1),
    cancelAfter: fc.boolean(),
    closeAtMs: sometimes(fc.integer({ min: 0, max: 15_000 }), 1),
    idleAfter: fc.array(chunk(command), { maxLength: 2 }),
  })
}

// Built once per command, not per case: building arbitraries takes time.
const scenario: fc.Arbitrary<HostScenario> = fc.oneof(...HOST_COMMANDS.map(scenarioFor))

// --- The hostile pinpad ---------------------------------------------------------------

/** Plays a scenario's reactions to what the host sends, and checks what the host sends. */
class FuzzPeer {
  readonly violations: string[] = []
  readonly goodSent: Buffer[] = []
  /** Every byte written to the host, in order (see framesOnWire). */
  readonly #wire: Buffer[] = []
  commands = 0
  naks = 0
  cans = 0
  #stopped = false
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #unsubscribe: () => void
  readonly #decoder: FrameDecoder

  constructor(
    readonly stream: ByteStream,
    readonly command: Buffer,
    readonly s: HostScenario,
  ) {
    this.#decoder = new FrameDecoder((e) => this.#onHost(e), { interByteTimeoutMs: 0 })
    this.#unsubscribe = stream.onData((c) => this.#decoder.push(c))
  }

  #onHost(e: FrameEvent): void {
    if (this.#stopped) return
    if (e.type === 'frame') {
      if (!e.data.equals(this.command)) this.violations.push(`the host sent a packet that is not its command: ${JSON.stringify(e.data.toString('latin1'))}`)
      else this.play(this.s.onCommand[this.commands++] ?? [])
    } else if (e.type === 'control' && e.byte === NAK) {
      this.play(this.s.onNak[this.naks++] ?? [])
    } else if (e.type === 'control' && e.byte === CAN) {
      this.play(this.s.onCan[this.cans++] ?? [])
    } else if (e.type === 'control') {
      this.violations.push(`the host sent ${e.byte === ACK ? 'ACK (a good response is never ACKed, §2.2.2.2)' : `control byte ${e.byte.toString(16)}h`}`)
    } else {
      this.violations.push(`the host sent ${e.type === 'noise' ? `${e.count} stray bytes` : `a broken packet (${e.reason})`}`)
    }
  }

  play(emissions: readonly Emission[]): void {
    let at = 0
    for (const em of emissions) {
      at += em.delayMs
      this.goodSent.push(...goodFrames(em.chunk))
      const parts = pieces(chunkBytes(em.chunk), em.delivery)
      for (const part of parts) {
        this.#at(at, () => {
          this.#wire.push(part)
          this.stream.write(part)
        })
        at += em.delivery.gapMs
      }
    }
  }

  #at(ms: number, fn: () => void): void {
    if (ms <= 0) return fn()
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      if (!this.#stopped) fn()
    }, ms)
    this.#timers.add(timer)
  }

  /** Packets the host may legitimately have taken: those meant to be good and any the wire formed. */
  goodOnWire(): Buffer[] {
    return [...this.goodSent, ...framesOnWire(Buffer.concat(this.#wire))]
  }

  stop(): void {
    this.#stopped = true
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#unsubscribe()
  }
}

// --- Checks -----------------------------------------------------------------------------

const LINK_ERRORS = new Set([
  'MPOS_ERR_LINK_ACK_TIMEOUT',
  'MPOS_ERR_LINK_NAK_LIMIT',
  'MPOS_ERR_LINK_RESPONSE_TIMEOUT',
  'MPOS_ERR_LINK_BAD_RESPONSE',
  'MPOS_ERR_LINK_CANCELLED',
  'MPOS_ERR_LINK_CANCEL_FAILED',
  'MPOS_ERR_LINK_CLOSED',
])
// A sealed (DC2) answer with no secure session open cannot be read (§5.2): a typed error too.
const ANSWER_ERRORS = new Set(['MPOS_ERR_PINPAD_STATUS', 'MPOS_ERR_MALFORMED_RESPONSE', 'MPOS_ERR_MALFORMED_PACKET', 'MPOS_ERR_SECURE_SESSION', 'MPOS_ERR_SECURE_PACKET'])

type Outcome = { ok: true; value: unknown } | { ok: false; error: any }
const settle = (p: Promise<unknown>, into: (o: Outcome) => void) =>
  p.then(
    (value) => into({ ok: true, value }),
    (error) => into({ ok: false, error }),
  )

/** What PinpadClient makes of a packet, as JSON (undefined when it would be an error). */
function clientView(cmd: HostCommand, data: Buffer): string | undefined {
  try {
    const packet = decodeResponse(data)
    if (packet.id !== cmd || (packet.status !== 0 && !spec(cmd).resultStatuses?.includes(packet.status))) return undefined
    return JSON.stringify(spec(cmd).decodeResponse(packet.blocks, REQUESTS[cmd], packet.status))
  } catch {
    return undefined
  }
}

const describe = (o: Outcome) => (o.ok ? `answer ${JSON.stringify(o.value)}` : `${o.error?.code ?? 'untyped error'}: ${o.error?.message ?? String(o.error)}`)

const GIN_REQUEST = { GIN_ACQIDX: '00' }
let expectedGin: string | undefined
/** One virtual pinpad plugged into every case's pair in turn (it keeps no link state between them). */
const pad = new VirtualPinpad({ cardholder: { autoCard: null } })

async function hostCase(s: HostScenario, clock: VirtualClock, crashes: () => unknown[]): Promise<void> {
  const [hostEnd, padEnd] = memoryPair()
  const link = new HostLink(hostEnd, s.timings) // the specification's timings (mostly): the clock is virtual
  const t = link.timings
  const client = new PinpadClient(link)
  const peer = new FuzzPeer(padEnd, commandPacket(s.command), s)
  const fail: (why: string) => never = (why) => {
    throw new Error(`${why}\n  command ${s.command}; host sent the command ${peer.commands}×, NAK ${peer.naks}×, CAN ${peer.cans}×; timings ${JSON.stringify(s.timings)}`)
  }

  // Noise while idle, then the command.
  peer.play(s.idleBefore.map(sendNow))
  await clock.advance(s.idleGapMs)

  const abort = new AbortController()
  let outcome: Outcome | undefined
  const notes: string[] = []
  const onNotification = (m: string) => notes.push(m)
  settle(client.call(s.command as 'OPN', REQUESTS[s.command] as never, { signal: abort.signal, onNotification }), (o) => (outcome = o))
  peer.play(s.spontaneous)
  const happened: { aborted: boolean; closed: boolean; cancel: Outcome | 'not called' | 'running' } = { aborted: false, closed: false, cancel: 'not called' }
  const timers = [
    s.abortAtMs !== undefined &&
      setTimeout(() => {
        happened.aborted = true
        abort.abort()
      }, s.abortAtMs),
    s.cancelAtMs !== undefined &&
      setTimeout(() => {
        happened.cancel = 'running'
        settle(link.cancel(), (o) => (happened.cancel = o))
      }, s.cancelAtMs),
    s.closeAtMs !== undefined &&
      setTimeout(() => {
        happened.closed = true
        ;(padEnd as ReturnType<typeof memoryPair>[1]).shutdown('unplugged')
      }, s.closeAtMs),
  ]
  // Ten virtual minutes: far beyond the longest legitimate exchange (3 × 2 s of ACK waits,
  // 4 × 10 s of response deadlines, the silences, 3 × 2 s of CAN waits).
  const run = await clock.run(() => outcome !== undefined && happened.cancel !== 'running', 600_000)
  for (const timer of timers) if (timer) clearTimeout(timer)
  const cansDuringExchange = peer.cans
  let idleCancel: Outcome | undefined
  if (s.cancelAfter && outcome) {
    settle(link.cancel(), (o) => (idleCancel = o))
    await clock.run(() => idleCancel !== undefined, 600_000)
    if (!idleCancel) fail('cancel() while idle never settled')
    const c = idleCancel as Outcome
    if (!c.ok && !LINK_ERRORS.has(c.error?.code)) fail(`cancel() while idle failed with ${describe(c)}`)
    if (peer.cans - cansDuringExchange > t.maxCancels) fail(`cancel() while idle sent CAN ${peer.cans - cansDuringExchange} times (at most ${t.maxCancels})`)
  }
  peer.stop()

  const crashed = crashes()
  if (crashed.length) fail(`thrown out of the link: ${stacks(crashed)}`)
  if (clock.errors.length) fail(`a timer callback threw: ${stacks(clock.errors)}`)
  if (!outcome) return fail(`the exchange never settled (${run === 'idle' ? 'nothing left that could wake it: a hang' : 'still running after 10 minutes'})`)
  const { aborted, closed, cancel } = happened
  if (cancel === 'running') fail('cancel() never settled')
  if (typeof cancel === 'object' && !cancel.ok && !LINK_ERRORS.has(cancel.error?.code)) fail(`cancel() failed with ${describe(cancel)}`)
  if (peer.violations.length) fail(peer.violations.join('\n'))
  // The link lets go of the caller's signal once the exchange is over.
  const listeners = getEventListeners(abort.signal, 'abort').length
  if (listeners) fail(`${listeners} listener(s) left on the caller's AbortSignal`)
  if (peer.commands > t.maxSends) fail(`the command was sent ${peer.commands} times (§2.2.2.1: at most ${t.maxSends})`)
  if (peer.naks > t.maxResponseNaks) fail(`the host NAKed ${peer.naks} answers (§2.2.2.2: at most ${t.maxResponseNaks})`)
  if (cansDuringExchange > t.maxCancels) fail(`the host sent CAN ${cansDuringExchange} times (§2.2.2.3: at most ${t.maxCancels})`)
  // NTM messages reach the caller only from good NTM packets (§2.3.3).
  const good = peer.goodOnWire()
  const sentNotes = new Set(good.filter((p) => p.subarray(0, 3).toString('latin1') === 'NTM').map((p) => p.subarray(9).toString('latin1')))
  for (const note of notes) if (!sentNotes.has(note)) fail(`notified ${JSON.stringify(note)}, which the pinpad never sent in a good NTM packet`)

  const o: Outcome = outcome
  count(o.ok ? 'answered' : String(o.error?.code).replace('MPOS_ERR_', ''))
  if (o.ok) {
    const got = JSON.stringify(o.value)
    if (!good.some((p) => clientView(s.command, p) === got)) fail(`answered ${got}, which the pinpad never sent in a good frame`)
  } else {
    const code: string | undefined = o.error?.code
    if (!code || !(LINK_ERRORS.has(code) || ANSWER_ERRORS.has(code))) fail(`failed with an untyped or unexpected error: ${describe(o)}`)
    if (code === 'MPOS_ERR_LINK_CLOSED' && !closed) fail(`${describe(o)} though the stream was never closed`)
    if (code === 'MPOS_ERR_LINK_CANCELLED' && !aborted && cancel === 'not called') fail(`${describe(o)} though nobody cancelled`)
    if (code === 'MPOS_ERR_LINK_RESPONSE_TIMEOUT' && BLOCKING.has(s.command)) fail(`${describe(o)}: a blocking command has no deadline (§2.2.2)`)
    // A sealed packet (DC2 first, §5.2) carries no readable id: the secure errors need one of those.
    const sealed = code === 'MPOS_ERR_SECURE_SESSION' || code === 'MPOS_ERR_SECURE_PACKET'
    const fromGood = (p: Buffer) => (sealed ? p[0] === DC2 : ['ERR', s.command].includes(p.subarray(0, 3).toString('latin1')))
    if (ANSWER_ERRORS.has(code) && !good.some(fromGood)) {
      fail(`${describe(o)} though the pinpad never sent a good ${sealed ? 'sealed (DC2) frame' : 'frame with that id'}`)
    }
  }

  // The next command, against a well-behaved pinpad, after more noise while idle.
  let next: Outcome | undefined
  if (!link.closed) {
    const idle = new FuzzPeer(padEnd, Buffer.alloc(0), s)
    idle.play(s.idleAfter.map(sendNow))
    await clock.drain()
    idle.stop()
    pad.attach(padEnd)
  }
  settle(client.call('GIN', GIN_REQUEST), (o) => (next = o))
  await clock.run(() => next !== undefined, 600_000)
  const n = next as Outcome | undefined
  if (link.closed) {
    if (n?.ok !== false || n.error?.code !== 'MPOS_ERR_LINK_CLOSED') fail(`after the stream closed, the next command gave ${n ? describe(n) : 'nothing'}`)
  } else if (!n?.ok || JSON.stringify(n.value) !== expectedGin) {
    fail(`the next command against a well-behaved pinpad gave ${n ? describe(n) : 'nothing (a hang)'} (the fuzzed one: ${describe(o)})`)
  }

  pad.detach()
  await link.close()
  await clock.run(() => false, 600_000)
  if (clock.pendingTimers) fail(`${clock.pendingTimers} timer(s) still pending after the link and the pinpad closed`)
  const late = crashes()
  if (late.length) fail(`thrown after the exchange: ${stacks(late)}`)
}

/** The property, for test/abecs/link-fuzz.test.ts (run in a worker: see fuzz-worker.ts). */
export async function hostLinkProperty(): Promise<fc.IAsyncPropertyWithHooks<[HostScenario]>> {
  const crashes = watchCrashes()
  // The reference answer of the well-behaved pinpad.
  const clock = new VirtualClock()
  clock.install()
  try {
    const [hostEnd, padEnd] = memoryPair()
    pad.attach(padEnd)
    const link = new HostLink(hostEnd)
    let o: Outcome | undefined
    settle(new PinpadClient(link).call('GIN', GIN_REQUEST), (r) => (o = r))
    await clock.run(() => o !== undefined)
    if (!o?.ok) throw new Error(`the reference GIN failed: ${describe(o!)}`)
    expectedGin = JSON.stringify(o.value)
    pad.detach()
    await link.close()
  } finally {
    clock.uninstall()
  }
  return fc.asyncProperty(scenario, async (s) => {
    const clock = new VirtualClock()
    clock.install()
    try {
      await hostCase(s, clock, crashes)
    } finally {
      clock.uninstall()
    }
  })
}
