/**
 * The key slots of the virtual pinpad as a field terminal has them (§5.1) and the commands that use
 * them: EBX (§6.5.6), ENB (§6.5.7), GDU (§6.5.9), GPN with MK/WK, GIX key maps and DAT KSNs, GTK in
 * every encryption mode (§5.4.2, §6.3.4.2) and GEN/K3 — each result checked as a host (or the
 * acquirer's HSM) would, from the published test keys.
 */
import t from 'tap'
import { tdesDecryptCbc, tdesDecryptEcb, tdesEncryptCbc, tdesEncryptEcb } from '../../src/crypto/des.js'
import { deriveIpek, deriveTransactionKey, macKey } from '../../src/crypto/dukpt.js'
import { generateRsaKeyPair, pkcs1Type2Payload, rsaDecryptRaw } from '../../src/crypto/rsa.js'
import { decryptPinBlock, parseIso0PinBlock } from '../../src/crypto/pin-block.js'
import { decryptNibbleTrack, decryptTrack1 } from '../../src/abecs/track-crypt.js'
import { fieldPinpad } from '../helpers/field-pinpad.js'
import { hex } from '../helpers/hex.js'

const BDK = hex('0123456789ABCDEFFEDCBA9876543210')
/** MK:TDES:* #nn of the field terminal (src/simulator/field-terminal.ts). */
const mk = (nn: string) => hex(`0123456789ABCDEFFEDCBA98765432${nn}`)
const WK = hex('00112233445566778899AABBCCDDEEFF')
/** The host sends WK under the MK: the pinpad decrypts it (§3.3.6 SPE_WKENC). */
const wkenc = (nn: string) => tdesEncryptEcb(mk(nn), WK)
const dukptDatKey = (ksn: Buffer, variant: 'request' | 'response') => macKey(deriveTransactionKey(deriveIpek(BDK, ksn), ksn), variant)
const DATA = Buffer.from('DADO A SER CRIPTOGRAFADO', 'latin1')
const DATE = { SPE_TRNDATE: '260115', SPE_TRNTIME: '101500' }

t.test('GIX: the field terminal\'s key maps and a DUKPT:TDES:DAT KSN', async (t) => {
  const { client } = fieldPinpad(t)
  const gix = await client.call('GIX', { SPE_IDLIST: [0x8032, 0x8033, 0x8035, 0x8036, 0x9202, 0x9208] })
  t.equal(gix.PP_MKTDESP!.slice(0, 32), '00111000111111110000001100000100')
  t.equal(gix.PP_MKTDESD!.slice(0, 32), '00101000111111111101011101100100')
  t.equal(gix.PP_DKPTTDESP!.slice(0, 32), '01110000101011101111111101100100')
  t.notOk(gix.PP_MKTDESD!.includes('2'), '100 positions, none unsupported')
  t.notOk('PP_KSNTDESD02' in gix, 'no DUKPT:TDES:DAT #02')
  t.same(gix.PP_KSNTDESD08, hex('FFFF9876543108E00000'))
})

t.test('EBX with MK/WK:TDES:DAT, ECB and CBC (§3.3.6)', async (t) => {
  const { client } = fieldPinpad(t)
  const ecb = await client.call('EBX', { SPE_DATAIN: DATA, SPE_MTHDDAT: '10', SPE_KEYIDX: 2, SPE_WKENC: wkenc('02') })
  t.same(ecb.PP_DATAOUT, tdesEncryptEcb(WK, DATA))
  t.notOk(ecb.PP_KSN, 'no KSN for MK/WK')
  const iv = hex('0102030405060708')
  const cbc = await client.call('EBX', { SPE_DATAIN: DATA, SPE_MTHDDAT: '11', SPE_KEYIDX: 2, SPE_WKENC: wkenc('02'), SPE_IVCBC: iv })
  t.same(tdesDecryptCbc(WK, iv, cbc.PP_DATAOUT!), DATA)
  const zeroIv = await client.call('EBX', { SPE_DATAIN: DATA, SPE_MTHDDAT: '11', SPE_KEYIDX: 2, SPE_WKENC: wkenc('02') })
  t.same(zeroIv.PP_DATAOUT, tdesEncryptCbc(WK, Buffer.alloc(8), DATA), 'no SPE_IVCBC: a zero IV')
})

t.test('EBX with DUKPT:TDES:DAT #1 ("30") and #3 ("50"/"51"): one KSN for the whole block', async (t) => {
  const { client } = fieldPinpad(t)
  const one = await client.call('EBX', { SPE_DATAIN: DATA, SPE_MTHDDAT: '30', SPE_KEYIDX: 8 })
  t.same(one.PP_KSN, hex('FFFF9876543108E00001'))
  t.same(one.PP_DATAOUT, tdesEncryptEcb(dukptDatKey(one.PP_KSN!, 'request'), DATA))
  const three = await client.call('EBX', { SPE_DATAIN: DATA, SPE_MTHDDAT: '51', SPE_KEYIDX: 8 })
  t.same(three.PP_KSN, hex('FFFF9876543108E00002'), 'the next KSN')
  t.same(tdesDecryptCbc(dukptDatKey(three.PP_KSN!, 'response'), Buffer.alloc(8), three.PP_DATAOUT!), DATA)
})

