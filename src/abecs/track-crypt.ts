/**
 * Track and PAN encryption of GTK (§5.4.2). Track 1 (§5.4.2.1) is ASCII, a byte per symbol: its
 * format character and SPE_OPNDIG more characters stay clear, the rest is padded with 00h to 8 bytes
 * and encrypted (the §3.3.12 random-key example keeps "B" clear with no SPE_OPNDIG at all). The PAN
 * and tracks 2/3 (§5.4.2.2) are a nibble per symbol: SPE_OPNDIG digits stay clear, the rest is padded
 * with Fh nibbles to 8 bytes and encrypted. `cipher` runs over whole 8-byte blocks (ECB or CBC).
 */
export type BlockCipher = (data: Buffer) => Buffer

const NIBBLE: Record<string, string> = { ':': 'A', ';': 'B', '<': 'C', '=': 'D', '>': 'E', '?': 'F' }
const SYMBOL: Record<string, string> = Object.fromEntries(Object.entries(NIBBLE).map(([s, n]) => [n, s]))

/** PP_TRACK2/PP_TRACK3/PP_ENCPAN in clear: a nibble per symbol, F padding (§3.1.3.2). */
export function toNibbles(text: string): Buffer {
  const hex = [...text].map((ch) => NIBBLE[ch] ?? ch).join('')
  return Buffer.from(hex.length % 2 ? `${hex}F` : hex, 'hex')
}

/** The symbols back from nibbles; trailing F padding dropped. */
export function fromNibbles(data: Buffer): string {
  return [...data.toString('hex').toUpperCase().replace(/F+$/, '')].map((n) => SYMBOL[n] ?? n).join('')
}

const hasFormatChar = (track: string) => /^[A-Za-z]/.test(track)

/** §5.4.2.1: track 1 (ASCII) with `openChars` characters after its format character left clear. */
export function encryptTrack1(track: string, openChars: number, cipher: BlockCipher): Buffer {
  const bytes = Buffer.from(track, 'latin1')
  const clear = (hasFormatChar(track) ? 1 : 0) + openChars
  const rest = bytes.subarray(clear)
  const padded = Buffer.alloc(Math.ceil(rest.length / 8) * 8)
  rest.copy(padded)
  return Buffer.concat([bytes.subarray(0, clear), padded.length ? cipher(padded) : Buffer.alloc(0)])
}

/** §5.4.2.2: PAN or track 2/3 as nibbles, `openDigits` (even) left clear, the rest F-padded and encrypted. */
export function encryptNibbleTrack(text: string, openDigits: number, cipher: BlockCipher): Buffer {
  const hex = [...text].map((ch) => NIBBLE[ch] ?? ch).join('')
  const rest = hex.slice(openDigits)
  const padded = rest.padEnd(Math.ceil(rest.length / 16) * 16, 'F')
  return Buffer.concat([Buffer.from(hex.slice(0, openDigits), 'hex'), padded ? cipher(Buffer.from(padded, 'hex')) : Buffer.alloc(0)])
}

/** Host side of encryptTrack1: `decipher` undoes `cipher`. */
export function decryptTrack1(data: Buffer, openChars: number, decipher: BlockCipher): string {
  const clear = (hasFormatChar(data.subarray(0, 1).toString('latin1')) ? 1 : 0) + openChars
  const rest = data.subarray(clear)
  const plain = rest.length ? decipher(rest) : Buffer.alloc(0)
  return Buffer.concat([data.subarray(0, clear), plain]).toString('latin1').replace(/\0+$/, '')
}

/** Host side of encryptNibbleTrack. */
export function decryptNibbleTrack(data: Buffer, openDigits: number, decipher: BlockCipher): string {
  const head = data.subarray(0, openDigits / 2)
  const rest = data.subarray(openDigits / 2)
  return fromNibbles(Buffer.concat([head, rest.length ? decipher(rest) : Buffer.alloc(0)]))
}
