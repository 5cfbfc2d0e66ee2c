/**
 * The acquirer API the bridge needs (pagar.me's v1 shape): the card-hash key and the EMV table
 * updates, both HTTP Basic with user = encryption key and password "x". Node's global fetch with
 * a per-attempt timeout joined to the caller's AbortSignal; bounded retries with exponential
 * backoff on network errors, timeouts and 5xx (GETs, so repeating them is harmless), never on
 * 401 or other 4xx. Timeouts and backoff run on the `clock` option (src/clock.ts). Response shapes are checked with ajv. The encryption key appears in logs and
 * errors only masked.
 *
 * The card-hash key is NOT cached: it is fetched for every payment, as the original did. A key id
 * is a short-lived object on the acquirer's side; a cached one that expired would make the shop's
 * authorization fail after the cardholder has already inserted the card and typed the PIN, which
 * costs far more than one GET. To hide the round trip, fetch the key while the pinpad waits for
 * the card (the two run in parallel), not before the payment starts.
 */
import { Ajv, type ValidateFunction } from 'ajv'
import { rsaPublicKey, type CardHashKey } from '../card/card-hash.js'
import { schemaErrors, validateEmvTables } from '../tables/schema.js'
import type { TerminalUpdates, TerminalUpdatesOptions } from '../tables/types.js'
import { sleep, systemClock, type Clock } from '../clock.js'
import { AcquirerAbortedError, AcquirerBadResponseError, AcquirerConfigError, AcquirerRejectedError, AcquirerTimeoutError, AcquirerUnauthorizedError, AcquirerUnavailableError, AcquirerUnreachableError } from '../errors.js'
import { maskEncryptionKey } from './encryption-key.js'
import { compileOnFirstUse } from '../lazy-validator.js'

/** The subset of a pino logger the client uses. */
export interface AcquirerLogger {
  debug(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export interface AcquirerClientOptions {
  /** API base, e.g. `https://api.pagar.me/1` or the sandbox's `http://127.0.0.1:2000/sandbox/1`. */
  baseUrl: string
  /** Per attempt, body included. Default 15 s. */
  timeoutMs?: number
  /** Extra attempts after the first, on network errors, timeouts and 5xx. Default 2. */
  retries?: number
  /** Wait before the first retry; doubles each time, with ±25 % jitter. Default 300 ms. */
  retryDelayMs?: number
  /** Larger bodies are refused as a bad response. Default 4 MiB. */
  maxResponseBytes?: number
  logger?: AcquirerLogger
  /** The clock of the per-attempt timeouts and the retry delays (default: the real one). */
  clock?: Clock
  /** The HTTP client (default: the global fetch); tests wrap it to see the requests in flight. */
  fetch?: typeof fetch
}

export interface RequestOptions {
  signal?: AbortSignal
}

export type { TerminalUpdates, TerminalUpdatesOptions }

const CARD_HASH_KEY_SCHEMA = {
  type: 'object',
  required: ['id', 'public_key'],
  properties: {
    id: {
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$' },
      ],
    },
    public_key: { type: 'string', minLength: 1, maxLength: 16384 },
  },
} as const

interface CardHashKeyResponse {
  id: number | string
  public_key: string
}

const validateCardHashKey: ValidateFunction<CardHashKeyResponse> = compileOnFirstUse(() => new Ajv({ allErrors: true, strict: true }).compile<CardHashKeyResponse>(CARD_HASH_KEY_SCHEMA))

type Failure = { kind: 'timeout' } | { kind: 'network'; reason: string; cause: unknown } | { kind: 'status'; status: number }

export class AcquirerClient {
  readonly baseUrl: string
  readonly timeoutMs: number
  readonly retries: number
  readonly retryDelayMs: number
  readonly maxResponseBytes: number
  readonly #logger: AcquirerLogger | undefined
  readonly #clock: Clock
  readonly #fetch: typeof fetch

