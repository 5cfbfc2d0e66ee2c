/**
 * The CPU-per-payment figure alone (the rig of payments.ts cpuPerPaymentSerial), for A/B work:
 * `npx tsx bench/pay-cpu.ts`, with PAY_ROUNDS, PAY_COUNT, PAY_WARM (payments before the rounds);
 * PAY_ROOTS=dirA,dirB runs the bridge of each checkout (built: dist/, bin/, bench/) in interleaved
 * rounds; PAY_NO_ID=1 sends no command_id (nothing journaled); THREADS=1 prints each thread's CPU (main, V8 workers, libuv pool); STRACE=1 counts the
 * syscalls of one round (strace -c; STRACE_ARGS="-e trace=fcntl,read" instead lists those calls); BRIDGE_NODE_ARGS passes node flags; BENCH_PROFILE_DIR as in
 * the bench; PAY_FLOOR=1 runs the payment's floor (bench/servers/payment-floor.mjs) instead of the bridge, a
 * `dir:floor` entry in PAY_ROOTS that checkout's floor (side by side with its bridge).
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
import { readFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { openPtyPair } from './pty.js'
import { wsClient } from './lib.js'

const EK = 'ek_test_benchbenchbenchbench1234'
const EMV = '8A023030910A01020304050607083030'
const rounds = Number(process.env.PAY_ROUNDS ?? 5)
const count = Number(process.env.PAY_COUNT ?? 100)
/** PAY_NO_ID=1: the payments carry no command_id, so the journal records nothing (its cost, by difference). */
const noId = process.env.PAY_NO_ID ? null : undefined
const roots = (process.env.PAY_ROOTS ?? path.resolve(import.meta.dirname, '..')).split(',')

const cpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 }
}

async function rig(entry: string) {
  // `dir:floor` runs that checkout's payment floor instead of its bridge.
  const [root, floor] = entry.endsWith(':floor') ? [entry.slice(0, -6), true] : [entry, Boolean(process.env.PAY_FLOOR)]
  const pty = await openPtyPair(5000)
  const sim = spawn(process.execPath, ['bin/mpos-bridge.js', 'simulate', '--serial', pty.b, '--present-after', '0', '--pin-after', '0', '--remove-after', '0', '--log-level', 'warn'], { cwd: root, stdio: 'ignore' })
  await new Promise((r) => setTimeout(r, 1500))
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []
  const bridge = spawn(process.execPath, ['--expose-gc', ...profile, ...(process.env.BRIDGE_NODE_ARGS ? process.env.BRIDGE_NODE_ARGS.split(' ') : []), floor ? 'bench/servers/payment-floor.mjs' : 'bench/servers/bridge.mjs', '--data-dir', mkdtempSync(path.join(tmpdir(), 'paycpu-')), '--serial', pty.a, '--baud', '19200'], { cwd: root, stdio: ['ignore', 'pipe', process.env.BRIDGE_STDERR ? 'inherit' : 'ignore'] })
  const port = await new Promise<number>((resolve) => bridge.stdout!.once('data', (d) => resolve(JSON.parse(String(d).split('\n')[0]!).port)))
  const client = await wsClient(`ws://127.0.0.1:${port}/ws`)
  const init = await client.call({ command: 'initialize', encryption_key: EK, device_id: 1, simple_initialize: true }, 60_000)
  if (!init.success) throw new Error(`initialize: ${init.error}`)
  const pay = async () => {
    const p = await client.call({ command: 'process_payment', amount: 1000 }, 60_000, noId)
    if (p.response?.status !== 'accepted') throw new Error(JSON.stringify(p))
    const f = await client.call({ command: 'finish_payment', success: true, response_code: '0000', emv_data: EMV }, 60_000, noId)
    if (!f.success) throw new Error(JSON.stringify(f))
  }
  for (let i = 0; i < Number(process.env.PAY_WARM ?? 200); i++) await pay()
  return {
    root: entry,
    async round() {
      let st: ReturnType<typeof spawn> | undefined
      let out = ''
      if (process.env.STRACE) {
        st = spawn('strace', [...(process.env.STRACE_ARGS?.split(' ') ?? ['-c']), '-f', '-p', String(bridge.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
        st.stderr!.on('data', (d) => (out += d))
        await new Promise((r) => setTimeout(r, 1000))
      }
      const a = cpu(bridge.pid!)
      for (let i = 0; i < count; i++) await pay()
      const b = cpu(bridge.pid!)
      if (st) {
        st.kill('SIGINT')
        await new Promise((r) => st!.once('exit', r))
        console.log(out)
      }
      return { user: (b.user - a.user) / count, sys: (b.sys - a.sys) / count }
    },
    threads() {
      const { readdirSync } = require('node:fs') as typeof import('node:fs')
      return readdirSync(`/proc/${bridge.pid}/task`).map((t) => {
        const st = readFileSync(`/proc/${bridge.pid}/task/${t}/stat`, 'utf8')
        const name = st.slice(st.indexOf('(') + 1, st.indexOf(')'))
        const f = st.split(') ')[1]!.split(' ')
        return `${name}:${(Number(f[11]) + Number(f[12])) * 10}`
      }).join(' ')
    },
    async close() {
      await client.close()
      bridge.kill('SIGTERM')
      await new Promise((r) => bridge.once('exit', r))
      sim.kill('SIGTERM')
      await pty.close()
    },
  }
}

const rigs = []
for (const r of roots) rigs.push(await rig(r))
if (process.env.THREADS) for (const r of rigs) console.log('before rounds', r.root, r.threads())
const results = new Map<string, Array<{ user: number; sys: number }>>(roots.map((r) => [r, []]))
for (let i = 0; i < rounds; i++) for (const r of rigs) results.get(r.root)!.push(await r.round())
if (process.env.THREADS) for (const r of rigs) console.log(r.root, r.threads())
for (const r of rigs) await r.close()
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
for (const [root, rs] of results) {
  const tot = rs.map((x) => x.user + x.sys)
  console.log(`${root}: total median ${med(tot).toFixed(2)} ms (user ${med(rs.map((x) => x.user)).toFixed(2)}, sys ${med(rs.map((x) => x.sys)).toFixed(2)}) rounds ${tot.map((x) => x.toFixed(2)).join(' ')}`)
}
process.exit(0)
