import t from 'tap'
import fc from 'fast-check'
import {
  TEST_CARDS,
  appType,
  cardNames,
  cardType,
  findCard,
  incompleteTrack1,
  incompleteTrack2,
  incompleteTrack3,
  luhnCheckDigit,
  luhnValid,
  maskPan,
  maskedPan,
  track1,
  track2,
  track2Equivalent,
  type TestCard,
} from '../../src/simulator/cards.js'
import { ST } from '../../src/abecs/return-codes.js'

const healthy = (c: TestCard) => c.fault === undefined
const some = (pred: (c: TestCard) => boolean) => TEST_CARDS.filter(pred)

t.test('every catalogue PAN passes Luhn, and names and PANs are unique', async (t) => {
  for (const c of TEST_CARDS) t.ok(luhnValid(c.pan), `${c.name} PAN passes Luhn`)
  t.equal(new Set(TEST_CARDS.map((c) => c.name)).size, TEST_CARDS.length, 'unique names')
  t.equal(new Set(TEST_CARDS.map((c) => c.pan)).size, TEST_CARDS.length, 'unique PANs')
  t.same(cardNames(), TEST_CARDS.map((c) => c.name))
})

t.test('Luhn: known good and bad numbers', async (t) => {
  t.ok(luhnValid('4111111111111111'))
  t.ok(luhnValid('79927398713'), 'the classic example')
  t.notOk(luhnValid('79927398710'))
  t.notOk(luhnValid('4111111111111112'))
  t.notOk(luhnValid('4111 1111 1111 1111'), 'digits only')
  t.notOk(luhnValid(''))
  t.equal(luhnCheckDigit('7992739871'), '3')
  t.throws(() => luhnCheckDigit('12a'), { code: 'MPOS_ERR_INVALID_FIELD' })
})

t.test('property: appending the Luhn check digit gives a valid number; changing one digit breaks it', async () => {
  fc.assert(
    fc.property(fc.stringMatching(/^\d{1,18}$/), fc.nat(), fc.integer({ min: 1, max: 9 }), (partial, at, delta) => {
      const full = partial + luhnCheckDigit(partial)
      if (!luhnValid(full)) return false
      const i = at % full.length
      const changed = full.slice(0, i) + String((Number(full[i]) + delta) % 10) + full.slice(i + 1)
      return !luhnValid(changed)
    }),
  )
})

t.test('every required kind of card is catalogued', async (t) => {
  const kinds: Array<[string, (c: TestCard) => boolean]> = [
    ['chip credit Visa', (c) => healthy(c) && c.interface === 'chip' && c.brand === 'visa' && c.paymentMethod === 'credit_card'],
    ['chip credit Mastercard', (c) => healthy(c) && c.interface === 'chip' && c.brand === 'mastercard' && c.paymentMethod === 'credit_card'],
    ['chip credit Elo', (c) => healthy(c) && c.interface === 'chip' && c.brand === 'elo' && c.paymentMethod === 'credit_card'],
    ['chip debit, online PIN', (c) => healthy(c) && c.interface === 'chip' && c.paymentMethod === 'debit_card' && c.cvm === 'online-pin'],
    ['chip, offline PIN', (c) => healthy(c) && c.interface === 'chip' && c.cvm === 'offline-pin'],
    ['magstripe credit', (c) => c.interface === 'magstripe' && c.paymentMethod === 'credit_card' && c.serviceCode[0] === '1'],
    ['magstripe debit, online PIN', (c) => c.interface === 'magstripe' && c.paymentMethod === 'debit_card' && c.cvm === 'online-pin'],
    ['contactless EMV (06)', (c) => c.interface === 'contactless-emv' && cardType(c) === '06'],
    ['contactless as magstripe (05)', (c) => c.interface === 'contactless-magstripe' && cardType(c) === '05'],
    ['expired', (c) => healthy(c) && c.expiry < '250101'],
    ['blocked (079)', (c) => c.fault?.status === ST.CARDBLOCKED && c.fault.statusName === 'ST_CARDBLOCKED'],
    ['dumb chip (060)', (c) => c.fault?.status === ST.DUMBCARD],
    ['chip error (061)', (c) => c.fault?.status === ST.ERRCARD],
    ['fallback (076)', (c) => c.fault?.status === ST.ERRFALLBACK && c.interface === 'chip'],
    ['AID in no table (070)', (c) => c.fault?.status === ST.CARDAPPNAV && c.emv !== undefined],
    ['magstripe with a chip service code', (c) => c.interface === 'magstripe' && /^[26]/.test(c.serviceCode)],
  ]
  for (const [kind, pred] of kinds) t.ok(some(pred).length > 0, kind)
  t.equal(ST.CARDBLOCKED, 79)
  t.equal(ST.DUMBCARD, 60)
  t.equal(ST.ERRCARD, 61)
  t.equal(ST.ERRFALLBACK, 76)
  t.equal(ST.CARDAPPNAV, 70)
})

