/**
 * The virtual pinpad against a hostile host: cases and checks of test/simulator/pinpad-fuzz.test.ts
 * (its header says what is checked). Runs in a worker thread (test/helpers/fuzz-worker.ts); it
 * must not import tap.
 */
import fc from 'fast-check'
import { HostLink, type LinkTrace } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { COMMANDS, commandInfo, isBlocking, type CommandSpec } from '../../src/abecs/commands/index.js'
import { decodeCommand, decodeResponse, encodeCommand } from '../../src/abecs/packet.js'
import { FrameDecoder, type FrameEvent } from '../../src/abecs/frame.js'
import { CAN, EOT, MAX_ABECS_DATA, NAK } from '../../src/abecs/control.js'
import { RETURN_CODES, ST } from '../../src/abecs/return-codes.js'
import { SPE } from '../../src/abecs/params.js'
import { buildEmv } from '../../src/abecs/emv-tlv.js'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import type { LinkFaults } from '../../src/simulator/pinpad-link.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { SPEC_EXAMPLES, example, type SpecExample } from '../fixtures/spec-examples.js'
import { VirtualClock } from '../helpers/virtual-clock.js'
import { count } from '../helpers/fuzz-worker.js'
import { controls, delayMs, delivery, frameBytes, garbage, mangle, pieces, stacks, watchCrashes, type Delivery, type Mangle } from '../helpers/fuzz.js'

const spec = (id: string) => (COMMANDS as Record<string, CommandSpec<any, any>>)[id]
const latin1 = (s: string) => Buffer.from(s, 'latin1')
const cmd = (id: string, request: unknown) => encodeCommand(id, spec(id)!.encodeRequest(request))

type Outcome = { ok: true; value: unknown } | { ok: false; error: any }
const settle = (p: Promise<unknown>, into: (o: Outcome) => void) =>
  p.then(
    (value) => into({ ok: true, value }),
    (error) => into({ ok: false, error }),
  )
const describe = (o: Outcome | undefined) =>
  !o ? 'nothing (it never settled)' : o.ok ? `answer ${JSON.stringify(o.value)}` : `${o.error?.code ?? 'untyped error'}: ${o.error?.message ?? String(o.error)}`

/** Runs `body` under a fresh virtual clock, failing on anything thrown outside it. */
async function underClock(take: () => unknown[], body: (clock: VirtualClock) => Promise<void>): Promise<void> {
  const clock = new VirtualClock()
  clock.install()
  try {
    await body(clock)
  } finally {
    clock.uninstall()
  }
  const crashed = take()
  if (crashed.length) throw new Error(`thrown outside the code's own promises:\n${stacks(crashed)}`)
  if (clock.errors.length) throw new Error(`a timer callback threw:\n${stacks(clock.errors)}`)
}

// --- 1. Noise, then a command -------------------------------------------------------

/** Commands the host sends after the noise, with the answer a fresh pinpad gives (filled in first). */
const CHECKED = {
  OPN: {},
  GIN: { GIN_ACQIDX: '00' },
  DSP: { DSP_MSG: 'APOS O RUIDO' },
  GIX: { SPE_IDLIST: [0x8001, 0x8004, 0x8007] },
  GTS: { GTS_ACQIDX: '00' },
} as const
type Checked = keyof typeof CHECKED
const expected = new Map<Checked, string>()

type NoiseChunk = { kind: 'frame'; data: Buffer; mangle: Mangle } | { kind: 'raw'; bytes: Buffer }
interface Noise {
  delayMs: number
  chunk: NoiseChunk
  delivery: Delivery
}

/** Packet data inside the noise: real commands (answerable if the frame survives) or anything. */
const noisePacket = fc.oneof(
  fc.constantFrom('OPN', 'GIN00200', 'GKY', 'DSP000', 'CLO000', 'XYZ').map(latin1),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.integer({ min: 2050, max: 2400 }).map((n) => Buffer.alloc(n, 0x30)),
)
const noiseChunk: fc.Arbitrary<NoiseChunk> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: garbage() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: controls() }) },
  // Mostly broken frames: an intact one is answered, and then the strict checks step aside.
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('frame' as const), data: noisePacket, mangle: mangle().filter((m) => m.kind !== 'none') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('frame' as const), data: noisePacket, mangle: fc.constant<Mangle>({ kind: 'none' }) }) },
)

interface NoiseCase {
  /** The pinpad link's silence before a NAK and inter-byte timeout: 2.12's (500 ms, 2 s), 2.20's 1.5 s, or short ones. */
  link: { silenceMs: number; interByteTimeoutMs: number }
  noise: Noise[]
  /** Virtual ms between the end of the noise and the command; 'quiet' waits until nothing is pending. */
  gapMs: number | 'quiet'
  command: Checked
}

const noiseCase: fc.Arbitrary<NoiseCase> = fc.record({
  link: fc.oneof(
    { weight: 3, arbitrary: fc.constant({ silenceMs: 500, interByteTimeoutMs: 2000 }) },
    { weight: 1, arbitrary: fc.record({ silenceMs: fc.constantFrom(500, 50), interByteTimeoutMs: fc.constantFrom(2000, 1500, 100) }) },
  ),
  noise: fc.array(fc.record({ delayMs: delayMs(), chunk: noiseChunk, delivery: delivery() }), { minLength: 1, maxLength: 4 }),
  gapMs: fc.oneof(fc.constant('quiet' as const), fc.constantFrom(0, 1, 50, 499, 500, 501, 1999, 2000, 2001, 3000)),
  command: fc.constantFrom(...(Object.keys(CHECKED) as Checked[])),
})

