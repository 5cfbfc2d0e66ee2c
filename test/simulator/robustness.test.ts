/**
 * The virtual pinpad answers every command it ACKed (§2.2.2), however odd its data — cases the
 * property tests (pinpad-fuzz.test.ts) found where it stayed silent, each reduced to one example:
 * answers too large for their fields or blocks (§3.1.1 ST_RSPOVRFL, §3.7.1–3.7.4), more issuer
 * scripts than results fit (§3.1.3.2: up to 10), issuer data and tag lists that are not TLV
 * (ST_INVPARM, before the transaction moves on), and a fault inside the simulation (ST_INTERR).
 */
import t, { type Test } from 'tap'
import { HostLink } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { COMMANDS, type CommandSpec } from '../../src/abecs/commands/index.js'
import { decodeCommand, encodeCommand } from '../../src/abecs/packet.js'
import { buildEmv } from '../../src/abecs/emv-tlv.js'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { example } from '../fixtures/spec-examples.js'

const spec = (id: string) => (COMMANDS as Record<string, CommandSpec<any, any>>)[id]!
const DATE = { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500' }

/** A pinpad with the factory tables, a cardholder who acts at once, and the host stack (short deadlines). */
function setup(t: Test) {
  const [hostEnd, padEnd] = memoryPair()
  const pad = new VirtualPinpad({ tables: factoryTables(), cardholder: { presentAfterMs: 5, pinAfterMs: 5, removeAfterMs: 5 } })
  pad.attach(padEnd)
  const link = new HostLink(hostEnd, { ackTimeoutMs: 1000, responseTimeoutMs: 1000 })
  t.teardown(async () => {
    pad.detach()
    await link.close()
  })
  const client = new PinpadClient(link)
  /** The raw answer (RSP_ID + RSP_STAT + data); a silent pinpad fails it with MPOS_ERR_LINK_RESPONSE_TIMEOUT. */
  const ask = async (id: string, request: unknown) => (await link.exchange(id, encodeCommand(id, spec(id).encodeRequest(request)), { timeoutMs: 2000 })).toString('latin1')
  return { pad, client, link, ask }
}

/** Issuer data with `n` scripts (71, each with a 4-byte 9F18 id). */
const scripts = (n: number) =>
  buildEmv(Array.from({ length: n }, (_, i) => ({ tag: '71', value: buildEmv([{ tag: '9F18', value: Buffer.of(0, 0, 0, i + 1) }, { tag: '86', value: Buffer.from('84DA', 'hex') }]) })))

/** 128 bytes of tag list asking for the application label (50h) over and over: ~1.8 KB of EMV data. */
const LABELS = Array<string>(128).fill('50')

t.test('EMV data past PP_EMVDATA\'s 512 bytes: ST_RSPOVRFL (§3.7.1–3.7.4), not silence', async (t) => {
  const { client, ask } = setup(t)
  t.equal(await ask('GCX', { ...DATE, SPE_AMOUNT: 15000, SPE_TAGLIST: LABELS }), 'GCX045', 'GCX')
  await client.call('GCX', { ...DATE, SPE_AMOUNT: 15000 })
  t.equal(await ask('GED', { SPE_TAGLIST: LABELS }), 'GED045', 'GED')
  t.match(await ask('GED', { SPE_TAGLIST: ['50'] }), /^GED000/, 'a list that fits is answered')
  t.equal(await ask('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_AMOUNT: 15000, SPE_TAGLIST: LABELS }), 'GOX045', 'GOX')
  t.equal(await ask('FCX', { SPE_FCXOPT: '0000', SPE_ARC: '00', SPE_TAGLIST: LABELS }), 'FCX045', 'FCX')
})

t.test('GOC: EMV data past 512 bytes, or a response block past 999 bytes: ST_RSPOVRFL', async (t) => {
  const gcr = spec('GCR').decodeRequest(decodeCommand(example('GCR_ALL_COMMAND')).blocks)
  const goc = spec('GOC').decodeRequest(decodeCommand(example('GOC_COMMAND')).blocks)
  for (const [labels, why] of [
    [40, '40 × 14 bytes of EMV data: more than GOC_EMVDAT\'s 512'],
    [35, '35 × 14 = 490 bytes fit GOC_EMVDAT, but as hex they make the block 1028 bytes (N3: at most 999, §2.3)'],
  ] as const) {
    const { client, ask } = setup(t)
    await client.call('GCR', { ...gcr, GCR_AMOUNT: 15000, GCR_TABVER: factoryTables().version })
    t.equal(await ask('GOC', { ...goc, GOC_AMOUNT: 15000, GOC_TAGS1: '50'.repeat(labels), GOC_TAGS2: '' }), 'GOC045', why)
  }
})

t.test('more than 10 issuer scripts: the first 10 results (PP_ISRESULTS B..50, FNC_ISR H..100)', async (t) => {
  const { client } = setup(t)
  await client.call('GCX', { ...DATE, SPE_AMOUNT: 15000 })
  await client.call('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_AMOUNT: 15000 })
  const fcx = await client.call('FCX', { SPE_FCXOPT: '0000', SPE_ARC: '00', SPE_EMVDATA: scripts(11) })
  t.equal(fcx.PP_ISRESULTS?.length, 50, '10 results of 5 bytes')
  t.same(fcx.PP_ISRESULTS?.subarray(45), Buffer.of(0x20, 0, 0, 0, 10), 'the 10th script\'s, "processed"')
})

t.test('issuer data or tag lists that are not TLV: ST_INVPARM, and the transaction can still finish', async (t) => {
  {
    const { client, ask } = setup(t)
    await client.call('GCX', { ...DATE, SPE_AMOUNT: 15000 })
    await client.call('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_AMOUNT: 15000 })
    t.equal(await ask('FCX', { SPE_FCXOPT: '0000', SPE_ARC: '00', SPE_EMVDATA: Buffer.of(0x01) }), 'FCX011', 'SPE_EMVDATA 01h: a tag without a length')
    t.equal(await ask('FCX', { SPE_FCXOPT: '0000', SPE_ARC: '00', SPE_EMVDATA: Buffer.from('7103010203', 'hex') }), 'FCX011', 'a script whose content is not TLV')
    t.match(await client.call('FCX', { SPE_FCXOPT: '0000', SPE_ARC: '00' }), { PP_FCXRES: '000' }, 'then a good FCX finishes it')
  }
  {
    const gcr = spec('GCR').decodeRequest(decodeCommand(example('GCR_ALL_COMMAND')).blocks)
    const goc = spec('GOC').decodeRequest(decodeCommand(example('GOC_COMMAND')).blocks)
    const fnc = spec('FNC').decodeRequest(decodeCommand(example('FNC_COMMAND')).blocks)
    const { client, ask } = setup(t)
    await client.call('GCR', { ...gcr, GCR_AMOUNT: 15000, GCR_TABVER: factoryTables().version })
    t.equal(await ask('GOC', { ...goc, GOC_AMOUNT: 15000, GOC_TAGS1: '9F' }), 'GOC011', 'GOC_TAGS1 "9F": a tag cut short')
    t.match(await client.call('GOC', { ...goc, GOC_AMOUNT: 15000 }), { GOC_DECISION: /^[012]$/ }, 'the card was not asked yet: GOC goes on')
    t.equal(await ask('FNC', { ...fnc, FNC_TAGS: '9F' }), 'FNC011', 'FNC_TAGS "9F"')
    t.equal(await ask('FNC', { ...fnc, FNC_ISSDAT: '01' }), 'FNC011', 'FNC_ISSDAT 01h')
    t.match(await client.call('FNC', fnc), { FNC_DECISION: /^[012]$/ }, 'then a good FNC finishes it')
  }
})

t.test('an answer the simulation cannot encode is ST_INTERR, never silence', async (t) => {
  const { pad, ask } = setup(t)
  pad.tables.version = () => 'LONGER THAN A10' // GTS_TABVER is A10
  t.equal(await ask('GTS', { GTS_ACQIDX: '00' }), 'GTS040')
  t.equal(await ask('OPN', {}), 'OPN000', 'and it goes on serving')
})
