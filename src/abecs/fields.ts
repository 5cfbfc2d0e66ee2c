/**
 * Field formats of §1.3 (A, S, N, H, X, B) as two-way codecs, and `record()` to compose
 * a fixed layout from them. The same layout serves the host (encode commands, decode
 * responses) and the virtual pinpad (the other way round).
 */
import { MalformedPacketError, InvalidFieldError } from '../errors.js'

export class Reader {
  pos = 0
  constructor(readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos
  }

  take(n: number, field: string): Buffer {
    if (n > this.remaining) {
      throw new MalformedPacketError(`${field} needs ${n} bytes, only ${this.remaining} left`)
    }
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  rest(): Buffer {
    return this.take(this.remaining, 'rest')
  }

  expectEnd(what: string): void {
    if (this.remaining) throw new MalformedPacketError(`${this.remaining} unexpected bytes after ${what}`)
  }
}

export interface Codec<T> {
  /** The format as the specification writes it, e.g. `A20`, `N..19`. */
  readonly format: string
  encode(value: T, field: string): Buffer
  decode(r: Reader, field: string): T
}

const isAscii = (b: number) => b >= 0x20 && b <= 0x7e
const isLatin1 = (b: number) => b >= 0x20
/** Free-format display text may break lines with CR (0Dh): SPE_DSPMSG (§3.1.3), DEX_MSG (§3.3.4). */
const isLatin1OrCr = (b: number) => b >= 0x20 || b === 0x0d
const isDigit = (b: number) => b >= 0x30 && b <= 0x39
const HEX = /^[0-9A-Fa-f]*$/

function checkText(value: string, max: number, ok: (b: number) => boolean, field: string, kind: string): Buffer {
  if (typeof value !== 'string') throw new InvalidFieldError(field, `expected text, got ${typeof value}`)
  if (value.length > max) throw new InvalidFieldError(field, `${value.length} characters, at most ${max}`)
  const bytes = Buffer.from(value, 'latin1')
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0xff || !ok(bytes[i]!)) {
      throw new InvalidFieldError(field, `character ${JSON.stringify(value[i])} is not allowed in format ${kind}`)
    }
  }
  return bytes
}

function readText(r: Reader, n: number, ok: (b: number) => boolean, field: string, kind: string): string {
  const bytes = r.take(n, field)
  const bad = bytes.findIndex((b) => !ok(b))
  if (bad >= 0) throw new MalformedPacketError(`${field} (${kind}) has byte ${bytes[bad]!.toString(16).padStart(2, '0')}h`)
  return bytes.toString('latin1').replace(/ +$/, '')
}

/** A: printable ASCII, left-aligned, space-padded. Decoding drops the padding. */
export function A(n: number): Codec<string> {
  return {
    format: `A${n}`,
    encode: (v, f) => Buffer.from(checkText(v, n, isAscii, f, 'A').toString('latin1').padEnd(n, ' '), 'latin1'),
    decode: (r, f) => readText(r, n, isAscii, f, 'A'),
  }
}

/** S: ISO-8859-1 text (20h–FFh), left-aligned, space-padded (§7.3.2). */
export function S(n: number): Codec<string> {
  return {
    format: `S${n}`,
    encode: (v, f) => Buffer.from(checkText(v, n, isLatin1, f, 'S').toString('latin1').padEnd(n, ' '), 'latin1'),
    decode: (r, f) => readText(r, n, isLatin1, f, 'S'),
  }
}

/** N as a number: decimal digits, right-aligned, zero-padded. */
export function N(n: number): Codec<number> {
  return {
    format: `N${n}`,
    encode: (v, f) => {
      if (!Number.isSafeInteger(v) || v < 0) throw new InvalidFieldError(f, `expected a non-negative integer, got ${v}`)
      const s = String(v)
      if (s.length > n) throw new InvalidFieldError(f, `${v} does not fit in ${n} digits`)
      return Buffer.from(s.padStart(n, '0'), 'latin1')
    },
    decode: (r, f) => Number(Nd(n).decode(r, f)),
  }
}

/** N kept as its digit string (codes such as "00", dates "YYMMDD"): exactly `n` digits. */
export function Nd(n: number): Codec<string> {
  return {
    format: `N${n}`,
    encode: (v, f) => {
      if (typeof v !== 'string' || !/^\d*$/.test(v)) throw new InvalidFieldError(f, `expected digits, got ${JSON.stringify(v)}`)
      if (v.length > n) throw new InvalidFieldError(f, `${v.length} digits, at most ${n}`)
      return Buffer.from(v.padStart(n, '0'), 'latin1')
    },
    decode: (r, f) => {
      const bytes = r.take(n, f)
      if (!bytes.every(isDigit)) throw new MalformedPacketError(`${f} (N${n}) is not numeric: ${JSON.stringify(bytes.toString('latin1'))}`)
      return bytes.toString('latin1')
    },
  }
}

