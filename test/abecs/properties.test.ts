/** Property tests (fast-check) for the frame codec, packets and layouts. */
import t from 'tap'
import fc from 'fast-check'
import { encodeFrame, FrameDecoder, type FrameEvent } from '../../src/abecs/frame.js'
import { decodeCommand, encodeCommand, decodeResponse, encodeResponse } from '../../src/abecs/packet.js'
import { COMMANDS } from '../../src/abecs/commands/index.js'
import { buildEmv, parseEmv } from '../../src/abecs/emv-tlv.js'

const collect = (chunks: Uint8Array[], maxLength?: number) => {
  const events: FrameEvent[] = []
  const d = new FrameDecoder((e) => events.push(e), { interByteTimeoutMs: 0, ...(maxLength ? { maxLength } : {}) })
  for (const c of chunks) d.push(c)
  return events
}

/** Splits `bytes` at the given cut points. */
const split = (bytes: Buffer, cuts: number[]) => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

t.test('encode → decode gives back any packet data', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2049 }), (data) => {
      const events = collect([encodeFrame(data)])
      return events.length === 1 && events[0]!.type === 'frame' && Buffer.compare(events[0]!.data, Buffer.from(data)) === 0
    }),
    { numRuns: 500 },
  )
  t.pass('500 random packets round-tripped')
})

t.test('a stream split at any points decodes the same', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (packets, cuts) => {
        const stream = Buffer.concat(packets.map((p) => encodeFrame(p)))
        const whole = collect([stream])
        const pieces = collect(split(stream, cuts))
        return JSON.stringify(whole) === JSON.stringify(pieces) && whole.length === packets.length
      },
    ),
    { numRuns: 300 },
  )
  t.pass('300 streams')
})

t.test('garbage never throws, and a good packet after it is still found', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), (garbage) => {
      // The garbage may leave a packet open; a SYN-started packet then resynchronises.
      const events = collect([garbage, encodeFrame(Buffer.from('OPN'))], 2049)
      const last = events.filter((e) => e.type === 'frame').at(-1)
      return last !== undefined && last.type === 'frame' && last.data.toString() === 'OPN'
    }),
    { numRuns: 300 },
  )
  t.pass('300 garbage streams')
})

t.test('an endless packet never grows the decoder past its limit', async (t) => {
  const events: FrameEvent[] = []
  const d = new FrameDecoder((e) => events.push(e), { interByteTimeoutMs: 0, maxLength: 1024 })
  const before = process.memoryUsage().arrayBuffers
  d.push(Buffer.of(0x16))
  const chunk = Buffer.alloc(64 * 1024, 0x41)
  for (let i = 0; i < 160; i++) d.push(chunk) // 10 MiB without an ETB
  const grown = process.memoryUsage().arrayBuffers - before
  t.equal(events.filter((e) => e.type === 'bad-frame').length, 1, 'one overflow reported, then skipping')
  t.ok(grown < 4 * 1024 * 1024, `external memory grew ${grown} bytes for 10 MiB of input`)
  d.push(encodeFrame(Buffer.from('OPN')))
  t.same(events.at(-1), { type: 'frame', data: Buffer.from('OPN') })
})

const digits = (n: number) => fc.stringMatching(new RegExp(`^\\d{${n}}$`))
const text = (max: number) => fc.stringMatching(new RegExp(`^[A-Z0-9 ]{0,${max}}$`)).map((s) => s.trimEnd())

