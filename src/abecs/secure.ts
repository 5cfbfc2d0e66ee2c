/**
 * "Comunicação Segura" packets (§5.2.2): CLRDATA wrapped as DATALEN (X2) + DATACRC (X2, CRC-16 of
 * CLRDATA) + CLRDATA + 00h filler to a multiple of 16, AES-128-CBC under KSEC with a zero IV, the
 * result preceded by DC2. Both ends use the same two functions.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import crc16xmodem from 'crc/crc16xmodem'
import { DC2, MAX_ABECS_DATA } from './control.js'
import { SecurePacketError } from '../errors.js'

export const KSEC_BYTES = 16
/** CLRDATA of a secure packet: at most 2044 bytes (§5.2.2), so the packet fits 2049 with DC2. */
export const MAX_SECURE_CLEAR = MAX_ABECS_DATA - 5
const AES_BLOCK = 16
const ZERO_IV = Buffer.alloc(AES_BLOCK)

export const isSecurePacket = (data: Uint8Array): boolean => data[0] === DC2

function aes(decrypt: boolean, ksec: Buffer, data: Buffer): Buffer {
  if (ksec.length !== KSEC_BYTES) throw new SecurePacketError(`KSEC has ${ksec.length} bytes, not 16`)
  const c = decrypt ? createDecipheriv('aes-128-cbc', ksec, ZERO_IV) : createCipheriv('aes-128-cbc', ksec, ZERO_IV)
  c.setAutoPadding(false)
  return Buffer.concat([c.update(data), c.final()])
}

/** §5.2.2.1: PKTDATA (DC2 first) carrying `clear` (a command or a response). */
export function sealPacket(ksec: Buffer, clear: Buffer): Buffer {
  if (clear.length > MAX_SECURE_CLEAR) throw new SecurePacketError(`CLRDATA of ${clear.length} bytes exceeds ${MAX_SECURE_CLEAR}`)
  const size = Math.ceil((clear.length + 4) / AES_BLOCK) * AES_BLOCK
  const plain = Buffer.alloc(size)
  plain.writeUInt16BE(clear.length, 0)
  plain.writeUInt16BE(crc16xmodem(clear), 2)
  clear.copy(plain, 4)
  return Buffer.concat([Buffer.of(DC2), aes(false, ksec, plain)])
}

/** §5.2.2.2: CLRDATA of a secure packet, after the three checks; SecurePacketError otherwise. */
export function openPacket(ksec: Buffer, pktdata: Buffer): Buffer {
  if (!isSecurePacket(pktdata)) throw new SecurePacketError('PKTDATA does not start with DC2')
  const body = pktdata.subarray(1)
  if (body.length === 0 || body.length % AES_BLOCK) throw new SecurePacketError(`${body.length} bytes after DC2, not a multiple of 16`)
  const plain = aes(true, ksec, body)
  const len = plain.readUInt16BE(0)
  if (len > body.length - 4) throw new SecurePacketError(`DATALEN ${len} does not fit ${body.length - 4} bytes`)
  const clear = plain.subarray(4, 4 + len)
  if (crc16xmodem(clear) !== plain.readUInt16BE(2)) throw new SecurePacketError('DATACRC does not match CLRDATA')
  return Buffer.from(clear)
}
