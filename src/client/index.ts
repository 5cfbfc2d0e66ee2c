/**
 * `mpos-bridge/client`: the bridge's `/ws` protocol as a typed promise API, for browser pages and
 * Node. One self-contained file with no imports, so its build is a single ES module the bridge
 * serves at /client.js (longer than the project's usual file for that reason).
 *
 * Each call gets a fresh `command_id` (unless given one) and resolves with the answer's `response`
 * as the bridge sends it, or rejects with a {@link BridgeError}. When the connection drops it
 * reconnects with backoff, re-attaches to its context and asks the journal (`get_result`) what
 * became of every journaled command that was in flight: a payment is never sent again blindly.
 *
 * The client's own error codes mirror src/errors.ts (the catalog; test/architecture.test.ts
 * checks they are in it).
 */

export type CommandId = string | number

/** What the client needs of a WebSocket: the browser's, Node 22's global one, or `ws`'s. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: string, listener: (event: any) => void): void
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

export interface ReconnectOptions {
  /** First delay before reconnecting (ms, default 250); it doubles up to `maxDelay`, with jitter. */
  initialDelay?: number
  /** Longest delay between attempts (ms, default 5000). */
  maxDelay?: number
  /** Attempts before giving up (default: no limit). */
  maxAttempts?: number
}

export interface ConnectOptions {
  /** e.g. `ws://127.0.0.1:2000/ws` */
  url: string
  /** The context (till) every call names; `default` when absent. */
  context?: string
  /** A WebSocket implementation where there is no global one (Node 20: `import WebSocket from 'ws'`). */
  WebSocket?: WebSocketConstructor
  /** Reconnect when the connection drops (default true). */
  reconnect?: boolean | ReconnectOptions
  /** A pairing token: sent (`authenticate`) first on every connection and reconnection. */
  token?: string
  /** Default per-call timeout (ms, default 30000); customer-facing calls default to their own timeout + 30 s. */
  timeout?: number
}

export interface CallOptions {
  /** Reject with `MPOS_ERR_CLIENT_TIMEOUT` after this long (ms; 0 = never). The bridge may still be working on it. */
  timeout?: number
  /** The request's `command_id` (default: a fresh one). */
  commandId?: CommandId
}

export interface Device {
  id: number
  name: string
  manufacturer: string
  kind?: 'virtual' | 'serial'
  path?: string
}
export interface AwaitingFinish {
  context: string
  command_id: CommandId
  amount: number
  at: string
}
export interface StatusResponse {
  status: 'idle' | 'initialized' | 'in_use'
  connected_device_id: number | null
  devices_available: number
  available_devices?: number
  device_state?: string | null
  running_command?: string | null
  last_error?: { code: string; message: string } | null
  awaiting_finish?: AwaitingFinish[]
  [field: string]: unknown
}
export interface PaymentResponse {
  status: 'accepted' | 'rejected' | 'errored' | 'canceled'
  card_hash?: string | null
  card_holder_name?: string | null
  payment_method?: 'credit_card' | 'debit_card' | null
  is_online_pin?: boolean
  error_code?: number
  error?: string
  error_type?: string
  [field: string]: unknown
}
export interface FinishResponse {
  approved: boolean
  card_declined?: boolean
  [field: string]: unknown
}
/** A recorded answer, as the bridge sent it (`replayed: true`). */
export interface Answer<R = unknown> {
  command: string
  context: string
  command_id?: CommandId
  success: boolean
  response?: R
  error?: string
  code?: string
  replayed?: boolean
  redacted?: boolean
}
export interface ResultResponse {
  target_command_id: CommandId
  state: 'running' | 'done' | 'interrupted' | 'unknown'
  command?: string
  answer?: Answer
}
export interface PairResponse {
  token: string
  origin: string
  [field: string]: unknown
}

