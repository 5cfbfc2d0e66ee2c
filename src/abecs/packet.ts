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

function encodeBlocks(blocks: readonly Uint8Array[]): Buffer[] {
  const parts: Buffer[] = []
  for (const block of blocks) {
    if (block.length > MAX_BLOCK) throw new InvalidFieldError('block', `${block.length} bytes, at most ${MAX_BLOCK}`)
    parts.push(Buffer.from(String(block.length).padStart(3, '0'), 'latin1'), Buffer.from(block))
  }
  return parts
}

function decodeBlocks(data: Buffer, start: number): Buffer[] {
  const blocks: Buffer[] = []
  let pos = start
  while (pos < data.length) {
    const len = data.subarray(pos, pos + 3).toString('latin1')
    if (!/^\d{3}$/.test(len)) throw new MalformedPacketError(`block length ${JSON.stringify(len)} at offset ${pos} is not N3`)
    const n = Number(len)
    pos += 3
    if (pos + n > data.length) throw new MalformedPacketError(`block of ${n} bytes at offset ${pos} runs past the end (${data.length})`)
    blocks.push(data.subarray(pos, pos + n))
    pos += n
  }
  return blocks
}

export function encodeCommand(id: string, blocks: readonly Uint8Array[] = []): Buffer {
  if (!ID.test(id)) throw new InvalidFieldError('CMD_ID', JSON.stringify(id))
  return Buffer.concat([Buffer.from(id, 'latin1'), ...encodeBlocks(blocks)])
}

export function decodeCommand(data: Buffer): CommandPacket {
  const id = data.subarray(0, 3).toString('latin1')
  if (!ID.test(id)) throw new MalformedPacketError(`CMD_ID ${JSON.stringify(id)}`)
  return { id, blocks: decodeBlocks(data, 3) }
}

export function encodeResponse(id: string, status: number, blocks: readonly Uint8Array[] = []): Buffer {
  if (!ID.test(id)) throw new InvalidFieldError('RSP_ID', JSON.stringify(id))
  if (status !== 0 && blocks.length) throw new InvalidFieldError('RSP_STAT', 'an error response carries no data (§2.3.2)')
  const stat = Buffer.from(String(status).padStart(3, '0'), 'latin1')
  return Buffer.concat([Buffer.from(id, 'latin1'), stat, ...encodeBlocks(blocks)])
}

export function decodeResponse(data: Buffer): ResponsePacket {
  const id = data.subarray(0, 3).toString('latin1')
  if (!ID.test(id)) throw new MalformedPacketError(`RSP_ID ${JSON.stringify(id)}`)
  const stat = data.subarray(3, 6).toString('latin1')
  if (!/^\d{3}$/.test(stat)) throw new MalformedPacketError(`RSP_STAT ${JSON.stringify(stat)} is not N3`)
  const status = Number(stat)
  // §2.3.2: an error response never carries data; whatever a device appends is ignored so the status is what surfaces.
  if (status !== 0) return { id, status, blocks: [] }
  return { id, status, blocks: decodeBlocks(data, 6) }
}
