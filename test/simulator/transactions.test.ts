/**
 * Whole transactions against the virtual pinpad, driven by the host stack (HostLink +
 * PinpadClient) through a real pseudo-terminal pair: socat makes the pair, the serialport binding
 * opens both ends, the virtual pinpad serves one and the host the other. Outcomes come from the
 * test-card catalogue and the amount's cents (src/simulator/outcomes.ts). Real time, the
 * specification's link timings: nothing here hangs on a race with a timer (waits are event-driven;
 * the timed checks are lower bounds), so a busy machine makes it slower, never wrong.
 */
import t, { type Test } from 'tap'
import { openPtyPair, type PtyPair } from '../helpers/pty.js'
import { openSerialPort } from '../../src/transport/serial-port.js'
import { HostLink } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { emvMap } from '../../src/abecs/emv-tlv.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../../src/simulator/virtual-pinpad.js'
import type { CardholderEvent } from '../../src/simulator/cardholder.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { deriveIpek, deriveTransactionKey, pinKey } from '../../src/crypto/dukpt.js'
import { decryptPinBlock, parseIso0PinBlock } from '../../src/crypto/pin-block.js'

const BDK = '0123456789ABCDEFFEDCBA9876543210'
const FAST_CARDHOLDER = { presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 }

interface Rig {
  pad: VirtualPinpad
  client: PinpadClient
  link: HostLink
  pty: PtyPair
  /** NTM messages the host received. */
  notes: string[]
  /** What the cardholder was asked and did. */
  events: CardholderEvent['type'][]
}

async function rig(t: Test, options: VirtualPinpadOptions = {}): Promise<Rig> {
  const pty = await openPtyPair({ t })
  const pinpadPort = await openSerialPort(pty.b)
  const pad = new VirtualPinpad({
    tables: factoryTables(),
    timings: { noCardTimeoutMs: 300 },
    ...options,
    cardholder: { ...FAST_CARDHOLDER, ...options.cardholder },
  })
  pad.attach(pinpadPort)
  const hostPort = await openSerialPort(pty.a)
  const link = new HostLink(hostPort)
  const notes: string[] = []
  const events: CardholderEvent['type'][] = []
  link.on('notification', ({ message }) => notes.push(message.trim()))
  pad.cardholder.onEvent((e) => events.push(e.type))
  t.teardown(async () => {
    pad.detach()
    await link.close().catch(() => {})
    await pinpadPort.close().catch(() => {})
    await pty.close()
  })
  await link.open() // CAN/EOT first, as §2.2.2.3 asks
  return { pad, client: new PinpadClient(link), link, pty, notes, events }
}

/** Resolves at the cardholder's next event of this type. */
const next = (pad: VirtualPinpad, type: CardholderEvent['type']) =>
  new Promise<void>((resolve) => {
    const off = pad.cardholder.onEvent((e) => {
      if (e.type !== type) return
      off()
      resolve()
    })
  })

