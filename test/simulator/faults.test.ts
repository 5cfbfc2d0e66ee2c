/**
 * The virtual pinpad's fault controls (`pad.faults`) and wire pacing, each shown through the host
 * stack's reaction (HostLink + PinpadClient, §2.2.2): timeouts, NAK resends, corrupted answers,
 * noise, and answers as slow as a 19200-baud wire. In virtual time (a ManualClock driving the link,
 * the pinpad and the in-memory pair): the waits cost nothing and are checked to the millisecond.
 */
import t, { type Test } from 'tap'
import { HostLink, type LinkTrace } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { encodeFrame } from '../../src/abecs/frame.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../../src/simulator/virtual-pinpad.js'
import type { PinpadLinkEvent } from '../../src/simulator/pinpad-link.js'
import { ManualClock } from '../helpers/manual-clock.js'
import type { Clock } from '../../src/clock.js'

const HOST = { ackTimeoutMs: 300, responseTimeoutMs: 500, silenceMs: 60, cancelTimeoutMs: 300 }

function setup(t: Test, options: VirtualPinpadOptions = {}, host: typeof HOST = HOST, clock = new ManualClock()) {
  t.teardown(clock.autoAdvance())
  const [hostEnd, pinpadEnd] = memoryPair('host', 'pinpad', clock)
  // The pinpad NAKs a bad packet after its own silence; keep it inside the host's 300 ms ACK wait.
  const pad = new VirtualPinpad({ link: { silenceMs: 50 }, cardholder: { autoCard: null }, clock, ...options })
  pad.attach(pinpadEnd)
  const link = new HostLink(hostEnd, host, { clock })
  const traces: LinkTrace[] = []
  const events: PinpadLinkEvent[] = []
  link.on('trace', (e) => traces.push(e))
  pad.onLinkEvent((e) => events.push(e))
  t.teardown(async () => {
    pad.detach()
    await link.close()
  })
  return { pad, link, client: new PinpadClient(link), traces, events, clock }
}

const count = <T extends { type: string }>(list: T[], type: string) => list.filter((e) => e.type === type).length

t.test('stalled: nothing comes back, MPOS_ERR_LINK_ACK_TIMEOUT; unstalled, it answers again', async (t) => {
  const { pad, client, traces, clock } = setup(t)
  pad.faults.stalled = true
  const started = clock.now()
  await t.rejects(client.call('OPN', {}), { code: 'MPOS_ERR_LINK_ACK_TIMEOUT', message: /OPN/ })
  t.equal(clock.now() - started, HOST.ackTimeoutMs, 'after the ACK wait')
  t.equal(count(traces, 'send'), 1, 'a command nobody ACKs is not resent')
  pad.faults.stalled = false
  t.same(await client.call('OPN', {}), {})
})

t.test('nakNext = 1: the host resends the same packet and succeeds', async (t) => {
  const { pad, client, traces, events } = setup(t)
  pad.faults.nakNext = 1
  const gin = await client.call('GIN', { GIN_ACQIDX: '00' })
  t.match(gin, { GIN_MNAME: 'GERTEC' })
  t.same(
    traces.filter((e) => e.type === 'send' || e.type === 'nak' || e.type === 'ack').map((e) => e.type),
    ['send', 'nak', 'send', 'ack'],
  )
  t.equal(count(events, 'nak-sent'), 1)
  t.equal(pad.faults.nakNext, 0, 'the fault was used up')
})

t.test('nakNext = 3: three NAKs, MPOS_ERR_LINK_NAK_LIMIT; the next command goes through', async (t) => {
  const { pad, client, traces } = setup(t)
  pad.faults.nakNext = 3
  await t.rejects(client.call('OPN', {}), { code: 'MPOS_ERR_LINK_NAK_LIMIT', message: /3 times/ })
  t.equal(count(traces, 'send'), 3)
  t.same(await client.call('OPN', {}), {})
})

t.test('corruptNext = 1: the host NAKs after the silence and takes the resent answer', async (t) => {
  const { pad, client, traces, events } = setup(t)
  pad.faults.corruptNext = 1
  const gin = await client.call('GIN', { GIN_ACQIDX: '00' })
  t.match(gin, { GIN_SERNUM: 'VPP0000000000001' })
  t.ok(traces.some((e) => e.type === 'bad-response' && e.reason === 'crc'), 'the host saw a bad CRC')
  t.equal(count(events, 'resent'), 1, 'the pinpad resent its last response on the NAK')
})