const noiseBytes = (c: NoiseChunk) => (c.kind === 'raw' ? c.bytes : frameBytes(c.data, c.mangle))

/** A virtual pinpad per link setting, plugged into each case's pair in turn (like a device re-plugged). */
const noisePads = new Map<string, VirtualPinpad>()
function noisePadFor(link: NoiseCase['link']): VirtualPinpad {
  const key = JSON.stringify(link)
  let pad = noisePads.get(key)
  if (!pad) noisePads.set(key, (pad = new VirtualPinpad({ link, cardholder: { autoCard: null, autoPin: null } })))
  return pad
}

async function noiseThenCommand(c: NoiseCase, clock: VirtualClock): Promise<void> {
  const [hostEnd, padEnd] = memoryPair()
  const noisePad = noisePadFor(c.link)
  noisePad.attach(padEnd)
  // What the pinpad receives, decoded as its own link does (same limits, same inter-byte timeout,
  // same virtual clock), and when each byte arrived.
  const seen = { frames: [] as Buffer[], bad: 0, cans: 0, lastByteAt: [] as number[] }
  const reference = new FrameDecoder(
    (e) => {
      if (e.type === 'frame') seen.frames.push(e.data)
      else if (e.type === 'bad-frame') seen.bad++
      else if (e.type === 'control' && e.byte === CAN) seen.cans++
    },
    { maxLength: MAX_ABECS_DATA, interByteTimeoutMs: c.link.interByteTimeoutMs },
  )
  padEnd.onData((chunk) => {
    seen.lastByteAt.push(Date.now())
    reference.push(chunk)
  })
  // What the pinpad sends, decoded strictly, with arrival times.
  const sent = { events: [] as Array<FrameEvent & { at: number }>, raw: [] as Buffer[] }
  const recorder = new FrameDecoder((e) => sent.events.push({ ...e, at: Date.now() }), { interByteTimeoutMs: 0 })
  hostEnd.onData((chunk) => {
    sent.raw.push(chunk)
    recorder.push(chunk)
  })
  const fail = (why: string): never => {
    throw new Error(`${why}\n  the pinpad saw ${seen.frames.length} good packet(s), ${seen.bad} bad, ${seen.cans} CAN; it sent ${JSON.stringify(Buffer.concat(sent.raw).toString('hex'))}`)
  }

  // The noise, piece by piece, over (virtual) time.
  let at = 0
  for (const n of c.noise) {
    at += n.delayMs
    for (const piece of pieces(noiseBytes(n.chunk), n.delivery)) {
      if (at === 0) hostEnd.write(piece)
      else setTimeout(() => hostEnd.write(piece), at)
      at += n.delivery.gapMs
    }
  }
  await clock.advance(at)
  if (c.gapMs === 'quiet') await clock.run(() => false, 60_000)
  else await clock.advance(c.gapMs)

  // Until the command, only EOT and (delayed) NAK — unless the noise carried a valid packet.
  const beforeRaw = Buffer.concat(sent.raw)
  if (!seen.frames.length) {
    const naks = sent.events.filter((e) => e.type === 'control' && e.byte === NAK)
    const eots = sent.events.filter((e) => e.type === 'control' && e.byte === EOT)
    if (beforeRaw.some((b) => b !== NAK && b !== EOT)) fail('the pinpad answered noise with something other than NAK or EOT')
    if (eots.length !== seen.cans) fail(`${eots.length} EOT for ${seen.cans} CAN (§2.2.2.3: one EOT per CAN)`)
    if (naks.length > seen.bad) fail(`${naks.length} NAK for ${seen.bad} bad packet(s)`)
    if (c.gapMs === 'quiet' && seen.bad && !naks.length) fail('a bad packet was never NAKed (§6.2.1)')
    for (const nak of naks) {
      const last = Math.max(...seen.lastByteAt.filter((t) => t <= nak.at))
      if (nak.at - last < c.link.silenceMs) fail(`NAK ${nak.at - last} ms after the last byte received (§6.2.1: after ${c.link.silenceMs} ms of silence)`)
    }
  }

  const link = new HostLink(hostEnd)
  const client = new PinpadClient(link)
  let outcome: Outcome | undefined
  settle(client.call(c.command as 'OPN', CHECKED[c.command] as never), (o) => (outcome = o))
  await clock.run(() => outcome !== undefined, 600_000)

  if (sent.events.some((e) => e.type === 'bad-frame' || e.type === 'noise')) fail('the pinpad sent a broken frame or stray bytes')
  const noiseHadPackets = seen.frames.some((f) => !f.equals(cmd(c.command, CHECKED[c.command])))
  if (!noiseHadPackets) {
    if (!outcome?.ok || JSON.stringify(outcome.value) !== expected.get(c.command)) {
      fail(`${c.command} after the noise gave ${describe(outcome)}, a fresh pinpad ${expected.get(c.command)}`)
    }
    if (c.command === 'DSP' && noisePad.display.screen.lines[0] !== 'APOS O RUIDO') fail(`DSP shows ${JSON.stringify(noisePad.display.screen)}`)
  } else if (!outcome || (!outcome.ok && !/^MPOS_ERR_/.test(outcome.error?.code ?? ''))) {
    // The pinpad may have answered that packet first, and the host taken it (§2.2.2): any typed outcome.
    fail(`${c.command} after noise holding a valid packet gave ${describe(outcome)}`)
  }

  noisePad.detach()
  await link.close()
  await clock.run(() => false, 600_000)
  if (clock.pendingTimers) fail(`${clock.pendingTimers} timer(s) left once the link and the pinpad closed`)
}

