import t from 'tap'
import fc from 'fast-check'
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { parseEmv, emvMap, buildEmv } from '../../src/abecs/emv-tlv.js'
import { TEST_CARDS, findCard, type TestCard } from '../../src/simulator/cards.js'
import {
  CARD_ORIGINATED_TAGS,
  EmvCardSession,
  PROTECTED_TAGS,
  computeApplicationCryptogram,
  iccMasterKey,
  isProtectedTag,
  issuerAuthenticationData,
  newCardState,
  retailMac,
  sessionKey,
  withoutProtected,
  type EmvTerminalData,
} from '../../src/simulator/emv-card.js'
import { hex } from '../helpers/hex.js'

const UN = hex('5A77ACF0')
const terminal = (over: Partial<EmvTerminalData> = {}): EmvTerminalData => ({
  amount: 1200,
  date: '251111',
  time: '173647',
  unpredictableNumber: UN,
  ...over,
})
const session = (name: string, over: Partial<EmvTerminalData> = {}, state = newCardState(findCard(name))) =>
  new EmvCardSession(findCard(name), terminal(over), state)
const h = (b: Buffer | undefined) => b?.toString('hex').toUpperCase()
const emvCards = TEST_CARDS.filter((c) => c.emv && c.interface !== 'contactless-magstripe')

t.test('retail MAC: ANSI X9.19 sample, and padding method 2 against OpenSSL CBC', async (t) => {
  const key = hex('0123456789ABCDEF FEDCBA9876543210')
  t.equal(h(retailMac(key, Buffer.from('Now is the time for all ', 'latin1'), 'none')), 'A1C72E74EA3FA9B6')
  t.throws(() => retailMac(key, hex('0102'), 'none'), { code: 'MPOS_ERR_CRYPTO_LENGTH' })

  // Independent path: single-DES CBC (K|K|K) over the padded data, then D(KR), E(KL).
  const data = Buffer.from('0000000012000000000000000076000000000009862511110000', 'hex')
  const padded = Buffer.concat([data, hex('80'), Buffer.alloc(7 - (data.length % 8))])
  const kl = key.subarray(0, 8)
  const kr = key.subarray(8)
  const cbc = createCipheriv('des-ede3-cbc', Buffer.concat([kl, kl, kl]), Buffer.alloc(8)).setAutoPadding(false)
  const chain = Buffer.concat([cbc.update(padded), cbc.final()]).subarray(-8)
  const d = createDecipheriv('des-ede3-ecb', Buffer.concat([kr, kr, kr]), null).setAutoPadding(false)
  const e = createCipheriv('des-ede3-ecb', Buffer.concat([kl, kl, kl]), null).setAutoPadding(false)
  const expected = Buffer.concat([e.update(Buffer.concat([d.update(chain), d.final()])), e.final()])
  t.same(retailMac(key, data), expected)
  t.equal(padded.length % 8, 0)
})

t.test('keys: per-card master keys differ, have odd parity; session keys change with the ATC', async (t) => {
  const a = iccMasterKey(findCard('visa-credit'))
  const b = iccMasterKey(findCard('mastercard-credit'))
  t.equal(a.length, 16)
  t.not(h(a), h(b))
  for (const byte of a) t.equal([...byte.toString(2)].filter((x) => x === '1').length % 2, 1)
  t.not(h(sessionKey(a, 1)), h(sessionKey(a, 2)))
  t.same(iccMasterKey({ pan: '4761739001010010', panSequenceNumber: 1 }), a, 'depends on PAN and PSN only')
  t.not(h(iccMasterKey({ pan: '4761739001010010', panSequenceNumber: 2 })), h(a))
})

