/**
 * The payment figures of bench/figures.ts: the bridge's CPU per payment with the pinpad in another
 * process (`mpos-bridge simulate --serial` on one end of a socat pty pair), its RSS over many
 * payments (virtual pinpad in process, zero delays), and one payment with the pinpad paced at
 * 19,200 baud against the bytes that crossed the wire.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { constants, generateKeyPairSync, publicEncrypt } from 'node:crypto'
import { openPtyPair, type PtyPair } from './pty.js'
import { epochNow, wsClient, type Client } from './lib.js'
import { ROOT, startServer, stopChild, type ServerProcess } from './procs.js'

const EK = 'ek_test_benchbenchbenchbench1234'
/** The issuer's answer a shop server would pass on (8A "00", 91 ARPC + ARC). */
const EMV = '8A023030910A01020304050607083030'

async function pay(client: Client, amount = 1000): Promise<void> {
  const paid = await client.call({ command: 'process_payment', amount }, 60_000)
  if (paid.response?.status !== 'accepted') throw new Error(`payment: ${JSON.stringify(paid.response ?? paid)}`)
  const finish = await client.call({ command: 'finish_payment', success: true, response_code: '0000', emv_data: EMV }, 60_000)
  if (!finish.success) throw new Error(`finish_payment: ${finish.error}`)
}

interface SerialRig {
  bridge: ServerProcess
  simulator: ChildProcess
  pty: PtyPair
  client: Client
  close(): Promise<void>
}

/** The bridge (or the payment's floor) on one end of a pty pair, `simulate --serial` on the other, initialized. */
async function serialRig(simulatorArgs: string[], countBytes = false, kind: 'bridge' | 'floor' = 'bridge'): Promise<SerialRig> {
  const pty = await openPtyPair(5000, { countBytes })
  const simulator = spawn(
    process.execPath,
    ['bin/mpos-bridge.js', 'simulate', '--serial', pty.b, '--present-after', '0', '--pin-after', '0', '--remove-after', '0', '--log-level', 'warn', ...simulatorArgs],
    { cwd: ROOT, stdio: 'ignore' },
  )
  await new Promise((r) => setTimeout(r, 1500)) // its port is open once it has started
  const bridge = await startServer(kind, ['--serial', pty.a, '--baud', '19200'])
  const client = await wsClient(bridge.wsUrl)
  const init = await client.call({ command: 'initialize', encryption_key: EK, device_id: 1, simple_initialize: true }, 60_000)
  if (!init.success) throw new Error(`initialize over the pty: ${init.error}`)
  return {
    bridge,
    simulator,
    pty,
    client,
    close: async () => {
      await client.close()
      await bridge.stop()
      await stopChild(simulator)
      await pty.close()
    },
  }
}

/** The RSA part of a card hash (a 2048-bit key, a form of about 400 bytes in two blocks), in ms. */
export function rsaMsPerCardHash(): number {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const form = Buffer.alloc(400, 'a')
  const n = 500
  const t0 = performance.now()
  for (let i = 0; i < n; i++) for (let pos = 0; pos < form.length; pos += 245) publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, form.subarray(pos, pos + 245))
  return (performance.now() - t0) / n
}

/**
 * CPU per payment (ms) of the bridge process and of the payment's floor (bench/servers/payment-floor.mjs:
 * the same messages, journal, pinpad commands and card hash without the bridge's machinery), each with
 * the pinpad in its own process over its own pty, in interleaved rounds of `count` payments.
 */
export async function cpuPerPaymentSerial(rounds: number, count: number): Promise<{ bridge: number[]; floor: number[] }> {
  const rigs = { bridge: await serialRig([]), floor: await serialRig([], false, 'floor') }
  try {
    for (const rig of Object.values(rigs)) for (let i = 0; i < 10; i++) await pay(rig.client)
    const out = { bridge: [] as number[], floor: [] as number[] }
    for (let r = 0; r < rounds; r++) {
      for (const kind of ['bridge', 'floor'] as const) {
        const rig = rigs[kind]
        const cpu0 = rig.bridge.cpuMs()
        for (let i = 0; i < count; i++) await pay(rig.client)
        out[kind].push((rig.bridge.cpuMs() - cpu0) / count)
      }
    }
    return out
  } finally {
    await rigs.bridge.close()
    await rigs.floor.close()
  }
}

/** The same with the virtual pinpad inside the bridge's process (its CPU is then the bridge's too). */
export async function cpuPerPaymentInProcess(rounds: number, count: number): Promise<number[]> {
  const bridge = await startServer('bridge', ['--zero-delays'])
  const client = await wsClient(bridge.wsUrl)
  try {
    const init = await client.call({ command: 'initialize', encryption_key: EK })
    if (!init.success) throw new Error(`initialize: ${init.error}`)
    for (let i = 0; i < 20; i++) await pay(client)
    const out: number[] = []
    for (let r = 0; r < rounds; r++) {
      const cpu0 = bridge.cpuMs()
      for (let i = 0; i < count; i++) await pay(client)
      out.push((bridge.cpuMs() - cpu0) / count)
    }
    return out
  } finally {
    await client.close()
    await bridge.stop()
  }
}

