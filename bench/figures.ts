/**
 * `npm run bench`: every figure of the performance table, the bridge side by side with its
 * baseline (a bare `ws` JSON echo, a bare Fastify + @fastify/websocket app), each server in its
 * own process, in interleaved rounds; medians. Writes bench/results/latest.json and latest.md.
 * `-- --quick`: fewer rounds and smaller counts, a smoke run of a couple of minutes.
 * Nothing is asserted: figures are printed, the goals are compared, the machine's load is noted.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { fmt } from './lib.js'
import { freePort, ROOT, startServer, stopChild, tempDataDir, timeToReady } from './procs.js'
import { closeAll, connect, maxRate, roundTrips, type Conn } from './status-load.js'
import { cpuPerPaymentInProcess, cpuPerPaymentSerial, pacedPayments, rsaMsPerCardHash, rssOverPayments, type PacedPayment } from './payments.js'

const quick = process.argv.includes('--quick')
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',')
const P = quick
  ? { rounds: 3, trips: 1000, rateStepMs: 600, rateRounds: 1, idle: 1000, idleRounds: 1, cold: 3, payRounds: 2, payCount: 30, rssPayments: 600, rssEvery: 100, rssWarmUp: 200, paced: 3, pacedWarmUp: 3 }
  : { rounds: 7, trips: 3000, rateStepMs: 1500, rateRounds: 3, idle: 1000, idleRounds: 3, cold: 7, payRounds: 5, payCount: 100, rssPayments: 3000, rssEvery: 500, rssWarmUp: 2000, paced: 9, pacedWarmUp: 10 }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const range = (xs: number[], digits = 0) => `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Row {
  figure: string
  bridge: string
  baseline: string
  ratio: string
  goal: string
  holds: boolean | null
  samples: Record<string, unknown>
}
const rows: Row[] = []
const want = (key: string) => !only || only.includes(key)
const load = [loadavg()[0]!]

function row(r: Row) {
  rows.push(r)
  console.log(`${r.figure}: bridge ${r.bridge} | baseline ${r.baseline} | ratio ${r.ratio} | goal ${r.goal} → ${r.holds === null ? '—' : r.holds ? 'holds' : 'does not hold'}`)
}

/** Round trips and server CPU per `status`: bridge and echo in turns, one connection each. */
async function statusFigures() {
  const servers = { bridge: await startServer('bridge'), echo: await startServer('echo') }
  const conns = { bridge: await connect(servers.bridge.wsUrl), echo: await connect(servers.echo.wsUrl) }
  const p50 = { bridge: [] as number[], echo: [] as number[] }
  const cpu = { bridge: [] as number[], echo: [] as number[] }
  try {
    for (const k of ['bridge', 'echo'] as const) await roundTrips(conns[k], 1000)
    for (let r = 0; r < P.rounds; r++) {
      for (const k of ['bridge', 'echo'] as const) {
        const cpu0 = servers[k].cpuMs()
        const lat = (await roundTrips(conns[k], P.trips)).sort((a, b) => a - b)
        cpu[k].push(((servers[k].cpuMs() - cpu0) * 1000) / P.trips)
        p50[k].push(lat[Math.floor(lat.length / 2)]!)
      }
      load.push(loadavg()[0]!)
    }
  } finally {
    await closeAll(Object.values(conns))
    for (const s of Object.values(servers)) await s.stop()
  }
  const rt = median(p50.bridge) / median(p50.echo)
  row({ figure: '`status` round trip p50', bridge: `${fmt(median(p50.bridge), 0)} µs (${range(p50.bridge)})`, baseline: `bare \`ws\` JSON echo ${fmt(median(p50.echo), 0)} µs (${range(p50.echo)})`, ratio: `${fmt(rt, 2)}×`, goal: '≤ 1.15×', holds: rt <= 1.15, samples: { p50 } })
  const c = median(cpu.bridge) / median(cpu.echo)
  row({ figure: 'server CPU per `status`', bridge: `${fmt(median(cpu.bridge), 0)} µs (${range(cpu.bridge)})`, baseline: `echo ${fmt(median(cpu.echo), 0)} µs (${range(cpu.echo)})`, ratio: `${fmt(c, 2)}×`, goal: '≤ 2×', holds: c <= 2, samples: { cpu } })
}

/** The highest `status` rate over 100 connections with p99 < 5 ms. */
async function throughputFigure() {
  const best = { bridge: [] as number[], echo: [] as number[] }
  const steps: Record<string, unknown[]> = { bridge: [], echo: [] }
  for (let r = 0; r < P.rateRounds; r++) {
    for (const k of ['bridge', 'echo'] as const) {
      const server = await startServer(k)
      const conns: Conn[] = []
      try {
        for (let i = 0; i < 100; i++) conns.push(await connect(server.wsUrl))
        const found = await maxRate(conns, P.rateStepMs)
        best[k].push(found.rate)
        steps[k]!.push(found.steps)
      } finally {
        await closeAll(conns)
        await server.stop()
      }
      load.push(loadavg()[0]!)
    }
  }
  const ratio = median(best.bridge) / median(best.echo)
  row({ figure: 'max `status`/s over 100 connections with p99 < 5 ms', bridge: `${fmt(median(best.bridge), 0)}/s (${range(best.bridge)})`, baseline: `echo ${fmt(median(best.echo), 0)}/s (${range(best.echo)})`, ratio: `${fmt(ratio, 2)}×`, goal: '≥ 0.5×', holds: ratio >= 0.5, samples: { best, steps } })
}