export interface InitializeParams {
  encryptionKey: string
  deviceId?: number
  baudRate?: number
  simpleInitialize?: boolean
  timeoutMilliseconds?: number
}
export interface PaymentParams {
  amount: number
  applications?: Array<{ brand: string; payment_method: 'credit_card' | 'debit_card' }>
  magstripePaymentMethod?: 'credit_card' | 'debit_card'
  timeoutMilliseconds?: number
  commandId?: CommandId
}
export interface FinishParams {
  success: boolean
  responseCode?: string
  emvData?: string
}
export interface MenuParams {
  options: string[]
  title?: string
  timeoutMilliseconds?: number
}
export interface InputParams {
  prompt: string
  minDigits?: number
  maxDigits?: number
  timeoutMilliseconds?: number
}

export interface StatusEvent {
  event: 'status'
  context: string
  status: string
  device_state?: string | null
  running_command?: string | null
  [field: string]: unknown
}
export interface PinpadMessageEvent {
  event: 'pinpad_message'
  context: string
  message: string
  lines: string[]
}
export interface PaymentStatusEvent {
  event: 'payment_status'
  context: string
  status: PaymentResponse['status']
  result?: PaymentResponse
  command_id?: CommandId
}
export interface DeviceEvent {
  event: 'device_added' | 'device_removed'
  device: { id: number; name: string; manufacturer: string }
}
export interface ConnectionEvent {
  state: 'open' | 'reconnecting' | 'closed'
  /** reconnecting: the attempt about to be made (from 1) and the wait before it (ms). */
  attempt?: number
  delay?: number
  /** closed: why, when it was not `disconnect()`. */
  error?: BridgeError
}
export interface BridgeEvents {
  status: StatusEvent
  pinpad_message: PinpadMessageEvent
  payment_status: PaymentStatusEvent
  device_added: DeviceEvent
  device_removed: DeviceEvent
  connection: ConnectionEvent
}

/** A refused call: `code` is the bridge's (`MPOS_ERR_…`) or one of the client's own. */
export class BridgeError extends Error {
  override name = 'BridgeError'
  constructor(
    message: string,
    readonly code: string,
    readonly command?: string,
    readonly commandId?: CommandId,
    /** A response that came with the error, if any. */
    readonly response?: unknown,
  ) {
    super(message)
  }
}

/** The client's own codes (defined in the catalog, src/errors.ts). */
const CODES = {
  timeout: 'MPOS_ERR_CLIENT_TIMEOUT',
  failed: 'MPOS_ERR_CONNECTION_FAILED',
  lost: 'MPOS_ERR_CONNECTION_LOST',
  disconnected: 'MPOS_ERR_CLIENT_DISCONNECTED',
  reused: 'MPOS_ERR_COMMAND_ID_REUSED',
  interrupted: 'MPOS_ERR_COMMAND_INTERRUPTED',
} as const

/** Commands the journal records by command_id: recovered with get_result after a reconnect. */
const JOURNALED = new Set(['initialize', 'process_payment', 'finish_payment', 'cancel', 'close'])
/** Commands that only read: sent again after a reconnect. */
const READS = new Set(['status', 'list_devices', 'get_result'])
/** Commands where the customer acts: their default timeout follows their own. */
const CUSTOMER = new Set(['process_payment', 'finish_payment', 'pinpad_menu', 'pinpad_input', 'initialize'])
const OPEN = 1
const SUBPROTOCOL = 'mpos-bridge'

type Json = Record<string, unknown>
interface Pending {
  command: string
  commandId: CommandId
  request: Json
  resolve(value: any): void
  reject(error: BridgeError): void
  timer?: unknown
  /** Sent on a socket (in flight), not only queued. */
  sent: boolean
  /** The client's own request while (re)connecting: it dies with its socket. */
  direct?: boolean
}

type Timers = { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void }
const timers = globalThis as unknown as Timers

let sequence = 0
function freshId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (c?.randomUUID) return c.randomUUID()
  return `c${Date.now().toString(36)}-${(++sequence).toString(36)}-${Math.random().toString(36).slice(2, 10)}`
}
const keyOf = (id: CommandId) => JSON.stringify(id)
/** Optional fields: only those given travel. */
function fields(entries: Record<string, unknown>): Json {
  const out: Json = {}
  for (const [k, v] of Object.entries(entries)) if (v !== undefined) out[k] = v
  return out
}

