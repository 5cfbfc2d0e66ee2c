/**
 * Link-layer behaviour (§2.2.2), run over any transport pair: the in-memory pair on a ManualClock
 * (virtual time: the specification's waits cost nothing and happen at exact times) and a real
 * pseudo-terminal pair through the serialport binding, in real time.
 *
 * Both run the specification's timings (§2.2.2: 2 s for ACK/NAK and for EOT, 10 s for an answer,
 * 500 ms of silence before a NAK, 2 s between bytes), shortened only for a wait the test wants to
 * see run out while nothing races with it. In real time a busy machine may stall the event loop:
 * every timer that must NOT fire then has seconds of margin (a hang guard), and the two tests
 * that hang on a race with a timer by design run in virtual time only.
 */
import type { Test } from 'tap'
import { DEFAULT_TIMINGS, HostLink, type LinkTimings, type LinkTrace } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import type { ByteStream } from '../../src/transport/byte-stream.js'
import { ScriptedPinpad } from '../helpers/scripted-pinpad.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { encodeFrame } from '../../src/abecs/frame.js'
import { systemClock, type Clock } from '../../src/clock.js'

export interface Pair {
  host: ByteStream
  pinpad: ByteStream
  /** Makes the host side go away as an unplug would. */
  unplug(): Promise<void>
  close(): Promise<void>
}

/** Short timings, for tests in real time that wait for a timeout on purpose. */
export const FAST = {
  ackTimeoutMs: 300,
  responseTimeoutMs: 400,
  interByteTimeoutMs: 300,
  silenceMs: 60,
  cancelTimeoutMs: 300,
}

/** 'virtual': an in-memory pair on a ManualClock; 'real': a real tty and the real clock. */
export type SuiteTime = 'virtual' | 'real'