async function openIdle(url: string, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = []
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(url, 'mpos-bridge')
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    out.push(ws)
  }
  return out
}

/** RSS (and heap) per idle /ws connection: 1,000 connections, a fresh server process per round. */
async function idleFigure() {
  const per = { bridge: [] as number[], fastify: [] as number[] }
  const heap = { bridge: [] as number[], fastify: [] as number[] }
  for (let r = 0; r < P.idleRounds; r++) {
    for (const k of ['bridge', 'fastify'] as const) {
      const server = await startServer(k)
      try {
        for (const ws of await openIdle(server.wsUrl, 50)) ws.close()
        await sleep(500)
        const before = await server.memory()
        const sockets = await openIdle(server.wsUrl, P.idle)
        await sleep(1000)
        const after = await server.memory()
        per[k].push((after.rss - before.rss) / P.idle / 1024)
        heap[k].push((after.heapUsed - before.heapUsed) / P.idle / 1024)
        for (const ws of sockets) ws.terminate()
      } finally {
        await server.stop()
      }
      load.push(loadavg()[0]!)
    }
  }
  const b = median(per.bridge)
  row({ figure: `RSS per idle \`/ws\` connection (${fmt(P.idle, 0)})`, bridge: `${fmt(b, 1)} KiB (${range(per.bridge, 1)}); heap ${fmt(median(heap.bridge), 1)} KiB`, baseline: `bare fastify + @fastify/websocket ${fmt(median(per.fastify), 1)} KiB (${range(per.fastify, 1)}); heap ${fmt(median(heap.fastify), 1)} KiB`, ratio: `${fmt(b / median(per.fastify), 2)}×`, goal: '≤ 20 KiB', holds: b <= 20, samples: { per, heap } })
}

/** spawn → /ready 200: `node bin/mpos-bridge.js serve` (dist/) and the bare Fastify app, in turns. */
async function coldStartFigure() {
  const dataDir = tempDataDir()
  const bridgeCmd = (port: number) => ['bin/mpos-bridge.js', 'serve', '--port', String(port), '--data-dir', dataDir, '--no-discovery', '--log-level', 'warn']
  // The first start makes the sandbox's key pair (once per data directory): not what is measured.
  const first = await freePort()
  await stopChild((await timeToReady(bridgeCmd(first), `http://127.0.0.1:${first}/ready`)).child)
  const ms: Record<'bridge' | 'fastify' | 'echo', number[]> = { bridge: [], fastify: [], echo: [] }
  const rss: Record<'bridge' | 'fastify' | 'echo', number[]> = { bridge: [], fastify: [], echo: [] }
  for (let r = 0; r < P.cold; r++) {
    for (const k of ['bridge', 'fastify'] as const) {
      // A port free now: the machine is shared, a fixed one may be taken by then.
      const port = await freePort()
      const cmd = k === 'bridge' ? bridgeCmd(port) : ['bench/servers/fastify-app.mjs', '--port', String(port)]
      const t = await timeToReady(cmd, `http://127.0.0.1:${port}/ready`)
      ms[k].push(t.ms)
      rss[k].push(t.rss / 2 ** 20)
      await stopChild(t.child)
      load.push(loadavg()[0]!)
    }
  }
  const ratio = median(ms.bridge) / median(ms.fastify)
  row({ figure: 'cold start, spawn → `/ready` 200', bridge: `${fmt(median(ms.bridge), 0)} ms (${range(ms.bridge)}; compiled; RSS ${fmt(median(rss.bridge), 0)} MiB)`, baseline: `bare fastify + @fastify/websocket app ${fmt(median(ms.fastify), 0)} ms (${range(ms.fastify)}; RSS ${fmt(median(rss.fastify), 0)} MiB)`, ratio: `${fmt(ratio, 2)}×`, goal: '≤ 1.3×', holds: ratio <= 1.3, samples: { ms, rss } })
}

