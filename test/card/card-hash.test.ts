import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  buildCardHashForm,
  cardHolderDisplayName,
  createCardHash,
  encryptCardHash,
  percentEncode,
  wipeCapturedCard,
  type CardHashKey,
} from '../../src/card/card-hash.js'
import { loadSandboxKey, openCardHashForm } from '../../src/acquirer/sandbox/index.js'
import type { CapturedCard } from '../../src/card/captured-card.js'
import { EMV_DATA, chipOfflinePin, chipOnlinePin, contactless, magstripeCredit, magstripeDebitPin } from './fixtures.js'

const dataDir = mkdtempSync(path.join(tmpdir(), 'mpos-card-hash-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
const sandbox = await loadSandboxKey(dataDir)
const KEY: CardHashKey = { id: 1234567, publicKey: sandbox.publicKeyPem }

/** Encrypts with the sandbox public key and decrypts with its private key. */
function roundTrip(form: string): string {
  const hash = encryptCardHash(form, KEY)
  return openCardHashForm(hash, sandbox.privateKey)
}

const EXPECTED: Record<string, [() => CapturedCard, string]> = {
  'chip with online PIN': [
    chipOnlinePin,
    'capture_method=emv&payment_method=credit_card&card_number=4761739001010010&card_expiration_date=1230' +
      '&card_sequence_number=1&card_track_2=4761739001010010%3D30122011143804400000&card_holder_name=JOAO%20SILVA' +
      `&card_emv_data=${EMV_DATA}&card_pin_mode=online&card_pin=3F8A1C2D4E5B6A79&card_pin_kek=FFFF9876543210E0000A`,
  ],
  'chip with offline PIN': [
    chipOfflinePin,
    'capture_method=emv&payment_method=debit_card&card_number=5413330089020011&card_expiration_date=1129' +
      '&card_sequence_number=0&card_track_2=5413330089020011%3D29112011000000000000' +
      `&card_holder_name=MARIA%20C%20SOUZA&card_emv_data=${EMV_DATA}&card_pin_mode=offline`,
  ],
  'magstripe credit': [
    magstripeCredit,
    'capture_method=magstripe&payment_method=credit_card&card_number=5413330089010012&card_expiration_date=1230' +
      '&card_sequence_number=0&card_track_2=5413330089010012%3D30122011000000000000' +
      '&card_track_1=B5413330089010012%5ESOUZA%2FMARIA%5E30122011000000000000&card_holder_name=MARIA%20SOUZA',
  ],
  'magstripe debit with online PIN': [
    magstripeDebitPin,
    'capture_method=magstripe&payment_method=debit_card&card_number=6362970000457013&card_expiration_date=0828' +
      '&card_sequence_number=0&card_track_2=6362970000457013%3D28082060000088290770' +
      '&card_track_3=016362970000457013%3D98600000000000000000000000000000001' +
      '&card_pin_mode=online&card_pin=0A1B2C3D4E5F6071&card_pin_kek=FFFF0123456789800003',
  ],
  contactless: [
    contactless,
    'capture_method=emv&payment_method=credit_card&card_number=5413330089010020&card_expiration_date=1027' +
      `&card_sequence_number=2&card_track_2=5413330089010020D27102010000000000000F&card_emv_data=${EMV_DATA}`,
  ],
}

for (const [name, [card, expected]] of Object.entries(EXPECTED)) {
  t.test(`${name}: the form, and the hash decrypts to exactly it`, async (t) => {
    t.equal(buildCardHashForm(card()), expected)
    const hash = createCardHash(card(), KEY)
    t.match(hash, /^1234567_[A-Za-z0-9+/]+={0,2}$/)
    const blocks = Math.ceil(Buffer.byteLength(expected) / 245)
    t.equal(Buffer.from(hash.split('_')[1]!, 'base64').length, 256 * blocks, `${blocks} RSA-2048 block(s)`)
    t.equal(openCardHashForm(hash, sandbox.privateKey), expected)
  })
}

t.test('PKCS#1 v1.5 padding is random: two hashes of one form differ and both decrypt', async (t) => {
  const form = buildCardHashForm(magstripeCredit())
  const a = encryptCardHash(form, KEY)
  const b = encryptCardHash(form, KEY)
  t.not(a, b)
  t.equal(openCardHashForm(a, sandbox.privateKey), form)
  t.equal(openCardHashForm(b, sandbox.privateKey), form)
})

t.test('chunking: (key bytes − 11) = 245-byte chunks, cipher blocks concatenated', async (t) => {
  for (const [bytes, blocks] of [
    [1, 1],
    [245, 1],
    [246, 2],
    [490, 2],
    [491, 3],
    [1000, 5],
  ] as const) {
    const form = 'x'.repeat(bytes)
    const hash = encryptCardHash(form, KEY)
    t.equal(Buffer.from(hash.split('_')[1]!, 'base64').length, 256 * blocks, `${bytes} bytes → ${blocks} block(s)`)
    t.equal(roundTrip(form), form)
  }
  // A long chip form (a full EMV data set) with a multi-byte character split across chunks.
  const card = chipOnlinePin()
  card.emvData = EMV_DATA.repeat(4)
  card.holderName = 'ÇÃO/JOSÉ'.padEnd(26, 'Ñ')
  const form = buildCardHashForm(card)
  t.ok(Buffer.byteLength(form) > 490)
  t.equal(roundTrip(form), form)
  // Chunks are cut on bytes, not characters: the form still decodes as UTF-8 once joined.
  t.equal(roundTrip('é'.repeat(300)), 'é'.repeat(300))
})

t.test('a 1024-bit key takes 117-byte chunks', async (t) => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  const hash = encryptCardHash('y'.repeat(118), { id: '77', publicKey: pem })
  t.match(hash, /^77_/)
  t.equal(Buffer.from(hash.slice(3), 'base64').length, 256)
})

t.test('percent-encoding is RFC 3986 (Uri.EscapeDataString), UTF-8', async (t) => {
  t.equal(percentEncode('JOAO SILVA'), 'JOAO%20SILVA')
  t.equal(percentEncode('SOUZA/MARIA'), 'SOUZA%2FMARIA')
  t.equal(percentEncode('4761=3012'), '4761%3D3012')
  t.equal(percentEncode('B4761^SILVA/JOAO^3012'), 'B4761%5ESILVA%2FJOAO%5E3012')
  t.equal(percentEncode('JOSÉ ÇÃO'), 'JOS%C3%89%20%C3%87%C3%83O')
  t.equal(percentEncode("!'()*"), '%21%27%28%29%2A', 'escaped though encodeURIComponent leaves them')
  t.equal(percentEncode('AZaz09-_.~'), 'AZaz09-_.~', 'unreserved characters stay')
  t.equal(percentEncode('a+b&c=d%e?'), 'a%2Bb%26c%3Dd%25e%3F')
  t.equal(percentEncode('€'), '%E2%82%AC')
  const card = magstripeCredit()
  card.holderName = "D'ÁVILA/ANA (TESTE)*"
  t.match(buildCardHashForm(card), /&card_holder_name=ANA%20%28TESTE%29%2A%20D%27%C3%81VILA$/)
})

t.test('holder name: LAST/FIRST trimmed, split on "/", reversed, joined with a space', async (t) => {
  t.equal(cardHolderDisplayName('SILVA/JOAO'), 'JOAO SILVA')
  t.equal(cardHolderDisplayName('  SOUZA/MARIA C  '), 'MARIA C SOUZA')
  t.equal(cardHolderDisplayName('CARDHOLDER'), 'CARDHOLDER')
  t.equal(cardHolderDisplayName('A/B/C'), 'C B A')
  t.equal(cardHolderDisplayName('SILVA /JOAO'), 'JOAO SILVA ', 'inner spaces kept, as the original')
})

t.test('expiration date: YYMMDD and YYMM become MMYY', async (t) => {
  const card = magstripeCredit()
  card.expiration = '290131'
  t.match(buildCardHashForm(card), /&card_expiration_date=0129&/)
  card.expiration = '2901'
  t.match(buildCardHashForm(card), /&card_expiration_date=0129&/)
})

t.test('empty optional fields are left out; EMV data only for chip', async (t) => {
  const card = magstripeCredit()
  card.track1 = ''
  card.holderName = ''
  card.emvData = EMV_DATA // ignored for magstripe
  t.equal(
    buildCardHashForm(card),
    'capture_method=magstripe&payment_method=credit_card&card_number=5413330089010012&card_expiration_date=1230' +
      '&card_sequence_number=0&card_track_2=5413330089010012%3D30122011000000000000',
  )
})

t.test('unusable card data fails with a coded error that carries no card data', async (t) => {
  const cases: Array<[string, (c: CapturedCard) => void, RegExp]> = [
    ['bad expiration', (c) => (c.expiration = '3012311'), /expiration date is not YYMM or YYMMDD/],
    ['chip without EMV data', (c) => delete c.emvData, /EMV data is missing/],
    ['online PIN without block', (c) => delete c.pin!.block, /online PIN block is missing/],
    ['online PIN without KSN', (c) => delete c.pin!.ksn, /online PIN KSN is missing/],
    ['no PAN', (c) => (c.pan = ''), /card number is missing/],
    ['no track 2', (c) => (c.track2 = ''), /track 2 is missing/],
    ['bad PAN sequence number', (c) => (c.panSequenceNumber = -1), /PAN sequence number/],
  ]
  for (const [name, spoil, message] of cases) {
    const card = chipOnlinePin()
    spoil(card)
    const err = t.throws(() => buildCardHashForm(card), { code: 'MPOS_ERR_CARD_DATA_INVALID', message }, name) as Error
    for (const secret of ['4761739001010010', '3F8A1C2D4E5B6A79', '30122011143804400000', 'SILVA']) {
      t.notMatch(`${err.message} ${err.stack}`, secret, `${name}: no card data in the error`)
    }
  }
})

t.test('unusable keys fail with MPOS_ERR_CARD_HASH_KEY_INVALID', async (t) => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ec = publicKey.export({ type: 'spki', format: 'pem' }) as string
  t.throws(() => encryptCardHash('a=b', { id: 1, publicKey: ec }), { code: 'MPOS_ERR_CARD_HASH_KEY_INVALID', message: /RSA/ })
  t.throws(() => encryptCardHash('a=b', { id: 1, publicKey: 'not a key' }), { code: 'MPOS_ERR_CARD_HASH_KEY_INVALID' })
  t.throws(() => encryptCardHash('a=b', { id: 'a_b', publicKey: sandbox.publicKeyPem }), {
    code: 'MPOS_ERR_CARD_HASH_KEY_INVALID',
    message: /key id/,
  })
})

t.test('wipeCapturedCard drops every sensitive field in place', async (t) => {
  const card = chipOnlinePin()
  card.track1 = 'B4761739001010010^SILVA/JOAO^3012'
  card.track3 = '0147617390010100103012'
  const alias = card
  const pin = card.pin!
  wipeCapturedCard(card)
  const json = JSON.stringify(alias)
  for (const secret of ['4761739001010010', '301231', 'SILVA', '3F8A1C2D4E5B6A79', 'FFFF9876543210E0000A', '9F2608', 'B47617']) {
    t.notMatch(json, secret, `no ${secret}`)
  }
  t.same(alias, {
    captureMethod: 'emv',
    contactless: false,
    paymentMethod: 'credit_card',
    pan: '',
    expiration: '',
    panSequenceNumber: 0,
    track2: '',
    brand: 'visa',
    applicationLabel: 'VISA CREDITO',
  })
  t.same(pin, { mode: 'online' }, 'a kept reference to the PIN object is emptied too')
  t.throws(() => buildCardHashForm(card), { code: 'MPOS_ERR_CARD_DATA_INVALID' }, 'a wiped card cannot make a hash')
})