export class Bridge {
  readonly context: string
  readonly #options: ConnectOptions
  readonly #WebSocket: WebSocketConstructor
  readonly #reconnect: Required<ReconnectOptions> | undefined
  readonly #pending = new Map<string, Pending>()
  readonly #queue: Pending[] = []
  readonly #listeners = new Map<string, Set<(payload: any) => void>>()
  #ws: WebSocketLike | undefined
  #state: 'connecting' | 'open' | 'reconnecting' | 'closed' = 'connecting'
  #token: string | undefined
  #attempt = 0
  #retry: unknown
  #everOpened = false

  /** Use {@link connect}. */
  constructor(options: ConnectOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (!WS) throw new TypeError('No WebSocket implementation: pass connect({ WebSocket }) (on Node 20: import WebSocket from "ws")')
    this.#WebSocket = WS
    this.#options = options
    this.context = options.context ?? 'default'
    this.#token = options.token
    const r = options.reconnect ?? true
    this.#reconnect = r === false ? undefined : { initialDelay: 250, maxDelay: 5000, maxAttempts: Infinity, ...(r === true ? {} : r) }
  }

  /** Opens the first connection (no retry: a refused handshake is a configuration error). */
  async open(): Promise<this> {
    await this.#openSocket()
    return this
  }

  get state(): 'connecting' | 'open' | 'reconnecting' | 'closed' {
    return this.#state
  }

  on<E extends keyof BridgeEvents>(event: E, fn: (payload: BridgeEvents[E]) => void): this {
    let set = this.#listeners.get(event)
    if (!set) this.#listeners.set(event, (set = new Set()))
    set.add(fn)
    return this
  }

  off<E extends keyof BridgeEvents>(event: E, fn: (payload: BridgeEvents[E]) => void): this {
    this.#listeners.get(event)?.delete(fn)
    return this
  }

  listDevices(options?: CallOptions): Promise<Device[]> {
    return this.#call('list_devices', {}, options)
  }

  initialize(params: InitializeParams, options?: CallOptions): Promise<void> {
    const p = fields({ encryption_key: params.encryptionKey, device_id: params.deviceId, baud_rate: params.baudRate, simple_initialize: params.simpleInitialize, timeout_milliseconds: params.timeoutMilliseconds })
    return this.#call('initialize', p, options)
  }

  status(options?: CallOptions): Promise<StatusResponse> {
    return this.#call('status', {}, options)
  }

  displayMessage(text: string, options?: CallOptions): Promise<void> {
    return this.#call('display_message', { message: text }, options)
  }

  processPayment(params: PaymentParams, options?: CallOptions): Promise<PaymentResponse> {
    const p = fields({ amount: params.amount, applications: params.applications, magstripe_payment_method: params.magstripePaymentMethod, timeout_milliseconds: params.timeoutMilliseconds })
    return this.#call('process_payment', p, { ...options, ...(params.commandId !== undefined ? { commandId: params.commandId } : {}) })
  }

  finishPayment(params: FinishParams, options?: CallOptions): Promise<FinishResponse> {
    return this.#call('finish_payment', fields({ success: params.success, response_code: params.responseCode, emv_data: params.emvData }), options)
  }

  cancel(options?: CallOptions): Promise<void> {
    return this.#call('cancel', {}, options)
  }

  /** What the journal knows of a command_id in this context (from any connection, also after a restart). */
  getResult(commandId: CommandId, options?: CallOptions): Promise<ResultResponse> {
    return this.#call('get_result', { target_command_id: commandId }, options)
  }

  /** The `close` command: the pinpad gets CLO, the context ends. The connection stays open. */
  close(options?: CallOptions): Promise<void> {
    return this.#call('close', {}, options)
  }

  pinpadMenu(params: MenuParams, options?: CallOptions): Promise<{ index: number; option: string }> {
    return this.#call('pinpad_menu', fields({ options: params.options, title: params.title, timeout_milliseconds: params.timeoutMilliseconds }), options)
  }