/** H: hexadecimal text of exactly `n` characters (`n / 2` bytes). Decoded upper-case. */
export function H(n: number): Codec<string> {
  return {
    format: `H${n}`,
    encode: (v, f) => {
      if (typeof v !== 'string' || !HEX.test(v)) throw new InvalidFieldError(f, 'expected hexadecimal text')
      if (v.length !== n) throw new InvalidFieldError(f, `${v.length} hex digits, expected ${n}`)
      return Buffer.from(v.toUpperCase(), 'latin1')
    },
    decode: (r, f) => {
      const s = r.take(n, f).toString('latin1')
      if (!HEX.test(s)) throw new MalformedPacketError(`${f} (H${n}) is not hexadecimal`)
      return s.toUpperCase()
    },
  }
}

/** X: big-endian binary number. */
export function X(n: number): Codec<number> {
  return {
    format: `X${n}`,
    encode: (v, f) => {
      if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** (8 * n)) throw new InvalidFieldError(f, `${v} does not fit in ${n} bytes`)
      const out = Buffer.alloc(n)
      out.writeUIntBE(v, 0, n)
      return out
    },
    decode: (r, f) => r.take(n, f).readUIntBE(0, n),
  }
}

/** B: raw bytes, exactly `n`. */
export function B(n: number): Codec<Buffer> {
  return {
    format: `B${n}`,
    encode: (v, f) => {
      if (!Buffer.isBuffer(v) || v.length !== n) throw new InvalidFieldError(f, `expected ${n} bytes`)
      return v
    },
    decode: (r, f) => Buffer.from(r.take(n, f)),
  }
}

/**
 * A length field (N of `digits`) followed by hex text. As §1.3 says, the length counts the
 * bytes the hex text stands for (its size ÷ 2). The value is the hex text.
 */
export function lenH(digits: number, maxBytes: number): Codec<string> {
  return {
    format: `N${digits}+H..${maxBytes * 2}`,
    encode: (v, f) => {
      if (typeof v !== 'string' || !HEX.test(v) || v.length % 2) throw new InvalidFieldError(f, 'expected hexadecimal text of whole bytes')
      if (v.length / 2 > maxBytes) throw new InvalidFieldError(f, `${v.length / 2} bytes, at most ${maxBytes}`)
      return Buffer.concat([N(digits).encode(v.length / 2, f), Buffer.from(v.toUpperCase(), 'latin1')])
    },
    decode: (r, f) => {
      const len = N(digits).decode(r, `${f} length`)
      if (len > maxBytes) throw new MalformedPacketError(`${f} length ${len} exceeds ${maxBytes}`)
      return H(len * 2).decode(r, f)
    },
  }
}

/** A length field (N of `digits`) followed by that many characters of `text` (A or S). */
export function lenText(digits: number, max: number, latin1 = false): Codec<string> {
  const ok = latin1 ? isLatin1OrCr : isAscii
  const kind = latin1 ? 'S' : 'A'
  return {
    format: `N${digits}+${kind}..${max}`,
    encode: (v, f) => {
      const bytes = checkText(v, max, ok, f, kind)
      return Buffer.concat([N(digits).encode(bytes.length, f), bytes])
    },
    decode: (r, f) => {
      const len = N(digits).decode(r, `${f} length`)
      if (len > max) throw new MalformedPacketError(`${f} length ${len} exceeds ${max}`)
      const bytes = r.take(len, f)
      if (!bytes.every(ok)) throw new MalformedPacketError(`${f} has characters outside format ${kind}`)
      return bytes.toString('latin1')
    },
  }
}

/** A trailing field that may be absent (decoded as undefined when the data has ended). */
export function optional<T>(codec: Codec<T>): Codec<T | undefined> {
  return {
    format: `${codec.format} (optional)`,
    encode: (v, f) => (v === undefined ? Buffer.alloc(0) : codec.encode(v, f)),
    decode: (r, f) => (r.remaining === 0 ? undefined : codec.decode(r, f)),
  }
}

export type Fields = Record<string, Codec<any>>
type ValueOf<C> = C extends Codec<infer T> ? T : never
type OptionalKeys<F extends Fields> = {
  [K in keyof F]: undefined extends ValueOf<F[K]> ? K : never
}[keyof F]
export type RecordOf<F extends Fields> = {
  -readonly [K in Exclude<keyof F, OptionalKeys<F>>]: ValueOf<F[K]>
} & { -readonly [K in OptionalKeys<F>]?: ValueOf<F[K]> }

export interface RecordCodec<F extends Fields> extends Codec<RecordOf<F>> {
  readonly fields: F
  /** Encodes to a standalone buffer. */
  pack(value: RecordOf<F>): Buffer
  /** Decodes a whole buffer; leftover bytes are an error. */
  unpack(buf: Buffer, what?: string): RecordOf<F>
}