t.test('a new session: card and terminal objects, TVR 0000000000, TSI 0000, ATC + 1', async (t) => {
  const card = findCard('visa-credit')
  const state = newCardState(card)
  t.same(state, { atc: card.emv!.initialAtc, pinTriesLeft: 3 })
  const s = new EmvCardSession(card, terminal(), state)
  t.equal(state.atc, card.emv!.initialAtc + 1)
  t.equal(s.atc, state.atc)
  t.equal(h(s.get('9F36')), (card.emv!.initialAtc + 1).toString(16).padStart(4, '0').toUpperCase())
  t.equal(h(s.get('95')), '0000000000')
  t.equal(h(s.get('9B')), '0000')
  t.equal(h(s.get('5A')), '4761739001010010')
  t.equal(h(s.get('57')), '4761739001010010D30122010000012300')
  t.equal(h(s.get('5F24')), '301231')
  t.equal(h(s.get('5F25')), '230101')
  t.equal(h(s.get('5F28')), '0076')
  t.equal(h(s.get('5F2A')), '0986')
  t.equal(h(s.get('5F34')), '01')
  t.equal(h(s.get('5F30')), '0201')
  t.equal(s.get('5F20')?.toString('latin1'), 'SILVA/ANA')
  t.equal(s.get('50')?.toString('latin1'), 'VISA CREDITO')
  t.equal(h(s.get('4F')), 'A0000000031010')
  t.equal(h(s.get('84')), 'A0000000031010')
  t.equal(h(s.get('9F06')), 'A0000000031010')
  t.equal(h(s.get('82')), '3C00')
  t.equal(h(s.get('9A')), '251111')
  t.equal(h(s.get('9F21')), '173647')
  t.equal(h(s.get('9C')), '00')
  t.equal(h(s.get('9F02')), '000000001200')
  t.equal(h(s.get('9F03')), '000000000000')
  t.equal(h(s.get('81')), '000004B0')
  t.equal(h(s.get('9F1A')), '0076')
  t.equal(h(s.get('9F33')), 'E0F8C8')
  t.equal(h(s.get('9F35')), '22')
  t.equal(h(s.get('9F37')), '5A77ACF0')
  t.equal(h(s.get('9F09')), '008C')
  t.equal(h(s.get('9F17')), '03')
  t.equal(s.get('9F26'), undefined, 'no cryptogram before GENERATE AC')
  t.equal(s.get('5F2D')?.toString('latin1'), 'pten')
})

t.test('the ATC counts transactions per card in the caller-held state', async (t) => {
  const card = findCard('mastercard-credit')
  const state = newCardState(card)
  const atcs = [1, 2, 3].map(() => new EmvCardSession(card, terminal(), state).atc)
  t.same(atcs, [card.emv!.initialAtc + 1, card.emv!.initialAtc + 2, card.emv!.initialAtc + 3])
  const other = newCardState(findCard('visa-credit'))
  new EmvCardSession(findCard('visa-credit'), terminal(), other)
  t.equal(state.atc, card.emv!.initialAtc + 3, 'another card has its own counter')
  t.equal(new EmvCardSession(card, terminal(), { atc: 0xffff, pinTriesLeft: 3 }).atc, 0, 'wraps at 2 bytes')
  t.throws(() => new EmvCardSession(card, terminal({ date: '25-11-11' }), state), { code: 'MPOS_ERR_EMV_TERMINAL_DATA' })
  t.equal(state.atc, card.emv!.initialAtc + 3, 'a session refused for bad terminal data does not count')
})

t.test('the unpredictable number is random unless given', async (t) => {
  const a = new EmvCardSession(findCard('visa-credit'), { amount: 1, date: '251111', time: '120000' }, newCardState(findCard('visa-credit')))
  const b = new EmvCardSession(findCard('visa-credit'), { amount: 1, date: '251111', time: '120000' }, newCardState(findCard('visa-credit')))
  t.equal(a.get('9F37')?.length, 4)
  t.not(h(a.get('9F37')), h(b.get('9F37')))
})

