import t from 'tap'
import {
  DukptKeyStore,
  countOnes,
  dataKey,
  deriveIpek,
  deriveTransactionKey,
  formatKsn,
  getKsnCounter,
  macKey,
  nextCounter,
  parseKsn,
  pinKey,
  setKsnCounter,
} from '../../src/crypto/dukpt.js'
import { buildIso0PinBlock, encryptPinBlock } from '../../src/crypto/pin-block.js'
import { hex } from '../helpers/hex.js'

// ANSI X9.24-1 test key and KSN (also the shared ABECS reference's DUKPT vectors).
const BDK = hex('0123456789ABCDEFFEDCBA9876543210')
const IPEK = hex('6AC292FAA1315B4D858AB3A3D7D5933A')
const KSN_PREFIX = 'FFFF9876543210'
const PIN = '1234'
const PAN = '4012345678909'

const ENCRYPTED: Array<[string, string]> = [
  ['E00001', '1B9C1845EB993A7A'],
  ['E00002', '10A01C8D02C69107'],
  ['E00003', '18DC07B94797B466'],
  ['E00004', '0BC79509D5645DF7'],
  ['E00005', '5BC0AF22AD87B327'],
]

t.test('IPEK from the BDK; the counter does not matter', async (t) => {
  t.same(deriveIpek(BDK, parseKsn(`${KSN_PREFIX}E00001`)), IPEK)
  t.same(deriveIpek(BDK, parseKsn(`${KSN_PREFIX}E00000`)), IPEK)
  t.same(deriveIpek(BDK, parseKsn(`${KSN_PREFIX}FFF800`)), IPEK)
})

t.test('PIN blocks encrypted with the PIN key of counters E00001–E00005', async (t) => {
  const clear = buildIso0PinBlock(PIN, PAN)
  t.same(clear, hex('041274EDCBA9876F'))
  for (const [counter, expected] of ENCRYPTED) {
    const ksn = parseKsn(`${KSN_PREFIX}${counter}`)
    const key = pinKey(deriveTransactionKey(deriveIpek(BDK, ksn), ksn))
    t.same(encryptPinBlock(clear, key), hex(expected), counter)
  }
})

t.test('transaction key and variants for E00001', async (t) => {
  const ksn = parseKsn(`${KSN_PREFIX}E00001`)
  const tk = deriveTransactionKey(IPEK, ksn)
  t.same(tk, hex('042666B49184CFA368DE9628D0397BC9'))
  t.same(pinKey(tk), hex('042666B49184CF5C68DE9628D0397B36'))
  t.same(macKey(tk), hex('042666B4918430A368DE9628D03984C9'))
  t.same(macKey(tk, 'response'), hex('042666B46E84CFA368DE96282F397BC9'))
  // Variant 0000000000FF0000… then each half TDES-encrypted under it (X9.24-1:2009 A.4.1); agrees with the
  // value other public DUKPT implementations give for this key.
  t.same(dataKey(tk), hex('448D3F076D8304036A55A3D7E0055A78'))
  t.not(dataKey(tk, 'response').toString('hex'), dataKey(tk).toString('hex'))
})

t.test('counter 0 gives the IPEK itself', async (t) => {
  t.same(deriveTransactionKey(IPEK, parseKsn(`${KSN_PREFIX}E00000`)), IPEK)
})