  pinpadInput(params: InputParams, options?: CallOptions): Promise<{ value: string }> {
    const p = fields({ prompt: params.prompt, min_digits: params.minDigits, max_digits: params.maxDigits, timeout_milliseconds: params.timeoutMilliseconds })
    return this.#call('pinpad_input', p, options)
  }

  /** Pairs with a one-time code; the token it returns is sent first on every reconnection. */
  async pair(code: string, options?: CallOptions): Promise<PairResponse> {
    const response = await this.#call<PairResponse>('pair', { code }, options)
    if (typeof response?.token === 'string') this.#token = response.token
    return response
  }

  /** Authenticates this connection; the token is sent again first on every reconnection. */
  async authenticate(token: string, options?: CallOptions): Promise<unknown> {
    const response = await this.#call('authenticate', { token }, options)
    this.#token = token
    return response
  }

  /** Closes the connection for good: no reconnection; calls still waiting reject. */
  disconnect(): void {
    if (this.#state === 'closed') return
    this.#shutdown(new BridgeError('disconnect() was called', CODES.disconnected), false)
  }

  #emit(event: string, payload: unknown): void {
    for (const fn of [...(this.#listeners.get(event) ?? [])]) {
      try {
        fn(payload)
      } catch (err) {
        // A listener's fault is the page's, not the connection's.
        timers.setTimeout(() => {
          throw err
        }, 0)
      }
    }
  }

  #call<R>(command: string, body: Json, options: CallOptions = {}): Promise<R> {
    const commandId = options.commandId ?? freshId()
    const request: Json = { command, context: this.context, command_id: commandId, ...body }
    return new Promise<R>((resolve, reject) => {
      if (this.#state === 'closed') return reject(new BridgeError('the client is disconnected', CODES.disconnected, command, commandId))
      const key = keyOf(commandId)
      if (this.#pending.has(key)) return reject(new BridgeError(`command_id ${key} is already waiting for its answer on this client`, CODES.reused, command, commandId))
      const pending: Pending = { command, commandId, request, resolve, reject, sent: false }
      const own = typeof body.timeout_milliseconds === 'number' ? body.timeout_milliseconds + 30_000 : 120_000
      const timeout = options.timeout ?? (CUSTOMER.has(command) ? own : this.#options.timeout ?? 30_000)
      if (timeout > 0) {
        pending.timer = timers.setTimeout(() => {
          if (this.#pending.get(key) !== pending) return
          this.#forget(pending)
          reject(new BridgeError(`no answer to ${command} within ${timeout} ms (the bridge may still be working on it: getResult(${key}))`, CODES.timeout, command, commandId))
        }, timeout)
      }
      this.#pending.set(key, pending)
      if (this.#state === 'open') this.#send(pending)
      else this.#queue.push(pending)
    })
  }

  #send(pending: Pending): void {
    pending.sent = true
    this.#ws!.send(JSON.stringify(pending.request))
  }

  #forget(pending: Pending): void {
    this.#pending.delete(keyOf(pending.commandId))
    const q = this.#queue.indexOf(pending)
    if (q >= 0) this.#queue.splice(q, 1)
    if (pending.timer !== undefined) timers.clearTimeout(pending.timer)
  }

  #settle(pending: Pending, answer: Answer): void {
    this.#forget(pending)
    if (answer.success) pending.resolve(answer.response)
    else pending.reject(new BridgeError(answer.error ?? `${pending.command} failed`, answer.code ?? 'MPOS_ERR_INTERNAL', pending.command, pending.commandId, answer.response))
  }

  /** A request on the current socket before the queue opens (authenticate, attach, recovery). */
  #direct<R>(ws: WebSocketLike, command: string, body: Json): Promise<Answer<R>> {
    const commandId = freshId()
    return new Promise((resolve, reject) => {
      // The whole answer, not just its response: recovery needs success and code.
      const pending: Pending = {
        command,
        commandId,
        request: { command, context: this.context, command_id: commandId, ...body },
        resolve: (response: unknown) => resolve({ command, context: this.context, success: true, response: response as R }),
        reject: (e: BridgeError) => (e.code === CODES.lost || e.code === CODES.disconnected ? reject(e) : resolve({ command, context: this.context, success: false, error: e.message, code: e.code, response: e.response as R })),
        sent: true,
        direct: true,
      }
      this.#pending.set(keyOf(commandId), pending)
      pending.timer = timers.setTimeout(() => {
        this.#forget(pending)
        reject(new BridgeError(`no answer to ${command} while reconnecting`, CODES.timeout, command, commandId))
      }, this.#options.timeout ?? 30_000)
      ws.send(JSON.stringify(pending.request))
    })
  }

  #openSocket(): Promise<void> {
    return new Promise((resolve, reject) => {
      let ws: WebSocketLike
      try {
        ws = new this.#WebSocket(this.#options.url, SUBPROTOCOL)
      } catch (err) {
        return reject(new BridgeError(`cannot open ${this.#options.url}: ${(err as Error).message}`, CODES.failed))
      }
      this.#ws = ws
      let opened = false
      ws.addEventListener('open', () => {
        opened = true
        this.#handshake(ws).then(resolve, (err: BridgeError) => {
          // A refused token or a first connection that fails: for good. Otherwise drop this socket and try again.
          if (!this.#everOpened || err.command === 'authenticate') this.#shutdown(err, true)
          else if (this.#ws === ws) ws.close(1000)
          reject(err)
        })
      })
      ws.addEventListener('message', (e: { data: unknown }) => {
        if (this.#ws === ws) this.#onMessage(typeof e.data === 'string' ? e.data : String(e.data))
      })
      ws.addEventListener('close', (e: { code?: number; reason?: string }) => {
        if (this.#ws !== ws) return
        if (!opened) {
          const err = new BridgeError(`cannot connect to ${this.#options.url} (closed ${e.code ?? ''}${e.reason ? `: ${e.reason}` : ''}; a refused Origin gets 403)`, CODES.failed)
          if (!this.#everOpened) {
            this.#shutdown(err, true)
            return reject(err)
          }
          return this.#scheduleReconnect()
        }
        this.#onDrop(e)
      })
      // 'error' is always followed by 'close'.
      ws.addEventListener('error', () => {})
    })
  }

  /** A (re)opened socket: authenticate, re-attach to the context, recover what was in flight, then send what waited. */
  async #handshake(ws: WebSocketLike): Promise<void> {
    if (this.#token !== undefined) {
      const auth = await this.#direct(ws, 'authenticate', { token: this.#token })
      if (!auth.success) throw new BridgeError(auth.error ?? 'authentication failed', auth.code ?? CODES.failed, 'authenticate')
    }
    // Naming the context attaches this connection to it: its events, and a payment answered meanwhile.
    await this.#direct(ws, 'status', {})
    await this.#recover(ws)
    if (this.#ws !== ws) return
    this.#state = 'open'
    this.#everOpened = true
    this.#attempt = 0
    for (const p of this.#queue.splice(0)) this.#send(p)
    this.#emit('connection', { state: 'open' })
  }

  /** Every call that was in flight on the lost socket: ask the journal, never run a payment twice. */
  async #recover(ws: WebSocketLike): Promise<void> {
    const inFlight = [...this.#pending.values()].filter((p) => p.sent && !p.direct && JOURNALED.has(p.command))
    await Promise.all(
      inFlight.map(async (p) => {
        const result = await this.#direct<ResultResponse>(ws, 'get_result', { target_command_id: p.commandId })
        if (this.#pending.get(keyOf(p.commandId)) !== p) return // answered meanwhile (payment_status)
        const r = result.response
        if (!result.success || !r) return this.#settle(p, { ...result, command: p.command })
        if (r.state === 'done' && r.answer) return this.#settle(p, r.answer)
        // Still running: the same request under the same command_id attaches to it (the journal never runs it again).
        if (r.state === 'running') return ws.send(JSON.stringify(p.request))
        this.#forget(p)
        if (r.state === 'interrupted') p.reject(new BridgeError(`${p.command} was interrupted (the bridge stopped before it answered): start again with a new command_id`, CODES.interrupted, p.command, p.commandId))
        else p.reject(new BridgeError(`the connection dropped before the bridge received ${p.command}: nothing ran`, CODES.lost, p.command, p.commandId))
      }),
    )
  }

  #onDrop(e: { code?: number; reason?: string }): void {
    if (this.#state === 'closed') return
    const lost = (p: Pending) => new BridgeError(`the connection dropped while ${p.command} was in flight`, CODES.lost, p.command, p.commandId)
    if (!this.#reconnect) return this.#shutdown(new BridgeError(`the connection closed (${e.code ?? ''})`, CODES.lost), true)
    // In flight: journaled ones are recovered after the reconnect, reads are sent again, the rest are lost.
    for (const p of [...this.#pending.values()]) {
      if (!p.sent || (JOURNALED.has(p.command) && !p.direct)) continue
      if (READS.has(p.command) && !p.direct) {
        p.sent = false
        this.#queue.push(p)
      } else {
        this.#forget(p)
        p.reject(lost(p))
      }
    }
    this.#scheduleReconnect()
  }

  #scheduleReconnect(): void {
    const r = this.#reconnect!
    if (this.#attempt >= r.maxAttempts) return this.#shutdown(new BridgeError(`gave up reconnecting after ${this.#attempt} attempts`, CODES.lost), true)
    this.#state = 'reconnecting'
    const base = Math.min(r.maxDelay, r.initialDelay * 2 ** this.#attempt)
    const delay = Math.round(base / 2 + (Math.random() * base) / 2)
    this.#attempt++
    this.#emit('connection', { state: 'reconnecting', attempt: this.#attempt, delay })
    this.#retry = timers.setTimeout(() => {
      this.#retry = undefined
      if (this.#state === 'closed') return
      this.#openSocket().catch(() => {})
    }, delay)
  }

  #shutdown(error: BridgeError, emitError: boolean): void {
    const wasClosed = this.#state === 'closed'
    this.#state = 'closed'
    if (this.#retry !== undefined) timers.clearTimeout(this.#retry)
    const ws = this.#ws
    this.#ws = undefined
    if (ws && ws.readyState <= OPEN) ws.close(1000)
    for (const p of [...this.#pending.values()]) {
      this.#forget(p)
      p.reject(new BridgeError(error.message, error.code, p.command, p.commandId))
    }
    if (!wasClosed) this.#emit('connection', emitError ? { state: 'closed', error } : { state: 'closed' })
  }

  #onMessage(text: string): void {
    let m: Json
    try {
      m = JSON.parse(text) as Json
    } catch {
      return
    }
    if (typeof m !== 'object' || m === null) return
    if (typeof m.event === 'string') {
      // A payment answered while this client was away, pushed on re-attach: it settles the call.
      if (m.event === 'payment_status' && m.command_id !== undefined && m.result && (m.context === undefined || m.context === this.context)) {
        const p = this.#pending.get(keyOf(m.command_id as CommandId))
        if (p?.command === 'process_payment') this.#settle(p, { command: p.command, context: this.context, success: true, response: m.result })
      }
      return this.#emit(m.event, m)
    }
    let p = m.command_id !== undefined ? this.#pending.get(keyOf(m.command_id as CommandId)) : undefined
    // A refusal that could not echo the command_id: the oldest call of that command in flight.
    if (!p && m.command_id === undefined && typeof m.command === 'string') p = [...this.#pending.values()].find((x) => x.sent && x.command === m.command)
    if (p) this.#settle(p, m as unknown as Answer)
  }
}

/** Connects to the bridge: resolves once the connection is open (and authenticated, with `token`). */
export async function connect(options: ConnectOptions): Promise<Bridge> {
  return new Bridge(options).open()
}
