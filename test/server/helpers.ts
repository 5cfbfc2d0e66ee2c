/**
 * Shared rig of the `/ws` end-to-end tests: an in-process bridge (two virtual pinpads, fast
 * cardholder, embedded sandbox acquirer) and a WebSocket client that keeps every message it gets.
 *
 * Given a ManualClock (`startBridge(t, { clock })`), the whole bridge runs on it, auto-advancing:
 * its acquirer requests and table files hold the clock (test/helpers/held-io.ts), and so does
 * every WebSocket message in flight, each way, for the clients opened with `{ clock }` — from the
 * client's send until the server's socket emits it, from the server's send until the client gets
 * it. Over the wire a message then takes no time on the clock; the waits are `rig.until` and the
 * client's own, on the clock. HTTP requests of the test itself: `rig.clock.holdDuring(httpGet(…))`.
 */
import type { Test } from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import http from 'node:http'
import { Writable } from 'node:stream'
import pino from 'pino'
import WebSocket from 'ws'
import type { IncomingMessage } from 'node:http'
import { createBridgeServer, type BridgeServer, type ServerOptions } from '../../src/server/app.js'
import { createLogger, silentLogger, type Logger } from '../../src/log.js'
import type { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import type { PinpadLinkEvent } from '../../src/simulator/pinpad-link.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { heldRuntime } from '../helpers/held-io.js'

export const EK = 'ek_test_msSNokas032mAsdkmnklsspa4AdjzmcALl23'
/** How long a test waits for something before failing (a hang guard, not a timing assertion). */
export const WAIT_MS = 30_000

export interface Rig {
  server: BridgeServer
  dataDir: string
  /** ws://127.0.0.1:PORT/ws */
  wsUrl: string
  /** http://127.0.0.1:PORT */
  httpUrl: string
  port: number
  pinpads: VirtualPinpad[]
  /** The bridge's clock when the rig was given a ManualClock (auto-advancing from then on). */
  clock?: ManualClock
  /** Resolves once `check` holds: on the clock if there is one, else polled in real time. */
  until(check: () => boolean, what: string): Promise<void>
}

/**
 * The messages of one WebSocket connection in flight, each way, as the holds they keep on the
 * clock; keyed by the client's local port, which is the server socket's remote port.
 */
interface Transit {
  up: Array<() => void>
  down: Array<() => void>
  /** The client closed its end: until the server's socket closes too. */
  closing: Array<() => void>
  serverClosed: boolean
}
const transits = new Map<number, Transit>()
const transitAt = (port: number): Transit => {
  let transit = transits.get(port)
  if (!transit) transits.set(port, (transit = { up: [], down: [], closing: [], serverClosed: false }))
  return transit
}
const releaseAll = (holds: Array<() => void>) => {
  for (const release of holds.splice(0)) release()
}

export async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mpos-bridge-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export async function startBridge(t: Test, options: Partial<ServerOptions> = {}): Promise<Rig> {
  const dataDir = options.dataDir ?? (await tempDir(t))
  const clock = options.clock instanceof ManualClock ? options.clock : undefined
  const stopClock = clock?.autoAdvance()
  const server = await createBridgeServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    simulator: true,
    discovery: false,
    logger: silentLogger,
    ...options,
    runtime: {
      simulator: { cardholder: { presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 }, timings: { noCardTimeoutMs: 300 } },
      virtualPinpads: 2,
      ...(clock ? heldRuntime(clock, dataDir) : {}),
      ...options.runtime,
    },
  })
  if (clock) {
    server.app.websocketServer.on('connection', (socket: WebSocket, req: IncomingMessage) => {
      const port = req.socket.remotePort!
      const transit = transitAt(port)
      // Emitted to every listener at once, connection.ts's among them: handled by the time it is released.
      socket.on('message', () => transit.up.shift()?.())
      const send = socket.send.bind(socket) as (...args: unknown[]) => void
      socket.send = ((...args: unknown[]) => {
        if (socket.readyState === WebSocket.OPEN) transit.down.push(clock.hold())
        send(...args)
      }) as typeof socket.send
      socket.on('close', () => {
        transit.serverClosed = true
        releaseAll(transit.up)
        releaseAll(transit.closing)
      })
    })
  }
  t.teardown(async () => {
    await server.close()
    stopClock?.()
  })
  const port = Number(new URL(server.url).port)
  return {
    server,
    dataDir,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    port,
    pinpads: server.runtime.virtualPinpads,
    ...(clock ? { clock } : {}),
    until: (check, what) => (clock ? clock.waitFor(check, what) : until(check, what)),
  }
}

export type Message = Record<string, any>

/** A WebSocket client that records every message, and waits for the ones a test expects. */
/** command_ids are unique across the clients of a test file: the journal replays a command_id it has seen in a context. */
let commandSeq = 0

