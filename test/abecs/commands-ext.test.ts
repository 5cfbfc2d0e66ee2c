/**
 * Byte-exact tests of the layouts added for the whole command set — secure OPN, DWK, CHP, EBX, ENB,
 * GCD, GDU, MNU, GEN — against the specification's worked examples, and the examples' cryptography
 * checked with the keys they give (§3.2.2, §3.2.5, §3.3.12, §5.2.2, §5.3.1).
 */
import t, { type Test } from 'tap'
import { decodeCommand, decodeResponse, encodeCommand, encodeResponse } from '../../src/abecs/packet.js'
import { COMMANDS, type CommandSpec } from '../../src/abecs/commands/index.js'
import { openPacket, sealPacket } from '../../src/abecs/secure.js'
import { sessionKeyFrom } from '../../src/abecs/secure-host.js'
import { decryptPanInTrack, decodeSentPan, encodeSentPan, encryptPanInTrack, wkpanFromCryptogram } from '../../src/abecs/pan-crypt.js'
import { decryptNibbleTrack, decryptTrack1 } from '../../src/abecs/track-crypt.js'
import { pkcs1Type2Payload, rsaDecryptRaw, rsaPublicKey } from '../../src/crypto/rsa.js'
import { tdesDecryptCbc } from '../../src/crypto/des.js'
import { exampleExt, SPEC_EXAMPLES_EXT } from '../fixtures/spec-examples-ext.js'
import { rsaPrivateKeyFromExponents } from '../helpers/rsa-from-exponents.js'
import { ascii, hex } from '../helpers/hex.js'

const spec = (id: string) => (COMMANDS as Record<string, CommandSpec<any, any>>)[id]!

function roundTripCommand(t: Test, bytes: Buffer) {
  const packet = decodeCommand(bytes)
  const req = spec(packet.id).decodeRequest(packet.blocks)
  t.same(encodeCommand(packet.id, spec(packet.id).encodeRequest(req)), bytes, `${packet.id} command re-encodes byte for byte`)
  return req
}

function roundTripResponse(t: Test, bytes: Buffer, req: unknown) {
  const packet = decodeResponse(bytes)
  const res = spec(packet.id).decodeResponse(packet.blocks, req, packet.status)
  t.same(encodeResponse(packet.id, packet.status, spec(packet.id).encodeResponse(res, req)), bytes, `${packet.id} response re-encodes`)
  return res
}

t.test('OPN secure (§3.2.2): the host key in, CRKSEC out, KSEC inside (§5.2.1)', async (t) => {
  const req = roundTripCommand(t, exampleExt('OPN_SECURE_COMMAND'))
  t.equal(req.OPN_OPMODE, '0')
  t.equal(req.OPN_MOD.length, 512, 'OPN_MOD H512')
  t.equal(req.OPN_EXP, '0D', 'public exponent 13')
  const res = roundTripResponse(t, exampleExt('OPN_SECURE_RESPONSE'), req)
  const modulus = Buffer.from(req.OPN_MOD, 'hex')
  const privateKey = rsaPrivateKeyFromExponents(modulus, hex('0D'), exampleExt('OPN_KPRV'))
  const opened = rsaDecryptRaw(privateKey, Buffer.from(res.OPN_CRKSEC, 'hex'))
  t.same(opened, exampleExt('OPN_CRKSEC_OPENED'), 'CRKSEC opens to the block the example shows')
  t.same(pkcs1Type2Payload(opened), exampleExt('OPN_KSEC'))
  const keyPair = { privateKey, publicKey: rsaPublicKey(modulus, hex('0D')), modulus, exponent: hex('0D') }
  t.same(sessionKeyFrom(keyPair, res.OPN_CRKSEC), exampleExt('OPN_KSEC'), 'what the host link does with it')
  t.same(spec('OPN').decodeRequest(decodeCommand(ascii('OPN')).blocks), {}, 'the classic form still decodes')
  t.same(spec('OPN').decodeResponse(decodeResponse(ascii('OPN000')).blocks, req, 0), {}, 'an obsolete pinpad answers without CRKSEC')
})