t.test('faults: status name matches the code; iccStat per §6.8.1.1', async (t) => {
  const expected: Record<number, string> = { 60: '1', 61: '1', 76: '1', 70: '2', 79: '0' }
  for (const c of some((c) => c.fault !== undefined)) {
    t.equal(ST[c.fault!.statusName.slice(3) as keyof typeof ST], c.fault!.status, `${c.name} status`)
    t.equal(c.fault!.iccStat, expected[c.fault!.status], `${c.name} iccStat`)
    t.equal(c.fault!.at, 'card-read')
  }
})

t.test('field formats of every card', async (t) => {
  for (const c of TEST_CARDS) {
    t.match(c.name, /^[a-z0-9]+(-[a-z0-9]+)*$/, `${c.name}: kebab-case`)
    t.ok(c.description.length > 0, `${c.name}: description`)
    t.match(c.pan, /^\d{13,19}$/, `${c.name}: PAN length`)
    t.ok(Number.isInteger(c.panSequenceNumber) && c.panSequenceNumber >= 0 && c.panSequenceNumber <= 99, `${c.name}: PSN`)
    const [yy, mm, dd] = [c.expiry.slice(0, 2), Number(c.expiry.slice(2, 4)), Number(c.expiry.slice(4))]
    t.match(c.expiry, /^\d{6}$/, `${c.name}: expiry YYMMDD`)
    const lastDay = new Date(Date.UTC(2000 + Number(yy), mm, 0)).getUTCDate()
    t.ok(mm >= 1 && mm <= 12 && dd === lastDay, `${c.name}: expiry is the last day of its month`)
    t.match(c.serviceCode, /^[1-7]\d\d$/, `${c.name}: service code`)
    t.match(c.holderName, /^[A-Z]+\/[A-Z]+$/, `${c.name}: holder LAST/FIRST`)
    t.ok(c.holderName.length >= 2 && c.holderName.length <= 26, `${c.name}: holder name fits track 1`)
    t.match(c.applicationLabel, /^[\x20-\x7e]{1,16}$/, `${c.name}: label A..16`)
    t.match(c.issuerCountry, /^\d{3}$/, `${c.name}: country`)
    t.equal(c.pin, '1234', `${c.name}: PIN`)
    t.equal(appType(c), c.paymentMethod === 'credit_card' ? 1 : 2, `${c.name}: T1_APPTYPE`)
    const chipish = c.interface !== 'magstripe'
    t.equal(c.emv !== undefined, chipish, `${c.name}: EMV profile only on chip/contactless cards`)
    if (c.emv) {
      t.match(c.emv.aid, /^([0-9A-F]{2}){5,16}$/, `${c.name}: AID`)
      t.match(c.emv.aip, /^[0-9A-F]{4}$/, `${c.name}: AIP`)
      t.match(c.emv.effectiveDate, /^\d{6}$/)
      t.ok(c.emv.effectiveDate < c.expiry, `${c.name}: effective before expiry`)
    }
    // Chip cards carry a chip service code, magstripe-only ones do not.
    if (c.interface === 'chip' || c.interface.startsWith('contactless')) t.match(c.serviceCode, /^[26]/, `${c.name}: chip service code`)
  }
  t.equal(some((c) => c.issuerCountry === '076').length, TEST_CARDS.length, 'Brazilian issuers')
})

