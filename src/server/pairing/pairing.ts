/**
 * Pairing (README "Pairing"): the shop approves a till's page once. `mpos-bridge pair` has the
 * bridge issue a one-time 6-digit code; the page sends it with `pair` and gets a token bound to
 * its Origin; later connections from that Origin send `authenticate` with the token.
 *
 * One code is valid at a time (a new one replaces it), for 2 minutes, once. Wrong tries are
 * counted per code across every connection and origin: the 5th wrong one voids the code and
 * locks pairing until the shop issues a new one, so a hostile page gets at most 5 guesses out of
 * 10^6 per code the shop issues. Attempts are also rate-limited for the whole bridge. Tokens are
 * 256 random bits; only their SHA-256 is stored (src/journal/pairings.ts).
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'
import type { Clock, Timer } from '../../clock.js'
import type { PairingRecord, PairingTable } from '../../journal/pairings.js'
import type { Logger } from '../../log.js'
import {
  PairingCodeExpiredError,
  PairingCodeWrongError,
  PairingLockedError,
  PairingRateLimitedError,
  PairingTokenRevokedError,
  PairingTokenUnknownError,
  PairingWrongOriginError,
} from '../../errors.js'

export const CODE_TTL_MS = 2 * 60_000
export const MAX_WRONG_TRIES = 5
/** `pair` attempts the whole bridge takes per window (beyond them: MPOS_ERR_PAIRING_RATE_LIMITED, not counted as tries). */
export const PAIR_ATTEMPTS_PER_WINDOW = 10
export const PAIR_WINDOW_MS = 60_000
/** Tokens start with this, so a token that leaked into a log or a file can be recognised. */
export const TOKEN_PREFIX = 'mpb_'

/** The origin a connection is bound to: its Origin header serialized, or "null" for a client that sends none. */
export function originOf(header: string | undefined): string {
  if (header === undefined) return 'null'
  try {
    return new URL(header).origin
  } catch {
    return header
  }
}

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex')

type Coded = Error & { code: string }
export type PairResult = { ok: true; token: string; id: number; origin: string } | { ok: false; error: Coded }
export type AuthResult = { ok: true; id: number; origin: string } | { ok: false; error: Coded }

interface LiveCode {
  value: string
  expiresAt: number
  wrong: number
  timer: Timer
}

export class PairingService {
  #code: LiveCode | undefined
  /** Why no code is valid now (the message of MPOS_ERR_PAIRING_CODE_EXPIRED), or 'locked'. */
  #none: string | 'locked' = 'none was issued since the bridge started'
  #attempts: number[] = []
  readonly #watchers = new Map<number, Set<() => void>>()
  /** Called when the valid code ends (used, expired, voided, replaced): the pinpad showing it is cleared. */
  onCodeEnded: () => void = () => {}

  constructor(
    readonly table: PairingTable,
    readonly clock: Clock,
    readonly log: Logger,
  ) {}

