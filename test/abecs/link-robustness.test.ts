/**
 * Host link cases the property tests (link-fuzz.test.ts) found, each reduced to one example:
 *  - bytes left half a packet while the link was idle (a stray SYN) must not swallow the next
 *    command's ACK (§2.2.2.1);
 *  - with the inter-byte timeout disabled (0), an answer cut short at the deadline must end in
 *    MPOS_ERR_LINK_RESPONSE_TIMEOUT, not a 0 ms wait repeated forever (which froze the process);
 *  - after a bad answer, a line that never falls silent (§2.2.3 waits for 500 ms of silence
 *    before the NAK) must not hold a non-blocking command past its deadline (§2.2.2).
 * All in virtual time (a ManualClock) with the specification's timings.
 */
import t, { type Test } from 'tap'
import { HostLink, type LinkTimings } from '../../src/abecs/link.js'
import { encodeFrame } from '../../src/abecs/frame.js'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { ScriptedPinpad } from '../helpers/scripted-pinpad.js'
import { ManualClock } from '../helpers/manual-clock.js'

function setup(t: Test, timings: Partial<LinkTimings> = {}, { auto = true } = {}) {
  const clock = new ManualClock()
  if (auto) t.teardown(clock.autoAdvance())
  const [hostEnd, padEnd] = memoryPair('host', 'pinpad', clock)
  const link = new HostLink(hostEnd, timings, { clock })
  const pad = new ScriptedPinpad(padEnd, clock)
  t.teardown(() => link.close())
  return { link, pad, clock }
}

t.test('half a packet received while idle does not swallow the next command\'s ACK', async (t) => {
  const strays: Array<[string, number[]]> = [
    ['a stray SYN', [0x16]],
    ['SYN and data', [0x16, 0x4f, 0x50]],
    ['SYN and a DC3 escape', [0x16, 0x41, 0x13]],
    ['SYN, data and ETB (the CRC would come next)', [0x16, 0x41, 0x17]],
  ]
  for (const [what, bytes] of strays) {
    // The 2 s inter-byte timeout (§2.2.2) would drop the partial packet — long after the next command.
    const { link, pad } = setup(t)
    pad.write(bytes)
    await pad.quiet(20) // delivered while nothing runs
    const answer = link.exchange('OPN', Buffer.from('OPN'))
    t.equal(await pad.nextPacket(), 'OPN')
    pad.ack()
    pad.respond('OPN000')
    t.same(await answer, Buffer.from('OPN000'), what)
  }
})

t.test('no inter-byte timeout (0): an answer cut short ends at the deadline', async (t) => {
  const { link, pad, clock } = setup(t, { interByteTimeoutMs: 0 })
  const answer = link.exchange('GIN', Buffer.from('GIN00200'))
  await pad.nextPacket()
  pad.ack()
  const ackedAt = clock.now()
  pad.write(encodeFrame(Buffer.from('GIN000100GERTEC')).subarray(0, 8)) // and never the rest
  await t.rejects(answer, { code: 'MPOS_ERR_LINK_RESPONSE_TIMEOUT' })
  t.equal(clock.now() - ackedAt, 10_000, 'at the 10 s deadline (§2.2.2)')
})

t.test('a line that never falls silent after a bad answer: MPOS_ERR_LINK_RESPONSE_TIMEOUT at the deadline', async (t) => {
  // The specification's timings (10 s deadline, 500 ms silence), a minute of noise, driven by hand.
  const { link, pad, clock } = setup(t, {}, { auto: false })
  let outcome: { code?: string; at: number } | undefined
  let babbling = true
  const started = clock.now()
  link.exchange('OPN', Buffer.from('OPN')).then(
    () => (outcome = { at: clock.now() - started }),
    (err: { code?: string }) => (outcome = { code: err.code, at: clock.now() - started }),
  )
  await clock.settle()
  pad.ack()
  pad.write([0x16, 0x4f, 0x50, 0x4e, 0x30, 0x30, 0x30, 0x17, 0x00, 0x00]) // OPN000 with a bad CRC
  const noise = clock.setInterval(() => pad.write([0x41]), 100)
  clock.setTimeout(() => {
    clock.clearInterval(noise)
    babbling = false
  }, 60_000)
  t.equal(await clock.runUntil(() => outcome !== undefined, 120_000), 'done')
  clock.clearInterval(noise)
  t.equal(outcome?.code, 'MPOS_ERR_LINK_RESPONSE_TIMEOUT')
  t.ok(babbling, `it ended while the line was still busy (${outcome?.at} virtual ms), not once the noise stopped`)
})
