/**
 * The spec's RSA examples give only the modulus, the public exponent and KPRV (the private
 * exponent). Node's crypto wants the whole private key, so this recovers p and q from (n, e, d) —
 * the usual method: k = ed − 1 = 2^t·r; for a base g, some g^(r·2^i) is a non-trivial square root of
 * 1 mod n, and its gcd with n is a factor. Test-only arithmetic with BigInt; the RSA itself stays Node's.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto'

const big = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`)
const bytes = (n: bigint) => {
  let h = n.toString(16)
  if (h.length % 2) h = `0${h}`
  return Buffer.from(h, 'hex')
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n
  let b = base % mod
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % mod
    b = (b * b) % mod
  }
  return result
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b]
  return a
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m]
  let [oldS, s] = [1n, 0n]
  while (r) {
    const q = oldR / r
    ;[oldR, r] = [r, oldR - q * r]
    ;[oldS, s] = [s, oldS - q * s]
  }
  return ((oldS % m) + m) % m
}

export function rsaPrivateKeyFromExponents(modulus: Buffer, publicExponent: Buffer, privateExponent: Buffer): KeyObject {
  const n = big(modulus)
  const e = big(publicExponent)
  const d = big(privateExponent)
  const k = e * d - 1n
  let r = k
  let t = 0
  while (!(r & 1n)) {
    r >>= 1n
    t++
  }
  for (let g = 2n; g < 1000n; g++) {
    let x = modPow(g, r, n)
    if (x === 1n || x === n - 1n) continue
    for (let i = 0; i < t; i++) {
      const y = (x * x) % n
      if (y === 1n) {
        const p = gcd(x - 1n, n)
        const q = n / p
        const b64 = (v: bigint) => bytes(v).toString('base64url')
        return createPrivateKey({
          key: { kty: 'RSA', n: b64(n), e: b64(e), d: b64(d), p: b64(p), q: b64(q), dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: b64(modInverse(q, p)) },
          format: 'jwk',
        })
      }
      if (y === n - 1n) break
      x = y
    }
  }
  throw new Error('could not factor the modulus from (e, d)')
}