// --- 2. Valid frames, random data ---------------------------------------------------

const ALL_IDS = Object.keys(COMMANDS)
/** ABECS commands the simulator does not implement (§3), and ids that are not commands at all. */
const OTHER_IDS = ['CHP', 'MNU', 'GCD', 'EBX', 'ENB', 'GDU', 'DWK', 'CNG', 'ERR', 'NTM', 'XYZ', 'opn', 'G1N', '\x12OP']

/** GPN for the PAN of the card just read (§6.5.11: an empty PAN). */
const GPN_CARD_PAN = cmd('GPN', { GPN_METHOD: '3', GPN_KEYIDX: 1, GPN_WKENC: '0'.repeat(32), GPN_PANLEN: 0, GPN_PAN: '', entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: 'SENHA' }] })

/** Valid requests, from the specification's worked examples and typed layouts. */
const SEEDS: Buffer[] = [
  ...(Object.keys(SPEC_EXAMPLES) as SpecExample[]).filter((k) => k.endsWith('_COMMAND')).map(example),
  latin1('OPN'),
  latin1('OPN000'),
  ...['00', '02', '03', '05', '99'].map((i) => cmd('GIN', { GIN_ACQIDX: i })),
  cmd('GIX', {}),
  cmd('GIX', { SPE_IDLIST: [0x8001, 0x8035, 0x9101, 0x9300, 0x9301, 0x8062, 0x7fff] }),
  cmd('GKY', {}),
  cmd('CKE', { CKE_KEY: '1', CKE_MAG: '0', CKE_ICC: '1', CKE_CTLS: '0' }),
  cmd('CKE', { CKE_KEY: '0', CKE_MAG: '0', CKE_ICC: '2' }),
  cmd('CEX', { SPE_CEXOPT: '111000' }),
  cmd('GPN', { GPN_METHOD: '3', GPN_KEYIDX: 1, GPN_WKENC: '0'.repeat(32), GPN_PANLEN: 16, GPN_PAN: '4761739001010010', entries: [{ GPN_MIN: 4, GPN_MAX: 8, GPN_MSG: 'SENHA' }] }),
  GPN_CARD_PAN,
  cmd('GTS', { GTS_ACQIDX: '00' }),
  latin1('TLI01200TABVER0008'),
  latin1('TLE'),
  latin1('GCR'),
  cmd('GCX', { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500', SPE_AMOUNT: 1000 }),
  cmd('GCX', { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500', SPE_AMOUNT: 4000, SPE_GCXOPT: '10000', SPE_TAGLIST: ['9F27', '82'], SPE_PANMASK: '0604' }),
  cmd('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_AMOUNT: 1000, SPE_TAGLIST: ['9F26', '9F27', '95'] }),
  cmd('FCX', { SPE_FCXOPT: '0000', SPE_ARC: '00', SPE_TAGLIST: ['9F26'] }),
  cmd('FCX', { SPE_FCXOPT: '2000' }),
  cmd('GED', { SPE_TAGLIST: ['9F26', '5A', '57'] }),
  cmd('GTK', {}),
  cmd('GTK', { SPE_TRACKS: '0101' }),
  cmd('CLX', {}),
]

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'digit'; at: number; digit: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'truncate'; at: number }
  | { kind: 'repeat'; at: number; length: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('digit' as const), at: fc.nat(), digit: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
)

function mutate(seed: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(seed)
  for (const m of mutations) {
    // The command id (3 bytes) is mostly kept: the point is what follows it.
    const at = b.length > 3 ? 3 + (m.at % (b.length - 3)) : 0
    switch (m.kind) {
      case 'set':
        if (at < b.length) b[at] = m.byte
        break
      case 'digit':
        if (at < b.length) b[at] = 0x30 + m.digit
        break
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)])
        break
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)])
        break
      case 'truncate':
        b = b.subarray(0, at)
        break
      case 'repeat':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.length), b.subarray(at)])
        break
    }
  }
  return b
}

const n3 = (n: number) => latin1(String(n).padStart(3, '0'))
const digitText = (max: number) => fc.array(fc.integer({ min: 0x30, max: 0x39 }), { maxLength: max }).map((a) => Buffer.from(a))
const printableText = (max: number) => fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: max }).map((a) => Buffer.from(a))

/** A classic block: N3 length (right, or wrong) and content. */
const classicBlock = fc
  .tuple(fc.oneof(digitText(40), printableText(60), fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b))), fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 999 }) }))
  .map(([content, len]) => Buffer.concat([n3(len ?? content.length), content]))

