/**
 * "PAN Criptografado" on the virtual pinpad (§3.2.5, §5.3, §6.4.4): DWK sets WKPAN (modality 1
 * under a data MK, modality 2 drawn and sent under the host's RSA key); then GCR and CKE return the
 * PAN encrypted, GPN and ENB take theirs "in reverse"; CLO and OPN end the mode.
 */
import t from 'tap'
import { tdesDecryptEcb, tdesEncryptEcb } from '../../src/crypto/des.js'
import { generateRsaKeyPair, rsaDecryptRaw } from '../../src/crypto/rsa.js'
import { decryptPanInTrack, encodeSentPan, wkpanFromCryptogram } from '../../src/abecs/pan-crypt.js'
import { deriveIpek, deriveTransactionKey, pinKey } from '../../src/crypto/dukpt.js'
import { decryptPinBlock, parseIso0PinBlock } from '../../src/crypto/pin-block.js'
import { fieldPinpad } from '../helpers/field-pinpad.js'
import { hex } from '../helpers/hex.js'

const MK02 = hex('0123456789ABCDEFFEDCBA9876543202')
const WKPAN = hex('EA528A43B02652FDEB538B42B12753FC')
const status = (s: number) => ({ code: 'MPOS_ERR_PINPAD_STATUS', status: s })
const GCR = (version: string) => ({
  GCR_ACQIDXREQ: '00', GCR_APPTYPREQ: '99', GCR_AMOUNT: 1000, GCR_DATE: '260115', GCR_TIME: '101500', GCR_TABVER: version, GCR_IDAPP: [],
})

t.test('DWK modality 1: WKPAN sent through TDES⁻¹ under MK:TDES:DAT #02; GCR then encrypts the PAN', async (t) => {
  const { client, pad } = fieldPinpad(t, { cardholder: { autoCard: 'visa-credit' } })
  const sent = tdesDecryptEcb(MK02, WKPAN).toString('hex')
  t.same(await client.call('DWK', { DWK_MODE: '1', DWK_METHOD: '1', DWK_MKIDX: '02', DWK_WKPAN: sent }), {})
  t.same(pad.wkpan, WKPAN)
  const card = await client.call('GCR', GCR(pad.tables.version(0)))
  t.not(card.GCR_PAN, '4761739001010010', 'not in clear')
  t.equal(decryptPanInTrack(card.GCR_PAN, WKPAN), '4761739001010010', 'the host opens it with WKPAN (§5.3.2)')
  await t.rejects(client.call('DWK', { DWK_MODE: '1', DWK_METHOD: '1', DWK_MKIDX: '03', DWK_WKPAN: sent }), status(42), 'MK #03 absent')
  await t.rejects(client.call('DWK', { DWK_MODE: '1', DWK_METHOD: '0', DWK_MKIDX: '02', DWK_WKPAN: sent }), status(42), 'no MK:DES keys')
})

t.test('DWK modality 2: a random WKPAN under the host\'s 1024-bit key; GPN and ENB take PANs "in reverse"', async (t) => {
  const { client, pad } = fieldPinpad(t)
  const rsa = generateRsaKeyPair(1024)
  // A 1024-bit modulus has its top bit set, so it starts above 54h as §6.4.4 requires.
  const modulus = rsa.modulus
  const res = await client.call('DWK', { DWK_MODE: '2', DWK_RSAMOD: modulus.toString('hex'), DWK_RSAEXP: rsa.exponent.toString('hex').padStart(6, '0') })
  const wkpan = wkpanFromCryptogram((c) => rsaDecryptRaw(rsa.privateKey, c), res.DWK_CRYPT!)
  t.same(wkpan, pad.wkpan)
  const pan = '5555555555554444'
  pad.cardholder.typePin('1234')
  const gpn = await client.call('GPN', {
    GPN_METHOD: '3', GPN_KEYIDX: 1, GPN_WKENC: '0'.repeat(32), GPN_PANLEN: 16, GPN_PAN: encodeSentPan(pan, wkpan),
    entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: 'SENHA' }],
  })
  const ksn = hex(gpn.GPN_KSN)
  const key = pinKey(deriveTransactionKey(deriveIpek(hex('0123456789ABCDEFFEDCBA9876543210'), ksn), ksn))
  t.equal(parseIso0PinBlock(decryptPinBlock(hex(gpn.GPN_PINBLK), key), pan), '1234', 'the pinpad used the clear PAN')
  const wk = hex('00112233445566778899AABBCCDDEEFF')
  const enb = await client.call('ENB', {
    ENB_METHOD: '1', ENB_MKIDX: '02', ENB_WKENC: tdesEncryptEcb(MK02, wk).toString('hex'), ENB_INPUT: tdesDecryptEcb(wkpan, hex('4C45455045415254')).toString('hex'),
  })
  t.equal(enb.ENB_OUTPUT, tdesEncryptEcb(wk, hex('4C45455045415254')).toString('hex').toUpperCase(), 'ENB_INPUT recovered first (§3.3.7)')
  await t.rejects(client.call('DWK', { DWK_MODE: '2', DWK_RSAMOD: `50${'00'.repeat(127)}`, DWK_RSAEXP: '010001' }), status(11), 'a modulus starting at 50h')
  await client.call('CLO', { CLO_MSG: '' })
  t.equal(pad.wkpan, undefined, 'CLO ends "PAN Criptografado" (§6.4.5)')
})

t.test('CKE in "PAN Criptografado": the tracks\' PAN under WKPAN (§3.3.3)', async (t) => {
  const { client, pad, clock } = fieldPinpad(t)
  await client.call('DWK', { DWK_MODE: '1', DWK_METHOD: '1', DWK_MKIDX: '02', DWK_WKPAN: tdesDecryptEcb(MK02, WKPAN).toString('hex') })
  clock.setTimeout(() => pad.cardholder.swipe('magstripe-debit'), 30)
  const mag = await client.call('CKE', { CKE_KEY: '0', CKE_MAG: '1', CKE_ICC: '0' })
  if (mag.CKE_EVENT !== '1') throw new Error('expected a swipe')
  t.notMatch(mag.CKE_TRK2, /4000056655665556/)
  t.equal(decryptPanInTrack(mag.CKE_TRK2, WKPAN), '4000056655665556=30041200000012300')
  await client.call('OPN', {})
  t.equal(pad.wkpan, undefined, 'a new OPN ends it too (2.20 §6.4.1)')
})