const DATE = { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500' }
const TAGS = ['9F27', '95', '9F26', '9F36', '9F34', '9F02', '8A']
const gcx = (client: PinpadClient, amount: number, extra: object = {}) => client.call('GCX', { ...DATE, SPE_AMOUNT: amount, ...extra })
const gox = (client: PinpadClient, amount: number, extra: object = {}) =>
  client.call('GOX', { SPE_ACQREF: 1, SPE_MTHDPIN: '3', SPE_KEYIDX: 1, SPE_AMOUNT: amount, SPE_TAGLIST: TAGS, ...extra })
const fcx = (client: PinpadClient, option: string, arc?: string) =>
  client.call('FCX', { SPE_FCXOPT: option, ...(arc ? { SPE_ARC: arc } : {}), SPE_TAGLIST: TAGS })
const emv = (data: Buffer | undefined) => {
  const map = emvMap(data ?? Buffer.alloc(0))
  return (tag: string) => map.get(tag)?.toString('hex').toUpperCase()
}
const decryptPin = (block: Buffer, ksn: Buffer, pan: string) => {
  const key = pinKey(deriveTransactionKey(deriveIpek(Buffer.from(BDK, 'hex'), ksn), ksn))
  return parseIso0PinBlock(decryptPinBlock(block, key), pan)
}
/** SPE_TRMPAR with a floor limit (cents), no random selection (§6.9.3.1). */
const floorLimit = (cents: number) => {
  const b = Buffer.alloc(10)
  b.writeUInt32BE(cents, 0)
  return b
}

t.test('chip with online PIN: GCX → GOX → FCX → RMC (visa-credit)', async (t) => {
  const { client, pad, notes, events } = await rig(t)
  const card = await gcx(client, 15000)
  t.match(card, {
    PP_CARDTYPE: '03',
    PP_PAN: '4761739001010010',
    PP_PANSEQNO: '01',
    PP_AIDTABINFO: ['010101'],
    PP_LABEL: 'VISA CREDITO',
    PP_CHNAME: 'SILVA/ANA',
    PP_CARDEXP: '301231',
    PP_TRK2INC: '4761739001010010=3012201',
  })
  t.equal(pad.cardholder.inserted, 'visa-credit')
  t.ok(notes.some((n) => n.startsWith('SELECIONADO:') && n.includes('VISA CREDITO')), 'NTM "SELECIONADO: VISA CREDITO" (§6.9.1)')

  const chip = await gox(client, 15000)
  t.equal(chip.PP_GOXRES, '202000', 'online, no signature, online PIN')
  t.equal(decryptPin(chip.PP_PINBLK!, chip.PP_KSN!, '4761739001010010'), '1234')
  const first = emv(chip.PP_EMVDATA)
  t.equal(first('9F27'), '80', 'ARQC')
  t.equal(first('9F34'), '420300', 'CVM results: enciphered PIN online')
  t.equal(first('9F02'), '000000015000', 'the amount')
  t.equal(first('9F26')?.length, 16)

  const done = await fcx(client, '0000', '00')
  t.equal(done.PP_FCXRES, '000', 'approved')
  const second = emv(done.PP_EMVDATA)
  t.equal(second('9F27'), '40', 'TC')
  t.equal(second('8A'), '3030', 'ARC "00"')
  t.equal(Number.parseInt(second('9F36')!, 16), Number.parseInt(first('9F36')!, 16), 'same ATC within the transaction')

  await client.call('RMC', { RMC_MSG: '    APROVADA' })
  t.equal(pad.cardholder.inserted, undefined, 'RMC returned once the card was taken')
  t.same(pad.display.screen.lines, ['    APROVADA', ''])
  t.same(events.filter((e) => e.startsWith('asked')), ['asked-for-card', 'asked-for-pin', 'asked-to-remove'])
})

t.test('chip approved offline under the host\'s floor limit; the same forbidden offline goes online', async (t) => {
  const { client } = await rig(t, { cardholder: { autoCard: 'visa-credit-offline-pin' } })
  await gcx(client, 3000)
  const offline = await gox(client, 3000, { SPE_TRMPAR: floorLimit(50000) })
  t.equal(offline.PP_GOXRES, '001000', 'approved offline, offline PIN verified')
  t.equal(emv(offline.PP_EMVDATA)('9F27'), '40', 'TC at the first GENERATE AC')
  t.equal(offline.PP_PINBLK, undefined, 'no online PIN block')
  t.equal((await fcx(client, '0000', '00')).PP_FCXRES, '000', 'FCX after an offline approval echoes it (§6.9.4.1)')
  await client.call('RMC', { RMC_MSG: 'APROVADA' })

  await gcx(client, 3000)
  const forced = await gox(client, 3000, { SPE_TRMPAR: floorLimit(50000), SPE_GOXOPT: '01000' })
  t.equal(forced.PP_GOXRES, '201000', 'SPE_GOXOPT "x1xxx": never a TC, online')
  t.equal((await fcx(client, '0000', '00')).PP_FCXRES, '000')
})

t.test('chip declined: by the acquirer, by the card after online (cents 71), without communication', async (t) => {
  const { client } = await rig(t)
  await gcx(client, 2005)
  t.equal((await gox(client, 2005)).PP_GOXRES, '202000')
  const refused = await fcx(client, '1000', '05')
  t.equal(refused.PP_FCXRES, '100')
  t.equal(emv(refused.PP_EMVDATA)('9F27'), '00', 'AAC')
  await client.call('RMC', { RMC_MSG: 'NEGADA' })

  await gcx(client, 2071)
  t.equal((await gox(client, 2071)).PP_GOXRES, '202000')
  const byCard = await fcx(client, '0000', '00')
  t.equal(byCard.PP_FCXRES, '100', 'the acquirer approved, the chip declined')
  t.equal(emv(byCard.PP_EMVDATA)('9F27'), '00')
  await client.call('RMC', { RMC_MSG: 'NEGADA' })

  await gcx(client, 2000)
  await gox(client, 2000)
  const offline = await fcx(client, '2000')
  t.equal(offline.PP_FCXRES, '100', 'unable to go online: declined')
  t.equal(emv(offline.PP_EMVDATA)('8A'), '5A33', 'ARC "Z3"')
})

t.test('chip declined by the card at GOX: amount cents 70, and an expired card', async (t) => {
  const { client, pad } = await rig(t)
  await gcx(client, 4570)
  const declined = await gox(client, 4570)
  t.equal(declined.PP_GOXRES?.[0], '1', 'decision 1: declined offline')
  t.equal(emv(declined.PP_EMVDATA)('9F27'), '00', 'AAC')
  await client.call('RMC', { RMC_MSG: 'NEGADA' })

  pad.cardholder.present('expired-card', 'insert')
  await gcx(client, 1000)
  const expired = await gox(client, 1000)
  t.equal(expired.PP_GOXRES?.[0], '1')
  t.ok(Number.parseInt(emv(expired.PP_EMVDATA)('95')!.slice(2, 4), 16) & 0x40, 'TVR: expired application')
})

t.test('chip with offline PIN: amount cents 02, and the offline-PIN card', async (t) => {
  const { client, pad } = await rig(t)
  await gcx(client, 1002)
  const byAmount = await gox(client, 1002)
  t.equal(byAmount.PP_GOXRES, '201000', 'online, PIN verified offline')
  t.equal(byAmount.PP_PINBLK, undefined)
  t.equal(emv(byAmount.PP_EMVDATA)('9F34'), '410302', 'CVM results: plaintext PIN offline, successful')
  await fcx(client, '0000', '00')
  await client.call('RMC', { RMC_MSG: 'OK' })

  pad.cardholder.present('visa-credit-offline-pin', 'insert')
  await gcx(client, 1000)
  t.equal((await gox(client, 1000)).PP_GOXRES, '201000')
})

t.test('PIN tries exceeded (cents 75): three wrong offline PINs block it, the card declines', async (t) => {
  const { client, events } = await rig(t)
  await gcx(client, 8875)
  const chip = await gox(client, 8875)
  t.equal(chip.PP_GOXRES, '100000', 'declined, no PIN verified')
  t.equal(events.filter((e) => e === 'asked-for-pin').length, 3, 'asked for the PIN three times')
  t.ok(Number.parseInt(emv(chip.PP_EMVDATA)('95')!.slice(4, 6), 16) & 0x20, 'TVR: PIN try limit exceeded')
  t.equal(emv(chip.PP_EMVDATA)('9F27'), '00')
})

t.test('magstripe debit with PIN: GCX → GTK → GPN with an empty PAN', async (t) => {
  const { client } = await rig(t, { cardholder: { autoCard: 'magstripe-debit' } })
  const card = await gcx(client, 5000)
  t.same(card, {
    PP_CARDTYPE: '00',
    PP_ICCSTAT: '0',
    PP_TRK1INC: 'B4000056655665556^FERREIRA/JULIA^3004120',
    PP_TRK2INC: '4000056655665556=3004120',
  })
  const tracks = await client.call('GTK', {})
  t.equal(tracks.PP_TRACK1?.toString('latin1'), 'B4000056655665556^FERREIRA/JULIA^30041200000000000123000000')
  t.equal(tracks.PP_TRACK2?.toString('hex').toUpperCase(), '4000056655665556D30041200000012300')
  await t.rejects(client.call('GTK', {}), { code: 'MPOS_ERR_PINPAD_STATUS', status: 10 }, 'GTK only once per read (§6.5.12)')
  const pin = await client.call('GPN', {
    GPN_METHOD: '3',
    GPN_KEYIDX: 1,
    GPN_WKENC: '0'.repeat(32),
    GPN_PANLEN: 0,
    GPN_PAN: '',
    entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: 'SENHA:' }],
  })
  t.equal(decryptPin(Buffer.from(pin.GPN_PINBLK, 'hex'), Buffer.from(pin.GPN_KSN, 'hex'), '4000056655665556'), '1234')
  await t.rejects(gox(client, 5000), { code: 'MPOS_ERR_PINPAD_STATUS', status: 10 }, 'no chip to process')
})

