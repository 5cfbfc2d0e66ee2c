import t from 'tap'
import { encodeFrame, FrameDecoder, type FrameEvent } from '../../src/abecs/frame.js'
import { abecsCrc } from '../../src/abecs/crc.js'
import { ETB, MAX_CLASSIC_DATA } from '../../src/abecs/control.js'
import { CAPTURED_COMMANDS, CAPTURED_RESPONSES } from '../fixtures/capture.js'
import { ascii, hex, toHex } from '../helpers/hex.js'
import { ManualClock } from '../helpers/manual-clock.js'

function decodeAll(...chunks: Buffer[]): FrameEvent[] {
  const events: FrameEvent[] = []
  const d = new FrameDecoder((e) => events.push(e), { interByteTimeoutMs: 0 })
  for (const c of chunks) d.push(c)
  return events
}

t.test('CRC-16/XMODEM vectors (shared reference)', async (t) => {
  const vectors: Array<[string, number]> = [
    ['OPN000', 0x775e],
    ['DSP000', 0x3963],
    ['UNK', 0x7c32],
    ['GIX000', 0x7f4a],
    ['GKY', 0x041c],
    ['TLE', 0x47e9],
    ['OPN', 0xa8a9],
  ]
  for (const [data, crc] of vectors) t.equal(abecsCrc(ascii(data), ETB), crc, data)
})

t.test('OPN is 16 4F 50 4E 17 A8 A9 (§2.2.2.1)', async (t) => {
  t.same(encodeFrame(ascii('OPN')), hex('16 4F 50 4E 17 A8 A9'))
  t.same(decodeAll(hex('16 4F 50 4E 17 A8 A9')), [{ type: 'frame', data: ascii('OPN') }])
})

t.test('OPN with CRC 00 00 is a bad frame (the pinpad NAKs it)', async (t) => {
  t.same(decodeAll(hex('16 4F 50 4E 17 00 00')), [{ type: 'bad-frame', reason: 'crc' }])
})

t.test('DSP000 with a corrupted CRC, then the good retransmission (§2.2.2.2)', async (t) => {
  t.same(decodeAll(hex('16 44 53 50 30 30 30 17 FF FF'), hex('16 44 53 50 30 30 30 17 39 63')), [
    { type: 'bad-frame', reason: 'crc' },
    { type: 'frame', data: ascii('DSP000') },
  ])
})

t.test('a CRC byte equal to DC3 is sent raw (§2.2.2.2 DSP example, CRC 52 13)', async (t) => {
  const data = Buffer.concat([ascii('DSP032    OPERA'), hex('C7 C3'), ascii('O       FINALIZADA   ')])
  const wire = hex(`16 44 53 50 30 33 32 20 20 20 20 4F 50 45 52 41 C7 C3 4F 20 20 20 20 20 20 20 46 49 4E 41 4C 49
    5A 41 44 41 20 20 20 17 52 13`)
  t.same(encodeFrame(data), wire)
  t.same(decodeAll(wire), [{ type: 'frame', data }])
})

t.test('the real MOBI PIN 10 GIN answer: 109 bytes, CRC 17BDh whose first byte equals ETB', async (t) => {
  const data = ascii(
    'GIN000100GERTEC              MOBI PIN 10         0040_0022_0026_0110@1.08001.03 150113       8000021509010882',
  )
  t.equal(data.length, 109)
  t.equal(abecsCrc(data, ETB), 0x17bd)
  const wire = encodeFrame(data)
  t.same(wire.subarray(-3), hex('17 17 BD'))
  t.same(decodeAll(wire), [{ type: 'frame', data }])
  // byte by byte, as a slow serial port delivers it
  t.same(decodeAll(...[...wire].map((b) => Buffer.of(b))), [{ type: 'frame', data }])
})

t.test('cancel vector: a GCD, then CAN and EOT outside any packet', async (t) => {
  const gcd = hex('16 47 43 44 30 31 36 00 0C 00 01 3C 00 0E 00 01 0A 00 0B 00 02 00 09 17 C1 42')
  t.same(encodeFrame(gcd.subarray(1, -3)), gcd)
  t.same(decodeAll(gcd, hex('18'), hex('04')), [
    { type: 'frame', data: gcd.subarray(1, -3) },
    { type: 'control', byte: 0x18 },
    { type: 'control', byte: 0x04 },
  ])
})

t.test('DC3, SYN and ETB in data are escaped and restored', async (t) => {
  const data = hex('41 13 42 16 43 17 44')
  const wire = encodeFrame(data)
  t.same(wire.subarray(0, 12), hex('16 41 13 33 42 13 36 43 13 37 44 17'))
  t.same(decodeAll(wire), [{ type: 'frame', data }])
})

