/**
 * `npm run bench`: figures and ratios, side by side in one run (no assertions). See
 * bench/README.md for what each row means.
 *
 *   (a) frame codec throughput (encode, decode; decode in 1-byte, 16-byte and whole-packet chunks)
 *   (b) CRC-16/XMODEM: the `crc` package against a naive bit-by-bit baseline
 *   (c) host link round trips per second against the virtual pinpad (in-memory pair, pty pair)
 *   (d) full payments through the WebSocket server, simulator delays 0
 *   (e) heap and external memory before/after 1000 payments
 */
import { randomBytes } from 'node:crypto'
import { cpus, totalmem } from 'node:os'
import { spawnSync } from 'node:child_process'
import crc16xmodem from 'crc/crc16xmodem'
import { encodeFrame, FrameDecoder, type FrameEvent } from '../src/abecs/frame.js'
import { abecsCrc } from '../src/abecs/crc.js'
import { DC3, ETB, SYN } from '../src/abecs/control.js'
import { encodeCommand, encodeResponse } from '../src/abecs/packet.js'
import { encodeItemList } from '../src/abecs/tlv.js'
import { PP } from '../src/abecs/params.js'
import { buildEmv } from '../src/abecs/emv-tlv.js'
import { HostLink } from '../src/abecs/link.js'
import { PinpadClient } from '../src/abecs/client.js'
import { memoryPair, type ByteStream } from '../src/transport/byte-stream.js'
import { openSerialPort } from '../src/transport/serial-port.js'
import { VirtualPinpad } from '../src/simulator/virtual-pinpad.js'
import { factoryTables } from '../src/simulator/defaults.js'
import { openPtyPair } from './pty.js'
import { fmt, gcNow as gc, now, percentile, seconds, startBenchBridge, wsClient } from './lib.js'

interface Stat {
  /** Median of the samples, in units per second. */
  median: number
  /** Half the spread between the slowest and the fastest sample, relative to the median. */
  spread: number
}

const stat = (samples: number[]): Stat => {
  const sorted = [...samples].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]!
  return { median, spread: (sorted.at(-1)! - sorted[0]!) / 2 / median }
}

/** One sample: calls `fn` (which does `perCall` units of work) for `ms`; units per second. */
function sample(fn: () => void, perCall: number, ms: number): number {
  const end = now() + BigInt(Math.round(ms * 1e6))
  const start = now()
  let calls = 0
  do {
    for (let i = 0; i < 8; i++) fn()
    calls += 8
  } while (now() < end)
  return (calls * perCall) / seconds(now() - start)
}

/**
 * Side by side: every candidate warms up, then they take turns, one short sample each per
 * round, so that load from elsewhere on the machine hits them alike. Medians per candidate.
 */
function compare(candidates: Array<{ fn: () => void; perCall: number }>, rounds = 9, ms = 80, warmupMs = 250): Stat[] {
  for (const c of candidates) sample(c.fn, c.perCall, warmupMs)
  const samples = candidates.map(() => [] as number[])
  for (let r = 0; r < rounds; r++) candidates.forEach((c, i) => samples[i]!.push(sample(c.fn, c.perCall, ms)))
  return samples.map(stat)
}

/** The same for async operations (one at a time): operations per second. */
async function compareAsync(candidates: Array<() => Promise<unknown>>, rounds = 7, ms = 200, warmup = 100): Promise<Stat[]> {
  const one = async (fn: () => Promise<unknown>, limitMs: number) => {
    const end = now() + BigInt(limitMs) * 1_000_000n
    const start = now()
    let n = 0
    do {
      await fn()
      n++
    } while (now() < end)
    return n / seconds(now() - start)
  }
  for (const fn of candidates) for (let i = 0; i < warmup; i++) await fn()
  const samples = candidates.map(() => [] as number[])
  for (let r = 0; r < rounds; r++) for (const [i, fn] of candidates.entries()) samples[i]!.push(await one(fn, ms))
  return samples.map(stat)
}

const MB = 1e6
const rows: string[] = []
const print = (line = '') => {
  rows.push(line)
  console.log(line)
}
const table = (cells: Array<string | number>, widths: number[]) =>
  print(cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join(' '))

