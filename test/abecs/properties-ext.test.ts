/**
 * Property tests (fast-check) for the secure-session packets (§5.2.2), PAN encoding (§5.3.1), track
 * encryption (§5.4.2) and the layouts of the commands added for the whole command set.
 */
import t from 'tap'
import fc from 'fast-check'
import { openPacket, sealPacket, MAX_SECURE_CLEAR } from '../../src/abecs/secure.js'
import { decryptPanInTrack, decodeSentPan, encodeSentPan, encryptPanInTrack } from '../../src/abecs/pan-crypt.js'
import { decryptNibbleTrack, decryptTrack1, encryptNibbleTrack, encryptTrack1 } from '../../src/abecs/track-crypt.js'
import { tdesDecryptCbc, tdesDecryptEcb, tdesEncryptCbc, tdesEncryptEcb } from '../../src/crypto/des.js'
import { COMMANDS, type CommandSpec } from '../../src/abecs/commands/index.js'
import { decodeCommand, decodeResponse, encodeCommand, encodeResponse } from '../../src/abecs/packet.js'

const spec = (id: string) => (COMMANDS as Record<string, CommandSpec<any, any>>)[id]!
const key16 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a))
const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`))
const hexText = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((a) => Buffer.from(a).toString('hex').toUpperCase())

t.test('seal → open gives back any CLRDATA, under any KSEC (§5.2.2)', async (t) => {
  fc.assert(
    fc.property(key16, fc.uint8Array({ maxLength: MAX_SECURE_CLEAR }), (ksec, clear) => {
      const packet = sealPacket(ksec, Buffer.from(clear))
      return packet[0] === 0x12 && (packet.length - 1) % 16 === 0 && openPacket(ksec, packet).equals(Buffer.from(clear))
    }),
    { numRuns: 300 },
  )
  t.pass('300 packets')
})

t.test('a sealed packet with any byte changed is refused (CRC, length) or at least never opens to the original', async (t) => {
  fc.assert(
    fc.property(key16, fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (ksec, clear, at, flip) => {
      const packet = sealPacket(ksec, Buffer.from(clear))
      const i = 1 + (at % (packet.length - 1))
      packet[i]! ^= flip
      try {
        return !openPacket(ksec, packet).equals(Buffer.from(clear))
      } catch (err) {
        return (err as { code?: string }).code === 'MPOS_ERR_SECURE_PACKET'
      }
    }),
    { numRuns: 300 },
  )
  t.pass('tampering is caught by the length or CRC checks')
})

t.test('PAN encoding round-trips in tracks and in GPN_PAN (§5.3.1–5.3.2)', async (t) => {
  fc.assert(
    fc.property(key16, digits(13, 19), digits(4, 20), (wkpan, pan, rest) => {
      const track2 = `${pan}=${rest}`
      const track1 = `B${pan}^HOLDER/NAME^${rest}`
      const sent = encodeSentPan(pan, wkpan)
      return (
        decryptPanInTrack(encryptPanInTrack(track2, wkpan), wkpan) === track2 &&
        decryptPanInTrack(encryptPanInTrack(track1, wkpan), wkpan) === track1 &&
        decodeSentPan(sent, wkpan) === pan
      )
    }),
    { numRuns: 300 },
  )
  t.pass('300 PANs')
})

t.test('track encryption round-trips for any track, clear digits and mode (§5.4.2)', async (t) => {
  fc.assert(
    fc.property(
      key16,
      digits(12, 19),
      digits(0, 17),
      fc.constantFrom(0, 2, 4, 6, 8),
      fc.boolean(),
      (key, pan, tail, open, cbc) => {
        const iv = Buffer.alloc(8, 0x5a)
        const enc = (d: Buffer) => (cbc ? tdesEncryptCbc(key, iv, d) : tdesEncryptEcb(key, d))
        const dec = (d: Buffer) => (cbc ? tdesDecryptCbc(key, iv, d) : tdesDecryptEcb(key, d))
        const track2 = `${pan}=${tail}`.slice(0, 37)
        const track1 = `B${pan}^A B^${tail}`
        const t2 = encryptNibbleTrack(track2, open, enc)
        const t1 = encryptTrack1(track1, open, enc)
        return (
          (t2.length - open / 2) % 8 === 0 &&
          decryptNibbleTrack(t2, open, dec) === track2 &&
          t1.subarray(0, 1 + open).toString('latin1') === track1.slice(0, 1 + open) &&
          decryptTrack1(t1, open, dec) === track1
        )
      },
    ),
    { numRuns: 300 },
  )
  t.pass('300 tracks')
})

t.test('the new layouts re-encode what they decode', async (t) => {
  const roundTrip = (id: string, request: unknown, response?: unknown) => {
    const data = encodeCommand(id, spec(id).encodeRequest(request))
    const req = spec(id).decodeRequest(decodeCommand(data).blocks)
    if (!encodeCommand(id, spec(id).encodeRequest(req)).equals(data)) return false
    if (response === undefined) return true
    const answer = encodeResponse(id, 0, spec(id).encodeResponse(response, req))
    const res = spec(id).decodeResponse(decodeResponse(answer).blocks, req, 0)
    return encodeResponse(id, 0, spec(id).encodeResponse(res, req)).equals(answer)
  }
  fc.assert(
    fc.property(
      hexText(256),
      hexText(3),
      hexText(256),
      digits(2, 2),
      fc.array(fc.stringMatching(/^[ -~]{1,24}$/), { minLength: 1, maxLength: 20 }),
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('hex').toUpperCase()),
      (mod, exp, crk, idx, options, apdu) =>
        roundTrip('OPN', { OPN_OPMODE: '0', OPN_MOD: mod, OPN_EXP: exp }, { OPN_CRKSEC: crk }) &&
        roundTrip('MNU', { SPE_TIMEOUT: 30, SPE_DSPMSG: 'MENU', options }, { PP_VALUE: '01' }) &&
        roundTrip('CHP', { CHP_SLOT: '0', CHP_OPER: '2', CHP_CMD: apdu }, { CHP_RSP: `${apdu}9000` }) &&
        roundTrip('GEN', { GEN: '04/04', G0404_TAGS: apdu.slice(0, 256) }, { G0404_EMVDAT: apdu }) &&
        roundTrip('GEN', { GEN: '02/K3', G02K3_KEYTYPE: '3', G02K3_KEYUSE: '1', G02K3_IDXINI: '00', G02K3_IDXEND: idx }, { G02K3_KEYST: '0'.repeat(Number(idx) + 1) }) &&
        roundTrip('ENB', { ENB_METHOD: '1', ENB_MKIDX: idx, ENB_WKENC: mod.slice(0, 32), ENB_INPUT: mod.slice(0, 16) }, { ENB_OUTPUT: crk.slice(0, 16) }) &&
        roundTrip('GDU', { GDU_METHOD: '3', GDU_IDX: idx }, { GDU_KSN: crk.slice(0, 20) }) &&
        roundTrip('DWK', { DWK_MODE: '2', DWK_RSAMOD: mod.slice(0, 256), DWK_RSAEXP: '010001' }, { DWK_CRYPT: crk.slice(0, 256) }),
    ),
    { numRuns: 200 },
  )
  t.pass('200 of each')
})