t.test('commands from the real capture: re-framed, they carry the CRC the host sent', async (t) => {
  for (const { data, crc } of CAPTURED_COMMANDS) {
    const payload = Buffer.from(data, 'hex')
    const wire = encodeFrame(payload)
    t.equal(wire.subarray(-2).toString('hex').toUpperCase(), crc, payload.subarray(0, 6).toString('latin1'))
    t.same(decodeAll(wire), [{ type: 'frame', data: payload }])
  }
  // GTK008's CRC starts with 06h (ACK): inside the packet it is CRC, not a control byte.
  const gtk = CAPTURED_COMMANDS.find((c) => c.data.startsWith(ascii('GTK').toString('hex').toUpperCase()))!
  t.equal(gtk.crc.slice(0, 2), '06')
})

t.test('responses from the real capture survive framing', async (t) => {
  for (const h of CAPTURED_RESPONSES) {
    const payload = Buffer.from(h, 'hex')
    t.same(decodeAll(encodeFrame(payload)), [{ type: 'frame', data: payload }])
  }
})

t.test('resynchronises on SYN after garbage and after a broken packet', async (t) => {
  t.same(decodeAll(hex('00 FF 41 42'), hex('16 4F 50'), hex('16 4F 50 4E 17 A8 A9')), [
    { type: 'noise', count: 4 },
    { type: 'bad-frame', reason: 'format' },
    { type: 'frame', data: ascii('OPN') },
  ])
})

t.test('control bytes between packets are reported in order', async (t) => {
  t.same(decodeAll(hex('06 16 4F 50 4E 17 A8 A9 15 04')), [
    { type: 'control', byte: 0x06 },
    { type: 'frame', data: ascii('OPN') },
    { type: 'control', byte: 0x15 },
    { type: 'control', byte: 0x04 },
  ])
})

t.test('oversized packets are dropped and the decoder recovers', async (t) => {
  const events: FrameEvent[] = []
  const d = new FrameDecoder((e) => events.push(e), { maxLength: 16, interByteTimeoutMs: 0 })
  d.push(Buffer.concat([hex('16'), Buffer.alloc(40, 0x41), hex('17 00 00')]))
  d.push(encodeFrame(ascii('OPN')))
  t.same(events.filter((e) => e.type !== 'noise'), [
    { type: 'bad-frame', reason: 'overflow' },
    { type: 'frame', data: ascii('OPN') },
  ])
})

t.test('the encoder refuses data over the limit', async (t) => {
  t.throws(() => encodeFrame(Buffer.alloc(MAX_CLASSIC_DATA + 1), MAX_CLASSIC_DATA), { code: 'MPOS_ERR_FRAME_TOO_LARGE' })
  t.throws(() => encodeFrame(Buffer.alloc(2050)), { code: 'MPOS_ERR_FRAME_TOO_LARGE' })
  t.doesNotThrow(() => encodeFrame(Buffer.alloc(2049)))
})

t.test('a packet stalled longer than the inter-byte timeout is dropped', async (t) => {
  // §2.2.2: 2 s between two bytes of a packet, measured from the last byte (virtual time).
  const clock = new ManualClock()
  const events: FrameEvent[] = []
  const d = new FrameDecoder((e) => events.push(e), { interByteTimeoutMs: 2000, clock })
  d.push(hex('16 4F'))
  await clock.advance(1500)
  d.push(hex('50')) // the gap starts again
  await clock.advance(1999)
  t.ok(d.inFrame, 'still waiting 1999 ms after the last byte')
  t.same(events, [])
  await clock.advance(1)
  t.same(events, [{ type: 'bad-frame', reason: 'timeout' }], 'dropped 2000 ms after it')
  t.notOk(d.inFrame)
  d.push(hex('4E 17 A8 A9'))
  t.same(events.at(-1), { type: 'noise', count: 4 }, 'the tail of the stale packet is noise, not a frame')
  d.dispose()
})

t.test('a broken packet whose CRC bytes swallow the next SYN: the next packet is still found (§2.2.1, §2.2.3)', async (t) => {
  // The CRC bytes are never escaped, so a stray SYN…ETB leaves the decoder taking the next
  // packet's SYN as a CRC byte; the packet that follows must not be lost with it.
  for (const garbage of [[0x16, 0x17], [0x16, 0x41, 0x17], [0x16, 0x41, 0x17, 0x42]]) {
    const events: FrameEvent[] = []
    const d = new FrameDecoder((e) => events.push(e), { interByteTimeoutMs: 0 })
    d.push(Buffer.concat([Buffer.from(garbage), encodeFrame(ascii('OPN'))]))
    const frames = events.filter((e) => e.type === 'frame')
    t.same(frames.map((e) => e.type === 'frame' && e.data.toString('latin1')), ['OPN'], `after ${toHex(Buffer.from(garbage))}`)
    t.ok(events.some((e) => e.type === 'bad-frame'), 'the broken packet is reported')
  }
})