t.test('first GENERATE AC: CID per decision, IAD/CVR, TSI', async (t) => {
  const cases = [
    ['online', '80', 'ARQC', '06010A03A00000'],
    ['offline-approve', '40', 'TC', '06010A03900000'],
    ['decline', '00', 'AAC', '06010A03800000'],
  ] as const
  for (const [decision, cid, type, iad] of cases) {
    const s = session('visa-credit')
    const tags = s.firstGenerateAc(decision)
    t.equal(h(tags.get('9F27')), cid, `${decision}: CID`)
    t.equal(s.lastCryptogram, type)
    t.equal(h(tags.get('9F10')), iad, `${decision}: VIS CVN 10 IAD`)
    t.equal(tags.get('9F26')?.length, 8)
    t.equal(h(tags.get('9B')), 'E800', 'ODA, CVM, card and terminal risk management performed')
    t.equal(h(tags.get('9F34')), '420300', 'online PIN, result unknown')
    t.equal(h(tags.get('95')), '0000040000', 'TVR: online PIN entered')
  }
  const mc = session('mastercard-credit').firstGenerateAc('online')
  t.equal(h(mc.get('9F10')), '0110A00000000000000000000000000000FF', 'M/Chip IAD with ARQC in the CVR')
  t.equal(mc.get('9F10')?.length, 18)
})

t.test('cryptograms: equal inputs give equal cryptograms; amount, UN, ATC, TVR, decision change them', async (t) => {
  const ac = (over: Partial<EmvTerminalData> = {}, decision: 'online' | 'decline' = 'online', state?: ReturnType<typeof newCardState>) =>
    h(session('visa-credit', over, state).firstGenerateAc(decision).get('9F26'))
  const base = ac()
  t.equal(ac(), base, 'same card state, same data: same ARQC')
  t.not(ac({ amount: 1201 }), base, 'amount')
  t.not(ac({ cashback: 100 }), base, 'cashback')
  t.not(ac({ unpredictableNumber: hex('5A77ACF1') }), base, 'unpredictable number')
  t.not(ac({ date: '251112' }), base, 'date')
  t.not(ac({ onExceptionList: true }), base, 'TVR')
  t.not(ac({}, 'decline'), base, 'cryptogram type (CVR)')
  const state = newCardState(findCard('visa-credit'))
  const first = ac({}, 'online', state)
  t.equal(first, base)
  t.not(ac({}, 'online', state), base, 'next ATC')
  const other = h(new EmvCardSession(findCard('visa-credit-offline-pin'), terminal(), newCardState(findCard('visa-credit'))).firstGenerateAc('online').get('9F26'))
  t.not(other, base, 'another card (PAN)')
})

t.test('the acquirer can check the ARQC and answer with a valid ARPC', async (t) => {
  for (const card of emvCards) {
    const s = new EmvCardSession(card, terminal({ amount: 48300 }), newCardState(card))
    const first = s.firstGenerateAc('online')
    // What travels in DE 55 (no PAN there: the acquirer has it from the track).
    const de55 = emvMap(s.tags(['9F26', '9F27', '9F10', '9F37', '9F36', '95', '9A', '9C', '9F02', '5F2A', '82', '9F1A', '9F03', '9F34']))
    t.same(computeApplicationCryptogram(card, de55), first.get('9F26'), `${card.name}: ARQC verifies`)
    t.notSame(computeApplicationCryptogram({ pan: card.pan, panSequenceNumber: card.panSequenceNumber + 1 }, de55), first.get('9F26'))
  }
})

