/**
 * Property tests (fast-check) of the host link against a hostile pinpad (§2.2.2, §2.2.3).
 *
 * Each case runs one typed command (PinpadClient over HostLink, the in-memory pair: OPN, GIN,
 * DSP, GIX, and the blocking GKY and RMC) while the "pinpad" end reacts to what the host sends —
 * ACK, NAK, silence, answers, NTM notifications, EOT, per a generated script — and, unasked, sends
 * anything: line noise, truncated/doubled/badly escaped/oversized frames, bad CRCs, answers whose
 * CRC bytes are DC3/SYN/ETB, stray ACK/NAK/EOT/CAN, answers of another command, ERR packets, all
 * in pieces split at random points (and right after DC3/ETB, between the CRC bytes) and spread
 * over time, before, during and after the exchange. Meanwhile the caller may abort, call
 * cancel(), or the cable may be pulled. Every case checks:
 *  - nothing escapes the link: no uncaught exception, no unhandled rejection;
 *  - the exchange settles, with the answer the pinpad really sent in a good frame or a typed
 *    MPOS_ERR_LINK_* / MPOS_ERR_PINPAD_STATUS / MPOS_ERR_MALFORMED_* error that fits what happened
 *    (CLOSED only if the stream closed, CANCELLED only if someone cancelled, no deadline for a
 *    blocking command);
 *  - the host only ever sends its command (≤ 3 times), NAK (≤ 3) and CAN (≤ 3), never an ACK
 *    (§2.2.2.2: a good response is not acknowledged);
 *  - the next command on the same link works against a well-behaved pinpad (the virtual pinpad),
 *    after more noise while idle — or fails with MPOS_ERR_LINK_CLOSED if the cable was pulled;
 *  - once the link is closed, no timer is left behind.
 *
 * Time is virtual (test/helpers/virtual-clock.ts): the link runs with the specification's timings
 * (2 s ACK, 10 s response, 500 ms silence, 2 s inter-byte and CAN waits) and a case that waits
 * minutes of them costs a millisecond or so; a seed replays identically on any machine. There
 * are no wall-clock assertions.
 *
 * MPOS_FUZZ_RUNS sets the number of cases (default 10 000), e.g. for a long local run:
 *   MPOS_FUZZ_RUNS=200000 npx tap --timeout=0 test/abecs/link-fuzz.test.ts
 * A failure reports fast-check's seed and path: MPOS_FUZZ_SEED=… MPOS_FUZZ_PATH=… replays it.
 */
import t from 'tap'
import { runPropertyInWorker } from '../helpers/fuzz-worker.js'
import { fuzzRuns } from '../helpers/fuzz.js'

const RUNS = fuzzRuns()

t.test(`the host link survives ${RUNS} hostile pinpads and serves the next command`, async (t) => {
  await runPropertyInWorker(t, new URL('../fuzz/host-link.ts', import.meta.url), 'hostLinkProperty', RUNS)
})

// The oracle itself: seed 1970615002 sent a frame whose last CRC byte (SYN) was corrupted, and a
// spontaneous frame's SYN landed in that very slot, so the wire held a good packet after all.
t.test('the oracle takes packets the wire formed by interleaving, not only those meant to be good', async (t) => {
  const { framesOnWire } = await import('../fuzz/host-link.js')
  const { encodeFrame } = await import('../../src/abecs/frame.js')
  const data = Buffer.from('GIX000028\x80\x01\x00\x10VPP0000000000288\x80\x07\x00\x042.12', 'latin1')
  const good = encodeFrame(data)
  t.equal(good.at(-1), 0x16, 'its CRC ends with SYN')
  const broken = Buffer.from(good)
  broken[broken.length - 1]! ^= 1
  t.same(framesOnWire(broken), [], 'a corrupted CRC is no packet')
  const other = encodeFrame(Buffer.from('GIX000000', 'latin1'))
  const interleaved = Buffer.concat([broken.subarray(0, -1), other, broken.subarray(-1)])
  t.same(framesOnWire(interleaved), [data, Buffer.from('GIX000000', 'latin1')], 'the SYN in the CRC slot completes the first packet, and starts the second')
  t.same(framesOnWire(Buffer.concat([Buffer.of(0x13, 0x16), good, Buffer.from('noise')])), [data], 'found behind noise')
})