const SPE_IDS = Object.values(SPE).map((p) => p.id)
/** A TLV item (§3.1.3.1): a known SPE_* id (or any), a length (right, or wrong) and a value. */
const tlvItem = fc
  .tuple(
    fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...SPE_IDS) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
    fc.oneof(digitText(14), printableText(40), fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b))),
    fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  )
  .map(([id, value, len]) => {
    const head = Buffer.alloc(4)
    head.writeUInt16BE(id, 0)
    head.writeUInt16BE(len ?? value.length, 2)
    return Buffer.concat([head, value])
  })
const tlvBlock = fc.array(tlvItem, { maxLength: 6 }).map((items) => {
  const body = Buffer.concat(items)
  return Buffer.concat([n3(body.length % 1000), body])
})

const packetId = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...ALL_IDS) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_IDS) }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{3}$/) })

/** Packet data of a valid frame: a mutated valid request, or an id with random blocks or TLV items. */
const packetData: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { maxLength: 3 })).map(([seed, ms]) => mutate(seed, ms)) },
    { weight: 2, arbitrary: fc.tuple(packetId, fc.array(classicBlock, { maxLength: 3 })).map(([id, blocks]) => Buffer.concat([latin1(id), ...blocks])) },
    { weight: 2, arbitrary: fc.tuple(packetId, fc.array(tlvBlock, { minLength: 1, maxLength: 2 })).map(([id, blocks]) => Buffer.concat([latin1(id), ...blocks])) },
    { weight: 1, arbitrary: fc.tuple(packetId, fc.uint8Array({ maxLength: 80 })).map(([id, b]) => Buffer.concat([latin1(id), b])) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b)) },
  )
  .map((b) => b.subarray(0, MAX_ABECS_DATA))

const seed = (name: SpecExample) => example(name)

// Typed card-command requests whose lists vary in size: tag lists up to their 128 bytes, issuer
// scripts up to 512 bytes, so that answers grow past their fields (§3.7.1–3.7.4: ST_RSPOVRFL).
const EMV_TAGS = ['4F', '50', '57', '5A', '5F20', '5F24', '5F28', '5F2A', '5F34', '82', '84', '8A', '95', '9A', '9B', '9C', '9F02', '9F03', '9F06', '9F07', '9F09', '9F10', '9F1A', '9F1E', '9F21', '9F26', '9F27', '9F33', '9F34', '9F35', '9F36', '9F37', '9F41', 'DF01']
/** At most 128 bytes of tags (SPE_TAGLIST, GOC_TAGSn, FNC_TAGS). */
/** Tags of long values with short names (AID, label, holder name): 128 bytes of them ask for kilobytes. */
const LONG_TAGS = ['4F', '50', '84', '5F20', '9F10']
const tagList = fc
  .oneof(
    { weight: 4, arbitrary: fc.array(fc.constantFrom(...EMV_TAGS), { maxLength: 12 }) },
    { weight: 2, arbitrary: fc.array(fc.constantFrom(...EMV_TAGS), { minLength: 12, maxLength: 90, size: 'max' }) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...LONG_TAGS), { minLength: 12, maxLength: 128, size: 'max' }) },
  )
  .map((tags) => {
  const out: string[] = []
  let size = 0
  for (const tag of tags) {
    if (size + tag.length / 2 > 128) break
    out.push(tag)
    size += tag.length / 2
  }
  return out
})
const tagHex = tagList.map((tags) => tags.join(''))
/** Issuer data (91, and scripts 71/72 with a 9F18 id), at most `max` bytes. */
const issuerData = (max: number) =>
  fc
    .tuple(
      fc.option(fc.uint8Array({ minLength: 8, maxLength: 16 }), { nil: undefined }),
      fc.array(fc.record({ tag: fc.constantFrom('71', '72'), id: fc.uint8Array({ maxLength: 4 }), body: fc.uint8Array({ maxLength: 24 }) }), { maxLength: 60, size: 'max' }),
    )
    .map(([arpc, scripts]) => {
      const objects = [
        ...(arpc ? [{ tag: '91', value: Buffer.from(arpc) }] : []),
        ...scripts.map((sc) => ({ tag: sc.tag, value: buildEmv([{ tag: '9F18', value: Buffer.from(sc.id) }, { tag: '86', value: Buffer.from(sc.body) }]) })),
      ]
      let data = Buffer.alloc(0)
      for (const o of objects) {
        const next = Buffer.concat([data, buildEmv([o])])
        if (next.length > max) break
        data = next
      }
      return data
    })