t.test('contactless EMV (mastercard-contactless, SPE_GCXOPT "10000")', async (t) => {
  const { client, pad } = await rig(t, { cardholder: { autoCard: 'mastercard-contactless' } })
  const card = await gcx(client, 4000, { SPE_GCXOPT: '10000', SPE_TAGLIST: ['9F27', '82'] })
  t.match(card, { PP_CARDTYPE: '06', PP_DEVTYPE: '00', PP_PAN: '5413330089020011', PP_AIDTABINFO: ['010301'], PP_LABEL: 'MASTERCARD' })
  t.equal(pad.cardholder.inserted, undefined, 'a tap leaves no card in the slot')
  const chip = await gox(client, 4000)
  t.equal(chip.PP_GOXRES, '200000', 'online, no CVM under the contactless CVM limit')
  t.equal(emv(chip.PP_EMVDATA)('9F27'), '80')
  t.equal((await fcx(client, '0000', '00')).PP_FCXRES, '000', 'the acquirer\'s approval stands')
  await client.call('RMC', { RMC_MSG: 'APROVADA' })
})

t.test('a tap with the antenna off goes unnoticed; an inserted card is read', async (t) => {
  const { client, pad, events } = await rig(t, { cardholder: { autoCard: 'mastercard-contactless' } })
  const reading = gcx(client, 4000) // no SPE_GCXOPT: contactless off
  // The cardholder taps, goes unnoticed, is asked again: wait for that, however long a busy machine takes.
  while (events.filter((e) => e === 'asked-for-card').length < 2) await next(pad, 'asked-for-card')
  t.pass('the taps were ignored')
  pad.cardholder.present('mastercard-credit', 'insert')
  t.match(await reading, { PP_CARDTYPE: '03', PP_PAN: '5413330089600010' })
})

