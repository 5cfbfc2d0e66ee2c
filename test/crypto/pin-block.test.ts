import t from 'tap'
import fc from 'fast-check'
import {
  buildIso0PinBlock,
  decryptPinBlock,
  encryptPinBlock,
  parseIso0PinBlock,
} from '../../src/crypto/pin-block.js'
import { hex } from '../helpers/hex.js'

const PIN_KEY_E00001 = hex('042666B49184CF5C68DE9628D0397B36')
const PAN = '4012345678909'

t.test('ISO 9564-1 format 0 vector', async (t) => {
  const clear = buildIso0PinBlock('1234', PAN)
  t.same(clear, hex('041274EDCBA9876F'))
  t.equal(parseIso0PinBlock(clear, PAN), '1234')
  const encrypted = encryptPinBlock(clear, PIN_KEY_E00001)
  t.same(encrypted, hex('1B9C1845EB993A7A'))
  t.same(decryptPinBlock(encrypted, PIN_KEY_E00001), clear)
})

t.test('PAN field: 12 rightmost digits without the check digit, zero-padded when shorter', async (t) => {
  // 19 digits: PAN field 0000 789012345678 (check digit 9 dropped).
  t.same(buildIso0PinBlock('1234', '1234567890123456789'), hex('04124C6FEDCBA987'))
  // 8 digits: PAN field 0000 000001234567.
  t.same(buildIso0PinBlock('1234', '12345678'), hex('041234FFFEDCBA98'))
  t.same(buildIso0PinBlock('1234', '0000000000000'), hex('041234FFFFFFFFFF'))
})

t.test('PIN lengths 4 and 12', async (t) => {
  t.same(buildIso0PinBlock('0000', '0000000000000'), hex('040000FFFFFFFFFF'))
  t.same(buildIso0PinBlock('123456789012', '0000000000000'), hex('0C123456789012FF'))
  t.equal(parseIso0PinBlock(hex('0C123456789012FF'), '0000000000000'), '123456789012')
})

t.test('invalid PIN or PAN throws a coded error without echoing it', async (t) => {
  const badPins = ['123', '1234567890123', '12a4', '', ' 1234', '１２３４']
  for (const pin of badPins) t.throws(() => buildIso0PinBlock(pin, PAN), { code: 'MPOS_ERR_PIN_INVALID' }, pin)
  const badPans = ['1234567', '12345678901234567890', '40123456789O9', '4012 3456 7890 9']
  for (const pan of badPans) t.throws(() => buildIso0PinBlock('1234', pan), { code: 'MPOS_ERR_PAN_INVALID' }, pan)
  t.throws(() => parseIso0PinBlock(hex('041274EDCBA9876F'), 'x'), { code: 'MPOS_ERR_PAN_INVALID' })
  try {
    buildIso0PinBlock('98765432109876', '4111111111111111')
    t.fail('should throw')
  } catch (err) {
    t.notMatch((err as Error).message, /98765/)
  }
  try {
    buildIso0PinBlock('9876', '41111111111111119999')
    t.fail('should throw')
  } catch (err) {
    t.notMatch((err as Error).message, /4111|9876/)
  }
})

t.test('malformed clear blocks throw MPOS_ERR_PIN_BLOCK_INVALID', async (t) => {
  const zeroPan = '0000000000000'
  const bad: Array<[string, string]> = [
    ['141234FFFFFFFFFF', 'control field 1 (format 1)'],
    ['341234FFFFFFFFFF', 'control field 3'],
    ['031234FFFFFFFFFF', 'length 3'],
    ['0D1234567890123F', 'length 13'],
    ['04123AFFFFFFFFFF', 'non-decimal PIN digit'],
    ['041234FFFFFFFFFE', 'fill not F'],
    ['0412340FFFFFFFFF', 'fill not F right after the PIN'],
    ['041234FFFFFFFF', 'short block'],
  ]
  for (const [block, why] of bad) {
    t.throws(() => parseIso0PinBlock(hex(block), zeroPan), { code: 'MPOS_ERR_PIN_BLOCK_INVALID' }, why)
  }
  // The vector block against another PAN: the PAN field no longer cancels out.
  t.throws(() => parseIso0PinBlock(hex('041274EDCBA9876F'), '4012345678919'), { code: 'MPOS_ERR_PIN_BLOCK_INVALID' })
})

t.test('encrypt/decrypt validate lengths', async (t) => {
  t.throws(() => encryptPinBlock(hex('041274EDCBA9876F 00'), PIN_KEY_E00001), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => decryptPinBlock(hex('1B9C1845EB993A'), PIN_KEY_E00001), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => encryptPinBlock(hex('041274EDCBA9876F'), PIN_KEY_E00001.subarray(0, 8)), {
    code: 'MPOS_ERR_CRYPTO_LENGTH',
  })
})

t.test('property: parse(build(pin, pan), pan) === pin', async (t) => {
  fc.assert(
    fc.property(fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{13,19}$/), (pin, pan) => {
      const block = buildIso0PinBlock(pin, pan)
      return block.length === 8 && parseIso0PinBlock(block, pan) === pin
    }),
  )
  t.pass('holds')
})

t.test('property: decrypt(encrypt(x)) === x', async (t) => {
  const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((a) => Buffer.from(a))
  fc.assert(
    fc.property(bytes(8), bytes(16), (block, key) => {
      const encrypted = encryptPinBlock(block, key)
      return encrypted.length === 8 && decryptPinBlock(encrypted, key).equals(block)
    }),
  )
  t.pass('holds')
})
