/**
 * PIN capture on the virtual pinpad (GPN §6.5.11, GOX §6.9.3, GOC §6.8.4) as the host sees it: an
 * ISO 9564 format 0 block encrypted under the DUKPT PIN key of the KSN returned with it (ANSI
 * X9.24-1), one KSN per entry, and PP_KSNTDESP01 in GIX reporting the last one. In virtual time
 * (a ManualClock drives the link, the pinpad, its cardholder and the pair).
 */
import t from 'tap'
import { HostLink } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../../src/simulator/virtual-pinpad.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { deriveIpek, deriveTransactionKey, getKsnCounter, pinKey } from '../../src/crypto/dukpt.js'
import { decryptPinBlock, parseIso0PinBlock } from '../../src/crypto/pin-block.js'
import { hex } from '../helpers/hex.js'
import { ManualClock } from '../helpers/manual-clock.js'

const BDK = '0123456789ABCDEFFEDCBA9876543210'

function setup(t: { teardown(fn: () => unknown): void }, options: VirtualPinpadOptions = {}) {
  const clock = new ManualClock()
  t.teardown(clock.autoAdvance())
  const [hostEnd, pinpadEnd] = memoryPair('host', 'pinpad', clock)
  const pad = new VirtualPinpad({
    tables: factoryTables(),
    cardholder: { autoCard: null, autoPin: null, presentAfterMs: 10, pinAfterMs: 10, removeAfterMs: 10 },
    clock,
    ...options,
  })
  pad.attach(pinpadEnd)
  const link = new HostLink(hostEnd, { ackTimeoutMs: 2000, responseTimeoutMs: 5000 }, { clock })
  t.teardown(async () => {
    pad.detach()
    await link.close()
  })
  return { pad, client: new PinpadClient(link), clock }
}

/** What the acquirer's HSM does: BDK + KSN → PIN key → clear ISO-0 block → PIN, checked against the PAN. */
function decryptPin(pinBlock: Buffer, ksn: Buffer, pan: string, bdk = BDK): string {
  const key = pinKey(deriveTransactionKey(deriveIpek(Buffer.from(bdk, 'hex'), ksn), ksn))
  return parseIso0PinBlock(decryptPinBlock(pinBlock, key), pan)
}

const gpn = (pan: string, keyIndex = 1) => ({
  GPN_METHOD: '3',
  GPN_KEYIDX: keyIndex,
  GPN_WKENC: '0'.repeat(32),
  GPN_PANLEN: pan.length,
  GPN_PAN: pan,
  entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: 'DIGITE A SENHA' }],
})

const ksnOf = async (client: PinpadClient): Promise<Buffer> => (await client.call('GIX', { SPE_IDLIST: [0x9101] })).PP_KSNTDESP01!

t.test('GPN: the X9.24 vectors, KSN …E00001 to …E00005, PIN 1234, PAN 4012345678909', async (t) => {
  const { pad, client } = setup(t, { dukpt: { bdk: BDK, initialKsn: 'FFFF9876543210E00000' } })
  const expected = ['1B9C1845EB993A7A', '10A01C8D02C69107', '18DC07B94797B466', '0BC79509D5645DF7', '5BC0AF22AD87B327']
  t.same(await ksnOf(client), hex('FFFF9876543210E00000'), 'GIX before any entry: the initial KSN')
  for (const [i, block] of expected.entries()) {
    pad.cardholder.typePin('1234')
    const res = await client.call('GPN', gpn('4012345678909'))
    t.equal(res.GPN_KSN, `FFFF9876543210E0000${i + 1}`, `entry ${i + 1}: the counter advanced by one`)
    t.equal(res.GPN_PINBLK, block, `entry ${i + 1}: the PIN block of the vector`)
    t.same(await ksnOf(client), hex(res.GPN_KSN), 'PP_KSNTDESP01 reports the last KSN')
  }
})

t.test('GPN: decrypted with the BDK, the block holds the PIN typed, bound to the PAN', async (t) => {
  const bdk = 'FEDCBA98765432100123456789ABCDEF'
  const { pad, client } = setup(t, { dukpt: { bdk, initialKsn: 'FFFF0011223344600000' } })
  pad.cardholder.typePin('987654')
  const pan = '5413330089600010'
  const res = await client.call('GPN', gpn(pan))
  const ksn = hex(res.GPN_KSN)
  t.equal(getKsnCounter(ksn), 1)
  t.equal(decryptPin(hex(res.GPN_PINBLK), ksn, pan, bdk), '987654')
  t.throws(() => decryptPin(hex(res.GPN_PINBLK), ksn, pan), 'not under another BDK')
  t.throws(() => decryptPin(hex(res.GPN_PINBLK), ksn, '5413330089600028'), { code: 'MPOS_ERR_PIN_BLOCK_INVALID' }, 'not with another PAN')
})

t.test('GPN: a PAN under 13 digits is zero-padded on the left (§6.5.11 example)', async (t) => {
  const { pad, client } = setup(t)
  pad.cardholder.typePin('4321')
  const res = await client.call('GPN', gpn('670192387'))
  const ksn = hex(res.GPN_KSN)
  const key = pinKey(deriveTransactionKey(deriveIpek(Buffer.from(BDK, 'hex'), ksn), ksn))
  const clear = decryptPinBlock(hex(res.GPN_PINBLK), key)
  // PIN field 04 4321 FFFFFFFFFF XOR PAN field 0000 000067019238.
  const pinField = hex('044321FFFFFFFFFF')
  const panField = Buffer.from(clear.map((b, i) => b ^ pinField[i]!))
  t.equal(panField.toString('hex'), '0000000067019238', 'the PAN enters as 000067019238')
})

