/**
 * The server processes `npm run bench` (bench/figures.ts) measures: the bridge (compiled, dist/)
 * and its baselines (bench/servers/*.mjs), each in its own process, with their CPU time and memory
 * read from the outside (/proc) or asked for (SIGUSR2: a full GC, then process.memoryUsage()).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLOCK_TICK_MS = 1000 / 100 // USER_HZ: /proc reports CPU time in 1/100 s on Linux

export type ServerKind = 'bridge' | 'echo' | 'fastify' | 'floor'

const SCRIPTS: Record<ServerKind, string> = {
  bridge: 'bench/servers/bridge.mjs',
  echo: 'bench/servers/ws-echo.mjs',
  fastify: 'bench/servers/fastify-app.mjs',
  floor: 'bench/servers/payment-floor.mjs',
}

export interface ServerProcess {
  kind: ServerKind
  child: ChildProcess
  port: number
  /** ws://…/ws */
  wsUrl: string
  /** User + system CPU time of the process so far, in ms (10 ms resolution). */
  cpuMs(): number
  rssBytes(): number
  /** After a full GC: process.memoryUsage() of the server. */
  memory(): Promise<NodeJS.MemoryUsage>
  stop(): Promise<void>
}

export function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS
}

export function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
}

export const tempDataDir = () => mkdtempSync(path.join(tmpdir(), 'mpos-bench-'))

/** Starts a server process (`args` after its script) and waits for its {"port":N} line. */
export async function startServer(kind: ServerKind, args: string[] = []): Promise<ServerProcess> {
  const dataDir = (kind === 'bridge' || kind === 'floor') && !args.includes('--data-dir') ? tempDataDir() : undefined
  // BENCH_PROFILE_DIR=dir: each server writes a CPU profile there when it stops (where the time goes).
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []
  // BENCH_NODE_ARGS="--flag …": node/V8 flags for the bridge's process (A/B of V8 settings).
  const nodeArgs = kind === 'bridge' && process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []
  const child = spawn(process.execPath, ['--expose-gc', ...profile, ...nodeArgs, SCRIPTS[kind], ...(dataDir ? ['--data-dir', dataDir] : []), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const lines: string[] = []
  const waiting: Array<(line: string) => void> = []
  let buffer = ''
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    buffer += text
    let nl: number
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      const w = waiting.shift()
      if (w) w(line)
      else lines.push(line)
    }
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const line = lines.shift()
      if (line !== undefined) return resolve(line)
      const timer = setTimeout(() => reject(new Error(`${kind}: no answer from the server process`)), 30_000)
      waiting.push((l) => {
        clearTimeout(timer)
        resolve(l)
      })
    })
  const { port } = JSON.parse(await next()) as { port: number }
  const pid = child.pid!
  return {
    kind,
    child,
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    cpuMs: () => cpuMsOf(pid),
    rssBytes: () => rssOf(pid),
    memory: async () => {
      child.kill('SIGUSR2')
      return JSON.parse(await next()) as NodeJS.MemoryUsage
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const force = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(force)
      }
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Spawns a command and resolves once GET `url` answers 200: ms from spawn, and the RSS then. */
export async function timeToReady(command: string[], url: string): Promise<{ ms: number; rss: number; child: ChildProcess }> {
  const started = performance.now()
  const child = spawn(process.execPath, command, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-2000)))
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited ${child.exitCode} before it was ready: ${stderr}`)
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.status === 200) break
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5))
  }
  const ms = performance.now() - started
  return { ms, rss: rssOf(child.pid!), child }
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const force = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(force)
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
