/**
 * Direct chip access on the virtual pinpad: CHP (§6.5.2) and GEN/04 (§3.8.2–3.8.4) driving a test
 * card's EMV application APDU by APDU — power, the T=0 61xx/GET RESPONSE dance, SELECT, GPO, READ
 * RECORD, a PIN verified by the card — and GEN/03/02 after GCR.
 */
import t from 'tap'
import { emvMap } from '../../src/abecs/emv-tlv.js'
import type { PinpadClient } from '../../src/abecs/client.js'
import { fieldPinpad, pressWhenAsked } from '../helpers/field-pinpad.js'

const status = (s: number) => ({ code: 'MPOS_ERR_PINPAD_STATUS', status: s })
const chp = (client: PinpadClient, CHP_SLOT: string, CHP_OPER: string, CHP_CMD = '') => client.call('CHP', { CHP_SLOT, CHP_OPER, CHP_CMD })

/** T=0: a command with data answers 61xx; GET RESPONSE fetches it. */
async function exchange(client: PinpadClient, slot: string, apdu: string): Promise<string> {
  let rsp = (await chp(client, slot, '2', apdu)).CHP_RSP
  if (rsp.startsWith('61') && rsp.length === 4) rsp = (await chp(client, slot, '2', `00C00000${rsp.slice(2)}`)).CHP_RSP
  return rsp
}

t.test('CHP: an inserted Visa card from power-on to a PIN it verifies itself', async (t) => {
  const { client, pad, clock } = fieldPinpad(t)
  await t.rejects(chp(client, '0', '1'), status(43), 'no card: ST_NOCARD')
  pad.cardholder.inserted = 'visa-credit'
  await t.rejects(chp(client, '0', '2', '00A404000E315041592E5359532E4444463031'), status(61), 'not powered: ST_ERRCARD')
  t.same(await chp(client, '0', '1'), { CHP_RSP: '3B600000' }, 'the EMV basic ATR (T=0)')
  const select = await chp(client, '0', '2', '00A4040007A0000000031010')
  t.match(select.CHP_RSP, /^61[0-9A-F]{2}$/, 'T=0: 61xx, left to the host (§3.3.2)')
  const fci = emvMap(Buffer.from((await chp(client, '0', '2', `00C00000${select.CHP_RSP.slice(2)}`)).CHP_RSP.slice(0, -4), 'hex'))
  t.ok(fci.get('6F'), 'FCI template')
  const gpo = await exchange(client, '0', '80A8000002830000')
  t.match(gpo, /^8006.{12}9000$/, 'GPO format 1: AIP and AFL')
  const record = await exchange(client, '0', '00B2011400')
  t.match(record, /^70.*9000$/)
  t.match(record, /5A08476173900101001/, 'the PAN in READ RECORD')
  t.equal(await exchange(client, '0', '80CA9F1700'), '9F1701039000', 'PIN Try Counter')
  clock.setTimeout(() => pad.cardholder.typePin('9999'), 30)
  t.same(await client.call('CHP', { CHP_SLOT: '0', CHP_OPER: '3', CHP_CMD: '00200080', CHP_PINFMT: '1', CHP_PINMSG: 'SENHA DO CARTAO' }), { CHP_RSP: '63C2' }, 'wrong PIN: 63C2')
  clock.setTimeout(() => pad.cardholder.typePin('1234'), 30)
  t.same(await client.call('CHP', { CHP_SLOT: '0', CHP_OPER: '3', CHP_CMD: '00200080', CHP_PINFMT: '1', CHP_PINMSG: 'SENHA DO CARTAO' }), { CHP_RSP: '9000' })
  clock.setTimeout(() => pad.cardholder.typePin('1234'), 30)
  t.same(await client.call('CHP', { CHP_SLOT: '0', CHP_OPER: '3', CHP_CMD: '00200000', CHP_PINFMT: '1', CHP_PINMSG: 'X' }), { CHP_RSP: '6A86' }, 'P2 00h: the §3.3.2 example\'s 6A86')
  void pressWhenAsked(pad, 'asked-for-pin', 'cancel')
  await t.rejects(client.call('CHP', { CHP_SLOT: '0', CHP_OPER: '3', CHP_CMD: '00200080', CHP_PINFMT: '1', CHP_PINMSG: 'X' }), status(13))
  t.same(await chp(client, '0', '0'), { CHP_RSP: '' })
  await t.rejects(exchange(client, '0', '80CA9F3600'), status(61), 'off again')
  pad.cardholder.remove()
})