t.test('contactless as magstripe (card type 05)', async (t) => {
  const { client } = await rig(t, { cardholder: { autoCard: 'mastercard-contactless-magstripe' } })
  const card = await gcx(client, 3000, { SPE_GCXOPT: '10000' })
  t.match(card, { PP_CARDTYPE: '05', PP_TRK2INC: '5413330089010434=3002201', PP_LABEL: 'MASTERCARD', PP_AIDTABINFO: ['010301'] })
  t.equal(card.PP_PAN, undefined, 'no PP_PAN: processed as a magnetic stripe')
  const tracks = await client.call('GTK', { SPE_TRACKS: '0010' })
  t.equal(tracks.PP_TRACK2?.toString('hex').toUpperCase(), '5413330089010434D30022010000012300')
  t.equal(tracks.PP_TRACK1, undefined)
})

t.test('classic flow: GCR → GOC → FNC → RMC', async (t) => {
  const { client, pad } = await rig(t)
  const card = await client.call('GCR', {
    GCR_ACQIDXREQ: '00',
    GCR_APPTYPREQ: '99',
    GCR_AMOUNT: 9900,
    GCR_DATE: '260115',
    GCR_TIME: '101500',
    GCR_TABVER: factoryTables().version,
    GCR_IDAPP: [],
  })
  t.match(card, {
    GCR_CARDTYPE: '03',
    GCR_STATCHIP: '0',
    GCR_APPTYPE: '01',
    GCR_ACQIDX: '01',
    GCR_RECIDX: '01',
    GCR_PAN: '4761739001010010',
    GCR_TRK2: '4761739001010010=30122010000012300',
    GCR_CHNAME: 'SILVA/ANA',
    GCR_CARDEXP: '301231',
  })
  const goc = await client.call('GOC', {
    GOC_AMOUNT: 9900,
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
    GOC_TAGS1: '9F279F26',
    GOC_TAGS2: '9F36',
  })
  t.match(goc, { GOC_DECISION: '2', GOC_SIGNAT: '0', GOC_PINOFF: '0', GOC_PINONL: '1' })
  t.equal(decryptPin(Buffer.from(goc.GOC_PINBLK, 'hex'), Buffer.from(goc.GOC_KSN, 'hex'), '4761739001010010'), '1234')
  t.equal(emv(Buffer.from(goc.GOC_EMVDAT, 'hex'))('9F27'), '80')
  const fnc = await client.call('FNC', { FNC_COMMST: '0', FNC_ISSMODE: '0', FNC_ARC: '00', FNC_ISSDAT: '', FNC_ACQPR: '', FNC_TAGS: '9F278A' })
  t.equal(fnc.FNC_DECISION, '0', 'approved')
  t.same([emv(Buffer.from(fnc.FNC_EMVDAT, 'hex'))('9F27'), emv(Buffer.from(fnc.FNC_EMVDAT, 'hex'))('8A')], ['40', '3030'])
  await client.call('RMC', { RMC_MSG: 'OBRIGADO' })
  t.equal(pad.cardholder.inserted, undefined)
})