  constructor(options: AcquirerClientOptions) {
    let url: URL
    try {
      url = new URL(options.baseUrl)
    } catch {
      throw new AcquirerConfigError('baseUrl is not a URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AcquirerConfigError('baseUrl must be http or https')
    if (url.username || url.password) throw new AcquirerConfigError('baseUrl must not carry credentials')
    this.baseUrl = url.href.replace(/\/+$/, '')
    this.timeoutMs = positive(options.timeoutMs ?? 15_000, 'timeoutMs')
    this.retries = options.retries ?? 2
    if (!Number.isSafeInteger(this.retries) || this.retries < 0) throw new AcquirerConfigError('retries must be a non-negative integer')
    this.retryDelayMs = options.retryDelayMs ?? 300
    if (!Number.isFinite(this.retryDelayMs) || this.retryDelayMs < 0) throw new AcquirerConfigError('retryDelayMs must not be negative')
    this.maxResponseBytes = positive(options.maxResponseBytes ?? 4 * 1024 * 1024, 'maxResponseBytes')
    this.#logger = options.logger
    this.#clock = options.clock ?? systemClock
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init))
  }

  /** `GET /transactions/card_hash_key` → the key to build this payment's card hash with. */
  async getCardHashKey(encryptionKey: string, { signal }: RequestOptions = {}): Promise<CardHashKey> {
    const what = 'GET /transactions/card_hash_key'
    const res = await this.#get(what, '/transactions/card_hash_key', encryptionKey, signal, false)
    if (res.status === 304) throw new AcquirerBadResponseError(what, 'HTTP 304')
    const body = res.body
    if (!validateCardHashKey(body)) throw new AcquirerBadResponseError(what, schemaErrors(validateCardHashKey, 'response'))
    try {
      // Parsed here once and kept: the card hash uses the same parsed key.
      rsaPublicKey(body.public_key)
    } catch (err) {
      throw new AcquirerBadResponseError(what, 'public_key is not an RSA public key in PEM', { cause: err })
    }
    return { id: body.id, publicKey: body.public_key }
  }

  /**
   * `GET /terminal/updates?checksum=…&dukpt_keys=[1,2]` → `{ upToDate: true }` on 304, else the
   * new tables. The brackets are sent literally, as the original did.
   */
  async getTerminalUpdates(encryptionKey: string, options: TerminalUpdatesOptions): Promise<TerminalUpdates> {
    const what = 'GET /terminal/updates'
    const { checksum, dukptKeys, signal } = options
    if (typeof checksum !== 'string') throw new AcquirerConfigError('checksum must be a string')
    if (!Array.isArray(dukptKeys) || !dukptKeys.every((k) => Number.isSafeInteger(k) && k >= 0)) {
      throw new AcquirerConfigError('dukptKeys must be non-negative integers')
    }
    const path = `/terminal/updates?checksum=${encodeURIComponent(checksum)}&dukpt_keys=[${dukptKeys.join(',')}]`
    const res = await this.#get(what, path, encryptionKey, signal, true)
    if (res.status === 304) return { upToDate: true }
    if (!validateEmvTables(res.body)) throw new AcquirerBadResponseError(what, schemaErrors(validateEmvTables, 'tables'))
    return { upToDate: false, tables: res.body }
  }