t.test('second GENERATE AC: TC on "00", AAC otherwise, options, issuer authentication', async (t) => {
  const card = findCard('visa-credit')
  const online = () => {
    const s = session('visa-credit')
    return { s, arqc: s.firstGenerateAc('online').get('9F26')! }
  }
  {
    const { s, arqc } = online()
    const tags = s.secondGenerateAc('00', issuerAuthenticationData(card, s.atc, arqc, '00'))
    t.equal(h(tags.get('9F27')), '40', 'TC')
    t.equal(s.lastCryptogram, 'TC')
    t.equal(tags.get('8A')?.toString('latin1'), '00')
    t.equal(h(tags.get('9F10')), '06010A03600000', 'CVR: TC in 2nd, ARQC in 1st')
    t.equal(h(tags.get('9B')), 'F800', 'issuer authentication performed')
    t.equal(h(tags.get('95')), '0000040000', 'issuer authentication did not fail')
    t.not(h(tags.get('9F26')), h(arqc), 'a new cryptogram')
    t.same(computeApplicationCryptogram(card, tags, '00'), tags.get('9F26'), 'TC verifies with the ARC')
    t.throws(() => s.secondGenerateAc('00'), { code: 'MPOS_ERR_EMV_SEQUENCE' }, 'only once')
  }
  {
    const { s } = online()
    const tags = s.secondGenerateAc('05')
    t.equal(h(tags.get('9F27')), '00', 'declined by the acquirer: AAC')
    t.equal(h(tags.get('9F10')), '06010A03200000')
    t.equal(h(tags.get('9B')), 'E800', 'no 91, no issuer authentication')
  }
  {
    const { s, arqc } = online()
    const bad = issuerAuthenticationData(card, s.atc, arqc, '00')
    bad[0]! ^= 1
    const tags = s.secondGenerateAc('00', bad)
    t.equal(h(tags.get('9F27')), '40', 'a failed ARPC is recorded, not enforced')
    t.equal(h(tags.get('95')), '0000040040', 'TVR: issuer authentication failed')
    t.equal(h(tags.get('9F10')), '06010A03680000', 'CVR: issuer authentication failed')
  }
  {
    const { s, arqc } = online()
    t.equal(h(s.secondGenerateAc('00', hex('A102DB6D41C67963 3030'), {}).get('9F27')), '40', 'the spec example 91 is accepted (fails ARPC)')
    t.ok(arqc)
  }
  t.equal(h(online().s.secondGenerateAc('Y3', undefined, { approved: true }).get('9F27')), '40', 'approved with another ARC (FNC_COMMST 9)')
  t.equal(h(online().s.secondGenerateAc('00', undefined, { cardDeclines: true }).get('9F27')), '00', 'the chip declines anyway')
  const offline = online().s.secondGenerateAc('Z3', undefined, { unableToGoOnline: true })
  t.equal(h(offline.get('9F27')), '00', 'unable to go online, Z3: AAC')
  t.equal(h(offline.get('9F10')), '06010A03210000', 'CVR: unable to go online')
})

t.test('GENERATE AC order and interface rules', async (t) => {
  const s = session('visa-credit')
  t.throws(() => s.secondGenerateAc('00'), { code: 'MPOS_ERR_EMV_SEQUENCE' }, 'no first AC yet')
  s.firstGenerateAc('offline-approve')
  t.throws(() => s.secondGenerateAc('00'), { code: 'MPOS_ERR_EMV_SEQUENCE' }, 'TC needs no second AC')
  t.throws(() => s.firstGenerateAc('online'), { code: 'MPOS_ERR_EMV_SEQUENCE' })
  t.throws(() => s.updateTerminal({ amount: 5 }), { code: 'MPOS_ERR_EMV_SEQUENCE' })
  t.throws(() => s.recordCvm('online-pin'), { code: 'MPOS_ERR_EMV_SEQUENCE' })

  const ctls = session('mastercard-contactless')
  t.equal(h(ctls.firstGenerateAc('online').get('9F27')), '80')
  t.throws(() => ctls.secondGenerateAc('00'), { code: 'MPOS_ERR_EMV_SEQUENCE' }, 'contactless: no second AC (§6.8.5.4)')
  t.equal(h(ctls.get('9F34')), '1F0302', 'contactless no CVM, as the captured PayPass transaction')

  const msd = session('mastercard-contactless-magstripe')
  t.throws(() => msd.firstGenerateAc('online'), { code: 'MPOS_ERR_EMV_SEQUENCE' })
  t.equal(h(msd.get('95')), '8000000000', 'no ODA on a mag-stripe-mode card')

  t.throws(() => new EmvCardSession(findCard('magstripe-credit'), terminal(), { atc: 0, pinTriesLeft: 3 }), {
    code: 'MPOS_ERR_NOT_EMV_CARD',
  })
  t.throws(() => newCardState(findCard('magstripe-debit')), { code: 'MPOS_ERR_NOT_EMV_CARD' })
})