t.test('EBX refusals (§6.5.6)', async (t) => {
  const { client } = fieldPinpad(t)
  const ebx = (req: object) => client.call('EBX', { SPE_DATAIN: DATA, SPE_MTHDDAT: '10', SPE_KEYIDX: 2, SPE_WKENC: wkenc('02'), ...req })
  const status = (s: number) => ({ code: 'MPOS_ERR_PINPAD_STATUS', status: s })
  await t.rejects(ebx({ SPE_DATAIN: Buffer.alloc(12) }), status(11), 'not a multiple of 8')
  await t.rejects(ebx({ SPE_DATAIN: Buffer.alloc(264) }), status(11), 'over 256 bytes')
  await t.rejects(ebx({ SPE_KEYIDX: 3 }), status(42), 'MK:TDES:DAT #03 is not loaded')
  await t.rejects(ebx({ SPE_WKENC: undefined }), status(19), 'MK/WK without SPE_WKENC')
  await t.rejects(ebx({ SPE_MTHDDAT: '71' }), status(11), 'the 2.12 example\'s method "71" is in no list')
  await t.rejects(ebx({ SPE_MTHDDAT: '00' }), status(42), 'MK:DES: never loaded')
  await t.rejects(ebx({ SPE_MTHDDAT: '90' }), status(11), 'a random key is for GTK only')
  await t.rejects(client.call('EBX', { SPE_DATAIN: DATA, SPE_KEYIDX: 2 } as never), status(19), 'SPE_MTHDDAT is mandatory')
})

t.test('EBX on a pinpad with 10 positions: index 45 is out of range (ST_INVPARM)', async (t) => {
  const { client } = fieldPinpad(t, { keys: { 'MK:TDES:DAT': { '02': mk('02').toString('hex') } } })
  await t.rejects(client.call('EBX', { SPE_DATAIN: DATA, SPE_MTHDDAT: '10', SPE_KEYIDX: 45, SPE_WKENC: wkenc('02') }), { code: 'MPOS_ERR_PINPAD_STATUS', status: 11 })
})

t.test('ENB (§3.3.7) and GDU (§3.3.9)', async (t) => {
  const { client } = fieldPinpad(t)
  const input = '4C45455045415254'
  const enb = await client.call('ENB', { ENB_METHOD: '1', ENB_MKIDX: '02', ENB_WKENC: wkenc('02').toString('hex'), ENB_INPUT: input })
  t.equal(enb.ENB_OUTPUT, tdesEncryptEcb(WK, hex(input)).toString('hex').toUpperCase())
  await t.rejects(client.call('ENB', { ENB_METHOD: '1', ENB_MKIDX: '03', ENB_WKENC: '0'.repeat(32), ENB_INPUT: input }), { status: 42 } as never)
  t.same(await client.call('GDU', { GDU_METHOD: '3', GDU_IDX: '02' }), { GDU_KSN: 'FFFF9876543002E00001' }, 'the KSN of the next use')
  t.same(await client.call('GDU', { GDU_METHOD: '3', GDU_IDX: '02' }), { GDU_KSN: 'FFFF9876543002E00001' }, 'asking does not use it')
  await t.rejects(client.call('GDU', { GDU_METHOD: '3', GDU_IDX: '05' }), { status: 42 } as never)
  await t.rejects(client.call('GDU', { GDU_METHOD: '2', GDU_IDX: '01' }), { status: 42 } as never, 'DUKPT:DES: none')
})

t.test('GPN with MK/WK:TDES:PIN (method "1"): KSN zeros, PIN block under the working key', async (t) => {
  const { client, pad } = fieldPinpad(t)
  pad.cardholder.typePin('4321')
  const pan = '4761739001010010'
  const res = await client.call('GPN', {
    GPN_METHOD: '1',
    GPN_KEYIDX: 8,
    GPN_WKENC: tdesEncryptEcb(mk('08'), WK).toString('hex'),
    GPN_PANLEN: pan.length,
    GPN_PAN: pan,
    entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: 'SENHA:' }],
  })
  t.equal(res.GPN_KSN, '0'.repeat(20))
  t.equal(parseIso0PinBlock(decryptPinBlock(hex(res.GPN_PINBLK), WK), pan), '4321')
})

