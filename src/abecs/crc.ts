import crc16xmodem from 'crc/crc16xmodem'

const asBuffer = (data: Uint8Array): Buffer =>
  Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)

const TRAILERS = new Map<number, Buffer>()

/** CRC-16/XMODEM (poly 1021h, init 0, no reflection) as §7.2 defines it, over PKTDATA + ETB. */
export function abecsCrc(data: Uint8Array, etb: number): number {
  let trailer = TRAILERS.get(etb)
  if (!trailer) TRAILERS.set(etb, (trailer = Buffer.of(etb)))
  return crc16xmodem(trailer, crc16xmodem(asBuffer(data)))
}
