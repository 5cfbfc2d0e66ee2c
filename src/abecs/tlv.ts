/**
 * Blocks of "Abecs" commands and responses (§3.1.3.1, §3.1.3.2): each item is an identifier
 * (X2), a length (X2, at most 995) and the value; items are grouped into blocks of at most
 * 999 bytes. Unknown identifiers are skipped on decoding, as the specification requires of
 * both sides.
 */
import { Reader, type Codec } from './fields.js'
import { InvalidFieldError, MalformedPacketError } from '../errors.js'
import { MAX_BLOCK } from './packet.js'
import type { Param } from './params.js'

export const MAX_ITEM_VALUE = 995

type Catalogue = Readonly<Record<string, Param<any>>>

/** Encodes the given parameters, in the order given, into as few blocks as fit. */
export function encodeItems(values: Readonly<Record<string, unknown>>, catalogue: Catalogue): Buffer[] {
  return encodeItemList(Object.entries(values), catalogue)
}

/** Like encodeItems, for lists that may repeat a name (GIX answers repeated requests, §6.4.3). */
export function encodeItemList(entries: Iterable<readonly [string, unknown]>, catalogue: Catalogue): Buffer[] {
  const items: Buffer[] = []
  for (const [name, value] of entries) {
    if (value === undefined) continue
    const param = catalogue[name]
    if (!param) throw new InvalidFieldError(name, 'not a known parameter')
    const data = (param.codec as Codec<unknown>).encode(value, name)
    if (data.length > MAX_ITEM_VALUE) throw new InvalidFieldError(name, `${data.length} bytes, at most ${MAX_ITEM_VALUE}`)
    const item = Buffer.allocUnsafe(4 + data.length)
    item.writeUInt16BE(param.id, 0)
    item.writeUInt16BE(data.length, 2)
    item.set(data, 4)
    items.push(item)
  }
  const blocks: Buffer[] = []
  let current: Buffer[] = []
  let size = 0
  for (const item of items) {
    if (size + item.length > MAX_BLOCK) {
      blocks.push(Buffer.concat(current))
      current = []
      size = 0
    }
    current.push(item)
    size += item.length
  }
  if (current.length) blocks.push(Buffer.concat(current))
  return blocks
}

export interface DecodedItems<T> {
  values: T
  /** Identifiers present but not in the catalogue (ignored per §3.1.3). */
  unknown: number[]
}

export function decodeItems<T>(blocks: readonly Buffer[], byId: ReadonlyMap<number, string>, catalogue: Catalogue): DecodedItems<T> {
  const values: Record<string, unknown> = {}
  const unknown: number[] = []
  for (const block of blocks) {
    let pos = 0
    while (pos < block.length) {
      if (pos + 4 > block.length) throw new MalformedPacketError(`TLV item header truncated at offset ${pos}`)
      const id = block.readUInt16BE(pos)
      const len = block.readUInt16BE(pos + 2)
      pos += 4
      if (pos + len > block.length) {
        throw new MalformedPacketError(`TLV item ${id.toString(16).padStart(4, '0')}h of ${len} bytes runs past its block`)
      }
      const value = block.subarray(pos, pos + len)
      pos += len
      const name = byId.get(id)
      if (!name) {
        unknown.push(id)
        continue
      }
      // §6.2.2: a repeated parameter keeps its first value.
      if (name in values) continue
      const r = new Reader(value)
      values[name] = catalogue[name]!.codec.decode(r, name)
      r.expectEnd(name)
    }
  }
  return { values: values as T, unknown }
}

/** Every value of one identifier, in order (MNU repeats SPE_MNUOPT, §3.3.13). */
export function itemValues(blocks: readonly Buffer[], id: number): Buffer[] {
  const out: Buffer[] = []
  for (const block of blocks) {
    for (let pos = 0; pos + 4 <= block.length; ) {
      const len = block.readUInt16BE(pos + 2)
      if (block.readUInt16BE(pos) === id) out.push(block.subarray(pos + 4, pos + 4 + len))
      pos += 4 + len
    }
  }
  return out
}