  /** A new one-time code; the one before it (if any) is void. */
  issueCode(): { code: string; expiresAt: number } {
    this.#end('it was replaced by a newer code')
    const value = String(randomInt(0, 1_000_000)).padStart(6, '0')
    const expiresAt = this.clock.now() + CODE_TTL_MS
    const timer = this.clock.setTimeout(() => this.#end('it expired (codes are valid for 2 minutes)'), CODE_TTL_MS)
    timer.unref()
    this.#code = { value, expiresAt, wrong: 0, timer }
    this.log.info({ expires_at: new Date(expiresAt).toISOString() }, 'pairing code issued')
    return { code: value, expiresAt }
  }

  /** A page's `pair`: the code against the valid one; a token bound to `origin` when it matches. */
  pair(code: string, origin: string): PairResult {
    const now = this.clock.now()
    this.#attempts = this.#attempts.filter((t) => t > now - PAIR_WINDOW_MS)
    if (this.#attempts.length >= PAIR_ATTEMPTS_PER_WINDOW) return fail(new PairingRateLimitedError(PAIR_ATTEMPTS_PER_WINDOW, PAIR_WINDOW_MS / 1000))
    this.#attempts.push(now)
    const live = this.#code
    if (live && now >= live.expiresAt) this.#end('it expired (codes are valid for 2 minutes)')
    if (!this.#code) return fail(this.#none === 'locked' ? new PairingLockedError(MAX_WRONG_TRIES) : new PairingCodeExpiredError(this.#none))
    if (!sameCode(code, this.#code.value)) {
      const wrong = ++this.#code.wrong
      this.log.warn({ origin, wrong }, 'wrong pairing code')
      if (wrong >= MAX_WRONG_TRIES) {
        this.#end('locked')
        this.log.warn({ origin }, `pairing locked after ${MAX_WRONG_TRIES} wrong codes: the code is void`)
        return fail(new PairingLockedError(MAX_WRONG_TRIES))
      }
      return fail(new PairingCodeWrongError(MAX_WRONG_TRIES - wrong))
    }
    this.#end('the code was already used (each code pairs one page)')
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`
    const id = this.table.add(origin, tokenHash(token))
    this.log.info({ pairing: id, origin }, 'page paired')
    return { ok: true, token, id, origin }
  }

  /** A connection's `authenticate`: the token's pairing, if it is live and was issued to `origin`. */
  authenticate(token: string, origin: string): AuthResult {
    const record = this.table.byTokenHash(tokenHash(token))
    if (!record) return fail(new PairingTokenUnknownError())
    if (record.revokedAt !== undefined) return fail(new PairingTokenRevokedError())
    if (record.origin !== origin) return fail(new PairingWrongOriginError(record.origin, origin))
    this.table.touch(record.id)
    return { ok: true, id: record.id, origin }
  }

  /** Live pairings (the CLI's `pair --list`): never the token, which is not kept. */
  list(): PairingRecord[] {
    return this.table.list().filter((r) => r.revokedAt === undefined)
  }

  /** Revokes a pairing; the connections authenticated with it lose it at once. Undefined: no live pairing by that id. */
  revoke(id: number): { record: PairingRecord; connections: number } | undefined {
    if (!this.table.revoke(id)) return undefined
    const watchers = [...(this.#watchers.get(id) ?? [])]
    this.#watchers.delete(id)
    for (const w of watchers) w()
    const record = this.table.byId(id)!
    this.log.info({ pairing: id, origin: record.origin, connections: watchers.length }, 'pairing revoked')
    return { record, connections: watchers.length }
  }

  /** `onRevoked` runs if pairing `id` is revoked; the function returned stops watching. */
  watch(id: number, onRevoked: () => void): () => void {
    const set = this.#watchers.get(id) ?? new Set()
    this.#watchers.set(id, set.add(onRevoked))
    return () => {
      set.delete(onRevoked)
      if (set.size === 0 && this.#watchers.get(id) === set) this.#watchers.delete(id)
    }
  }

  /** Whether a code is valid now (tests, the admin route). */
  get codeValid(): boolean {
    return this.#code !== undefined && this.clock.now() < this.#code.expiresAt
  }

  close(): void {
    if (this.#code) this.clock.clearTimeout(this.#code.timer)
    this.#code = undefined
  }

  #end(why: string | 'locked'): void {
    const live = this.#code
    if (!live) {
      // A new code clears a lock; anything else keeps the reason already given.
      if (why.startsWith('it was replaced')) this.#none = 'none was issued since the bridge started'
      return
    }
    this.clock.clearTimeout(live.timer)
    this.#code = undefined
    this.#none = why
    this.onCodeEnded()
  }
}

const fail = (error: Coded): { ok: false; error: Coded } => ({ ok: false, error })

/** Constant-time comparison of two codes (both 6 digits by the request's schema). */
function sameCode(given: string, valid: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(valid)
  return a.length === b.length && timingSafeEqual(a, b)
}