/** A fixed layout: the fields in the order written, each with its codec. */
export function record<F extends Fields>(fields: F): RecordCodec<F> {
  const entries = Object.entries(fields)
  const codec: RecordCodec<F> = {
    fields,
    format: entries.map(([, c]) => c.format).join(' '),
    encode: (v) => Buffer.concat(entries.map(([name, c]) => c.encode((v as Record<string, unknown>)[name], name))),
    decode: (r) => {
      const out: Record<string, unknown> = {}
      for (const [name, c] of entries) {
        const value = c.decode(r, name)
        if (value !== undefined) out[name] = value
      }
      return out as RecordOf<F>
    },
    pack: (v) => codec.encode(v, 'record'),
    unpack: (buf, what = 'record') => {
      const r = new Reader(buf)
      const out = codec.decode(r, what)
      r.expectEnd(what)
      return out
    },
  }
  return codec
}

// Variable-size formats ("A..32", "B..512"): the value is the whole remaining data of an
// ABECS TLV item (§3.1.3), so decoding takes everything left in the reader.

function varText(max: number, ok: (b: number) => boolean, kind: string): Codec<string> {
  return {
    format: `${kind}..${max}`,
    encode: (v, f) => checkText(v, max, ok, f, kind),
    decode: (r, f) => {
      if (r.remaining > max) throw new MalformedPacketError(`${f} (${kind}..${max}) has ${r.remaining} bytes`)
      const bytes = r.rest()
      if (!bytes.every(ok)) throw new MalformedPacketError(`${f} has characters outside format ${kind}`)
      return bytes.toString('latin1')
    },
  }
}

/** A..n: printable ASCII of 0 to n characters, unpadded. */
export const varA = (max: number) => varText(max, isAscii, 'A')
/** S..n: ISO-8859-1 text of 0 to n characters, unpadded. */
export const varS = (max: number) => varText(max, isLatin1, 'S')
/** S..n display text where CR (0Dh) breaks lines (SPE_DSPMSG). */
export const varDisplay = (max: number) => varText(max, isLatin1OrCr, 'S')
/** N..n: 0 to n decimal digits, kept as text. */
export const varNd = (max: number) => varText(max, isDigit, 'N')

/** B..n: 0 to n raw bytes. */
export function varB(max: number): Codec<Buffer> {
  return {
    format: `B..${max}`,
    encode: (v, f) => {
      if (!Buffer.isBuffer(v)) throw new InvalidFieldError(f, 'expected bytes')
      if (v.length > max) throw new InvalidFieldError(f, `${v.length} bytes, at most ${max}`)
      return v
    },
    decode: (r, f) => {
      if (r.remaining > max) throw new MalformedPacketError(`${f} (B..${max}) has ${r.remaining} bytes`)
      return Buffer.from(r.rest())
    },
  }
}

/** A list of fixed-size entries concatenated (e.g. SPE_AIDLIST "AARR" entries, SPE_IDLIST X2 ids). */
export function listOf<T>(entry: Codec<T>, entrySize: number, maxEntries: number): Codec<T[]> {
  return {
    format: `(${entry.format})*..${maxEntries}`,
    encode: (v, f) => {
      if (!Array.isArray(v)) throw new InvalidFieldError(f, 'expected a list')
      if (v.length > maxEntries) throw new InvalidFieldError(f, `${v.length} entries, at most ${maxEntries}`)
      return Buffer.concat(v.map((x, i) => entry.encode(x, `${f}[${i}]`)))
    },
    decode: (r, f) => {
      if (r.remaining % entrySize) throw new MalformedPacketError(`${f} is not a whole number of ${entrySize}-byte entries`)
      if (r.remaining / entrySize > maxEntries) throw new MalformedPacketError(`${f} has more than ${maxEntries} entries`)
      const out: T[] = []
      for (let i = 0; r.remaining; i++) out.push(entry.decode(r, `${f}[${i}]`))
      return out
    },
  }
}

/** H..n: the rest of the data as hex text of 0 to n characters (whole bytes), e.g. G0302_TAGS. */
export function varH(maxChars: number): Codec<string> {
  return {
    format: `H..${maxChars}`,
    encode: (v, f) => {
      if (typeof v !== 'string' || !HEX.test(v) || v.length % 2) throw new InvalidFieldError(f, 'expected hexadecimal text of whole bytes')
      if (v.length > maxChars) throw new InvalidFieldError(f, `${v.length} hex digits, at most ${maxChars}`)
      return Buffer.from(v.toUpperCase(), 'latin1')
    },
    decode: (r, f) => {
      if (r.remaining > maxChars || r.remaining % 2) throw new MalformedPacketError(`${f} (H..${maxChars}) has ${r.remaining} characters`)
      return H(r.remaining).decode(r, f)
    },
  }
}