/** Sometimes not TLV at all: what a host's bug or a corrupted buffer would send. */
const brokenBytes = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b))
const orBroken = (arb: fc.Arbitrary<Buffer>) => fc.oneof({ weight: 4, arbitrary: arb }, { weight: 1, arbitrary: brokenBytes })
const hexOf = (arb: fc.Arbitrary<Buffer>) => arb.map((b) => b.toString('hex').toUpperCase())
const amount = fc.integer({ min: 1, max: 9_999_999 })
const DATE = { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500' }
const typedGcx = fc.tuple(amount, fc.constantFrom(undefined, '00000', '10000', '01000'), fc.option(tagList, { nil: undefined })).map(([a, opt, tags]) =>
  cmd('GCX', { ...DATE, SPE_AMOUNT: a, ...(opt ? { SPE_GCXOPT: opt } : {}), ...(tags ? { SPE_TAGLIST: tags } : {}) }),
)
const typedGed = tagList.map((tags) => cmd('GED', { SPE_TAGLIST: tags }))
const typedGox = fc.tuple(amount, tagList, fc.constantFrom('00000', '01000', '10000')).map(([a, tags, opt]) => cmd('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_AMOUNT: a, SPE_GOXOPT: opt, SPE_TAGLIST: tags }))
const typedFcx = fc.tuple(fc.constantFrom('0000', '1000', '2000'), fc.constantFrom('00', '05', 'Z3'), orBroken(issuerData(512)), tagList).map(([opt, arc, issuer, tags]) =>
  cmd('FCX', { SPE_FCXOPT: opt, SPE_ARC: arc, ...(issuer.length ? { SPE_EMVDATA: issuer } : {}), SPE_TAGLIST: tags }),
)
const FACTORY = factoryTables()
const GCR_EXAMPLE = spec('GCR')!.decodeRequest(decodeCommand(seed('GCR_ALL_COMMAND')).blocks)
/** GCR with the factory tables' version (else ST_TABVERDIF, §6.8.1.2), any amount. */
const typedGcr = amount.map((a) => cmd('GCR', { ...GCR_EXAMPLE, GCR_AMOUNT: a, GCR_TABVER: FACTORY.version }))
const GOC_EXAMPLE = spec('GOC')!.decodeRequest(decodeCommand(seed('GOC_COMMAND')).blocks)
const FNC_EXAMPLE = spec('FNC')!.decodeRequest(decodeCommand(seed('FNC_COMMAND')).blocks)
const typedGoc = fc.tuple(amount, fc.oneof(tagHex, hexOf(brokenBytes)), tagHex).map(([a, t1, t2]) => cmd('GOC', { ...GOC_EXAMPLE, GOC_AMOUNT: a, GOC_TAGS1: t1, GOC_TAGS2: t2 }))
// FNC_ISSDAT is lenH(3, 512) in a block of at most 999 bytes: 480 bytes of issuer data fit.
const typedFnc = fc.tuple(fc.constantFrom('0', '1', '9'), fc.constantFrom('00', '05'), orBroken(issuerData(480)), fc.oneof({ weight: 4, arbitrary: tagHex }, { weight: 1, arbitrary: hexOf(brokenBytes) })).map(([st, arc, issuer, tags]) =>
  cmd('FNC', { ...FNC_EXAMPLE, FNC_COMMST: st, FNC_ARC: arc, FNC_ISSDAT: issuer.toString('hex').toUpperCase(), FNC_TAGS: tags }),
)

/** A step of a flow, lightly mutated (mostly not at all). */
const step = (arb: fc.Arbitrary<Buffer>) =>
  fc.tuple(arb, fc.oneof({ weight: 4, arbitrary: fc.constant([] as Mutation[]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 2 }) })).map(([b, ms]) => mutate(b, ms))
const fixed = (b: Buffer) => fc.constant(b)

/**
 * Command sequences of real flows (§3.6.5, §3.7.5, §4.2), so that the card, chip and table
 * handlers are reached — with odd data too.
 */
const FLOWS: fc.Arbitrary<Buffer>[][] = [
  [typedGcr, typedGoc, typedFnc, fixed(seed('RMC_COMMAND'))],
  [typedGcr, fixed(seed('GOC_COMMAND')), typedFnc, typedGcr],
  [fixed(seed('GCR_LIST_COMMAND')), fixed(seed('GOC_COMMAND')), fixed(seed('FNC_COMMAND')), fixed(latin1('GCR'))],
  [typedGcx, typedGed, typedGox, typedFcx],
  [typedGcx, typedGox, typedFcx, typedGed],
  [fixed(seed('GCX_ICC_COMMAND')), fixed(seed('GOX_COMMAND')), fixed(seed('FCX_COMMAND')), fixed(seed('RMC_COMMAND'))],
  [typedGcx, fixed(cmd('GTK', {})), fixed(GPN_CARD_PAN), typedGox],
  [typedGcx, fixed(cmd('GTK', { SPE_TRACKS: '1111' })), fixed(seed('GPN_DUKPT_COMMAND')), fixed(cmd('CKE', { CKE_KEY: '0', CKE_MAG: '0', CKE_ICC: '2' }))],
  [fixed(latin1('TLI01200TABVER0008')), fixed(seed('TLR_AID_COMMAND')), fixed(seed('TLR_CAPK_REVOKED_COMMAND')), fixed(latin1('TLE'))],
  [fixed(latin1('TLI01200TABVER0009')), fixed(latin1('TLE')), fixed(seed('GCR_ALL_COMMAND')), fixed(latin1('GCR'))],
]
const flow: fc.Arbitrary<Buffer[]> = fc
  .integer({ min: 0, max: FLOWS.length - 1 })
  .chain((i) => fc.tuple(fc.tuple(...FLOWS[i]!.map(step)), fc.integer({ min: 1, max: 4 })))
  .map(([steps, length]) => steps.slice(0, length))

const CARDS = ['visa-credit', 'mastercard-credit', 'elo-credit', 'maestro-debit', 'visa-credit-offline-pin', 'magstripe-credit', 'magstripe-debit', 'mastercard-contactless', 'visa-contactless', 'mastercard-contactless-magstripe', 'expired-card', 'blocked-card', 'dumb-card', 'chip-error-card', 'fallback-card', 'unsupported-aid-card', 'swiped-chip-card'] as const

interface FramesCase {
  specVersion: '1.08' | '2.12'
  /** With the factory EMV tables (else none, as a pinpad straight from the factory). */
  tables: boolean
  /** The card the cardholder presents when asked (null: nobody presents one). */
  card: (typeof CARDS)[number] | null
  packets: Buffer[]
}
const framesCase: fc.Arbitrary<FramesCase> = fc.record({
  specVersion: fc.constantFrom('2.12' as const, '2.12' as const, '2.12' as const, '1.08' as const),
  tables: fc.boolean(),
  card: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...CARDS) }, { weight: 1, arbitrary: fc.constant(null) }),
  packets: fc.oneof(fc.array(packetData, { minLength: 1, maxLength: 4 }), flow),
})