/**
 * RSS (bytes) of the bridge every `every` payments over `count`, virtual pinpad in process, after
 * `warmUp` payments. The warm-up is long on purpose: glibc's malloc arenas and V8's page pools grow
 * for the first ~2,000 payments (about 25 MB) before they level off; what is measured is whether
 * anything grows after that. `start` is the RSS before the warm-up.
 */
export async function rssOverPayments(count: number, every: number, warmUp: number): Promise<{ start: number; series: Array<{ payments: number; rss: number; heap: number }> }> {
  const bridge = await startServer('bridge', ['--zero-delays'])
  const client = await wsClient(bridge.wsUrl)
  try {
    const init = await client.call({ command: 'initialize', encryption_key: EK })
    if (!init.success) throw new Error(`initialize: ${init.error}`)
    await pay(client)
    const start = (await bridge.memory()).rss
    for (let i = 0; i < warmUp; i++) await pay(client)
    const series: Array<{ payments: number; rss: number; heap: number }> = []
    const read = async (payments: number) => {
      const m = await bridge.memory()
      series.push({ payments, rss: m.rss, heap: m.heapUsed })
    }
    await read(0)
    for (let i = 1; i <= count; i++) {
      await pay(client)
      if (i % every === 0) await read(i)
    }
    return { start, series }
  } finally {
    await client.close()
    await bridge.stop()
  }
}

/** One paced payment: its time, the bytes each way, and how long the bridge took to speak each time it was its turn. */
export interface PacedPayment {
  ms: number
  pinpadBytes: number
  hostBytes: number
  /**
   * The bridge's turnaround: for each of its writes, the time since the transfer before it (the
   * pinpad's last bytes, or the client's request for the first), less the client's own time when
   * it falls in that gap. The rest of the payment is the pinpad's wire time and its own processing.
   */
  bridgeMs: number
  /** The client's time from process_payment's answer to sending finish_payment (not the bridge's). */
  clientMs: number
}

/**
 * One paced payment per round. Only the pinpad's bytes are paced (the simulator's `--pace`); the
 * bridge's cross the pty at once, so a payment's floor is the pinpad's bytes ÷ 1,920 B/s, and what
 * the bridge adds to it is its turnaround (socat -v's timestamps).
 */
export async function pacedPayments(rounds: number, warmUp: number): Promise<PacedPayment[]> {
  const rig = await serialRig(['--pace', '--baud', '19200'], true)
  try {
    // The first payments after start run code V8 has not compiled yet (the first one's turnaround is
    // 2–3× a warm one's): what is measured is a bridge that has taken payments before, as at a till.
    for (let i = 0; i < warmUp; i++) await pay(rig.client)
    const out: PacedPayment[] = []
    for (let r = 0; r < rounds; r++) {
      await new Promise((resolve) => setTimeout(resolve, 300)) // the idle screen's DSP is done
      const { client } = rig
      const from = epochNow()
      const paid = await client.call({ command: 'process_payment', amount: 1000 }, 60_000)
      // Between the answer and finish_payment the client, not the bridge, has the payment: its own
      // time there (parsing the answer, sending the next request) is not the bridge's turnaround.
      const answered = client.receivedAt
      if (paid.response?.status !== 'accepted') throw new Error(`payment: ${JSON.stringify(paid.response ?? paid)}`)
      const finish = await client.call({ command: 'finish_payment', success: true, response_code: '0000', emv_data: EMV }, 60_000)
      const asked = client.sentAt
      const to = client.receivedAt
      if (!finish.success) throw new Error(`finish_payment: ${finish.error}`)
      const ms = to - from
      await new Promise((resolve) => setTimeout(resolve, 100)) // socat reports the last transfer
      // The bridge is on pty a: a → b is the host's bytes, b → a the pinpad's.
      const transfers = rig.pty.transfersBetween(from, to)
      // The idle screen's DSP follows the answer to finish_payment: nothing of the payment waits for it,
      // and whether socat carries it before the client has the answer is a race. It and what follows
      // it (the pinpad's ACK and answer) are not the payment's.
      const idle = transfers.findIndex((x) => x.aToB && x.head.slice(1) === 'DSP')
      let previous = from
      const sample = { ms, pinpadBytes: 0, hostBytes: 0, bridgeMs: 0, clientMs: asked - answered }
      for (const x of idle >= 0 ? transfers.slice(0, idle) : transfers) {
        if (x.aToB) {
          sample.hostBytes += x.length
          sample.bridgeMs += x.at - previous - (previous <= answered && asked <= x.at ? sample.clientMs : 0)
        } else sample.pinpadBytes += x.length
        previous = x.at
      }
      out.push(sample)
    }
    return out
  } finally {
    await rig.close()
  }
}