t.test('GTK with MK/WK ECB and 6 digits in clear: the host reads PAN and track 2 back', async (t) => {
  const { client, pad } = fieldPinpad(t, { cardholder: { autoCard: 'visa-credit' } })
  await client.call('GCX', { ...DATE, SPE_AMOUNT: 1000 })
  const res = await client.call('GTK', { SPE_TRACKS: '1010', SPE_MTHDDAT: '10', SPE_KEYIDX: 2, SPE_WKENC: wkenc('02'), SPE_OPNDIG: '6' })
  const ecb = (d: Buffer) => tdesDecryptEcb(WK, d)
  t.equal(res.PP_ENCPAN!.subarray(0, 3).toString('hex'), '476173', 'the first 6 digits in clear')
  t.equal(decryptNibbleTrack(res.PP_ENCPAN!, 6, ecb), '4761739001010010')
  t.match(decryptNibbleTrack(res.PP_TRACK2!, 6, ecb), /^4761739001010010=3012/)
  t.notOk(res.PP_TRACK1, 'no track 1 for a chip card, and none asked')
  t.notOk(pad.session?.tracksForGtk, 'GTK is once per read')
})

t.test('GTK with DUKPT: ECB shares one KSN; CBC gives each field its own (§6.3.4.2)', async (t) => {
  const { client } = fieldPinpad(t, { cardholder: { autoCard: 'magstripe-credit' } })
  await client.call('GCX', { ...DATE, SPE_AMOUNT: 1000 })
  const ecb = await client.call('GTK', { SPE_MTHDDAT: '50', SPE_KEYIDX: 8 })
  t.same(ecb.PP_TRK1KSN, ecb.PP_TRK2KSN, 'one KSN')
  const key = dukptDatKey(ecb.PP_TRK1KSN!, 'response')
  t.match(decryptTrack1(ecb.PP_TRACK1!, 0, (d) => tdesDecryptEcb(key, d)), /^B5555555555554444\^/)
  t.match(decryptNibbleTrack(ecb.PP_TRACK2!, 0, (d) => tdesDecryptEcb(key, d)), /^5555555555554444=/)

  await client.call('GCX', { ...DATE, SPE_AMOUNT: 1000 })
  const cbc = await client.call('GTK', { SPE_MTHDDAT: '51', SPE_KEYIDX: 8, SPE_OPNDIG: '4' })
  t.not(cbc.PP_TRK1KSN!.toString('hex'), cbc.PP_TRK2KSN!.toString('hex'), 'two KSNs')
  const k2 = dukptDatKey(cbc.PP_TRK2KSN!, 'response')
  t.match(decryptNibbleTrack(cbc.PP_TRACK2!, 4, (d) => tdesDecryptCbc(k2, Buffer.alloc(8), d)), /^5555555555554444=/)
})

t.test('GTK with a random key ("90"): KRAND under the host\'s RSA key', async (t) => {
  const { client } = fieldPinpad(t, { cardholder: { autoCard: 'visa-credit' } })
  await client.call('GCX', { ...DATE, SPE_AMOUNT: 1000 })
  const rsa = generateRsaKeyPair(2048)
  await t.rejects(client.call('GTK', { SPE_MTHDDAT: '90' }), { status: 19 } as never, 'SPE_PBKMOD/SPE_PBKEXP are mandatory')
  const res = await client.call('GTK', { SPE_MTHDDAT: '90', SPE_PBKMOD: rsa.modulus, SPE_PBKEXP: rsa.exponent })
  const krand = pkcs1Type2Payload(rsaDecryptRaw(rsa.privateKey, res.PP_ENCKRAND!))
  t.equal(decryptNibbleTrack(res.PP_ENCPAN!, 0, (d) => tdesDecryptEcb(krand, d)), '4761739001010010')
})

t.test('GTK refusals (§6.5.12)', async (t) => {
  const { client } = fieldPinpad(t, { cardholder: { autoCard: 'visa-credit' } })
  await t.rejects(client.call('GTK', {}), { status: 10 } as never, 'no CEX/GCX before')
  await client.call('GCX', { ...DATE, SPE_AMOUNT: 1000 })
  await t.rejects(client.call('GTK', { SPE_MTHDDAT: '10', SPE_WKENC: wkenc('02') }), { status: 19 } as never, 'no SPE_KEYIDX')
  await t.rejects(client.call('GTK', { SPE_MTHDDAT: '10', SPE_KEYIDX: 2, SPE_WKENC: wkenc('02'), SPE_OPNDIG: '3' }), { status: 11 } as never, 'odd SPE_OPNDIG')
  t.ok((await client.call('GTK', {})).PP_ENCPAN, 'a refused GTK does not use up the tracks')
})

t.test('GEN/02/K3 reads the same key maps (§3.8.1)', async (t) => {
  const { client } = fieldPinpad(t)
  const k3 = await client.call('GEN', { GEN: '02/K3', G02K3_KEYTYPE: '3', G02K3_KEYUSE: '0', G02K3_IDXINI: '00', G02K3_IDXEND: '09' })
  t.same(k3, { G02K3_KEYST: '0111000010' })
  await t.rejects(client.call('GEN', { GEN: '02/K3', G02K3_KEYTYPE: '1', G02K3_KEYUSE: '0', G02K3_IDXINI: '09', G02K3_IDXEND: '05' }), { status: 11 } as never)
})