t.test('table reload on 020: GCR → 020 → TLI/TLR/TLE → empty GCR goes on with the inserted card', async (t) => {
  const { client, pad, events } = await rig(t, { tables: 'empty' })
  const factory = factoryTables()
  const request = {
    GCR_ACQIDXREQ: '00',
    GCR_APPTYPREQ: '99',
    GCR_AMOUNT: 1000,
    GCR_DATE: '260115',
    GCR_TIME: '101500',
    GCR_TABVER: factory.version,
    GCR_IDAPP: [],
  }
  await t.rejects(client.call('GCR', request), { code: 'MPOS_ERR_PINPAD_STATUS', status: 20, statusName: 'ST_TABVERDIF' })
  t.equal(pad.cardholder.inserted, 'visa-credit', 'the card stays in')

  t.equal((await client.request('TLI', { TLI_ACQIDX: '00', TLI_TABVER: factory.version })).status, 20)
  let batch: Buffer[] = []
  const flush = async () => {
    if (batch.length) await client.call('TLR', { records: batch })
    batch = []
  }
  for (const record of factory.records) {
    if (2 + batch.reduce((n, r) => n + r.length, 0) + record.length > 999) await flush()
    batch.push(record)
  }
  await flush()
  await client.call('TLE', {})
  t.equal((await client.call('GTS', { GTS_ACQIDX: '00' })).GTS_TABVER, factory.version)
  t.equal(pad.tables.count, factory.records.length)

  const card = await client.call('GCR', { resume: true })
  t.match(card, { GCR_CARDTYPE: '03', GCR_ACQIDX: '01', GCR_RECIDX: '01', GCR_PAN: '4761739001010010' })
  t.equal(events.filter((e) => e === 'asked-for-card').length, 1, 'no second prompt: the inserted card was used')
})

t.test('cancel during GCX: CAN → EOT, then the pinpad serves the next command', async (t) => {
  const { client, link, pad } = await rig(t, { cardholder: { autoCard: null } })
  const asked = next(pad, 'asked-for-card')
  const reading = gcx(client, 1000)
  await asked
  await link.cancel()
  await t.rejects(reading, { code: 'MPOS_ERR_LINK_CANCELLED' })
  t.equal(link.busy, undefined)
  const gin = await client.call('GIN', { GIN_ACQIDX: '00' })
  t.match(gin, { GIN_MNAME: 'GERTEC', GIN_SPECVER: '2.12' })
  pad.cardholder.present('visa-credit', 'insert')
  t.match(await gcx(client, 1000), { PP_CARDTYPE: '03' }, 'a new GCX reads normally')
})

t.test('unplug during GOX: the host gets MPOS_ERR_LINK_CLOSED', async (t) => {
  const { client, link, pad, pty } = await rig(t, { cardholder: { autoPin: null } })
  await gcx(client, 1000)
  const asked = next(pad, 'asked-for-pin')
  const chip = gox(client, 1000)
  chip.catch(() => {}) // asserted below; the unplug may reject it first
  await asked
  await pty.close()
  await t.rejects(chip, { code: 'MPOS_ERR_LINK_CLOSED' })
  t.ok(link.closed)
})