t.test('corruptNext = 4: every answer corrupted, MPOS_ERR_LINK_BAD_RESPONSE after 3 NAKs', async (t) => {
  const { pad, client, traces, events } = setup(t)
  pad.faults.corruptNext = 4
  await t.rejects(client.call('GIN', { GIN_ACQIDX: '00' }), { code: 'MPOS_ERR_LINK_BAD_RESPONSE', message: /GIN/ })
  t.equal(count(traces, 'bad-response'), 4)
  t.equal(count(events, 'resent'), 3, 'three NAKs, three resends')
})

t.test('dropNext = 1: the command vanishes, MPOS_ERR_LINK_ACK_TIMEOUT; the next one is served', async (t) => {
  const { pad, client } = setup(t)
  pad.faults.dropNext = 1
  await t.rejects(client.call('OPN', {}), { code: 'MPOS_ERR_LINK_ACK_TIMEOUT' })
  t.equal(pad.faults.dropNext, 0)
  t.match(await client.call('GTS', { GTS_ACQIDX: '00' }), { GTS_TABVER: /^\w{10}$/ })
})

t.test('responseDelayMs beyond the response deadline: MPOS_ERR_LINK_RESPONSE_TIMEOUT', async (t) => {
  const { pad, client, traces, clock } = setup(t)
  pad.faults.responseDelayMs = HOST.responseTimeoutMs + 300
  const started = clock.now()
  await t.rejects(client.call('GIN', { GIN_ACQIDX: '00' }), { code: 'MPOS_ERR_LINK_RESPONSE_TIMEOUT', message: /GIN/ })
  t.equal(clock.now() - started, HOST.responseTimeoutMs, 'at the deadline (the ACK took no time)')
  pad.faults.responseDelayMs = 0
  // The late GIN answer arrives while GTS waits: the host skips it as stale.
  await clock.sleep(400)
  t.match(await client.call('GTS', { GTS_ACQIDX: '00' }), { GTS_TABVER: /^\w{10}$/ })

  pad.faults.responseDelayMs = 200 // within the deadline: merely slow
  t.same(await client.call('OPN', {}), {})
  t.notOk(traces.some((e) => e.type === 'response' && e.command === 'GTS' && e.bytes < 6))
})

t.test('responseDelayMs: a CAN ends the delay, and the next command is answered at once', async (t) => {
  // Found by the property tests (pinpad-fuzz.test.ts): the delay went on after CAN/EOT, and the
  // next command waited for it (§6.2.1: a new command waits for the aborted one to end).
  const { pad, client, clock } = setup(t)
  pad.faults.responseDelayMs = 4 * HOST.responseTimeoutMs
  const abort = new AbortController()
  clock.setTimeout(() => abort.abort(), 50)
  await t.rejects(client.call('GIN', { GIN_ACQIDX: '00' }, { signal: abort.signal }), { code: 'MPOS_ERR_LINK_CANCELLED' })
  pad.faults.responseDelayMs = 0
  const again = clock.now()
  t.match(await client.call('GIN', { GIN_ACQIDX: '00' }), { GIN_MNAME: 'GERTEC' }, 'within the response deadline')
  t.equal(clock.now(), again, 'answered at once')
})

t.test('a corrupted answer just before the deadline: NAK, and the resend is waited for', async (t) => {
  // Bad at ~2 s, before the 3 s deadline; the host's 1.5 s of silence puts its NAK past it.
  // (Margins of a second, so that a loaded machine keeps the order of these events.)
  const host = { ...HOST, responseTimeoutMs: 3000, silenceMs: 1500 }
  const { pad, client, events } = setup(t, {}, host)
  pad.faults.responseDelayMs = 2000
  pad.faults.corruptNext = 1
  t.match(await client.call('GIN', { GIN_ACQIDX: '00' }), { GIN_MNAME: 'GERTEC' })
  t.equal(count(events, 'resent'), 1)
})