async function paymentFigures() {
  const rsa = rsaMsPerCardHash()
  const { bridge: serial, floor } = await cpuPerPaymentSerial(P.payRounds, P.payCount)
  const net = median(serial) - rsa
  // The floor does the payment's I/O and codec work alone (bench/servers/payment-floor.mjs): what
  // the bridge spends above it is its machinery (actors, validation, gates, metrics).
  row({
    figure: 'server CPU per payment (pinpad in its own process over a pty, zero delays)',
    bridge: `${fmt(median(serial), 2)} ms (${range(serial, 2)}); without the RSA of the card hash (${fmt(rsa, 2)} ms): ${fmt(net, 2)} ms`,
    baseline: `the payment's floor (the same /ws messages, journal writes, ABECS commands and card hash, no actors): ${fmt(median(floor), 2)} ms (${range(floor, 2)}); without the RSA: ${fmt(median(floor) - rsa, 2)} ms`,
    ratio: `${fmt(median(serial) / median(floor), 2)}× (the machinery: ${fmt(median(serial) - median(floor), 2)} ms)`,
    goal: '≤ 2 ms, pinpad and RSA excluded',
    holds: net <= 2,
    samples: { serial, floor, rsa },
  })
  const inProcess = await cpuPerPaymentInProcess(P.payRounds, P.payCount)
  row({ figure: 'server CPU per payment (virtual pinpad in process, zero delays; for comparison)', bridge: `${fmt(median(inProcess), 2)} ms (${range(inProcess, 2)}), pinpad included`, baseline: '—', ratio: '—', goal: '—', holds: null, samples: { inProcess } })
  const { start, series } = await rssOverPayments(P.rssPayments, P.rssEvery, P.rssWarmUp)
  const mid = series[Math.floor(series.length / 2)]!
  const end = series.at(-1)!
  const slope = (end.rss - mid.rss) / (end.payments - mid.payments)
  const MB = (b: number) => fmt(b / 1e6, 0)
  row({ figure: `RSS over ${fmt(P.rssPayments, 0)} payments (after ${fmt(P.rssWarmUp, 0)} to warm up)`, bridge: `warm-up ${MB(start)} → ${MB(series[0]!.rss)} MB; then ${series.map((s) => MB(s.rss)).join(' → ')} MB; second half ${fmt(slope / 1024, 2)} KiB/payment; heap ${MB(series[0]!.heap)} → ${MB(end.heap)} MB`, baseline: '—', ratio: '—', goal: 'flat after warm-up', holds: Math.abs(end.rss - mid.rss) < 0.05 * mid.rss, samples: { start, series } })
}

async function pacedFigure() {
  const paced = await pacedPayments(P.paced, P.pacedWarmUp)
  // The floor is the paced direction (the pinpad's bytes); the goal is about what the bridge adds to
  // it (its turnaround), not the simulator's own processing, which a real pinpad has too.
  const wireMs = (p: PacedPayment) => (p.pinpadBytes / 1920) * 1000
  const ratios = paced.map((p) => (wireMs(p) + p.bridgeMs) / wireMs(p))
  const r = median(ratios)
  row({
    figure: `one payment with the pinpad paced at 19,200 baud (after ${P.pacedWarmUp} to warm up)`,
    bridge: `${range(paced.map((p) => p.ms))} ms, of which the bridge's turnaround ${range(paced.map((p) => p.bridgeMs), 1)} ms (the rest: the pinpad's wire time and its processing, and the client's ${range(paced.map((p) => p.clientMs), 2)} ms between the answer and finish_payment)`,
    baseline: `the pinpad's ${range(paced.map((p) => p.pinpadBytes))} bytes ÷ 1,920 B/s: ${range(paced.map(wireMs))} ms (the bridge's ${range(paced.map((p) => p.hostBytes))} bytes cross the pty at once)`,
    ratio: `${fmt(r, 2)} (${fmt(Math.min(...ratios), 2)}–${fmt(Math.max(...ratios), 2)}; wire + turnaround; the whole payment ${fmt(Math.min(...paced.map((p) => p.ms / wireMs(p))), 2)}–${fmt(Math.max(...paced.map((p) => p.ms / wireMs(p))), 2)})`,
    goal: 'keep ≤ 1.05',
    holds: r <= 1.05,
    samples: { paced },
  })
}

const started = performance.now()
const cpu = cpus()
const machine = `node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB`
console.log(`mpos-bridge bench${quick ? ' (quick)' : ''} — ${new Date().toISOString()} — ${machine}; load average ${fmt(load[0]!, 2)}`)
if (want('status')) await statusFigures()
if (want('rate')) await throughputFigure()
if (want('idle')) await idleFigure()
if (want('cold')) await coldStartFigure()
if (want('payments')) await paymentFigures()
if (want('payments') || want('paced')) await pacedFigure()
load.push(loadavg()[0]!)

const table = [
  '| figure | bridge | baseline | ratio | goal | holds |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.figure} | ${r.bridge} | ${r.baseline} | ${r.ratio} | ${r.goal} | ${r.holds === null ? '' : r.holds ? 'yes' : '**no**'} |`),
].join('\n')
const note = `${quick ? 'Quick run' : 'Run'} of ${new Date().toISOString().slice(0, 16)}Z, ${machine}; 1-minute load average ${fmt(Math.min(...load), 1)}–${fmt(Math.max(...load), 1)} during the run; ${fmt((performance.now() - started) / 1000, 0)} s.`
const dir = path.join(ROOT, 'bench/results')
mkdirSync(dir, { recursive: true })
const name = only ? 'partial' : quick ? 'latest-quick' : 'latest'
writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify({ date: new Date().toISOString(), quick, machine, load, params: P, rows }, null, 2)}\n`)
writeFileSync(path.join(dir, `${name}.md`), `${note}\n\n${table}\n`)
console.log(`\n${note}\n\n${table}\n\nwritten: bench/results/${name}.json, bench/results/${name}.md`)
