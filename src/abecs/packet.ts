/**
 * Application layer (§2.3): a command is CMD_ID (A3) then blocks, each N3 length + data
 * (at most 999 bytes); a response is RSP_ID (A3), RSP_STAT (N3) then blocks. A response
 * with RSP_STAT ≠ 000 carries no data (§2.3.2).
 */
import { MalformedPacketError, InvalidFieldError } from '../errors.js'

export const MAX_BLOCK = 999
const ID = /^[A-Z]{3}$/

export interface CommandPacket {
  id: string
  blocks: Buffer[]
}

export interface ResponsePacket {
  id: string
  status: number
  blocks: Buffer[]
}

/** Writes CMD/RSP id, an optional N3 status and the N3-prefixed blocks into one buffer (no intermediate copies). */
function encodePacket(id: string, status: number | undefined, blocks: readonly Uint8Array[]): Buffer {
  let size = status === undefined ? 3 : 6
  for (const block of blocks) {
    if (block.length > MAX_BLOCK) throw new InvalidFieldError('block', `${block.length} bytes, at most ${MAX_BLOCK}`)
    size += 3 + block.length
  }
  const out = Buffer.allocUnsafe(size)
  out.write(id, 0, 'latin1')
  let pos = 3
  if (status !== undefined) pos = writeN3(out, pos, status)
  for (const block of blocks) {
    pos = writeN3(out, pos, block.length)
    out.set(block, pos)
    pos += block.length
  }
  return out
}

/** A number below 1000 as three ASCII digits, as String(n).padStart(3, '0') gives them. */
function writeN3(out: Buffer, pos: number, n: number): number {
  out[pos] = 0x30 + Math.floor(n / 100)
  out[pos + 1] = 0x30 + (Math.floor(n / 10) % 10)
  out[pos + 2] = 0x30 + (n % 10)
  return pos + 3
}

const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39

/** The N3 at pos, or -1 when the three bytes are not all digits. */
function readN3(data: Buffer, pos: number): number {
  const a = data[pos], b = data[pos + 1], c = data[pos + 2]
  if (!isDigit(a) || !isDigit(b) || !isDigit(c)) return -1
  return (a! - 0x30) * 100 + (b! - 0x30) * 10 + (c! - 0x30)
}

function decodeBlocks(data: Buffer, start: number): Buffer[] {
  const blocks: Buffer[] = []
  let pos = start
  while (pos < data.length) {
    const n = readN3(data, pos)
    if (n < 0) throw new MalformedPacketError(`block length ${JSON.stringify(data.subarray(pos, pos + 3).toString('latin1'))} at offset ${pos} is not N3`)
    pos += 3
    if (pos + n > data.length) throw new MalformedPacketError(`block of ${n} bytes at offset ${pos} runs past the end (${data.length})`)
    blocks.push(data.subarray(pos, pos + n))
    pos += n
  }
  return blocks
}

export function encodeCommand(id: string, blocks: readonly Uint8Array[] = []): Buffer {
  if (!ID.test(id)) throw new InvalidFieldError('CMD_ID', JSON.stringify(id))
  return encodePacket(id, undefined, blocks)
}

export function decodeCommand(data: Buffer): CommandPacket {
  const id = data.subarray(0, 3).toString('latin1')
  if (!ID.test(id)) throw new MalformedPacketError(`CMD_ID ${JSON.stringify(id)}`)
  return { id, blocks: decodeBlocks(data, 3) }
}

export function encodeResponse(id: string, status: number, blocks: readonly Uint8Array[] = []): Buffer {
  if (!ID.test(id)) throw new InvalidFieldError('RSP_ID', JSON.stringify(id))
  if (status !== 0 && blocks.length) throw new InvalidFieldError('RSP_STAT', 'an error response carries no data (§2.3.2)')
  if (!Number.isInteger(status) || status < 0 || status > 999) return encodeResponseSlow(id, status)
  return encodePacket(id, status, blocks)
}

/** A status that is not N3 is written as the text it makes (what the former concat did), for tests of bad devices. */
function encodeResponseSlow(id: string, status: number): Buffer {
  return Buffer.from(id + String(status).padStart(3, '0'), 'latin1')
}

export function decodeResponse(data: Buffer): ResponsePacket {
  const id = data.subarray(0, 3).toString('latin1')
  if (!ID.test(id)) throw new MalformedPacketError(`RSP_ID ${JSON.stringify(id)}`)
  const status = readN3(data, 3)
  if (status < 0) throw new MalformedPacketError(`RSP_STAT ${JSON.stringify(data.subarray(3, 6).toString('latin1'))} is not N3`)
  // §2.3.2: an error response never carries data; whatever a device appends is ignored so the status is what surfaces.
  if (status !== 0) return { id, status, blocks: [] }
  return { id, status, blocks: decodeBlocks(data, 6) }
}