/**
 * Pinpads with the factory tables take milliseconds to build (the records are decoded), too
 * long for each of thousands of cases: one per spec version is reused, its card session, card
 * and tables put back as they were before each case. (Its DUKPT counters and a pending GCR of
 * §6.8.1.2 carry over: the properties checked do not depend on them.)
 */
const tablePads = new Map<string, VirtualPinpad>()
function pinpadFor(c: FramesCase): VirtualPinpad {
  const cardholder = { autoCard: c.card, presentAfterMs: 300, autoPin: '1234', pinAfterMs: 300, removeAfterMs: 200 }
  if (!c.tables) return new VirtualPinpad({ identity: { specVersion: c.specVersion }, cardholder, tables: 'empty' })
  let pad = tablePads.get(c.specVersion)
  if (!pad) {
    pad = new VirtualPinpad({ identity: { specVersion: c.specVersion }, tables: FACTORY })
    tablePads.set(c.specVersion, pad)
  }
  pad.cardholder.options = { ...pad.cardholder.options, ...cardholder }
  pad.cardholder.remove()
  pad.endCardSession()
  pad.close()
  pad.lastIccStatus = '0'
  if (pad.tables.version(0) !== FACTORY.version || pad.tables.count !== FACTORY.records.length) pad.tables.preload(FACTORY.version, FACTORY.records)
  return pad
}

/** Commands the host stack speaks that the virtual pinpad does not answer (ERR010). */
const NOT_SIMULATED = new Set(['CEX'])
const KNOWN_STATUSES = new Set(Object.keys(RETURN_CODES).map(Number))

/** The request as the pinpad decodes it (for layouts that depend on it, like GIN's). */
function requestOf(id: string, data: Buffer): unknown {
  try {
    return spec(id)!.decodeRequest(decodeCommand(data).blocks)
  } catch {
    return {}
  }
}

/** How long a blocking command is given before the host cancels it (virtual: free). */
const BLOCKING_PATIENCE_MS = 60_000