t.test('updateTerminal: GOC/GOX amounts, cashback transaction type, exception list, floor limit', async (t) => {
  const s = session('visa-credit')
  s.updateTerminal({ amount: 23450, cashback: 10000, onExceptionList: true, floorLimit: 10000 })
  t.equal(h(s.get('9F02')), '000000023450')
  t.equal(h(s.get('9F03')), '000000010000')
  t.equal(h(s.get('9F04')), '00002710')
  t.equal(h(s.get('9C')), '09', 'cashback: 09h (§6.8.4.1)')
  t.equal(h(s.get('9F37')), '5A77ACF0', 'UN kept')
  t.equal(h(s.get('95')), '1000008000', 'TVR: exception file, floor limit exceeded')
  t.equal(s.recommendedDecision(), 'decline')
  s.updateTerminal({ onExceptionList: false, floorLimit: undefined })
  t.equal(h(s.get('95')), '0000000000')
  t.equal(s.recommendedDecision(), 'online')
  t.throws(() => s.updateTerminal({ amount: -1 }), { code: 'MPOS_ERR_EMV_TERMINAL_DATA' })
  t.throws(() => s.updateTerminal({ amount: 1.5 }), { code: 'MPOS_ERR_EMV_TERMINAL_DATA' })
  t.throws(() => s.updateTerminal({ date: '2511' }), { code: 'MPOS_ERR_EMV_TERMINAL_DATA' })
  t.throws(() => s.updateTerminal({ currency: '98' }), { code: 'MPOS_ERR_EMV_TERMINAL_DATA' })
  t.throws(() => s.updateTerminal({ unpredictableNumber: hex('01') }), { code: 'MPOS_ERR_EMV_TERMINAL_DATA' })
  t.throws(() => s.updateTerminal({ terminalCapabilities: 'E0F8' }), { code: 'MPOS_ERR_EMV_TERMINAL_DATA' })
  const big = session('visa-credit', { amount: 999_999_999_999 })
  t.equal(big.get('81'), undefined, 'no binary amount above FFFFFFFFh (§6.8.6.2)')
  t.equal(h(big.get('9F02')), '999999999999')
})

t.test('processing restrictions: expired card, different application versions', async (t) => {
  const s = session('expired-card')
  t.equal(h(s.get('95')), '0040000000', 'TVR: expired application')
  t.equal(s.recommendedDecision(), 'decline')
  t.equal(h(s.firstGenerateAc(s.recommendedDecision()).get('9F27')), '00')
  t.equal(session('visa-credit').recommendedDecision(), 'online')
  t.equal(h(session('visa-credit', { terminalAppVersion: '0096' }).get('95')), '0080000000')
  t.equal(h(session('visa-credit', { date: '221231' }).get('95')), '0020000000', 'not yet effective')
})

t.test('CVM results (9F34) and TVR byte 3 per CVM', async (t) => {
  const cvm = (name: string, record?: (s: EmvCardSession) => void) => {
    const s = session(name)
    record?.(s)
    const tags = s.firstGenerateAc('online')
    return [h(tags.get('9F34')), h(tags.get('95'))]
  }
  t.same(cvm('visa-credit'), ['420300', '0000040000'], 'online PIN: 42 03 00')
  t.same(cvm('visa-credit', (s) => s.recordCvm('signature')), ['1E0300', '0000000000'], 'signature: 1E 03 00')
  t.same(cvm('visa-credit', (s) => s.recordCvm('no-cvm')), ['1F0002', '0000000000'], 'no CVM on contact: 1F 00 02')
  t.same(cvm('visa-credit-offline-pin'), ['410302', '0000000000'], 'offline PIN by default: 41 03 02')
  t.same(cvm('visa-contactless'), ['1F0302', '0000000000'])
})