t.test('findCard returns the card; an unknown name is a coded error listing the valid names', async (t) => {
  t.equal(findCard('visa-credit').pan, '4761739001010010')
  t.equal(findCard('mastercard-credit').pan, '5413330089600010')
  t.equal(findCard('elo-credit').pan, '6362970000457013')
  const err = t.throws(() => findCard('visa-platinum')) as Error & { code: string }
  t.equal(err.code, 'MPOS_ERR_UNKNOWN_TEST_CARD')
  t.match(err.message, /"visa-platinum"/)
  for (const name of cardNames()) t.match(err.message, name)
})

t.test('tracks agree with the PAN, expiry, service code and name', async (t) => {
  for (const c of TEST_CARDS) {
    const t2 = track2(c)
    t.ok(t2.length <= 37, `${c.name}: track 2 fits 37 characters`)
    t.match(t2, /^\d+=\d+$/, `${c.name}: track 2 character set`)
    const [pan, rest] = t2.split('=') as [string, string]
    t.equal(pan, c.pan)
    t.equal(rest.slice(0, 4), c.expiry.slice(0, 4), `${c.name}: track 2 YYMM`)
    t.equal(rest.slice(4, 7), c.serviceCode)

    const t1 = track1(c)
    t.ok(t1.length <= 76, `${c.name}: track 1 fits 76 characters`)
    const [head, name, tail] = t1.split('^') as [string, string, string]
    t.equal(head, `B${c.pan}`)
    t.equal(name, c.holderName)
    t.equal(tail.slice(0, 4), c.expiry.slice(0, 4))
    t.equal(tail.slice(4, 7), c.serviceCode)
    t.equal(tail.slice(7), c.track1Discretionary)

    const t57 = track2Equivalent(c).toString('hex').toUpperCase()
    t.equal(t57.replace(/F$/, '').replace('D', '='), t2, `${c.name}: tag 57 is track 2 in BCD`)
    t.equal(t57.length % 2, 0)
  }
  t.equal(track2(findCard('visa-credit')), '4761739001010010=30122010000012300')
  t.equal(track1(findCard('visa-credit')), 'B4761739001010010^SILVA/ANA^30122010000000000123000000')
  t.equal(track2Equivalent(findCard('maestro-debit')).toString('hex').toUpperCase(), '6799990100000000019D29052200000012300F')
})

// §5.4.1 "Exemplos", transcribed. The PDF-to-text conversion put blanks around bold runs in the
// masked results ("B3764 32 **** * 1006 ^JOE…"); the blanks inside the Amex PAN (4-6-5 grouping)
// are the card's own, the others are layout: keeping the same length as the input track decides which.
const SPEC_EXAMPLES: Array<{ track: 1 | 2; input: string; mask?: string; expected: string }> = [
  { track: 2, input: '66733246732413=1512601234879534275432', expected: '66733246732413=1512601' },
  { track: 1, input: 'B9994444333322221111^NOME^1512601234879', expected: 'B9994444333322221111^NOME^1512601' },
  { track: 2, input: '667332467324131512601234879534275432', expected: '6673324673241315126' },
  { track: 1, input: 'B3764 329710 01006^JOE^2108100265123756', mask: '0604', expected: 'B3764 32**** *1006^JOE^2108100' },
  { track: 2, input: '4444333322221111=2212601019923625524', mask: '0700', expected: '4444333*********=2212601' },
  { track: 1, input: 'A756325325535^PROPRIETARYFORMAT=6562532', mask: '0005', expected: 'A*******25535^PROPR' },
]

t.test('incomplete tracks and masking: the §5.4.1 examples', async (t) => {
  for (const ex of SPEC_EXAMPLES) {
    const got = ex.track === 1 ? incompleteTrack1(ex.input, ex.mask) : incompleteTrack2(ex.input, ex.mask)
    t.equal(got, ex.expected, `track ${ex.track} ${ex.input}${ex.mask ? ` mask ${ex.mask}` : ''}`)
  }
})

