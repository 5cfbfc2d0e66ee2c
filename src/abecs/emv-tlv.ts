/**
 * EMV BER-TLV (§7.1, ISO/IEC 8825) for the EMV data the pinpad exchanges (SPE_EMVDATA,
 * PP_EMVDATA, GOC_EMVDAT…) and for tag lists (SPE_TAGLIST, GOC_TAGS1). Tags are kept as
 * upper-case hex text ("9F26"). Written here because the npm TLV packages are unmaintained
 * and not EMV-aware (00h padding between objects, §7.1).
 */
import { MalformedPacketError, InvalidFieldError } from '../errors.js'

export interface EmvObject {
  tag: string
  value: Buffer
}

function readTag(buf: Buffer, pos: number): [string, number] {
  const start = pos
  const first = buf[pos++]
  if (first === undefined) throw new MalformedPacketError('EMV tag runs past the end')
  if ((first & 0x1f) === 0x1f) {
    let b: number | undefined
    do {
      b = buf[pos++]
      if (b === undefined) throw new MalformedPacketError('EMV tag runs past the end')
    } while (b & 0x80)
  }
  return [buf.subarray(start, pos).toString('hex').toUpperCase(), pos]
}

/** Parses concatenated TLV objects (top level only; constructed values stay as bytes). */
export function parseEmv(buf: Buffer): EmvObject[] {
  const out: EmvObject[] = []
  let pos = 0
  while (pos < buf.length) {
    if (buf[pos] === 0x00) {
      pos++ // §7.1: 00h bytes may stand between objects
      continue
    }
    const [tag, afterTag] = readTag(buf, pos)
    pos = afterTag
    let len = buf[pos++]
    if (len === undefined) throw new MalformedPacketError(`EMV tag ${tag} has no length`)
    if (len & 0x80) {
      const n = len & 0x7f
      if (n === 0 || n > 3 || pos + n > buf.length) throw new MalformedPacketError(`EMV tag ${tag} has a bad length`)
      len = buf.readUIntBE(pos, n)
      pos += n
    }
    if (pos + len > buf.length) throw new MalformedPacketError(`EMV tag ${tag} value runs past the end`)
    out.push({ tag, value: Buffer.from(buf.subarray(pos, pos + len)) })
    pos += len
  }
  return out
}

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n)
  if (n <= 0xff) return Buffer.of(0x81, n)
  if (n <= 0xffff) return Buffer.of(0x82, n >> 8, n & 0xff)
  throw new InvalidFieldError('EMV length', String(n))
}

function tagBytes(tag: string): Buffer {
  if (!/^([0-9A-Fa-f]{2})+$/.test(tag)) throw new InvalidFieldError('EMV tag', JSON.stringify(tag))
  const bytes = Buffer.from(tag, 'hex')
  const [parsed, end] = readTag(bytes, 0)
  if (end !== bytes.length || parsed !== tag.toUpperCase()) throw new InvalidFieldError('EMV tag', `${tag} is not one BER tag`)
  return bytes
}

export function buildEmv(objects: Iterable<EmvObject>): Buffer {
  const parts: Buffer[] = []
  for (const { tag, value } of objects) parts.push(tagBytes(tag), encodeLength(value.length), value)
  return Buffer.concat(parts)
}

/** Tag list: tags simply concatenated (SPE_TAGLIST, GOC_TAGS1…). */
export function parseTagList(buf: Buffer): string[] {
  const tags: string[] = []
  let pos = 0
  while (pos < buf.length) {
    const [tag, next] = readTag(buf, pos)
    tags.push(tag)
    pos = next
  }
  return tags
}

export function buildTagList(tags: readonly string[]): Buffer {
  return Buffer.concat(tags.map(tagBytes))
}

/** The objects as a tag → value map (first occurrence wins). */
export function emvMap(buf: Buffer): Map<string, Buffer> {
  const map = new Map<string, Buffer>()
  for (const o of parseEmv(buf)) if (!map.has(o.tag)) map.set(o.tag, o.value)
  return map
}
