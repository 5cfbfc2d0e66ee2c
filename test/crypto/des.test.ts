import t from 'tap'
import { createCipheriv } from 'node:crypto'
import { desEncryptBlock, tdesDecryptEcb, tdesEncryptEcb, xor } from '../../src/crypto/des.js'
import { hex } from '../helpers/hex.js'

const K1 = hex('0123456789ABCDEF')
const K2 = hex('FEDCBA9876543210')

t.test('single DES: FIPS 81 example "Now is t" under 0123456789ABCDEF', async (t) => {
  t.same(desEncryptBlock(K1, hex('4E6F772069732074')), hex('3FA40E8A984D4815'))
})

t.test('two-key TDES agrees with OpenSSL des-ede-ecb (K1|K2|K1)', async (t) => {
  const key = Buffer.concat([K1, K2])
  const plain = hex('4E6F772069732074 0000000000000000')
  const ref = createCipheriv('des-ede-ecb', key, null).setAutoPadding(false)
  const expected = Buffer.concat([ref.update(plain), ref.final()])
  t.same(tdesEncryptEcb(key, plain), expected)
  t.same(tdesDecryptEcb(key, expected), plain)
})

t.test('TDES with K1 = K2 is single DES', async (t) => {
  t.same(tdesEncryptEcb(Buffer.concat([K1, K1]), hex('4E6F772069732074')), hex('3FA40E8A984D4815'))
})

t.test('ECB: equal plaintext blocks give equal ciphertext blocks, no padding block', async (t) => {
  const key = Buffer.concat([K1, K2])
  const out = tdesEncryptEcb(key, hex('1122334455667788 1122334455667788'))
  t.equal(out.length, 16)
  t.same(out.subarray(0, 8), out.subarray(8))
})

t.test('length checks throw MPOS_ERR_CRYPTO_LENGTH', async (t) => {
  const key = Buffer.concat([K1, K2])
  t.throws(() => tdesEncryptEcb(K1, hex('0000000000000000')), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => tdesEncryptEcb(key, hex('00000000000000')), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => tdesDecryptEcb(key, Buffer.alloc(0)), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => desEncryptBlock(key, hex('0000000000000000')), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => desEncryptBlock(K1, hex('0000000000000000 00')), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
  t.throws(() => xor(K1, key), { code: 'MPOS_ERR_CRYPTO_LENGTH' })
})

t.test('xor', async (t) => {
  t.same(xor(hex('F0F0'), hex('0FF0')), hex('FF00'))
})