async function validFrames(c: FramesCase, clock: VirtualClock): Promise<void> {
  const [hostEnd, padEnd] = memoryPair()
  const pad = pinpadFor(c)
  pad.attach(padEnd)
  const link = new HostLink(hostEnd)
  const traces: LinkTrace[] = []
  link.on('trace', (e) => traces.push(e))
  for (const data of c.packets) {
    const id = data.subarray(0, 3).toString('latin1')
    const fail = (why: string): never => {
      throw new Error(`${why}\n  packet ${JSON.stringify(data.toString('latin1'))} (${data.toString('hex')}), pinpad spec ${c.specVersion}, ${c.tables ? 'factory tables' : 'no tables'}, card ${c.card}`)
    }
    traces.length = 0
    const blocking = isBlocking(id)
    const abort = new AbortController()
    const patience = blocking ? setTimeout(() => abort.abort(), BLOCKING_PATIENCE_MS) : undefined
    let outcome: Outcome | undefined
    settle(link.exchange(id, data, { blocking, signal: abort.signal }), (o) => (outcome = o))
    await clock.run(() => outcome !== undefined, 2 * BLOCKING_PATIENCE_MS)
    clearTimeout(patience)

    for (const e of traces) {
      if (e.type === 'nak') fail('the pinpad NAKed a valid frame')
      if (e.type === 'stale') fail(`the pinpad answered ${JSON.stringify(e.got)} to ${JSON.stringify(id)}`)
      if (e.type === 'bad-response') fail(`the pinpad sent a broken frame (${e.reason})`)
      if (e.type === 'noise') fail(`the pinpad sent ${e.count} stray bytes`)
    }
    if (!outcome) return fail('the exchange never settled')
    if (!outcome.ok) {
      if (blocking && abort.signal.aborted && outcome.error?.code === 'MPOS_ERR_LINK_CANCELLED') continue // still waiting for the cardholder: cancelled, EOT
      fail(`no answer: ${describe(outcome)}`)
    }
    const raw = (outcome as { value: Buffer }).value
    let packet
    try {
      packet = decodeResponse(raw)
    } catch (err) {
      return fail(`malformed answer ${JSON.stringify(raw.toString('latin1'))}: ${(err as Error).message}`)
    }
    const s = spec(id)
    const known = !!s && !(commandInfo(id)?.tlv && c.specVersion === '1.08')
    if (packet.id === 'ERR') {
      // §5.2.2, §6.3.2: a DC2 (sealed) packet with no secure session open is ERR003 (ST_NOSEC).
      if (data[0] === 0x12 && packet.status === ST.NOSEC) continue
      if (packet.status !== ST.INVCALL) fail(`ERR with status ${packet.status} (§2.3.4: ST_INVCALL)`)
      if (known && !NOT_SIMULATED.has(id)) fail(`ERR010 to ${id}, a command the pinpad implements`)
      continue
    }
    if (packet.id !== id) fail(`answered ${packet.id} to ${id}`)
    if (!known) fail(`answered ${id}${packet.status} to a command it does not know (§2.3.4: ERR010)`)
    if (!KNOWN_STATUSES.has(packet.status)) fail(`status ${packet.status} is no return code of §3.1.1`)
    if (packet.status === ST.INTERR) fail('ST_INTERR: the simulator failed inside a handler')
    if (packet.status === 0 || s!.resultStatuses?.includes(packet.status)) {
      try {
        s!.decodeResponse(packet.blocks, requestOf(id, data), packet.status)
      } catch (err) {
        fail(`the host cannot read the answer ${JSON.stringify(raw.toString('latin1'))}: ${(err as Error).message}`)
      }
    }
  }
  // And it keeps serving.
  let last: Outcome | undefined
  settle(link.exchange('OPN', latin1('OPN')), (o) => (last = o))
  await clock.run(() => last !== undefined, 600_000)
  const l = last as Outcome | undefined
  if (!l?.ok || (l.value as Buffer).toString('latin1') !== 'OPN000') throw new Error(`OPN after the sequence gave ${describe(l)}`)
  pad.detach()
  await link.close()
  await clock.run(() => false, 2 * BLOCKING_PATIENCE_MS)
  if (clock.pendingTimers) throw new Error(`${clock.pendingTimers} timer(s) left once the link and the pinpad closed`)
}

// --- 3. The host stack and the pinpad, with link faults, pacing and impatient callers ---

/** What each command of a faulty session meets: the pinpad's link faults (see LinkFaults) and the caller's patience. */
interface FaultyCommand {
  command: 'OPN' | 'GIN' | 'DSP' | 'GIX' | 'GKY'
  faults: Partial<LinkFaults>
  /** The caller aborts after this long (virtual ms); always for GKY, which waits for a key nobody presses. */
  abortAtMs: number | undefined
}
interface FaultsCase {
  /** 0: bytes arrive at once; otherwise they leave at this rate, a long answer in 32-byte pieces (§2.1). */
  baudRate: 0 | 19200 | 115200
  commands: FaultyCommand[]
}

const FAULTY_REQUESTS = {
  OPN: {},
  GIN: { GIN_ACQIDX: '00' },
  DSP: { DSP_MSG: 'FALHAS' },
  // A long answer (~1.3 KB): at 19 200 baud, ~0.7 s on the wire, long enough to be cut by a CAN.
  GIX: { SPE_IDLIST: [0x8030, 0x8031, 0x8032, 0x8033, 0x8034, 0x8035, 0x8036, 0x8030, 0x8031, 0x8032, 0x8033, 0x8034] },
  GKY: {},
} as const
const faultyExpected = new Map<string, string>()

const faults: fc.Arbitrary<Partial<LinkFaults>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        nakNext: fc.integer({ min: 0, max: 4 }),
        corruptNext: fc.integer({ min: 0, max: 5 }),
        dropNext: fc.integer({ min: 0, max: 2 }),
        responseDelayMs: fc.constantFrom(0, 100, 1900, 2100, 9000, 11_000),
        garbageNext: fc.constantFrom(0, 1, 40, 600),
        stalled: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  },
)
const faultyCommand: fc.Arbitrary<FaultyCommand> = fc
  .record({ command: fc.constantFrom('OPN' as const, 'GIN' as const, 'DSP' as const, 'GIX' as const, 'GKY' as const), faults, abortAtMs: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined, freq: 3 }) })
  .map((c) => (c.command === 'GKY' && c.abortAtMs === undefined ? { ...c, abortAtMs: 5000 } : c))
const faultsCase: fc.Arbitrary<FaultsCase> = fc.record({
  baudRate: fc.constantFrom(0 as const, 19200 as const, 115200 as const),
  commands: fc.array(faultyCommand, { minLength: 1, maxLength: 4 }),
})

const LINK_ERRORS = /^MPOS_ERR_LINK_(ACK_TIMEOUT|NAK_LIMIT|RESPONSE_TIMEOUT|BAD_RESPONSE|CANCELLED|CANCEL_FAILED)$/
const NO_FAULTS: LinkFaults = { stalled: false, nakNext: 0, corruptNext: 0, dropNext: 0, responseDelayMs: 0, garbageNext: 0, held: false }