t.test('KSN helpers', async (t) => {
  const ksn = parseKsn('ffff9876543210e00012')
  t.equal(formatKsn(ksn), 'FFFF9876543210E00012')
  t.equal(getKsnCounter(ksn), 0x12)
  t.equal(getKsnCounter(parseKsn('FFFFF51380344601F4C8')), 0x01f4c8)
  const moved = setKsnCounter(ksn, 0x1fffff)
  t.equal(formatKsn(moved), 'FFFF9876543210FFFFFF')
  t.equal(formatKsn(setKsnCounter(moved, 0)), 'FFFF9876543210E00000', 'the top 3 bits of byte 7 are kept')
  t.equal(formatKsn(ksn), 'FFFF9876543210E00012', 'setKsnCounter does not mutate its input')
  t.throws(() => parseKsn('FFFF9876543210E0001'), { code: 'MPOS_ERR_DUKPT_INVALID_KSN' })
  t.throws(() => parseKsn('FFFF9876543210E0001G'), { code: 'MPOS_ERR_DUKPT_INVALID_KSN' })
  t.throws(() => setKsnCounter(ksn, 0x200000), { code: 'MPOS_ERR_DUKPT_INVALID_KSN' })
  t.throws(() => setKsnCounter(ksn, -1), { code: 'MPOS_ERR_DUKPT_INVALID_KSN' })
  t.throws(() => getKsnCounter(hex('FFFF9876543210E000')), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => deriveIpek(BDK.subarray(0, 8), ksn), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => deriveTransactionKey(IPEK, hex('FFFF9876543210E000')), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => pinKey(IPEK.subarray(1)), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
})

t.test('nextCounter skips values with more than 10 one bits', async (t) => {
  t.equal(nextCounter(0), 1)
  t.equal(nextCounter(0x0001ff), 0x000200, '9 ones → +1')
  t.equal(nextCounter(0x0007fe), 0x000800, '0x7FF would have 11 ones')
  t.equal(nextCounter(0x0ffc00), 0x100000, 'every value up to 0x0FFFFF keeps the 10 high ones')
  t.equal(nextCounter(0x1ff400), 0x1ff800, '10 ones: skip by adding the lowest one bit')
  t.equal(nextCounter(0x1ff800), null, 'last usable counter')
})

t.test('walking the whole counter space visits exactly the 2^20 − 1 counters with 1–10 ones', async (t) => {
  let steps = 0
  let bad = 0
  for (let c: number | null = nextCounter(0); c !== null; c = nextCounter(c)) {
    steps++
    if (countOnes(c) > 10) bad++
  }
  t.equal(steps, 0xfffff)
  t.equal(bad, 0)
})

t.test('DukptKeyStore from E00000 issues E00001, E00002, … with the right PIN keys', async (t) => {
  const store = new DukptKeyStore(BDK, parseKsn(`${KSN_PREFIX}E00000`))
  t.equal(formatKsn(store.ksn), `${KSN_PREFIX}E00000`)
  const clear = buildIso0PinBlock(PIN, PAN)
  for (const [counter, expected] of ENCRYPTED) {
    const { ksn, pinKey: key, transactionKey } = store.next()
    t.equal(formatKsn(ksn), `${KSN_PREFIX}${counter}`)
    t.same(encryptPinBlock(clear, key), hex(expected), counter)
    t.same(pinKey(transactionKey), key)
  }
  t.equal(formatKsn(store.ksn), `${KSN_PREFIX}E00005`)
})

t.test('DukptKeyStore returns copies', async (t) => {
  const start = parseKsn(`${KSN_PREFIX}E00000`)
  const store = new DukptKeyStore(BDK, start)
  start.fill(0)
  const first = store.next()
  first.ksn.fill(0)
  store.ksn.fill(0)
  t.equal(formatKsn(store.next().ksn), `${KSN_PREFIX}E00002`)
})

t.test('DukptKeyStore skips a counter that would have 11 ones', async (t) => {
  // 0x0007FE has 10 ones; 0x0007FF would have 11, so the next KSN is …E00800.
  const store = new DukptKeyStore(BDK, parseKsn(`${KSN_PREFIX}E007FE`))
  const { ksn, pinKey: key } = store.next()
  t.equal(formatKsn(ksn), `${KSN_PREFIX}E00800`)
  t.same(key, pinKey(deriveTransactionKey(IPEK, ksn)))
  t.equal(formatKsn(store.next().ksn), `${KSN_PREFIX}E00801`)
})

t.test('DukptKeyStore stops with MPOS_ERR_DUKPT_COUNTER_EXHAUSTED', async (t) => {
  const store = new DukptKeyStore(BDK, parseKsn(`${KSN_PREFIX}FFF400`))
  t.equal(formatKsn(store.next().ksn), `${KSN_PREFIX}FFF800`)
  t.throws(() => store.next(), { code: 'MPOS_ERR_DUKPT_COUNTER_EXHAUSTED' })
  t.throws(() => store.next(), { code: 'MPOS_ERR_DUKPT_COUNTER_EXHAUSTED' }, 'stays exhausted')
  t.equal(formatKsn(store.ksn), `${KSN_PREFIX}FFF800`, 'the KSN is not advanced past the end')
})

t.test('DukptKeyStore rejects a bad start', async (t) => {
  t.throws(() => new DukptKeyStore(BDK, parseKsn(`${KSN_PREFIX}E007FF`)), { code: 'MPOS_ERR_DUKPT_INVALID_KSN' })
  t.throws(() => new DukptKeyStore(BDK, hex('FFFF9876543210E000')), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => new DukptKeyStore(BDK.subarray(0, 15), parseKsn(`${KSN_PREFIX}E00000`)), {
    code: 'MPOS_ERR_CRYPTO_LENGTH',
  })
})

t.test('error messages carry no key bytes', async (t) => {
  try {
    deriveIpek(BDK.subarray(0, 15), parseKsn(`${KSN_PREFIX}E00000`))
    t.fail('should throw')
  } catch (err) {
    const message = (err as Error).message.toUpperCase()
    t.notMatch(message, /0123456789ABCDEF|FEDCBA98/)
    t.match(message, /BDK/)
  }
})