export class Client {
  readonly messages: Message[] = []
  /** The text of every message, as received (for "never the card number" checks). */
  readonly raw: string[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  #waiters = new Set<() => void>()
  /** On a clock: the messages in flight hold it (see startBridge). */
  #transit: Transit | undefined
  #clock: ManualClock | undefined

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? `<binary ${(data as Buffer).length}>` : data.toString()
      this.raw.push(text)
      try {
        this.messages.push(JSON.parse(text))
      } catch {
        this.messages.push({ unparsable: text })
      }
      for (const w of this.#waiters) w()
      this.#transit?.down.shift()?.()
    })
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    ws.on('close', () => {
      if (!this.#transit) return
      releaseAll(this.#transit.up)
      releaseAll(this.#transit.down)
    })
    ws.on('error', () => {})
  }

  /** `clock`: the bridge's ManualClock (`rig.clock`): messages in flight hold it, waits are on it. */
  static async open(t: Test, url: string, options: { protocol?: string | string[]; headers?: Record<string, string>; clock?: ManualClock; ca?: string } = {}): Promise<Client> {
    // `ca`: the CA a wss:// client trusts (instead of the system's).
    const wsOptions = { headers: options.headers ?? {}, ...(options.ca ? { ca: options.ca } : {}) }
    const ws = options.protocol === undefined ? new WebSocket(url, wsOptions) : new WebSocket(url, options.protocol, wsOptions)
    const client = new Client(ws)
    t.teardown(() => client.terminate())
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode })))
    })
    if (options.clock) {
      const port = (ws as unknown as { _socket: { localPort: number } })._socket.localPort
      client.#clock = options.clock
      client.#transit = transitAt(port)
      ws.once('close', () => transits.delete(port))
    }
    return client
  }

  /** Sends, the message holding the clock until the server's socket has it. */
  #send(data: string | Buffer, options: { binary?: boolean } = {}): void {
    if (this.#transit && this.open) this.#transit.up.push(this.#clock!.hold())
    this.ws.send(data, options)
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  terminate(): void {
    if (this.ws.readyState === WebSocket.CLOSED) return
    // On a clock: held until the server has seen the connection go.
    if (this.#transit && !this.#transit.serverClosed) this.#transit.closing.push(this.#clock!.hold())
    this.ws.terminate()
  }

  /** Sends text as is. */
  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.#send(data, { binary: options.binary ?? typeof data !== 'string' })
  }

  /** Waits for the first message from index `from` on that matches. */
  async next(match: (m: Message) => boolean, from = 0, what = 'a message'): Promise<Message> {
    if (this.#clock) {
      let found: Message | undefined
      await this.#clock.waitFor(() => (found = this.messages.slice(from).find(match)) !== undefined, what).catch((err: Error) => {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(from)).slice(0, 2000)} (${err.message})`)
      })
      return found!
    }
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const found = this.messages.slice(from).find(match)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(from)).slice(0, 2000)}`)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          this.#waiters.delete(done)
          resolve()
        }
        const timer = setTimeout(done, 200)
        this.#waiters.add(done)
      })
    }
  }

  /** The reply (a message without `event`) to `command` arriving after index `from`. */
  reply(command: string, from = 0, commandId?: string | number): Promise<Message> {
    return this.next(
      (m) => m.event === undefined && m.command === command && (commandId === undefined || m.command_id === commandId),
      from,
      `the reply to ${command}`,
    )
  }

  /** Sends a request and waits for its reply (matched by an added command_id unless one is given). */
  async request(request: Message): Promise<Message> {
    const withId = 'command_id' in request ? request : { ...request, command_id: `t${++commandSeq}` }
    const from = this.messages.length
    this.#send(JSON.stringify(withId))
    return this.reply(String(request.command), from, withId.command_id)
  }

  /** Sends text verbatim and waits for the next reply (any non-event message). */
  async exchange(text: string): Promise<Message> {
    const from = this.messages.length
    this.#send(text)
    return this.next((m) => m.event === undefined, from, `the answer to ${text.slice(0, 60)}`)
  }

  events(name?: string, from = 0): Message[] {
    return this.messages.slice(from).filter((m) => m.event !== undefined && (name === undefined || m.event === name))
  }
}

/** A handshake that is expected to fail: the HTTP status the server answered. */
export async function handshakeStatus(url: string, options: { protocol?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const ws = options.protocol ? new WebSocket(url, options.protocol, { headers: options.headers ?? {} }) : new WebSocket(url, { headers: options.headers ?? {} })
  ws.on('error', () => {})
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate()
      resolve({ status: 101, body: '' })
    })
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
  })
}

/** A plain HTTP GET with any headers (fetch forbids setting Host). */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
  })
}

/** Any HTTP request with any headers and a raw body (fetch forbids setting Host and Origin). */
export function httpRequest(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}), ...options.headers }
    const req = http.request(url, { method, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Records every link event of a virtual pinpad (commands received, EOT sent on CAN…). */
export function recordLink(pinpad: VirtualPinpad): PinpadLinkEvent[] {
  const events: PinpadLinkEvent[] = []
  pinpad.onLinkEvent((e) => events.push(e))
  return events
}

/** Polls until `check` returns true. */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A logger (createLogger's: redaction, and the log capture when on) whose JSON lines land in an array. */
export function memoryLogger(level: pino.LevelWithSilent = 'info'): { logger: Logger; lines: () => Message[] } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString())
      cb()
    },
  })
  const logger = createLogger({ level, destination: stream })
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Message),
  }
}

/** The idle screen the bridge puts on a pinpad (DSP "MPOS BRIDGE PRONTO", centred). */
export const IDLE_LINES = ['MPOS BRIDGE', 'PRONTO']
export const screenText = (pinpad: VirtualPinpad): string[] => pinpad.display.screen.lines.map((l) => l.trim())