t.test('GPN with an empty PAN after GCX uses the card read (magstripe debit)', async (t) => {
  const { pad, client } = setup(t)
  pad.cardholder.present('magstripe-debit', 'swipe')
  const gcx = await client.call('GCX', { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500', SPE_AMOUNT: 5000 })
  t.equal(gcx.PP_CARDTYPE, '00')
  pad.cardholder.typePin('2468')
  const res = await client.call('GPN', gpn(''))
  t.equal(decryptPin(hex(res.GPN_PINBLK), hex(res.GPN_KSN), '4000056655665556'), '2468')
})

t.test('GOX: the online PIN comes back in PP_PINBLK under PP_KSN, bound to the card PAN', async (t) => {
  const { pad, client } = setup(t)
  pad.cardholder.present('visa-credit', 'insert')
  await client.call('GCX', { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500', SPE_AMOUNT: 12345 })
  pad.cardholder.typePin('1357')
  const gox = await client.call('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_AMOUNT: 12345, SPE_TAGLIST: ['9F27'] })
  t.equal(gox.PP_GOXRES, '202000', 'online, online PIN captured')
  t.equal(decryptPin(gox.PP_PINBLK!, gox.PP_KSN!, '4761739001010010'), '1357')
  t.equal(getKsnCounter(gox.PP_KSN!), 1)
  t.same(await ksnOf(client), gox.PP_KSN)
})

t.test('GOC: the online PIN in GOC_PINBLK under GOC_KSN; the KSN goes on from GPN', async (t) => {
  const { pad, client } = setup(t)
  pad.cardholder.typePin('1111')
  const first = await client.call('GPN', gpn('4761739001010010'))
  pad.cardholder.present('mastercard-credit', 'insert')
  const gcr = await client.call('GCR', {
    GCR_ACQIDXREQ: '00',
    GCR_APPTYPREQ: '99',
    GCR_AMOUNT: 2000,
    GCR_DATE: '260115',
    GCR_TIME: '101500',
    GCR_TABVER: factoryTables().version,
    GCR_IDAPP: [],
  })
  t.equal(gcr.GCR_CARDTYPE, '03')
  pad.cardholder.typePin('2222')
  const goc = await client.call('GOC', {
    GOC_AMOUNT: 2000,
    GOC_CASHBACK: 0,
    GOC_EXCLIST: '0',
    GOC_CONNECT: '1',
    GOC_RUF1: '0',
    GOC_METHOD: '3',
    GOC_KEYIDX: 1,
    GOC_WKENC: '0'.repeat(32),
    GOC_RISKMAN: '0',
    GOC_FLRLIMIT: '00000000',
    GOC_TPBRS: 0,
    GOC_TVBRS: '00000000',
    GOC_MTPBRS: 0,
    GOC_ACQPR: '',
    GOC_TAGS1: '9F27',
    GOC_TAGS2: '',
  })
  t.match(goc, { GOC_DECISION: '2', GOC_PINONL: '1' })
  t.equal(getKsnCounter(hex(goc.GOC_KSN)), getKsnCounter(hex(first.GPN_KSN)) + 1, 'the next counter')
  t.equal(decryptPin(hex(goc.GOC_PINBLK), hex(goc.GOC_KSN), '5413330089600010'), '2222')
})

t.test('the counter skips values with more than 10 one bits (X9.24-1)', async (t) => {
  // Counter 7FEh has 10 one bits; 7FFh would have 11, so the next KSN is …800h.
  const { pad, client } = setup(t, { dukpt: { initialKsn: 'FFFF9876543210E007FE' } })
  pad.cardholder.typePin('1234')
  const res = await client.call('GPN', gpn('4012345678909'))
  t.equal(res.GPN_KSN, 'FFFF9876543210E00800')
  t.equal(decryptPin(hex(res.GPN_PINBLK), hex(res.GPN_KSN), '4012345678909'), '1234')
})

t.test('an entry cancelled by the cardholder uses no KSN', async (t) => {
  const { pad, client, clock } = setup(t)
  const cancelled = client.call('GPN', gpn('4012345678909'))
  const off = pad.cardholder.onEvent((e) => {
    if (e.type !== 'asked-for-pin') return
    off()
    clock.setTimeout(() => pad.cardholder.press('cancel'), 20)
  })
  await t.rejects(cancelled, { code: 'MPOS_ERR_PINPAD_STATUS', status: 13 })
  t.same(await ksnOf(client), hex('FFFF9876543210E00000'), 'still the initial KSN')
  t.same(pad.display.screen.lines, [], 'GPN clears the display, failed or not (§6.5.11)')
  pad.cardholder.typePin('1234')
  t.equal((await client.call('GPN', gpn('4012345678909'))).GPN_KSN, 'FFFF9876543210E00001')
})

t.test('every key index loaded has its own KSN sequence', async (t) => {
  const { pad, client } = setup(t, { dukpt: { keyIndexes: [1, 3], initialKsn: 'FFFF9876543210E00000' } })
  pad.cardholder.typePin('1234')
  t.equal((await client.call('GPN', gpn('4012345678909', 3))).GPN_KSN, 'FFFF9876543210E00001')
  pad.cardholder.typePin('1234')
  t.equal((await client.call('GPN', gpn('4012345678909', 3))).GPN_KSN, 'FFFF9876543210E00002')
  const gix = await client.call('GIX', { SPE_IDLIST: [0x9101, 0x9103, 0x9102] })
  t.same(gix.PP_KSNTDESP01, hex('FFFF9876543210E00000'), 'key #01 untouched')
  t.same(gix.PP_KSNTDESP03, hex('FFFF9876543210E00002'))
  t.equal(gix.PP_KSNTDESP02, undefined, 'no key #02: no item')
})
