/**
 * `status` load for bench/figures.ts, the same for the bridge and the bare `ws` echo (which sends
 * each message back, command_id and all): sequential round trips on one connection, and an
 * open-loop rate spread over many connections with each request's latency.
 */
import WebSocket from 'ws'
import { percentile } from './lib.js'

const now = () => performance.now()

export interface Conn {
  ws: WebSocket
  /** Resolves with the answer's arrival time for a command_id. */
  waiting: Map<number, (at: number) => void>
}

let seq = 0

export async function connect(url: string): Promise<Conn> {
  const ws = new WebSocket(url, 'mpos-bridge')
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const conn: Conn = { ws, waiting: new Map() }
  ws.on('message', (raw) => {
    const at = now()
    const id = (JSON.parse(String(raw)) as { command_id?: number }).command_id
    if (id === undefined) return
    conn.waiting.get(id)?.(at)
    conn.waiting.delete(id)
  })
  // The first status names the context and attaches the connection (the bridge's actors' path).
  await ask(conn)
  return conn
}

export function ask(conn: Conn): Promise<number> {
  const id = ++seq
  const sent = now()
  return new Promise((resolve) => {
    conn.waiting.set(id, (at) => resolve(at - sent))
    conn.ws.send(`{"command":"status","command_id":${id}}`)
  })
}

export async function closeAll(conns: Conn[]): Promise<void> {
  await Promise.all(
    conns.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve()
          c.ws.once('close', () => resolve())
          c.ws.close()
        }),
    ),
  )
}

/** `count` sequential round trips: the latencies in µs. */
export async function roundTrips(conn: Conn, count: number): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < count; i++) out.push((await ask(conn)) * 1000)
  return out
}

/**
 * Open loop: `rate` requests per second for `ms`, round-robin over `conns`, sent on a 1 ms tick
 * whatever the answers do. The achieved rate and the latency percentiles (ms); requests still
 * unanswered 1 s after the end count as 1 s.
 */
export async function openLoop(conns: Conn[], rate: number, ms: number): Promise<{ achieved: number; p50: number; p99: number }> {
  const latencies: number[] = []
  const pending: Array<Promise<void>> = []
  const start = now()
  let sent = 0
  let next = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = now() - start
      const due = Math.min(Math.floor((elapsed / 1000) * rate), Math.floor((ms / 1000) * rate))
      while (sent < due) {
        const conn = conns[next++ % conns.length]!
        pending.push(ask(conn).then((l) => void latencies.push(l)))
        sent++
      }
      if (elapsed >= ms) return resolve()
      setTimeout(tick, 1)
    }
    tick()
  })
  const lastSent = now()
  await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 1000))])
  while (latencies.length < sent) latencies.push(1000)
  latencies.sort((a, b) => a - b)
  for (const c of conns) c.waiting.clear()
  return { achieved: sent / ((lastSent - start) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
}

/**
 * The highest rate (a ladder of ×1.25 steps from `from`) whose p99 stays under `p99Ms` and that
 * the client actually reached (≥ 95 %).
 */
export async function maxRate(conns: Conn[], stepMs: number, p99Ms = 5, from = 1000, upTo = 60_000): Promise<{ rate: number; steps: Array<{ rate: number; p99: number; achieved: number }> }> {
  const steps: Array<{ rate: number; p99: number; achieved: number }> = []
  let best = 0
  // Warm-up at the first rate, not counted: the JIT and the first GCs of both ends.
  await openLoop(conns, from, Math.max(1000, stepMs))
  await new Promise((resolve) => setTimeout(resolve, 200))
  for (let rate = from; rate <= upTo; rate = Math.round(rate * 1.25)) {
    const r = await openLoop(conns, rate, stepMs)
    steps.push({ rate, p99: r.p99, achieved: r.achieved })
    if (r.p99 >= p99Ms || r.achieved < rate * 0.95) break
    best = rate
    // A short pause: what one step left queued does not count against the next.
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return { rate: best, steps }
}