// ---------------------------------------------------------------------------------------------
// (a) frame codec

async function gixAnswer(): Promise<Buffer> {
  const pad = new VirtualPinpad({ tables: factoryTables() })
  const ctl = new AbortController()
  const answer = await pad.handle(encodeCommand('GIX'), { signal: ctl.signal, notify: () => {} })
  return answer!
}

/** A GCX-like answer of about 2 KiB: ABECS TLV items carrying BER-TLV EMV data. */
function tlvPacket(): Buffer {
  const emv = () => {
    const objects = []
    let size = 0
    for (let tag = 0x9f01; size < 480; tag++) {
      const value = randomBytes(4 + (tag % 11))
      objects.push({ tag: tag.toString(16).toUpperCase(), value })
      size += 3 + 1 + value.length
    }
    return buildEmv(objects).subarray(0, 500)
  }
  const items = encodeItemList(
    [
      ['PP_CARDTYPE', '03'],
      ['PP_EMVDATA', emv()],
      ['PP_EMVDATA', emv()],
      ['PP_EMVDATA', emv()],
      ['PP_EMVDATA', emv()],
    ],
    PP,
  )
  return encodeResponse('GCX', 0, items)
}

/** 2 KiB where half the bytes are DC3, SYN or ETB (each needs a DC3 escape, §2.2.1). */
function escapeHeavy(): Buffer {
  const b = randomBytes(2048)
  const special = [DC3, SYN, ETB]
  for (let i = 0; i < b.length; i++) if (i % 2 === 0) b[i] = special[b[i]! % 3]!
  return b
}

/** A decoding job: `chunks` of a stream of `frames` packets of `payload` bytes each, pushed in turn. */
function decodeJob(frame: Buffer, payload: number, chunkSize: number | 'packet', copies = 32): { fn: () => void; perCall: number } {
  const stream = Buffer.concat(Array.from({ length: copies }, () => frame))
  const chunks: Buffer[] = []
  const size = chunkSize === 'packet' ? frame.length : chunkSize
  for (let pos = 0; pos < stream.length; pos += size) chunks.push(stream.subarray(pos, pos + size))
  let frames = 0
  // As the link uses it: default 2 s inter-byte timer (armed and refreshed while inside a packet).
  const decoder = new FrameDecoder((e: FrameEvent) => {
    if (e.type === 'frame') frames++
    else if (e.type === 'bad-frame') throw new Error(`the bench stream did not decode: ${e.reason}`)
  })
  return {
    perCall: payload * copies,
    fn: () => {
      const before = frames
      for (const c of chunks) decoder.push(c)
      if (frames - before !== copies) throw new Error('a packet was lost')
    },
  }
}

const pm = (s: Stat, scale = MB, digits = 1) => `${fmt(s.median / scale, digits)} ±${fmt(s.spread * 100, 0)}%`

async function frameCodec(): Promise<void> {
  print('(a) frame codec: MB/s of packet data (unescaped PKTDATA; 1 MB = 10^6 B), median ±half-spread of 9 samples')
  const packets: Array<[string, Buffer]> = [
    ['GIX answer (virtual pinpad)', await gixAnswer()],
    ['2 KiB TLV packet (GCX answer)', tlvPacket()],
    ['2 KiB, half the bytes escaped', escapeHeavy()],
  ]
  const frames = packets.map(([, data]) => encodeFrame(data))
  const encode = compare(packets.map(([, data]) => ({ fn: () => encodeFrame(data), perCall: data.length })))
  const decode = compare(packets.map(([, data], i) => decodeJob(frames[i]!, data.length, 'packet')))
  const w = [34, 7, 7, 14, 14]
  table(['packet', 'data B', 'wire B', 'encode', 'decode'], w)
  packets.forEach(([name, data], i) => table([name, data.length, frames[i]!.length, pm(encode[i]!), pm(decode[i]!)], w))
  print(`    escape-heavy vs TLV packet: encode ${fmt(encode[2]!.median / encode[1]!.median, 2)}×, decode ${fmt(decode[2]!.median / decode[1]!.median, 2)}×`)
  print()

  print('    decode of the 2 KiB TLV packet by chunk size (a serial port hands over bytes in pieces)')
  const [, data] = packets[1]!
  const sizes: Array<[string, number | 'packet']> = [
    ['1-byte chunks', 1],
    ['16-byte chunks', 16],
    ['whole packet per push', 'packet'],
  ]
  const chunked = compare(sizes.map(([, size]) => decodeJob(frames[1]!, data.length, size)))
  const w2 = [34, 16, 16]
  table(['chunks', 'decode MB/s', 'vs whole packet'], w2)
  sizes.forEach(([name], i) => table([name, pm(chunked[i]!), `${fmt(chunked[i]!.median / chunked[2]!.median, 3)}×`], w2))
  print()
}