t.test('secure packets (§5.2.2): the GIX example sealed and the GIX answer opened', async (t) => {
  const ksec = exampleExt('OPN_KSEC')
  t.same(sealPacket(ksec, exampleExt('SECURE_GIX_CLEAR')), exampleExt('SECURE_GIX_PACKET'))
  const clear = openPacket(ksec, exampleExt('SECURE_GIX_RESPONSE_PACKET'))
  t.same(clear, exampleExt('SECURE_GIX_RESPONSE_CLEAR'))
  const gix = roundTripResponse(t, clear, {})
  t.equal(gix.PP_SERNUM, '991274366155')
  t.throws(() => openPacket(ksec, Buffer.concat([exampleExt('SECURE_GIX_PACKET'), hex('00')])), { code: 'MPOS_ERR_SECURE_PACKET', message: /multiple of 16/ })
  const tampered = Buffer.from(exampleExt('SECURE_GIX_PACKET'))
  tampered[20]! ^= 1
  t.throws(() => openPacket(ksec, tampered), { code: 'MPOS_ERR_SECURE_PACKET' })
  t.throws(() => openPacket(ksec, exampleExt('SECURE_GIX_CLEAR')), { message: /DC2/ })
})

t.test('DWK modality 2 (§3.2.5, §5.3.3): WKPAN out of DWK_CRYPT with KPRV', async (t) => {
  const req = roundTripCommand(t, exampleExt('DWK_2_COMMAND'))
  t.match(req, { DWK_MODE: '2', DWK_RSAEXP: '010001' })
  const res = roundTripResponse(t, exampleExt('DWK_2_RESPONSE'), req)
  const privateKey = rsaPrivateKeyFromExponents(Buffer.from(req.DWK_RSAMOD, 'hex'), hex('010001'), exampleExt('DWK_KPRV'))
  t.same(wkpanFromCryptogram((c) => rsaDecryptRaw(privateKey, c), res.DWK_CRYPT), exampleExt('DWK_WKPAN'))
  const one = roundTripCommand(t, ascii(`DWK036${'1'}1${'07'}${'A'.repeat(32)}`))
  t.same(one, { DWK_MODE: '1', DWK_METHOD: '1', DWK_MKIDX: '07', DWK_WKPAN: 'A'.repeat(32) })
  t.same(spec('DWK').decodeResponse([], one, 0), {}, 'modality 1 answers no data')
})

t.test('"PAN Criptografado" (§5.3.1): the eight examples, WKPAN EA528A43…53FC', async (t) => {
  const wkpan = hex('EA528A43B02652FDEB538B42B12753FC')
  const tracks: Array<[string, string]> = [
    ['B3764 361234 56006^NOME NOME NOME NOME NOME N^0905060640431', 'B35716A983F0E4643B^NOME NOME NOME NOME NOME N^0905060640431'],
    ['B3764361234006^NOME NOME NOME NOME NOME N^0905060640431', 'BA4F4729D58CAA7DA^NOME NOME NOME NOME NOME N^0905060640431'],
    ['6002938264523821=09050606404312376450', 'BC27B145C5DE8BEB=09050606404312376450'],
    ['3827418937101=09050606404312376450123', '1CCE9197C5C6E3FF=09050606404312376450123'],
    [
      '4916748362525378000==5300053205322056019300000010000004050=00000000000000000=00000000000000000=7=3012056',
      '491FE8E271A114C1A35==5300053205322056019300000010000004050=00000000000000000=00000000000000000=7=3012056',
    ],
    ['9823746589273648956239486587923497851', '9823746589273648956232C05DF894573C7FA'],
  ]
  for (const [clear, sealed] of tracks) {
    t.equal(encryptPanInTrack(clear, wkpan), sealed, `pinpad: ${sealed.slice(0, 24)}…`)
    t.equal(decryptPanInTrack(sealed, wkpan), clear, 'host decodes it back (§5.3.2)')
  }
  t.equal(encodeSentPan('6234987432874320001', wkpan), '623407E5D4F32598B98', 'example 2: the host sends "in reverse"')
  t.equal(decodeSentPan('623407E5D4F32598B98', wkpan), '6234987432874320001')
  t.equal(decodeSentPan('431E6D386E688B0B', wkpan), '376436123456006', 'example 4: 15 digits sent as 16 characters')
  t.equal(encryptPanInTrack('B123456789012^SHORT^2512', wkpan), 'B123456789012^SHORT^2512', 'fewer than 13 digits stay clear')
})