  async #get(
    what: string,
    path: string,
    encryptionKey: string,
    signal: AbortSignal | undefined,
    accept304: boolean,
  ): Promise<{ status: 200; body: unknown } | { status: 304 }> {
    if (typeof encryptionKey !== 'string' || !/^[\x21-\x7e]+$/.test(encryptionKey) || encryptionKey.includes(':')) {
      throw new AcquirerConfigError('the encryption key is empty or has characters a key cannot have')
    }
    const key = maskEncryptionKey(encryptionKey)
    const headers = {
      authorization: `Basic ${Buffer.from(`${encryptionKey}:x`, 'utf8').toString('base64')}`,
      accept: 'application/json',
    }
    const url = this.baseUrl + path
    const attempts = this.retries + 1
    let failure: Failure = { kind: 'timeout' }

    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (signal?.aborted) throw new AcquirerAbortedError(what)
      // AbortSignal.timeout() on the clock: aborted with the same TimeoutError when the time is up.
      const timeout = new AbortController()
      const timer = this.#clock.setTimeout(
        () => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
        this.timeoutMs,
      )
      timer.unref()
      const started = this.#clock.now()
      let status: number | undefined
      let text: string | undefined
      try {
        const res = await this.#fetch(url, {
          headers,
          signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
          // A redirect would resend the credentials elsewhere; the API never redirects.
          redirect: 'manual',
        })
        if (res.ok) text = await this.#readBody(res, what)
        else await res.body?.cancel().catch(() => {})
        status = res.status
      } catch (err) {
        if (err instanceof AcquirerBadResponseError) throw err
        if (signal?.aborted) throw new AcquirerAbortedError(what)
        failure = timeout.signal.aborted ? { kind: 'timeout' } : { kind: 'network', reason: networkReason(err), cause: err }
      } finally {
        this.#clock.clearTimeout(timer)
      }
      const ms = Math.round(this.#clock.now() - started)

      if (status !== undefined) {
        this.#logger?.debug({ req: what, key, status, attempt, ms }, 'acquirer answered')
        if (text !== undefined) {
          try {
            return { status: 200, body: JSON.parse(text) }
          } catch (err) {
            throw new AcquirerBadResponseError(what, 'the body is not JSON', { cause: err })
          }
        }
        if (status === 304 && accept304) return { status: 304 }
        if (status === 401) throw new AcquirerUnauthorizedError(what, key)
        if (status >= 400 && status < 500) throw new AcquirerRejectedError(what, status)
        if (status < 500) throw new AcquirerBadResponseError(what, `HTTP ${status}`)
        failure = { kind: 'status', status }
      }

      if (attempt < attempts) {
        const delay = Math.round(this.retryDelayMs * 2 ** (attempt - 1) * (0.75 + Math.random() / 2))
        this.#logger?.warn({ req: what, key, attempt, ms, failure: describe(failure), retryInMs: delay }, 'acquirer request failed; retrying')
        if (!(await sleep(this.#clock, delay, signal))) throw new AcquirerAbortedError(what)
      } else {
        this.#logger?.warn({ req: what, key, attempt, ms, failure: describe(failure) }, 'acquirer request failed')
      }
    }

    switch (failure.kind) {
      case 'timeout':
        throw new AcquirerTimeoutError(what, this.timeoutMs, attempts)
      case 'network':
        throw new AcquirerUnreachableError(what, attempts, failure.reason, { cause: failure.cause })
      case 'status':
        throw new AcquirerUnavailableError(what, failure.status, attempts)
    }
  }

  async #readBody(res: Response, what: string): Promise<string> {
    const declared = Number(res.headers.get('content-length'))
    if (declared > this.maxResponseBytes) {
      await res.body?.cancel().catch(() => {})
      throw new AcquirerBadResponseError(what, `the body is larger than ${this.maxResponseBytes} bytes`)
    }
    const bytes = Buffer.from(await res.arrayBuffer())
    if (bytes.length > this.maxResponseBytes) {
      throw new AcquirerBadResponseError(what, `the body is larger than ${this.maxResponseBytes} bytes`)
    }
    return bytes.toString('utf8')
  }
}

function describe(f: Failure): string {
  return f.kind === 'timeout' ? 'timeout' : f.kind === 'network' ? f.reason : `HTTP ${f.status}`
}

/** "ECONNRESET", "ECONNREFUSED", "UND_ERR_SOCKET"… from undici's `TypeError: fetch failed`. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause
  if (cause && typeof cause.code === 'string') return cause.code
  if (cause && typeof cause.message === 'string') return cause.message
  return err instanceof Error ? err.message : 'network error'
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new AcquirerConfigError(`${name} must be a positive number`)
  return n
}
