/**
 * "PAN Criptografado" (§5.3, obsolete): the PAN, in tracks and fields, under the TDES key WKPAN.
 * §5.3.1: the 16 least significant PAN characters (spaces as E, F-padded on the right when shorter)
 * are a BCD block replaced by its ciphertext in hex; a PAN under 13 digits, or with other than
 * digits and spaces, stays clear. The pinpad encrypts what it returns (CKE, GCR) and recovers what
 * the host sent "in reverse" (decrypted, for GPN and ENB); the host does the opposite.
 */
import { tdesDecryptEcb, tdesEncryptEcb } from '../crypto/des.js'
import { RsaBlockError } from '../errors.js'

const hexOf = (b: Buffer) => b.toString('hex').toUpperCase()

/** Where the PAN lies in a track: from its first digit (or space) to the separator or the end (§5.3.1). */
function panSpan(track: string): [number, number] | undefined {
  const start = track.search(/[0-9 ]/)
  if (start < 0) return undefined
  const rest = track.slice(start).search(/[\^=]/)
  return [start, rest < 0 ? track.length : start + rest]
}

/** The PAN as it leaves the pinpad (a whole PAN field or the PAN inside a track). */
function encryptPan(pan: string, wkpan: Buffer): string {
  const digits = pan.replace(/ /g, '')
  if (!/^[0-9 ]+$/.test(pan) || digits.length < 13) return pan
  const coded = pan.replace(/ /g, 'E')
  const tail = coded.slice(-16).padEnd(16, 'F')
  return coded.slice(0, Math.max(0, coded.length - 16)) + hexOf(tdesEncryptEcb(wkpan, Buffer.from(tail, 'hex')))
}

/** §5.3.1 for the pinpad: a track (CKE_TRKn, GCR_TRKn) with its PAN encrypted. */
export function encryptPanInTrack(track: string, wkpan: Buffer): string {
  const span = panSpan(track)
  if (!span) return track
  return track.slice(0, span[0]) + encryptPan(track.slice(span[0], span[1]), wkpan) + track.slice(span[1])
}

/** §5.3.1 for the pinpad: GCR_PAN. */
export const encryptPanField = (pan: string, wkpan: Buffer): string => encryptPan(pan, wkpan)

/** §5.3.2 for the host: the track (or PAN field) with its PAN back in clear, or as it was if it was not encrypted. */
export function decryptPanInTrack(track: string, wkpan: Buffer): string {
  const end = track.search(/[\^=]/)
  const head = end < 0 ? track : track.slice(0, end)
  const block = head.slice(-16)
  if (block.length < 16 || !/^[0-9A-F]{16}$/i.test(block)) return track
  const clear = hexOf(tdesDecryptEcb(wkpan, Buffer.from(block, 'hex')))
  if (!/^[0-9E]*F{0,3}$/.test(clear)) return track
  return head.slice(0, -16) + clear.replace(/F+$/, '').replace(/E/g, ' ') + (end < 0 ? '' : track.slice(end))
}

/** What the host sends in GPN_PAN (§3.3.11): 16 or more digits go under WKPAN "in reverse" (decrypted). */
export function encodeSentPan(pan: string, wkpan: Buffer): string {
  if (pan.length < 16) return pan
  return pan.slice(0, -16) + hexOf(tdesDecryptEcb(wkpan, Buffer.from(pan.slice(-16), 'hex')))
}

/** §6.5.11 for the pinpad: GPN_PAN of 16 or more characters is recovered; shorter ones are clear. Undefined if malformed. */
export function decodeSentPan(sent: string, wkpan: Buffer): string | undefined {
  if (sent.length < 16) return sent
  const block = sent.slice(-16)
  if (!/^[0-9A-F]{16}$/i.test(block)) return undefined
  return sent.slice(0, -16) + hexOf(tdesEncryptEcb(wkpan, Buffer.from(block, 'hex'))).replace(/F+$/, '')
}

/**
 * §5.3.3 for the host: WKPAN out of DWK_CRYPT (modality 2), opened with KPRV. The 128-byte block is
 * "T" "1" N9 (sequence) H32 (WKPAN) N84 (zeros) "X". The §3.2.5 example instead holds WKPAN's 16
 * bytes raw in the first half of the H32 (then 16 other characters); both are accepted.
 */
export function wkpanFromCryptogram(open: (cryptogram: Buffer) => Buffer, dwkCrypt: string): Buffer {
  const block = open(Buffer.from(dwkCrypt, 'hex'))
  const text = block.toString('latin1')
  if (block.length !== 128 || !/^T1\d{9}/.test(text) || !/^0{84}X$/.test(text.slice(43))) {
    throw new RsaBlockError('DWK block is not "T1", sequence, WKPAN, zeros, "X" (§5.3.3)')
  }
  const field = text.slice(11, 43)
  return /^[0-9A-F]{32}$/i.test(field) ? Buffer.from(field, 'hex') : Buffer.from(block.subarray(11, 27))
}

/** §5.3.3 for the pinpad: the 128-byte block to encrypt raw under the host's 1024-bit key. */
export function wkpanBlock(wkpan: Buffer, sequence: number): Buffer {
  return Buffer.from(`T1${String(sequence % 1e9).padStart(9, '0')}${hexOf(wkpan)}${'0'.repeat(84)}X`, 'latin1')
}