t.test('no card (cents 12): 012 after the no-card timeout', async (t) => {
  const { client } = await rig(t)
  const started = Date.now()
  await t.rejects(gcx(client, 1012), { code: 'MPOS_ERR_PINPAD_STATUS', status: 12, statusName: 'ST_TIMEOUT' })
  t.ok(Date.now() - started >= 290, `after ${Date.now() - started} ms (noCardTimeoutMs 300)`)
  await t.rejects(
    client.call('GCR', {
      GCR_ACQIDXREQ: '00',
      GCR_APPTYPREQ: '99',
      GCR_AMOUNT: 112,
      GCR_DATE: '260115',
      GCR_TIME: '101500',
      GCR_TABVER: factoryTables().version,
      GCR_IDAPP: [],
    }),
    { code: 'MPOS_ERR_PINPAD_STATUS', status: 12 },
    'GCR too',
  )
})

t.test('cardholder cancel (cents 13): 013', async (t) => {
  const { client, pad } = await rig(t)
  await t.rejects(gcx(client, 2013), { code: 'MPOS_ERR_PINPAD_STATUS', status: 13, statusName: 'ST_CANCEL' })
  t.same(pad.display.screen.lines, [], 'the display is cleared on error')
})

t.test('faulty cards: 079, 060, 061, 076 and 070; a swipe afterwards reports PP_ICCSTAT', async (t) => {
  const { client, pad } = await rig(t, { cardholder: { autoCard: null } })
  const cases = [
    ['blocked-card', 79, 'ST_CARDBLOCKED', '0'],
    ['dumb-card', 60, 'ST_DUMBCARD', '1'],
    ['chip-error-card', 61, 'ST_ERRCARD', '1'],
    ['fallback-card', 76, 'ST_ERRFALLBACK', '1'],
    ['unsupported-aid-card', 70, 'ST_CARDAPPNAV', '2'],
  ] as const
  for (const [name, status, statusName, iccStat] of cases) {
    pad.cardholder.present(name, 'insert')
    await t.rejects(gcx(client, 1000), { code: 'MPOS_ERR_PINPAD_STATUS', status, statusName }, name)
    pad.cardholder.remove()
    pad.cardholder.present(name, 'swipe')
    const swiped = await gcx(client, 1000)
    t.match(swiped, { PP_CARDTYPE: '00', PP_ICCSTAT: iccStat }, `${name}, then swiped: PP_ICCSTAT ${iccStat}`)
  }
  pad.cardholder.present('swiped-chip-card', 'swipe')
  t.match(await gcx(client, 1000), { PP_CARDTYPE: '00', PP_ICCSTAT: '0' }, 'a swipe after a swipe: no chip attempt to report')
})

t.test('the manual control API: present, typePin, press(cancel), remove', async (t) => {
  const { client, pad } = await rig(t, { cardholder: { autoCard: null, autoPin: null } })
  let asked = next(pad, 'asked-for-card')
  let reading = gcx(client, 1000)
  await asked
  pad.cardholder.press('cancel')
  await t.rejects(reading, { code: 'MPOS_ERR_PINPAD_STATUS', status: 13 }, 'CANCEL while the card is awaited')

  asked = next(pad, 'asked-for-card')
  reading = gcx(client, 1000)
  await asked
  pad.cardholder.present('elo-credit', 'insert')
  t.match(await reading, { PP_CARDTYPE: '03', PP_PAN: '6362970000457013', PP_LABEL: 'ELO CREDITO' })

  let pinAsked = next(pad, 'asked-for-pin')
  const cancelled = gox(client, 1000)
  await pinAsked
  pad.cardholder.press('cancel')
  await t.rejects(cancelled, { code: 'MPOS_ERR_PINPAD_STATUS', status: 13 }, 'CANCEL at the PIN')

  pad.cardholder.remove()
  pad.cardholder.present('elo-credit', 'insert')
  await gcx(client, 1000)
  pinAsked = next(pad, 'asked-for-pin')
  const chip = gox(client, 1000)
  await pinAsked
  pad.cardholder.typePin('4321')
  const res = await chip
  t.equal(decryptPin(res.PP_PINBLK!, res.PP_KSN!, '6362970000457013'), '4321')
  await fcx(client, '0000', '00')

  const removal = next(pad, 'asked-to-remove')
  const removing = client.call('RMC', { RMC_MSG: 'RETIRE' })
  await removal
  await new Promise((r) => setTimeout(r, 100))
  t.equal(pad.cardholder.inserted, 'elo-credit', 'nobody takes the card out on their own')
  pad.cardholder.remove()
  await removing
  t.equal(pad.cardholder.inserted, undefined)
})