t.test('CHP (§3.3.2): power on, SELECT, GET RESPONSE, PIN verified by the card', async (t) => {
  const on = roundTripCommand(t, exampleExt('CHP_POWER_ON_COMMAND'))
  t.same(on, { CHP_SLOT: '0', CHP_OPER: '1', CHP_CMD: '' })
  t.same(roundTripResponse(t, exampleExt('CHP_POWER_ON_RESPONSE'), on), { CHP_RSP: '3B29008072A4456400FF0010' })
  const select = roundTripCommand(t, exampleExt('CHP_SELECT_COMMAND'))
  t.same(select, { CHP_SLOT: '0', CHP_OPER: '2', CHP_CMD: '00A4040007A0000000041010' })
  t.same(roundTripResponse(t, exampleExt('CHP_SELECT_RESPONSE'), select), { CHP_RSP: '6132' })
  const getResponse = roundTripCommand(t, exampleExt('CHP_GET_RESPONSE_COMMAND'))
  t.same(getResponse, { CHP_SLOT: '0', CHP_OPER: '2', CHP_CMD: '00C0000032' })
  const fci = roundTripResponse(t, exampleExt('CHP_GET_RESPONSE_RESPONSE'), getResponse)
  t.match(fci.CHP_RSP, /^6F30840.*9000$/)
  const verify = roundTripCommand(t, exampleExt('CHP_VERIFY_COMMAND'))
  t.same(verify, { CHP_SLOT: '0', CHP_OPER: '3', CHP_CMD: '00200000', CHP_PINFMT: '1', CHP_PINMSG: 'DIGITE A SENHA  DO CARTÃO ICC...' })
  t.same(roundTripResponse(t, exampleExt('CHP_VERIFY_RESPONSE'), verify), { CHP_RSP: '6A86' })
})

t.test('EBX (§3.3.6), ENB (§3.3.7), GDU (§3.3.9)', async (t) => {
  const ebx = roundTripCommand(t, exampleExt('EBX_COMMAND'))
  t.same(ebx, { SPE_DATAIN: ascii('DADO A SER CRIPTOGRAFADO'), SPE_MTHDDAT: '71', SPE_KEYIDX: 7 })
  const out = roundTripResponse(t, exampleExt('EBX_RESPONSE'), ebx)
  t.equal(out.PP_DATAOUT.length, 24, 'as long as the input')
  t.same(out.PP_KSN, hex('FFFFF123450088 8006C3'))
  t.same(roundTripCommand(t, exampleExt('ENB_COMMAND')), { ENB_METHOD: '1', ENB_MKIDX: '14', ENB_WKENC: 'FE4B136446329FE60000000000000000', ENB_INPUT: '4C45455045415254' })
  t.same(roundTripResponse(t, exampleExt('ENB_RESPONSE'), {}), { ENB_OUTPUT: 'FC1C7AAC852E5D9F' })
  t.same(roundTripCommand(t, exampleExt('GDU_COMMAND')), { GDU_METHOD: '3', GDU_IDX: '12' })
  t.same(roundTripResponse(t, exampleExt('GDU_RESPONSE'), {}), { GDU_KSN: 'FFFFF102910025800001' })
})