/**
 * One session of the host stack with a virtual pinpad whose link misbehaves as asked, command
 * after command, each caller giving up at its moment (CAN while the answer may be half on the
 * wire): every command settles, with the pinpad's true answer or a typed link error, and once the
 * faults are gone the next command is answered.
 */
async function faultySession(c: FaultsCase, clock: VirtualClock): Promise<void> {
  const [hostEnd, padEnd] = memoryPair()
  const pad = new VirtualPinpad({ tables: 'empty', cardholder: { autoCard: null }, link: c.baudRate ? { baudRate: c.baudRate } : {} })
  pad.attach(padEnd)
  const link = new HostLink(hostEnd)
  const client = new PinpadClient(link)
  for (const [i, step] of c.commands.entries()) {
    const fail = (why: string): never => {
      throw new Error(`command ${i + 1} (${step.command}, faults ${JSON.stringify(step.faults)}, abort at ${step.abortAtMs}): ${why}`)
    }
    Object.assign(pad.faults, NO_FAULTS, step.faults)
    const abort = new AbortController()
    const timer = step.abortAtMs === undefined ? undefined : setTimeout(() => abort.abort(), step.abortAtMs)
    let outcome: Outcome | undefined
    settle(client.call(step.command as 'OPN', FAULTY_REQUESTS[step.command] as never, { signal: abort.signal }), (o) => (outcome = o))
    await clock.run(() => outcome !== undefined, 600_000)
    clearTimeout(timer)
    const o = outcome as Outcome | undefined
    if (!o) fail('never settled')
    else if (o.ok) {
      if (step.command !== 'GKY' && JSON.stringify(o.value) !== faultyExpected.get(step.command)) fail(`answered ${JSON.stringify(o.value)}`)
    } else if (!LINK_ERRORS.test(o.error?.code ?? '')) fail(`failed with ${describe(o)}`)
    else if (o.error.code === 'MPOS_ERR_LINK_CANCELLED' && !abort.signal.aborted) fail('cancelled though nobody aborted')
  }
  // Faults gone: the link and the pinpad recover (a late answer of an abandoned command is skipped).
  Object.assign(pad.faults, NO_FAULTS)
  let last: Outcome | undefined
  settle(client.call('GIN', FAULTY_REQUESTS.GIN), (o) => (last = o))
  await clock.run(() => last !== undefined, 600_000)
  const l = last as Outcome | undefined
  if (!l?.ok || JSON.stringify(l.value) !== faultyExpected.get('GIN')) throw new Error(`GIN once the faults were gone gave ${describe(l)}`)
  pad.detach()
  await link.close()
  await clock.run(() => false, 600_000)
  if (clock.pendingTimers) throw new Error(`${clock.pendingTimers} timer(s) left once the link and the pinpad closed`)
}

// --- The properties (run in a worker: see fuzz-worker.ts) --------------------------------

export async function noiseProperty(): Promise<fc.IAsyncPropertyWithHooks<[NoiseCase]>> {
  const crashes = watchCrashes()
  // The answers of a pinpad that heard no noise.
  for (const command of Object.keys(CHECKED) as Checked[]) {
    await underClock(crashes, async (clock) => {
      const [hostEnd, padEnd] = memoryPair()
      const pad = new VirtualPinpad({ cardholder: { autoCard: null, autoPin: null } })
      pad.attach(padEnd)
      const link = new HostLink(hostEnd)
      let o: Outcome | undefined
      settle(new PinpadClient(link).call(command as 'OPN', CHECKED[command] as never), (r) => (o = r))
      await clock.run(() => o !== undefined)
      if (!o?.ok) throw new Error(`reference ${command}: ${describe(o)}`)
      expected.set(command, JSON.stringify(o.value))
      pad.detach()
      await link.close()
    })
  }
  return fc.asyncProperty(noiseCase, (c) => underClock(crashes, (clock) => noiseThenCommand(c, clock)))
}

export function validFramesProperty(): fc.IAsyncPropertyWithHooks<[FramesCase]> {
  const crashes = watchCrashes()
  return fc.asyncProperty(framesCase, (c) => {
    count('frames', c.packets.length)
    return underClock(crashes, (clock) => validFrames(c, clock))
  })
}

export async function faultsProperty(): Promise<fc.IAsyncPropertyWithHooks<[FaultsCase]>> {
  const crashes = watchCrashes()
  for (const command of ['OPN', 'GIN', 'DSP', 'GIX'] as const) {
    await underClock(crashes, async (clock) => {
      const [hostEnd, padEnd] = memoryPair()
      const pad = new VirtualPinpad({ tables: 'empty', cardholder: { autoCard: null } })
      pad.attach(padEnd)
      const link = new HostLink(hostEnd)
      let o: Outcome | undefined
      settle(new PinpadClient(link).call(command as 'OPN', FAULTY_REQUESTS[command] as never), (r) => (o = r))
      await clock.run(() => o !== undefined)
      if (!o?.ok) throw new Error(`reference ${command}: ${describe(o)}`)
      faultyExpected.set(command, JSON.stringify(o.value))
      pad.detach()
      await link.close()
    })
  }
  return fc.asyncProperty(faultsCase, (c) => underClock(crashes, (clock) => faultySession(c, clock)))
}