t.test('offline PIN: VERIFY, try counter, blocking kept in the card state', async (t) => {
  const card = findCard('visa-credit-offline-pin')
  const state = newCardState(card)
  const s = new EmvCardSession(card, terminal(), state)
  t.same(s.verifyOfflinePin('0000'), { ok: false, triesLeft: 2, blocked: false })
  t.equal(h(s.get('9F34')), '410301')
  t.equal(h(s.get('95')), '0000800000', 'TVR: cardholder verification not successful')
  t.same(s.verifyOfflinePin('1234'), { ok: true, triesLeft: 3, blocked: false })
  t.equal(h(s.get('9F34')), '410302')
  t.equal(h(s.get('95')), '0000000000')
  t.equal(s.offlinePinFailures, 1)
  const tags = s.firstGenerateAc('online')
  t.equal(h(tags.get('9F10')), '06010A03A40000', 'CVR: offline PIN performed')
  t.same(s.cvmPerformed, { cvm: 'offline-pin', outcome: 'successful' })

  const b = new EmvCardSession(card, terminal(), state)
  t.same(b.verifyOfflinePin('1111'), { ok: false, triesLeft: 2, blocked: false })
  t.same(b.verifyOfflinePin('2222'), { ok: false, triesLeft: 1, blocked: false })
  t.same(b.verifyOfflinePin('3333'), { ok: false, triesLeft: 0, blocked: true })
  t.equal(b.pinBlockedNow, true)
  t.equal(b.offlinePinFailures, 3)
  t.equal(h(b.get('95')), '0000A00000', 'TVR: CVM not successful, PIN try limit exceeded')
  t.equal(h(b.get('9F17')), '00')
  t.equal(b.recommendedDecision(), 'decline')
  t.equal(h(b.firstGenerateAc('decline').get('9F10')), '06010A03860000', 'CVR: AAC, offline PIN performed and failed')

  const c = new EmvCardSession(card, terminal(), state)
  t.same(c.verifyOfflinePin('1234'), { ok: false, triesLeft: 0, blocked: true }, 'still blocked in the next transaction')
  t.equal(c.pinBlockedNow, false, 'not blocked by this transaction')
  t.equal(c.pinTriesLeft, 0)
})

t.test('tags(): requested order, protected tags never returned, TLV parses back', async (t) => {
  const s = session('visa-credit')
  s.firstGenerateAc('online')
  const list = ['9F27', '9F26', '9F36', '95', '8F', '5A', '57', '9F37', '9F1F', '9F20', '56', '9F6B', '5F20', '9F10', '9f34']
  const out = s.tags(list)
  t.same(
    parseEmv(out).map((o) => o.tag),
    ['9F27', '9F26', '9F36', '95', '9F37', '5F20', '9F10', '9F34'],
    'unknown 8F skipped, PAN/track tags filtered, lower case accepted',
  )
  t.equal(s.tags(['5A', '57']).length, 0)
  t.equal(h(s.get('5A')), '4761739001010010', 'the pinpad itself still sees the PAN')
  t.same(parseEmv(s.tags(['9F36', '9F36'])).map((o) => o.tag), ['9F36', '9F36'], 'a tag asked twice comes twice')
  for (const tag of ['5A', '57', '9F1F', '9F20']) t.ok(isProtectedTag(tag), `${tag} protected (§6.8.6.3)`)
  t.notOk(isProtectedTag('5F20'), 'the holder name is not track data')
  t.same(
    withoutProtected(parseEmv(buildEmv([...s.all()].map(([tag, value]) => ({ tag, value }))))).map((o) => o.tag).sort(),
    [...s.all().keys()].filter((k) => !PROTECTED_TAGS.has(k)).sort(),
  )
  t.ok(CARD_ORIGINATED_TAGS.has('9F26') && CARD_ORIGINATED_TAGS.has('95') && !CARD_ORIGINATED_TAGS.has('9F02'), '§6.8.6.4 list')
  t.equal(CARD_ORIGINATED_TAGS.size, 80)
})