t.test('incomplete tracks: the rules of §5.4.1 and §6.3.4.1 at their edges', async (t) => {
  t.equal(incompleteTrack1('B4111111111111111^NAME'), 'B4111111111111111^N', 'one ^ only: first 19')
  t.equal(incompleteTrack1('B41111^A^2912'), 'B41111^A^2912', 'fewer than 7 after the second ^: what there is')
  t.equal(incompleteTrack2('4111111111111111D2912101'), '4111111111111111D29', 'no "=": first 19')
  t.equal(incompleteTrack2('411111'), '411111', 'short track kept whole')
  t.equal(incompleteTrack3('0141111111111111111=724724100000000000030300'), '0141111111111111111')
  t.equal(incompleteTrack3('0141111111111111111=7247', '0404'), '0141***********1111', 'track 3: the first digit run is masked')
})

t.test('PAN masking (SPE_PANMASK "eedd")', async (t) => {
  t.equal(maskPan('4111111111111111', '0604'), '411111******1111')
  t.equal(maskPan('4111111111111111', '0000'), '****************')
  t.equal(maskPan('4111111111111111', '1006'), '4111111111111111', 'ee + dd = digits: nothing left to mask')
  t.equal(maskPan('4111111111111111', '1007'), '4111111111111111', 'ee + dd exceed the digits: no masking')
  t.equal(maskPan('B4111 1111 1111 1111^X', '0404'), 'B4111 **** **** 1111^X', 'blanks kept, not counted')
  t.equal(maskPan('^NO DIGITS^', '0604'), '^NO DIGITS^')
  t.throws(() => maskPan('4111111111111111', '64'), { code: 'MPOS_ERR_INVALID_FIELD' })
  t.throws(() => maskPan('4111111111111111', '06a4'), { code: 'MPOS_ERR_INVALID_FIELD' })
  t.equal(maskedPan(findCard('maestro-debit'), '0604'), '679999*********0019', 'PP_PAN is masked too')
  t.equal(maskedPan(findCard('maestro-debit')), '6799990100000000019')
})

t.test('incomplete tracks of every card: PAN, then YYMM and service code', async (t) => {
  for (const c of TEST_CARDS) {
    const yymmsc = c.expiry.slice(0, 4) + c.serviceCode
    t.equal(incompleteTrack2(track2(c)), `${c.pan}=${yymmsc}`, `${c.name} PP_TRK2INC`)
    t.equal(incompleteTrack1(track1(c)), `B${c.pan}^${c.holderName}^${yymmsc}`, `${c.name} PP_TRK1INC`)
    const masked = incompleteTrack2(track2(c), '0604')
    t.equal(masked, `${c.pan.slice(0, 6)}${'*'.repeat(c.pan.length - 10)}${c.pan.slice(-4)}=${yymmsc}`, `${c.name} masked`)
  }
})

t.test('property: masking keeps length, non-PAN characters and the open digits', async () => {
  const field = fc
    .tuple(fc.constantFrom('', 'B', 'A'), fc.stringMatching(/^[0-9 ]{0,24}$/), fc.constantFrom('', '^NAME^2912201', '=2912201'))
    .map(([a, b, c]) => a + b + c)
  fc.assert(
    fc.property(field, fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), (f, ee, dd) => {
      const mask = String(ee).padStart(2, '0') + String(dd).padStart(2, '0')
      const out = maskPan(f, mask)
      if (out.length !== f.length) return false
      const start = f.search(/\d/)
      let end = start < 0 ? 0 : start
      while (start >= 0 && end < f.length && /[\d ]/.test(f[end]!)) end++
      const digits = start < 0 ? 0 : f.slice(start, end).replace(/ /g, '').length
      let k = 0
      for (let i = 0; i < f.length; i++) {
        const inPan = start >= 0 && i >= start && i < end && /\d/.test(f[i]!)
        if (!inPan) {
          if (out[i] !== f[i]) return false
          continue
        }
        const open = ee + dd > digits || k < ee || k >= digits - dd
        if (out[i] !== (open ? f[i] : '*')) return false
        k++
      }
      return true
    }),
  )
})
