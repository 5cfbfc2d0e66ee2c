/**
 * End-to-end plumbing: a bridge server on 127.0.0.1:0 with the virtual pinpad, a WebSocket
 * client that speaks the `/ws` protocol, a recorder of what the virtual pinpad received and
 * answered (decoded with the ABECS command layouts), and a plain HTTP acquirer for tests that
 * point `apiUrl` somewhere else.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import WebSocket from 'ws'
import { createBridgeServer, WS_SUBPROTOCOL, type BridgeServer, type ServerOptions } from '../../src/server/app.js'
import { silentLogger } from '../../src/log.js'
import { commandSpec } from '../../src/abecs/commands/index.js'
import { decodeCommand, decodeResponse } from '../../src/abecs/packet.js'
import type { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import type { PinpadLinkEvent } from '../../src/simulator/pinpad-link.js'
import type { RuntimeOptions } from '../../src/bridge/runtime.js'
import type { TestCard } from '../../src/simulator/cards.js'

export interface Teardown {
  teardown(fn: () => unknown): void
}

export const ENCRYPTION_KEY = 'ek_test_Qx7ZpR3vT9sLm2Wn8Kd4Ll23'

export function tempDir(t: Teardown, prefix = 'mpos-e2e-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Cardholder delays of the brief: the person acts 50 ms after the pinpad asks. */
export const QUICK_CARDHOLDER = { presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 }

export async function startBridge(
  t: Teardown,
  options: { dataDir: string; apiUrl?: string; runtime?: Partial<RuntimeOptions> },
): Promise<BridgeServer> {
  const runtime: Partial<RuntimeOptions> = {
    ...options.runtime,
    simulator: { ...options.runtime?.simulator, cardholder: { ...QUICK_CARDHOLDER, ...options.runtime?.simulator?.cardholder } },
  }
  const serverOptions: ServerOptions = {
    host: '127.0.0.1',
    port: 0,
    dataDir: options.dataDir,
    simulator: true,
    discovery: false,
    logger: silentLogger,
    runtime,
    ...(options.apiUrl !== undefined ? { apiUrl: options.apiUrl } : {}),
  }
  const server = await createBridgeServer(serverOptions)
  t.teardown(() => server.close())
  return server
}

export function pinpadOf(server: BridgeServer): VirtualPinpad {
  const pad = server.runtime.virtualPinpads[0]
  if (!pad) throw new Error('the bridge has no virtual pinpad')
  return pad
}

export interface Reply {
  command: string
  context: string
  command_id?: string | number
  success: boolean
  response?: any
  error?: string
  code?: string
}

export interface WsClient {
  call(request: Record<string, unknown>): Promise<Reply>
  /** Pushed messages (those with an `event` field), in arrival order. */
  events: Array<Record<string, unknown>>
  close(): Promise<void>
}