t.test('garbageNext: noise before the answer, the host still gets it', async (t) => {
  const { pad, client, traces } = setup(t)
  pad.faults.garbageNext = 40
  t.match(await client.call('GIN', { GIN_ACQIDX: '00' }), { GIN_MNAME: 'GERTEC' })
  t.ok(traces.some((e) => e.type === 'noise' && e.count > 0), 'the noise was seen and dropped')
  t.equal(pad.faults.garbageNext, 0)
})

t.test('pacing at 19200 baud: a large answer takes at least its wire time', async (t) => {
  const { client, traces, clock } = setup(t, { link: { silenceMs: 50, baudRate: 19200 } })
  const keyMaps = [0x8030, 0x8031, 0x8032, 0x8033, 0x8034, 0x8035, 0x8036]
  const started = clock.now()
  const gix = await client.call('GIX', { SPE_IDLIST: [...keyMaps, ...keyMaps.slice(0, 5)] })
  const elapsed = clock.now() - started
  t.equal(gix.PP_MKDESP?.length, 100)
  const bytes = traces.find((e) => e.type === 'response')!
  if (bytes.type !== 'response') throw new Error('no response trace')
  // 8N1: 10 bits a byte, 1920 bytes/s; the frame is at least the packet data plus SYN, ETB and CRC.
  const wireMs = ((bytes.bytes + 4) * 10 * 1000) / 19200
  t.ok(bytes.bytes > 1200, `${bytes.bytes} bytes of answer`)
  t.ok(elapsed >= wireMs && elapsed < wireMs * 1.05, `${elapsed} ms for ${bytes.bytes} bytes (wire: ${Math.round(wireMs)} ms)`)
})

t.test('pacing: timers that fire late do not slow the wire (each piece waits on the wire clock)', async (t) => {
  // Real timers round up and fire late; here every one of the pinpad's fires 1 ms late. A long
  // answer (41 pieces of 32 bytes) must still take its wire time, not 41 ms more.
  const base = new ManualClock()
  const late: Clock = {
    now: () => base.now(),
    setTimeout: (fn, ms) => base.setTimeout(fn, ms + 1),
    clearTimeout: (timer) => base.clearTimeout(timer),
    setInterval: (fn, ms) => base.setInterval(fn, ms),
    clearInterval: (timer) => base.clearInterval(timer),
    setImmediate: (fn) => base.setImmediate(fn),
  }
  const { client, traces } = setup(t, { link: { silenceMs: 50, baudRate: 19200 }, clock: late }, HOST, base)
  const keyMaps = [0x8030, 0x8031, 0x8032, 0x8033, 0x8034, 0x8035, 0x8036]
  const started = base.now()
  await client.call('GIX', { SPE_IDLIST: [...keyMaps, ...keyMaps.slice(0, 5)] })
  const elapsed = base.now() - started
  const bytes = traces.find((e) => e.type === 'response')!
  if (bytes.type !== 'response') throw new Error('no response trace')
  const wireMs = ((bytes.bytes + 4) * 10 * 1000) / 19200
  t.ok(elapsed >= wireMs && elapsed < wireMs + 10, `${elapsed} ms for ${bytes.bytes} bytes (wire: ${Math.round(wireMs)} ms)`)
})

t.test('pacing: a paced answer longer than the response deadline still arrives (it starts in time)', async (t) => {
  // 1300 bytes take ~680 ms at 19200 baud, longer than the host's 500 ms deadline; the answer starts
  // at once, so the host gives it its inter-byte time rather than cutting it.
  const { client } = setup(t, { link: { silenceMs: 50, baudRate: 19200 } })
  const keyMaps = [0x8030, 0x8031, 0x8032, 0x8033, 0x8034, 0x8035, 0x8036]
  const gix = await client.call('GIX', { SPE_IDLIST: [...keyMaps, ...keyMaps.slice(0, 5)] })
  t.equal(gix.PP_DKPTTDESP?.length, 100)
})

t.test('a fault-free frame for comparison: the host sends exactly what the spec frames', async (t) => {
  const { link } = setup(t)
  t.same(await link.exchange('OPN', Buffer.from('OPN')), Buffer.from('OPN000'))
  t.same(encodeFrame(Buffer.from('OPN')), Buffer.from('164F504E17A8A9', 'hex'))
})