export function linkSuite(t: Test, time: SuiteTime, makePair: (clock: Clock) => Promise<Pair>) {
  const virtual = time === 'virtual'

  async function setup(t: Test, timings: Partial<LinkTimings> = {}) {
    let clock: Clock = systemClock
    if (virtual) {
      const manual = new ManualClock()
      t.teardown(manual.autoAdvance())
      clock = manual
    }
    const pair = await makePair(clock)
    const link = new HostLink(pair.host, { ...DEFAULT_TIMINGS, ...timings }, { clock })
    const pad = new ScriptedPinpad(pair.pinpad, clock)
    const traces: LinkTrace[] = []
    link.on('trace', (e) => traces.push(e))
    t.teardown(() => pair.close())
    /** Lets `ms` pass on the test's clock. */
    const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms))
    /** `ms` elapsed: exactly, in virtual time; at least (give or take the clocks' rounding), in real time. */
    const took = (t: Test, elapsed: number, ms: number, what: string) =>
      virtual ? t.equal(elapsed, ms, what) : t.ok(elapsed >= ms - 20, `${what}: ${elapsed} ms, at least ${ms}`)
    return { pair, link, pad, traces, client: new PinpadClient(link), clock, wait, took }
  }

  /** A test whose outcome hangs on a race between the wire and a timer: virtual time only. */
  const racing = (name: string, fn: (t: Test) => Promise<void>) => {
    if (virtual) t.test(name, fn)
  }

  t.test('a command is ACKed and answered; the good answer is not ACKed', async (t) => {
    const { link, pad } = await setup(t)
    const answer = link.exchange('OPN', Buffer.from('OPN'))
    t.equal(await pad.nextPacket(), 'OPN')
    pad.ack()
    pad.respond('OPN000')
    t.same(await answer, Buffer.from('OPN000'))
    t.ok(await pad.quiet(100), 'the host sends nothing after a good response')
  })

  t.test('NAK then success: the host resends the same packet', async (t) => {
    const { client, pad } = await setup(t)
    const answer = client.call('DSP', { DSP_MSG: 'OLA' })
    const first = await pad.nextPacket()
    pad.nak()
    t.equal(await pad.nextPacket(), first, 'identical resend')
    pad.ack()
    pad.respond('DSP000')
    t.same(await answer, {})
  })

  t.test('three NAKs: the host gives up with MPOS_ERR_LINK_NAK_LIMIT', async (t) => {
    const { link, pad } = await setup(t)
    const answer = link.exchange('OPN', Buffer.from('OPN'))
    for (let i = 0; i < 3; i++) {
      t.equal(await pad.nextPacket(), 'OPN', `send ${i + 1}`)
      pad.nak()
    }
    await t.rejects(answer, { code: 'MPOS_ERR_LINK_NAK_LIMIT' })
    t.ok(await pad.quiet(100), 'no fourth send')
  })

  t.test('no ACK within the deadline: MPOS_ERR_LINK_ACK_TIMEOUT', async (t) => {
    // Nobody ACKs: nothing races with the wait, which may be short in real time too.
    const { link, pad, clock, took } = await setup(t, virtual ? {} : { ackTimeoutMs: FAST.ackTimeoutMs })
    const started = clock.now()
    const answer = link.exchange('OPN', Buffer.from('OPN'))
    await pad.nextPacket()
    await t.rejects(answer, { code: 'MPOS_ERR_LINK_ACK_TIMEOUT', message: /OPN/ })
    took(t, clock.now() - started, link.timings.ackTimeoutMs, 'the ACK wait (§2.2.2.1: 2 s)')
  })

  t.test('ACK but no answer to a non-blocking command: MPOS_ERR_LINK_RESPONSE_TIMEOUT', async (t) => {
    const { link, pad, clock, took } = await setup(t, virtual ? {} : { responseTimeoutMs: FAST.responseTimeoutMs })
    const answer = link.exchange('GIN', Buffer.from('GIN00200'))
    await pad.nextPacket()
    pad.ack()
    const ackedAt = clock.now()
    await t.rejects(answer, { code: 'MPOS_ERR_LINK_RESPONSE_TIMEOUT' })
    if (virtual) took(t, clock.now() - ackedAt, link.timings.responseTimeoutMs, 'the response deadline (§2.2.2: 10 s)')
  })

  racing('an answer still arriving at the deadline is given its inter-byte time, not cut', async (t) => {
    const { link, pad, wait } = await setup(t)
    const answer = link.exchange('GIN', Buffer.from('GIN00200'))
    await pad.nextPacket()
    pad.ack()
    const frame = encodeFrame(Buffer.from('GIN000010ABCDEFGHIJ'))
    await wait(link.timings.responseTimeoutMs - 100)
    pad.write(frame.subarray(0, 8)) // starts before the deadline…
    await wait(200)
    pad.write(frame.subarray(8)) // …ends after it, with gaps shorter than the inter-byte timeout
    t.same(await answer, Buffer.from('GIN000010ABCDEFGHIJ'))
  })

  t.test('a blocking command waits past the non-blocking deadline', async (t) => {
    const { link, pad, wait } = await setup(t, virtual ? {} : { responseTimeoutMs: FAST.responseTimeoutMs })
    const answer = link.exchange('RMC', Buffer.from('RMC032' + ' '.repeat(32)), { blocking: true })
    await pad.nextPacket()
    pad.ack()
    await wait(link.timings.responseTimeoutMs * 2)
    pad.respond('RMC000')
    t.same(await answer, Buffer.from('RMC000'))
  })

  t.test('a corrupted answer: silence, NAK, and the resent answer is taken', async (t) => {
    const { link, pad, traces, clock, took } = await setup(t)
    const answer = link.exchange('DSP', Buffer.from('DSP000'))
    await pad.nextPacket()
    pad.ack()
    pad.write([0x16, 0x44, 0x53, 0x50, 0x30, 0x30, 0x30, 0x17, 0xff, 0xff]) // §2.2.2.2's example
    const sentAt = clock.now()
    t.equal(await pad.nextControl(), 0x15, 'the host NAKs')
    took(t, clock.now() - sentAt, link.timings.silenceMs, 'after the silence (§2.2.3: 500 ms)')
    pad.respond('DSP000')
    t.same(await answer, Buffer.from('DSP000'))
    t.ok(traces.some((e) => e.type === 'bad-response' && e.reason === 'crc'))
  })

  t.test('the host NAKs a corrupted answer 3 times, then fails', async (t) => {
    const { link, pad } = await setup(t)
    const answer = link.exchange('DSP', Buffer.from('DSP000'))
    await pad.nextPacket()
    pad.ack()
    for (let i = 0; i < 3; i++) {
      pad.write([0x16, 0x44, 0x53, 0x50, 0x30, 0x30, 0x30, 0x17, 0x00, 0x00])
      t.equal(await pad.nextControl(), 0x15)
    }
    pad.write([0x16, 0x44, 0x53, 0x50, 0x30, 0x30, 0x30, 0x17, 0x00, 0x00])
    await t.rejects(answer, { code: 'MPOS_ERR_LINK_BAD_RESPONSE' })
  })

  t.test('NTM notifications reach the caller while a blocking command runs', async (t) => {
    const { client, pad } = await setup(t)
    const seen: string[] = []
    const answer = client.request('GKY', {}, { onNotification: (m) => seen.push(m) })
    t.equal(await pad.nextPacket(), 'GKY')
    pad.ack()
    pad.respond('NTM000032INSIRA OU PASSE     O CARTAO        ')
    pad.respond('NTM000032DIGITE A SENHA                  ')
    pad.respond('GKY013')
    t.same(await answer, { status: 13, response: {} }, '013 is GKY\'s CANCEL key, an answer')
    t.same(seen, ['INSIRA OU PASSE     O CARTAO        ', 'DIGITE A SENHA                  '])
  })

  t.test('a status other than 000 is a coded error carrying the ABECS code and name', async (t) => {
    const { client, pad } = await setup(t)
    const answer = client.call('GTS', { GTS_ACQIDX: '00' })
    await pad.nextPacket()
    pad.ack()
    pad.respond('GTS011')
    await t.rejects(answer, { code: 'MPOS_ERR_PINPAD_STATUS', status: 11, statusName: 'ST_INVPARM', command: 'GTS' })
    const unknown = client.call('GIX', {})
    await pad.nextPacket()
    pad.ack()
    pad.respond('ERR010')
    await t.rejects(unknown, { code: 'MPOS_ERR_PINPAD_STATUS', status: 10, statusName: 'ST_INVCALL' })
  })

  t.test('a malformed answer is a clear error, not garbage', async (t) => {
    const { client, pad } = await setup(t)
    const answer = client.call('GTS', { GTS_ACQIDX: '00' })
    await pad.nextPacket()
    pad.ack()
    pad.respond('GTS000010ABC')
    await t.rejects(answer, { code: 'MPOS_ERR_MALFORMED_RESPONSE', message: /GTS/ })
  })

  t.test('cancel: CAN, EOT, and the command rejects as cancelled', async (t) => {
    const { link, pad } = await setup(t)
    const answer = link.exchange('GCD', Buffer.from('GCD000'), { blocking: true })
    await pad.nextPacket()
    pad.ack()
    const cancelling = link.cancel()
    t.equal(await pad.nextControl(), 0x18, 'CAN')
    pad.eot()
    await cancelling
    await t.rejects(answer, { code: 'MPOS_ERR_LINK_CANCELLED' })
    t.equal(link.busy, undefined, 'the link is free again')
  })

  t.test('an aborted signal cancels the command on the wire', async (t) => {
    const { link, pad } = await setup(t)
    const ac = new AbortController()
    const answer = link.exchange('GCX', Buffer.from('GCX000'), { blocking: true, signal: ac.signal })
    await pad.nextPacket()
    pad.ack()
    ac.abort()
    t.equal(await pad.nextControl(), 0x18)
    pad.respond('NTM000032APROXIME O CARTAO              ') // in flight when CAN arrived: ignored
    pad.eot()
    await t.rejects(answer, { code: 'MPOS_ERR_LINK_CANCELLED' })
  })

  t.test('the next command waits for an abandoned one to be cancelled, then runs', async (t) => {
    const { link, pad } = await setup(t)
    const ac = new AbortController()
    const first = link.exchange('DSP', Buffer.from('DSP000'), { signal: ac.signal })
    await pad.nextPacket()
    pad.ack()
    ac.abort()
    const second = link.exchange('GCX', Buffer.from('GCX000'), { blocking: true })
    t.equal(await pad.nextControl(), 0x18, 'CAN for the abandoned DSP')
    pad.eot()
    await t.rejects(first, { code: 'MPOS_ERR_LINK_CANCELLED' })
    t.equal(await pad.nextPacket(), 'GCX000', 'then the new command')
    pad.ack()
    pad.respond('GCX013')
    t.same(await second, Buffer.from('GCX013'))
  })

  racing('cancel retries CAN up to 3 times, then fails', async (t) => {
    const { link, pad, clock, took } = await setup(t)
    const started = clock.now()
    const cancelling = link.cancel()
    for (let i = 0; i < 3; i++) t.equal(await pad.nextControl(), 0x18, `CAN ${i + 1}`)
    await t.rejects(cancelling, { code: 'MPOS_ERR_LINK_CANCEL_FAILED' })
    took(t, clock.now() - started, 3 * link.timings.cancelTimeoutMs, '3 CANs, 2 s each (§2.2.2.3)')
    const second = link.cancel()
    t.equal(await pad.nextControl(), 0x18)
    pad.eot()
    await second
  })

  t.test('open() starts with CAN', async (t) => {
    const { link, pad } = await setup(t)
    const opening = link.open()
    t.equal(await pad.nextControl(), 0x18)
    pad.eot()
    await opening
  })

  t.test('a second command while one runs is refused at once, naming the running one', async (t) => {
    const { link, pad } = await setup(t)
    const first = link.exchange('GCR', Buffer.from('GCR000'), { blocking: true })
    await pad.nextPacket()
    t.rejects(link.exchange('DSP', Buffer.from('DSP000')), { code: 'MPOS_ERR_LINK_BUSY', message: /GCR/ })
    pad.ack()
    pad.respond('GCR012')
    t.same(await first, Buffer.from('GCR012'))
  })

  t.test('a stale answer of an earlier command is skipped', async (t) => {
    const { link, pad, traces } = await setup(t)
    const answer = link.exchange('OPN', Buffer.from('OPN'))
    await pad.nextPacket()
    pad.ack()
    pad.respond('GCR012')
    pad.respond('OPN000')
    t.same(await answer, Buffer.from('OPN000'))
    t.ok(traces.some((e) => e.type === 'stale' && e.got === 'GCR'))
  })

  t.test('garbage and control bytes around a response do not confuse the host', async (t) => {
    const { link, pad } = await setup(t)
    const answer = link.exchange('OPN', Buffer.from('OPN'))
    await pad.nextPacket()
    pad.write([0x00, 0xff, 0x06]) // noise, then the ACK
    pad.write([0x04, 0x15, 0x41])
    pad.write(encodeFrame(Buffer.from('OPN000')))
    t.same(await answer, Buffer.from('OPN000'))
  })

  t.test('unplugged mid-command: MPOS_ERR_LINK_CLOSED, and the link says closed', async (t) => {
    const { link, pad, pair } = await setup(t)
    const closed = new Promise<string>((resolve) => link.once('closed', resolve))
    const answer = link.exchange('GCR', Buffer.from('GCR000'), { blocking: true })
    await pad.nextPacket()
    pad.ack()
    await pair.unplug()
    await t.rejects(answer, { code: 'MPOS_ERR_LINK_CLOSED' })
    t.ok(await closed)
    t.ok(link.closed)
    await t.rejects(link.exchange('OPN', Buffer.from('OPN')), { code: 'MPOS_ERR_LINK_CLOSED' })
  })
}
