/**
 * What bench/run.ts and bench/soak.ts share: an in-process bridge, a WebSocket client for the
 * /ws protocol, a forced GC, percentiles and number formatting. Bench code does not import from
 * test/: the benchmarks run from a checkout without the test rig.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { createBridgeServer, type BridgeServer } from '../src/server/app.js'
import type { RuntimeOptions } from '../src/bridge/runtime.js'
import { silentLogger } from '../src/log.js'

export const now = () => process.hrtime.bigint()
/** Epoch ms with sub-millisecond precision (Date.now() truncates to the ms: comparable with socat's µs). */
export const epochNow = () => performance.timeOrigin + performance.now()
export const seconds = (ns: bigint) => Number(ns) / 1e9
export const millis = (ns: bigint) => Number(ns) / 1e6

export const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** Nearest-rank percentile of an ascending array. */
export const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

/**
 * The engine's gc(): the global one under `node --expose-gc`, else obtained through
 * `v8.setFlagsFromString` (so `tsx bench/run.ts` works without the flag).
 */
const gcFunction: () => void =
  typeof globalThis.gc === 'function'
    ? globalThis.gc
    : (() => {
        setFlagsFromString('--expose-gc')
        return runInNewContext('gc') as () => void
      })()
export const gcExposedByFlag = typeof globalThis.gc === 'function'

/** A full GC, twice, with a turn of the event loop between (weak callbacks, finalizers). */
export async function forceGc(): Promise<void> {
  gcFunction()
  await new Promise((r) => setImmediate(r))
  gcFunction()
}
/** A full GC, synchronous (where awaiting would disturb what is measured). */
export const gcNow = gcFunction

export interface BenchBridge {
  server: BridgeServer
  url: string
  close(): Promise<void>
}

/** The bridge in this process: virtual pinpad, embedded sandbox, silent logs, a throw-away data dir. */
export async function startBenchBridge(runtime: Partial<RuntimeOptions> = {}): Promise<BenchBridge> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mpos-bench-'))
  const server = await createBridgeServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    simulator: true,
    discovery: false,
    logger: silentLogger,
    runtime,
    // The figures are the bridge's costs: the per-connection rate limit (50/s) would be what is measured.
    limits: { messagesPerSecond: 1e9, burst: 1e9 },
  })
  return {
    server,
    url: `${server.url.replace(/^http/, 'ws')}/ws`,
    close: async () => {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export type Answer = Record<string, any>

export interface Client {
  /**
   * Sends a request with a fresh command_id (or `commandId`; null: none, matched by order);
   * its answer, or a rejection after `timeoutMs`.
   */
  call(request: Record<string, unknown>, timeoutMs?: number, commandId?: string | null): Promise<Answer>
  /** Pushed events received so far. */
  readonly events: number
  /** Socket errors seen (after the handshake). */
  readonly errors: string[]
  /** When the last answer (not a pushed event) arrived, before it was parsed (epochNow()). */
  readonly receivedAt: number
  /** When the last request was handed to the socket (epochNow()). */
  readonly sentAt: number
  close(): Promise<void>
  terminate(): void
}

export class CallTimeoutError extends Error {
  readonly code = 'BENCH_TIMEOUT'
}

/** command_ids are unique across the clients of a run: the journal replays one it has seen in a context. */
let commandSeq = 0

/** Opens a WebSocket to /ws (subprotocol mpos-bridge) and matches answers to requests by command_id. */
export async function wsClient(url: string): Promise<Client> {
  const ws = new WebSocket(url, 'mpos-bridge')
  const errors: string[] = []
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)))
  })
  ws.on('error', (err) => errors.push(err.message))
  const pending = new Map<unknown, (m: Answer) => void>()
  /** Requests sent without a command_id, answered in order. */
  const unnamed: Array<(m: Answer) => void> = []
  let events = 0
  let receivedAt = 0
  let sentAt = 0
  ws.on('message', (raw) => {
    const at = epochNow()
    const m = JSON.parse(raw.toString()) as Answer
    if (m.event === undefined) receivedAt = at
    if (m.event !== undefined) {
      events++
      return
    }
    if (m.command_id === undefined) return unnamed.shift()?.(m)
    pending.get(m.command_id)?.(m)
    pending.delete(m.command_id)
  })
  ws.on('close', () => {
    for (const [id, resolve] of pending) resolve({ success: false, code: 'BENCH_SOCKET_CLOSED', error: `the socket closed before answer ${id}` })
    pending.clear()
  })
  return {
    call: (request, timeoutMs = 30_000, commandId?: string | null) =>
      new Promise((resolve, reject) => {
        const id = commandId === undefined ? ++commandSeq : commandId
        const timer = setTimeout(() => {
          if (id !== null) pending.delete(id)
          reject(new CallTimeoutError(`${String(request.command)} unanswered after ${timeoutMs} ms`))
        }, timeoutMs)
        const settle = (m: Answer) => {
          clearTimeout(timer)
          resolve(m)
        }
        if (id === null) unnamed.push(settle)
        else pending.set(id, settle)
        ws.send(JSON.stringify(id === null ? request : { ...request, command_id: id }))
        sentAt = epochNow()
      }),
    get receivedAt() {
      return receivedAt
    },
    get sentAt() {
      return sentAt
    },
    get events() {
      return events
    },
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve()
        ws.once('close', () => resolve())
        ws.close()
      }),
    terminate: () => ws.terminate(),
  }
}