/** A client like mpos-bridge-js: subprotocol "mpos-bridge", a command_id on every request. */
export async function connect(t: Teardown, server: BridgeServer): Promise<WsClient> {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`, WS_SUBPROTOCOL)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const pending = new Map<number, (m: Reply) => void>()
  const events: Array<Record<string, unknown>> = []
  let seq = 0
  ws.on('message', (raw) => {
    const message = JSON.parse(raw.toString()) as Record<string, unknown>
    if ('event' in message) {
      events.push(message)
      return
    }
    const id = message.command_id as number
    const resolve = pending.get(id)
    pending.delete(id)
    resolve?.(message as unknown as Reply)
  })
  const close = () =>
    new Promise<void>((resolve) => {
      if (ws.readyState === ws.CLOSED) return resolve()
      ws.once('close', () => resolve())
      ws.close()
    })
  t.teardown(close)
  return {
    events,
    close,
    call: (request) =>
      new Promise<Reply>((resolve, reject) => {
        const id = ++seq
        pending.set(id, resolve)
        ws.send(JSON.stringify({ ...request, command_id: id }), (err) => {
          if (err) reject(err)
        })
      }),
  }
}

/** One command as the virtual pinpad received it, and its answer. */
export interface Exchange {
  id: string
  /** The request decoded with the command's layout (undefined when it did not decode). */
  request: any
  /** RSP_STAT of the answer (undefined when the command was aborted without one). */
  status?: number
  response?: any
}

/**
 * Records every command packet the virtual pinpad processes, decoded, with its response. It
 * wraps the pinpad's `handle`, which its link calls for each packet it ACKed (§6.2.2).
 */
export function recordPinpad(pad: VirtualPinpad): { exchanges: Exchange[]; ids(): string[]; find(id: string): Exchange[]; clear(): void; stop(): void } {
  const exchanges: Exchange[] = []
  const original = pad.handle
  pad.handle = async (data, ctx) => {
    const id = data.subarray(0, 3).toString('latin1')
    const spec = commandSpec(id)
    let request: unknown
    try {
      request = spec?.decodeRequest(decodeCommand(data).blocks)
    } catch {
      request = undefined
    }
    const entry: Exchange = { id, request }
    exchanges.push(entry)
    const answer = await original.call(pad, data, ctx)
    if (answer) {
      const packet = decodeResponse(answer)
      entry.status = packet.status
      try {
        entry.response = packet.id === id ? spec?.decodeResponse(packet.blocks, request as never, packet.status) : undefined
      } catch {
        entry.response = undefined
      }
    }
    return answer
  }
  return {
    exchanges,
    ids: () => exchanges.map((e) => e.id),
    find: (id) => exchanges.filter((e) => e.id === id),
    clear: () => {
      exchanges.length = 0
    },
    stop: () => {
      pad.handle = original
    },
  }
}

/** The ids of the commands the pinpad's link reports receiving (its `command` events). */
export function linkCommands(pad: VirtualPinpad): { ids: string[]; stop(): void } {
  const ids: string[] = []
  const stop = pad.onLinkEvent((e: PinpadLinkEvent) => {
    if (e.type === 'command') ids.push(e.id)
  })
  return { ids, stop }
}

/** What the "shop server" does: POST the card hash and amount to the acquirer. */
export async function authorize(baseUrl: string, amount: number, cardHash: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${baseUrl}/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ amount, card_hash: cardHash }),
  })
  return { status: res.status, body: await res.json() }
}

export interface SeenRequest {
  method: string
  path: string
  query: URLSearchParams
  authorization: string | undefined
  status?: number
}

export interface HttpServer {
  /** `http://127.0.0.1:PORT` */
  origin: string
  port: number
  requests: SeenRequest[]
  close(): Promise<void>
}

/** A plain node:http server on 127.0.0.1:0 that records every request it answers. */
export async function startHttpServer(
  t: Teardown,
  handler: (req: IncomingMessage, res: ServerResponse, body: string, seen: SeenRequest) => void | Promise<void>,
): Promise<HttpServer> {
  const requests: SeenRequest[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const seen: SeenRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, authorization: req.headers.authorization }
    requests.push(seen)
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      res.on('finish', () => {
        seen.status = res.statusCode
      })
      Promise.resolve(handler(req, res, Buffer.concat(chunks).toString('utf8'), seen)).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: String(err) })
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }))
  t.teardown(close)
  return { origin: `http://127.0.0.1:${port}`, port, requests, close }
}

export function sendJson(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status)
    res.end()
    return
  }
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** The user part of a Basic Authorization header. */
export function basicUser(header: string | undefined): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? undefined : decoded.slice(0, colon)
}

export const basicHeader = (user: string, password = 'x') => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** "SILVA/ANA" → "ANA SILVA". */
export const firstLast = (holder: string) => holder.trim().split('/').reverse().join(' ')

/**
 * The card fields a card hash must hold for a catalogue card, in the original's order
 * (docs/acquirer.md), computed from the card itself: everything but the EMV data and PIN fields.
 */
export function expectedFields(card: TestCard, magstripeMethod?: 'credit_card' | 'debit_card'): Record<string, string> {
  const swiped = card.interface === 'magstripe'
  // A swipe, or a contactless card simulating a stripe (card type 05): tracks, no chip data.
  const tracks = swiped || card.interface === 'contactless-magstripe'
  const yymm = card.expiry.slice(0, 4)
  return {
    capture_method: tracks ? 'magstripe' : 'emv',
    // A swiped card says nothing of credit or debit: the request does. Otherwise the application type.
    payment_method: swiped ? (magstripeMethod ?? 'credit_card') : card.paymentMethod,
    card_number: card.pan,
    card_expiration_date: card.expiry.slice(2, 4) + card.expiry.slice(0, 2),
    card_sequence_number: String(tracks ? 0 : card.panSequenceNumber),
    card_track_2: `${card.pan}=${yymm}${card.serviceCode}${card.track2Discretionary}`,
    ...(tracks ? { card_track_1: `B${card.pan}^${card.holderName}^${yymm}${card.serviceCode}${card.track1Discretionary}` } : {}),
    card_holder_name: firstLast(card.holderName),
  }
}