t.test('CHP: a card pulled out after power-on is ST_NOCARD; SAM slots; the antenna (slot 9)', async (t) => {
  const { client, pad } = fieldPinpad(t)
  pad.cardholder.inserted = 'visa-credit'
  await chp(client, '0', '1')
  pad.cardholder.remove()
  await t.rejects(exchange(client, '0', '80CA9F3600'), status(43))
  await t.rejects(chp(client, '3', '1'), status(51), '2.12: no SAM is ST_NOSAM')
  await t.rejects(chp(client, '9', '1'), status(43), 'nothing on the antenna')
  pad.cardholder.tap('mastercard-contactless')
  t.same(await chp(client, '9', '1'), { CHP_RSP: '3B8080010101' }, 'PC/SC ATR of an ISO 14443-4 card')
  const ppse = await chp(client, '9', '2', '00A404000E325041592E5359532E444446303100')
  t.match(ppse.CHP_RSP, /^6F.*A0000000041010.*9000$/, 'PPSE lists the application, no 61xx over the air')
  await t.rejects(chp(client, '0', '9'), status(11), 'CHP_OPER 9')
  const dumb = fieldPinpad(t)
  dumb.pad.cardholder.inserted = 'dumb-card'
  await t.rejects(chp(dumb.client, '0', '1'), status(60), 'ST_DUMBCARD')
})

t.test('CHP on 2.20: an unsupported slot is ST_INVPARM (§6.5.2.2 in 2.20)', async (t) => {
  const { client } = fieldPinpad(t, { identity: { specVersion: '2.20' } })
  await t.rejects(chp(client, '3', '1'), status(11))
})

t.test('GEN/04: power and status, APDUs, a PIN for the card; GEN/04/04 and 03/02 after GCR', async (t) => {
  const { client, pad, clock } = fieldPinpad(t, { cardholder: { autoCard: 'visa-credit' } })
  const none = await client.call('GEN', { GEN: '04/01', G0401_OPER: '4', G0401_SLOT: '0' })
  t.match(none, { G0401_STAT: '0', G0401_ATRLEN: 0 })
  t.match(await client.call('GEN', { GEN: '04/01', G0401_OPER: '1', G0401_SLOT: '5' }), { G0401_STAT: '4' }, 'no SAM reader')
  const gcr = await client.call('GCR', {
    GCR_ACQIDXREQ: '00', GCR_APPTYPREQ: '99', GCR_AMOUNT: 1000, GCR_DATE: '260115', GCR_TIME: '101500',
    GCR_TABVER: pad.tables.version(0), GCR_IDAPP: [],
  })
  t.equal(gcr.GCR_CARDTYPE, '03')
  const on = await client.call('GEN', { GEN: '04/01', G0401_OPER: '4', G0401_SLOT: '0' })
  t.match(on, { G0401_STAT: '1' }, 'present; GCR\'s kernel session is not CHP\'s power')
  const select = await client.call('GEN', { GEN: '04/02', G0402_SLOT: '0', G0402_APDU: '00A40400', G0402_CMDDAT: 'A0000000031010', G0402_LE: 0 })
  t.match(select, { G0402_SW: /^61/ }, 'powered on demand (GCR would have), T=0')
  clock.setTimeout(() => pad.cardholder.typePin('1234'), 30)
  const pin = await client.call('GEN', { GEN: '04/03', G0403_SLOT: '0', G0403_APDU: '00200080', G0403_FORMAT: '2', G0403_MIN: 4, G0403_MAX: 12, G0403_PINMSG: 'SENHA' })
  t.same(pin, { G0403_SLOT: '0', G0403_SW: '9000' })
  const tags = await client.gen({ GEN: '04/04', G0404_TAGS: '5F2A9F02' })
  t.equal(tags.G0404_EMVDAT, '5F2A0209869F0206000000001000')
  t.same(await client.call('GEN', { GEN: '03/02', G0302_TAGS: '5F2A' }), { G0302_EMVDAT: '5F2A020986' })
})

t.test('GEN/03/03: DUKPT:TDES:DAT#1 over 8-byte blocks; GEN/04/04 without GCR is ST_INVCALL', async (t) => {
  const { client } = fieldPinpad(t)
  const out = await client.gen({ GEN: '03/03', G0303_METHOD: '3', G0303_IDX: '08', G0303_INPUT: '00112233445566778899AABBCCDDEEFF' })
  t.equal(out.G0303_KSN, 'FFFF9876543108E00001')
  t.equal(out.G0303_OUTPUT.length, 32)
  await t.rejects(client.call('GEN', { GEN: '04/04', G0404_TAGS: '9F26' }), status(10))
})