t.test('GCR request and response layouts round-trip', async (t) => {
  fc.assert(
    fc.property(
      fc.record({
        GCR_ACQIDXREQ: digits(2),
        GCR_APPTYPREQ: digits(2),
        GCR_AMOUNT: fc.integer({ min: 0, max: 999_999_999_999 }),
        GCR_DATE: digits(6),
        GCR_TIME: digits(6),
        GCR_TABVER: text(10),
        GCR_IDAPP: fc.array(fc.stringMatching(/^\d{2}[0-9A-Z]{2}$/), { maxLength: 20 }),
      }),
      (req) => {
        const packet = decodeCommand(encodeCommand('GCR', COMMANDS.GCR.encodeRequest(req)))
        return JSON.stringify(COMMANDS.GCR.decodeRequest(packet.blocks)) === JSON.stringify(req)
      },
    ),
  )
  fc.assert(
    fc.property(
      fc.record({
        GCR_CARDTYPE: fc.constantFrom('00', '03', '05', '06'),
        GCR_STATCHIP: digits(1),
        GCR_APPTYPE: digits(2),
        GCR_ACQIDX: digits(2),
        GCR_RECIDX: fc.stringMatching(/^[0-9A-Z]{2}$/),
        GCR_TRK1LEN: fc.integer({ min: 0, max: 76 }),
        GCR_TRK1: text(76),
        GCR_TRK2LEN: fc.integer({ min: 0, max: 37 }),
        GCR_TRK2: text(37),
        GCR_TRK3LEN: fc.integer({ min: 0, max: 104 }),
        GCR_TRK3: text(104),
        GCR_PANLEN: fc.integer({ min: 0, max: 19 }),
        GCR_PAN: text(19),
        GCR_PANSEQNO: digits(2),
        GCR_APPLABEL: text(16),
        GCR_SRVCODE: digits(3),
        GCR_CHNAME: text(26),
        GCR_CARDEXP: digits(6),
        GCR_RUF1: fc.constantFrom('0'.repeat(29), '0'.repeat(39)),
        GCR_ISSCNTRY: digits(3),
        GCR_ACQRD: text(66),
      }),
      (res) => {
        const wire = encodeResponse('GCR', 0, COMMANDS.GCR.encodeResponse(res, { resume: true }))
        const back = COMMANDS.GCR.decodeResponse(decodeResponse(wire).blocks, { resume: true }, 0)
        return JSON.stringify(back) === JSON.stringify(res)
      },
    ),
  )
  t.pass('GCR layouts')
})

t.test('TLV commands round-trip any parameters, split across blocks when needed', async (t) => {
  fc.assert(
    fc.property(
      fc.record(
        {
          SPE_AMOUNT: fc.integer({ min: 0, max: 999_999_999_999 }),
          SPE_TRNDATE: digits(6),
          SPE_TRNTIME: digits(6),
          SPE_GCXOPT: digits(5),
          SPE_TIMEOUT: fc.integer({ min: 0, max: 255 }),
          SPE_DSPMSG: fc.stringMatching(/^[A-Za-z0-9 \r]{0,128}$/),
          SPE_EMVDATA: fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
          SPE_AIDLIST: fc.array(fc.stringMatching(/^\d{2}[0-9A-Z]{2}$/), { maxLength: 128 }),
        },
        { requiredKeys: ['SPE_TRNDATE', 'SPE_TRNTIME'] },
      ),
      (req) => {
        const blocks = COMMANDS.GCX.encodeRequest(req)
        if (blocks.some((b) => b.length > 999)) return false
        const packet = decodeCommand(encodeCommand('GCX', blocks))
        const back = COMMANDS.GCX.decodeRequest(packet.blocks)
        return JSON.stringify(back) === JSON.stringify(req)
      },
    ),
    { numRuns: 300 },
  )
  t.pass('GCX parameters')
})

t.test('EMV TLV round-trips', async (t) => {
  const tag = fc.constantFrom('5A', '82', '95', '9A', '9C', '5F2A', '9F02', '9F26', '9F27', '9F10', 'DF8124', 'BF0C')
  fc.assert(
    fc.property(fc.array(fc.record({ tag, value: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) }), { maxLength: 10 }), (objs) => {
      return JSON.stringify(parseEmv(buildEmv(objs))) === JSON.stringify(objs)
    }),
  )
  t.pass('EMV objects')
})