// ---------------------------------------------------------------------------------------------
// (b) CRC

/** CRC-16/XMODEM bit by bit: poly 1021h, init 0, no reflection, no final XOR. */
function naiveCrc16Xmodem(data: Uint8Array, crc = 0): number {
  for (const byte of data) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

function crcBench(): void {
  print('(b) CRC-16/XMODEM over a 2 KiB packet: MB/s, median ±half-spread')
  const data = randomBytes(2048)
  const check = Buffer.from('123456789', 'latin1')
  if (naiveCrc16Xmodem(check) !== 0x31c3 || crc16xmodem(check) !== 0x31c3) throw new Error('CRC check value 31C3h does not match')
  if (naiveCrc16Xmodem(Buffer.concat([data, Buffer.of(ETB)])) !== abecsCrc(data, ETB)) throw new Error('the CRCs disagree')
  let sink = 0
  const [naive, pkg, ours] = compare([
    { fn: () => (sink ^= naiveCrc16Xmodem(data)), perCall: data.length },
    { fn: () => (sink ^= crc16xmodem(data)), perCall: data.length },
    { fn: () => (sink ^= abecsCrc(data, ETB)), perCall: data.length },
  ])
  const w = [34, 16, 12]
  table(['implementation', 'MB/s', 'vs naive'], w)
  table(['naive bit-by-bit (baseline)', pm(naive!), '1.00×'], w)
  table(['crc package, crc16xmodem', pm(pkg!), `${fmt(pkg!.median / naive!.median, 2)}×`], w)
  table(['abecsCrc (the package + ETB)', pm(ours!), `${fmt(ours!.median / naive!.median, 2)}×`], w)
  if (sink === -1) print('')
  print()
}

// ---------------------------------------------------------------------------------------------
// (c) host link round trips

async function linkTo(host: ByteStream, pinpadSide: ByteStream): Promise<{ client: PinpadClient; close(): Promise<void> }> {
  const pad = new VirtualPinpad({ tables: factoryTables() })
  pad.attach(pinpadSide)
  const link = new HostLink(host)
  const client = new PinpadClient(link)
  await link.open()
  return {
    client,
    close: async () => {
      pad.detach()
      await link.close()
      await pinpadSide.close()
    },
  }
}

async function linkBench(): Promise<void> {
  print('(c) host link round trips per second against the virtual pinpad (command, ACK, answer), median ±half-spread')
  const [host, device] = memoryPair()
  const links = [{ name: 'in-memory pair', ...(await linkTo(host, device)) }]
  const socat = spawnSync('socat', ['-V'], { stdio: 'ignore' })
  const pty = socat.error ? undefined : await openPtyPair()
  if (pty) links.push({ name: 'pty pair (socat + serialport)', ...(await linkTo(await openSerialPort(pty.a), await openSerialPort(pty.b))) })
  try {
    const opn = await compareAsync(links.map((l) => () => l.client.call('OPN', {})))
    const gix = await compareAsync(links.map((l) => () => l.client.call('GIX', {})))
    const w = [34, 14, 14]
    table(['transport', 'OPN/s', 'GIX/s'], w)
    links.forEach((l, i) => table([l.name, pm(opn[i]!, 1, 0), pm(gix[i]!, 1, 0)], w))
    if (!pty) print('    pty pair: skipped, socat is not installed (apt-get install socat)')
    else print(`    pty vs in-memory: OPN ${fmt(opn[1]!.median / opn[0]!.median, 2)}×, GIX ${fmt(gix[1]!.median / gix[0]!.median, 2)}×`)
  } finally {
    for (const l of links) await l.close()
    await pty?.close()
  }
  print()
}

// ---------------------------------------------------------------------------------------------
// (d), (e) payments through the WebSocket server

async function paymentBench(count: number): Promise<void> {
  const bridge = await startBenchBridge({ simulator: { cardholder: { presentAfterMs: 0, pinAfterMs: 0, removeAfterMs: 0 } } })
  const server = bridge.server
  const client = await wsClient(bridge.url)
  try {
    const init = await client.call({ command: 'initialize', encryption_key: 'ek_test_benchbenchbenchbench1234' })
    if (!init.success) throw new Error(`initialize failed: ${init.error}`)
    // The issuer answer a shop server would pass on (8A "00", 91 ARPC + ARC).
    const emv = '8A023030910A0102030405060708' + '3030'
    const pay = async (): Promise<[number, number]> => {
      const t0 = now()
      const paid = await client.call({ command: 'process_payment', amount: 1000 })
      const t1 = now()
      if (paid.response?.status !== 'accepted') throw new Error(`payment ${JSON.stringify(paid.response)}`)
      const finish = await client.call({ command: 'finish_payment', success: true, response_code: '0000', emv_data: emv })
      if (!finish.success) throw new Error(`finish_payment: ${finish.error}`)
      return [Number(t1 - t0) / 1e6, Number(now() - t0) / 1e6]
    }
    for (let i = 0; i < 50; i++) await pay()

    gc()
    const before = process.memoryUsage()
    let middle = before
    const totals: number[] = []
    const processOnly: number[] = []
    const start = now()
    for (let i = 0; i < count; i++) {
      const [p, total] = await pay()
      processOnly.push(p)
      totals.push(total)
      if (i === count / 2 - 1) {
        // Halfway: a full GC too (its pause is inside the run's time; it is short against the run).
        gc()
        middle = process.memoryUsage()
      }
    }
    const elapsed = seconds(now() - start)
    gc()
    const after = process.memoryUsage()

    totals.sort((a, b) => a - b)
    processOnly.sort((a, b) => a - b)
    print(`(d) full payments through /ws (visa-credit chip, online PIN; simulator delays 0; ${count} payments after 50 to warm up)`)
    const w = [34, 12, 12, 12]
    table(['', 'per second', 'p50 ms', 'p95 ms'], w)
    table(['process_payment + finish_payment', fmt(count / elapsed), fmt(percentile(totals, 50), 2), fmt(percentile(totals, 95), 2)], w)
    table(['  of which process_payment', '', fmt(percentile(processOnly, 50), 2), fmt(percentile(processOnly, 95), 2)], w)
    print()
    print(`(e) memory around those ${count} payments (full GC before each reading; bridge and client share the process)`)
    const w2 = [14, 10, 10, 10, 14, 14]
    table(['MB', 'before', 'halfway', 'after', 'per payment', '2nd half only'], w2)
    for (const key of ['heapUsed', 'external', 'arrayBuffers', 'rss'] as const) {
      const perPayment = (after[key] - before[key]) / count
      const secondHalf = (after[key] - middle[key]) / (count / 2)
      table([key, fmt(before[key] / MB, 2), fmt(middle[key] / MB, 2), fmt(after[key] / MB, 2), `${fmt(perPayment, 0)} B`, `${fmt(secondHalf, 0)} B`], w2)
    }
    print(`    card vault after the run: ${server.runtime.vault.size} card(s) held`)
  } finally {
    await client.close()
    await bridge.close()
  }
}

// ---------------------------------------------------------------------------------------------

const started = now()
const cpu = cpus()
print(`mpos-bridge bench — ${new Date().toISOString()} — node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB`)
print()
await frameCodec()
crcBench()
await linkBench()
// Even, so that there is a halfway point.
await paymentBench(Math.max(2, Math.round(Number(process.env.BENCH_PAYMENTS ?? 1000) / 2) * 2))
print()
print(`total ${fmt(seconds(now() - started), 1)} s`)