t.test('everything every EMV card produces is valid BER-TLV', async (t) => {
  for (const card of TEST_CARDS.filter((c) => c.emv)) {
    const s = new EmvCardSession(card, terminal(), newCardState(card))
    if (card.interface !== 'contactless-magstripe') s.firstGenerateAc('online')
    if (card.interface === 'chip') s.secondGenerateAc('00')
    const all = s.all()
    const wire = s.tags([...all.keys()])
    const back = emvMap(wire)
    for (const [tag, value] of all) {
      if (PROTECTED_TAGS.has(tag)) t.notOk(back.has(tag), `${card.name}: ${tag} filtered`)
      else t.same(back.get(tag), value, `${card.name}: ${tag} round-trips`)
    }
  }
})

t.test('returned maps are copies: later steps do not change earlier results', async (t) => {
  const s = session('visa-credit')
  const first = s.firstGenerateAc('online')
  const tvr = h(first.get('95'))
  const tsi = h(first.get('9B'))
  s.secondGenerateAc('05', hex('0000000000000000 3035'))
  t.equal(h(first.get('95')), tvr)
  t.equal(h(first.get('9B')), tsi)
  t.equal(h(first.get('9F27')), '80')
})

t.test('property: tags() keeps the requested order of the known, unprotected tags', async () => {
  const s = session('mastercard-credit')
  s.firstGenerateAc('online')
  const known = [...s.all().keys()]
  const pool = [...known, '8F', '9F6E', 'DF55', '9F4E']
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...pool), { maxLength: 40 }), (list) => {
      const got = parseEmv(s.tags(list)).map((o) => o.tag)
      const want = list.filter((tag) => known.includes(tag) && !PROTECTED_TAGS.has(tag))
      return JSON.stringify(got) === JSON.stringify(want)
    }),
  )
})

t.test('property: the cryptogram is a function of the data', async () => {
  const card: TestCard = findCard('elo-credit')
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 99_999_999 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.integer({ min: 0, max: 0xfffe }),
      (amount, un, atc) => {
        const run = () =>
          new EmvCardSession(card, terminal({ amount, unpredictableNumber: Buffer.from(un) }), { atc, pinTriesLeft: 3 })
            .firstGenerateAc('online')
            .get('9F26')!
        const a = run()
        const b = run()
        const c = new EmvCardSession(card, terminal({ amount: amount + 1, unpredictableNumber: Buffer.from(un) }), {
          atc,
          pinTriesLeft: 3,
        })
          .firstGenerateAc('online')
          .get('9F26')!
        return a.equals(b) && !a.equals(c)
      },
    ),
    { numRuns: 50 },
  )
})

t.test('kernel data: 9F1E (IFD serial, an8) and 9F41 (sequence counter, n8) when the pinpad gives them', async (t) => {
  const s = session('visa-credit', { ifdSerialNumber: 'VPP0000000000001', sequenceCounter: 42 })
  t.equal(s.get('9F1E')?.toString('latin1'), '00000001', "the serial's last 8 characters")
  t.equal(h(s.get('9F41')), '00000042', 'BCD, 4 bytes')
  t.same(parseEmv(s.tags(['9F1E', '9F41'])).map((o) => o.tag), ['9F1E', '9F41'], 'returned when asked for')
  const bare = session('visa-credit')
  t.equal(bare.get('9F1E'), undefined, 'absent unless given')
  t.equal(bare.get('9F41'), undefined)
})