t.test('GCD (§3.3.8) and MNU (§3.3.13)', async (t) => {
  const gcd = roundTripCommand(t, exampleExt('GCD_COMMAND'))
  t.same(gcd, { SPE_TIMEOUT: 60, SPE_MAXDIG: 10, SPE_MSGIDX: 9 })
  t.same(roundTripResponse(t, exampleExt('GCD_RESPONSE'), gcd), { PP_VALUE: '169937823' })
  const mnu = roundTripCommand(t, exampleExt('MNU_COMMAND'))
  t.same(mnu, { SPE_TIMEOUT: 30, SPE_DSPMSG: 'Selecione, por favor:', options: ['5.Chamado Técnico', '1.Consultas', '3.Ajuda', 'Voltar!!'] })
  t.same(roundTripResponse(t, exampleExt('MNU_RESPONSE'), mnu), { PP_VALUE: '02' })
  t.throws(() => spec('MNU').decodeResponse([], mnu, 0), { message: /PP_VALUE/ })
})

t.test('GTK with a random key (§3.3.12, §5.4.2): KRAND under the host key, PAN and track 1 under KRAND', async (t) => {
  const req = roundTripCommand(t, exampleExt('GTK_RANDOM_COMMAND'))
  t.match(req, { SPE_TRACKS: '1110', SPE_MTHDDAT: '91' })
  t.equal(req.SPE_PBKMOD.length, 256)
  const res = roundTripResponse(t, exampleExt('GTK_RANDOM_RESPONSE'), req)
  const privateKey = rsaPrivateKeyFromExponents(req.SPE_PBKMOD, req.SPE_PBKEXP, exampleExt('GTK_RANDOM_KPRV'))
  const krand = pkcs1Type2Payload(rsaDecryptRaw(privateKey, res.PP_ENCKRAND))
  t.same(krand, exampleExt('GTK_RANDOM_KRAND'))
  const cbc = (data: Buffer) => tdesDecryptCbc(krand, Buffer.alloc(8), data)
  t.equal(decryptNibbleTrack(res.PP_ENCPAN, 0, cbc), '4444333322221111')
  const track1 = decryptTrack1(res.PP_TRACK1, 0, cbc)
  t.match(track1, /^B4444333322221111\^WILSON F MARTINS\^2212000987/, 'the format character stays clear')
  t.notOk('PP_TRACK2' in res, 'no track 2: the card had none')
  // The example as printed: SPE_PBKMOD says 0080h but 256 bytes follow.
  const printed = Buffer.from(SPEC_EXAMPLES_EXT.GTK_RANDOM_COMMAND.replace('00240100', '00240080'), 'hex')
  t.throws(() => spec('GTK').decodeRequest(decodeCommand(printed).blocks))
})

t.test('GEN/02/K3 (§3.8.1): key maps by range', async (t) => {
  const k3 = roundTripCommand(t, exampleExt('GEN_K3_MKTDESP_COMMAND'))
  t.same(k3, { GEN: '02/K3', G02K3_KEYTYPE: '1', G02K3_KEYUSE: '0', G02K3_IDXINI: '05', G02K3_IDXEND: '15' })
  t.same(roundTripResponse(t, exampleExt('GEN_K3_MKTDESP_RESPONSE'), k3), { G02K3_KEYST: '00010000000' })
  const dat = roundTripCommand(t, exampleExt('GEN_K3_DUKPTDAT_COMMAND'))
  t.same(roundTripResponse(t, exampleExt('GEN_K3_DUKPTDAT_RESPONSE'), dat), { G02K3_KEYST: `00000100000000010001000002${'2'.repeat(15)}` })
  const apdu = roundTripCommand(t, ascii('GEN0220401702000B2010C000256'))
  t.same(apdu, { GEN: '04/02', G0402_SLOT: '0', G0402_APDU: '00B2010C', G0402_CMDDAT: '', G0402_LE: 256 })
  t.same(roundTripResponse(t, ascii('GEN00001100809000000'), apdu), { G0402_SLOT: '0', G0402_SW: '9000', G0402_RSPDAT: '' })
  t.throws(() => spec('GEN').decodeRequest(decodeCommand(ascii('GEN01302009K3100515')).blocks), { message: /GEN_INLEN/ })
})

t.test('CNG (§3.6.2): the example\'s three objects', async (t) => {
  const req = roundTripCommand(t, ascii('CNG040199F3303E0D0C85F2A020840DF0405169937823F'))
  t.same(req, { CNG_EMVDAT: '9F3303E0D0C85F2A020840DF0405169937823F' })
})
