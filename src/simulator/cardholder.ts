/**
 * The person at the virtual pinpad. By default they act on their own (present the configured
 * card a moment after the pinpad asks, type the PIN, take the card back) so an unattended run
 * completes a payment; the control API lets a test or a developer act instead: present a card
 * (swipe, insert, tap), type a PIN or clear data, choose a menu option, press a key, remove the card.
 * Their delays run on the clock they are given (src/clock.ts; the real one by default).
 */
import { systemClock, type Clock, type Timer } from '../clock.js'

export type Presentation = 'insert' | 'swipe' | 'tap'
export type Key = 'ok' | 'cancel' | 'clear' | 'f1' | 'f2' | 'f3' | 'f4' | 'up' | 'down'

export interface CardholderOptions {
  /** Card presented when the pinpad asks and nobody acted; null = nobody does. */
  autoCard: string | null
  /** Human delay before the automatic card (ms). */
  presentAfterMs: number
  /** PIN typed when asked and nobody typed one; null = nobody does. */
  autoPin: string | null
  pinAfterMs: number
  /** Delay before an inserted card is taken back when the pinpad asks (RMC, CEX removal). */
  removeAfterMs: number
  /** Clear data typed for GCD when nobody typed any; null = nobody does. */
  autoData: string | null
  /** Menu option (1-based) chosen for MNU when nobody chose; null = nobody does. */
  autoMenuChoice: number | null
}

export const DEFAULT_CARDHOLDER: CardholderOptions = {
  autoCard: 'visa-credit',
  presentAfterMs: 300,
  autoPin: '1234',
  pinAfterMs: 300,
  removeAfterMs: 200,
  autoData: null,
  autoMenuChoice: null,
}

export type CardAction = { type: 'card'; card: string; how?: Presentation } | { type: 'key'; key: Key }
export type PinAction = { type: 'pin'; pin: string } | { type: 'key'; key: Key }
export type DataAction = { type: 'data'; text: string } | { type: 'key'; key: Key }
export type MenuAction = { type: 'choice'; option: number } | { type: 'key'; key: Key }
/** What CEX/CKE can see: a card presented, a key, or the inserted card taken out. */
export type EventAction = CardAction | { type: 'removed' }

export type CardholderEvent =
  | { type: 'asked-for-card' }
  | { type: 'asked-for-pin' }
  | { type: 'asked-for-data' }
  | { type: 'asked-to-choose' }
  | { type: 'asked-to-remove' }
  | { type: 'asked-for-event' }
  | { type: 'presented'; card: string; how?: Presentation }
  | { type: 'typed-pin' }
  | { type: 'typed-data' }
  | { type: 'chose'; option: number }
  | { type: 'pressed'; key: Key }
  | { type: 'removed' }

/** The events a CEX/CKE waits for (§3.3.1 SPE_CEXOPT). */
export interface EventWish {
  keys: boolean
  mag: boolean
  /** "1" insertion, "2" removal, "0" none. */
  icc: '0' | '1' | '2'
  ctls: boolean
}

type Slot = 'card' | 'pin' | 'data' | 'menu' | 'key' | 'removal' | 'event'
type Queued = { card?: CardAction; pin?: PinAction; data?: DataAction; menu?: MenuAction }
interface Pending {
  resolve: (v: unknown) => void
}

export class Cardholder {
  options: CardholderOptions
  #next: Queued = {}
  readonly #pending = new Map<Slot, Pending>()
  /** Name of the chip card sitting in the slot, if any. */
  inserted: string | undefined
  /** A contactless card still on the antenna after CEX saw it (§6.5.1); GCX reads it. */
  inField: string | undefined
  readonly #listeners = new Set<(e: CardholderEvent) => void>()
  readonly #clock: Clock

  constructor(options: Partial<CardholderOptions> = {}, clock: Clock = systemClock) {
    this.options = { ...DEFAULT_CARDHOLDER, ...options }
    this.#clock = clock
  }

  onEvent(listener: (e: CardholderEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  // --- What a person does -------------------------------------------------------------

  /** Presents a card now if the pinpad is waiting, else as soon as it asks. */
  present(card: string, how?: Presentation): void {
    const action: CardAction = how ? { type: 'card', card, how } : { type: 'card', card }
    this.#emit({ type: 'presented', card, ...(how ? { how } : {}) })
    if (this.#settle('card', action) || this.#settle('event', action)) return
    // Nobody is waiting: a tapped card lies on the antenna, any other is presented when asked.
    if (how === 'tap') this.inField = card
    else this.#next.card = action
  }

  swipe(card: string): void {
    this.present(card, 'swipe')
  }

  insert(card: string): void {
    this.present(card, 'insert')
  }

  tap(card: string): void {
    this.present(card, 'tap')
  }

  typePin(pin: string): void {
    this.#emit({ type: 'typed-pin' })
    if (!this.#settle('pin', { type: 'pin', pin })) this.#next.pin = { type: 'pin', pin }
  }

  /** Types clear data and confirms (GCD, §3.3.8). */
  enter(text: string): void {
    this.#emit({ type: 'typed-data' })
    if (!this.#settle('data', { type: 'data', text })) this.#next.data = { type: 'data', text }
  }

  /** Picks menu option `option` (1-based, as PP_VALUE counts, §3.3.13). */
  choose(option: number): void {
    this.#emit({ type: 'chose', option })
    if (!this.#settle('menu', { type: 'choice', option })) this.#next.menu = { type: 'choice', option }
  }

  /** Presses a key; only a waiting pinpad notices (keys are not stored, §6.5.1, §6.8.1). */
  press(key: Key): void {
    this.#emit({ type: 'pressed', key })
    for (const slot of ['card', 'pin', 'data', 'menu'] as const) if (this.#settle(slot, { type: 'key', key })) return
    if (!this.#settle('key', key)) this.#settle('event', { type: 'key', key })
  }

  /** Takes the inserted card out of the slot (and any card off the antenna). */
  remove(): void {
    this.inField = undefined
    if (!this.inserted) return
    this.inserted = undefined
    this.#emit({ type: 'removed' })
    if (!this.#settle('removal', undefined)) this.#settle('event', { type: 'removed' })
  }

  // --- What the pinpad waits for ------------------------------------------------------

  /** Resolves with the card (or a key) or 'aborted' when the command is cancelled. */
  waitForCard(signal: AbortSignal): Promise<CardAction | 'aborted'> {
    this.#emit({ type: 'asked-for-card' })
    const ready = this.#take('card')
    const auto = ready ?? (this.options.autoCard ? { type: 'card' as const, card: this.options.autoCard } : undefined)
    return this.#wait('card', signal, auto, ready ? 50 : this.options.presentAfterMs)
  }

  waitForPin(signal: AbortSignal): Promise<PinAction | 'aborted'> {
    this.#emit({ type: 'asked-for-pin' })
    const ready = this.#take('pin')
    const auto = ready ?? (this.options.autoPin ? { type: 'pin' as const, pin: this.options.autoPin } : undefined)
    return this.#wait('pin', signal, auto, ready ? 50 : this.options.pinAfterMs)
  }

  waitForData(signal: AbortSignal): Promise<DataAction | 'aborted'> {
    this.#emit({ type: 'asked-for-data' })
    const ready = this.#take('data')
    const auto = ready ?? (this.options.autoData !== null ? { type: 'data' as const, text: this.options.autoData } : undefined)
    return this.#wait('data', signal, auto, ready ? 50 : this.options.pinAfterMs)
  }

  waitForChoice(signal: AbortSignal): Promise<MenuAction | 'aborted'> {
    this.#emit({ type: 'asked-to-choose' })
    const ready = this.#take('menu')
    const auto = ready ?? (this.options.autoMenuChoice !== null ? { type: 'choice' as const, option: this.options.autoMenuChoice } : undefined)
    return this.#wait('menu', signal, auto, ready ? 50 : this.options.pinAfterMs)
  }

  waitForKey(signal: AbortSignal): Promise<Key | 'aborted'> {
    return this.#wait<Key>('key', signal, undefined, 0)
  }

  /** Resolves at once when no card is inserted (§6.5.14). */
  waitForRemoval(signal: AbortSignal): Promise<void | 'aborted'> {
    if (!this.inserted) return Promise.resolve()
    this.#emit({ type: 'asked-to-remove' })
    return this.#wait<void>('removal', signal, undefined, 0, () => this.remove())
  }

  /**
   * CEX/CKE: the next card presented, key pressed or removal. The automatic cardholder presents
   * their card the way the pinpad watches for (tap, insert or swipe) or takes an inserted card out.
   */
  waitForEvent(signal: AbortSignal, wish: EventWish, autoPresentation?: Presentation): Promise<EventAction | 'aborted'> {
    this.#emit({ type: 'asked-for-event' })
    const ready = this.#take('card')
    if (ready) return this.#wait('event', signal, ready, 50)
    if (wish.icc === '2' && this.inserted && this.options.autoCard !== null) {
      this.#emit({ type: 'asked-to-remove' })
      return this.#wait<EventAction>('event', signal, undefined, 0, () => this.remove())
    }
    const card = this.options.autoCard
    const auto: CardAction | undefined = card && autoPresentation ? { type: 'card', card, how: autoPresentation } : undefined
    if (auto) this.#emit({ type: 'asked-for-card' })
    return this.#wait('event', signal, auto, this.options.presentAfterMs)
  }

  #take<K extends keyof Queued>(slot: K): Queued[K] {
    const v = this.#next[slot]
    delete this.#next[slot]
    return v
  }

  #wait<T>(slot: Slot, signal: AbortSignal, auto: T | undefined, afterMs: number, autoAct?: () => void): Promise<T | 'aborted'> {
    if (signal.aborted) return Promise.resolve('aborted')
    return new Promise((resolve) => {
      let timer: Timer | undefined
      const pending: Pending = { resolve: (v) => done(v as T) }
      const done = (v: T | 'aborted') => {
        if (timer) this.#clock.clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        if (this.#pending.get(slot) === pending) this.#pending.delete(slot)
        resolve(v)
      }
      const onAbort = () => done('aborted')
      signal.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(slot, pending)
      if (auto !== undefined) timer = this.#clock.setTimeout(() => done(auto), afterMs)
      else if (autoAct && this.options.autoCard !== null) timer = this.#clock.setTimeout(autoAct, this.options.removeAfterMs)
    })
  }

  #settle(slot: Slot, value: unknown): boolean {
    const pending = this.#pending.get(slot)
    if (!pending) return false
    pending.resolve(value)
    return true
  }

  #emit(e: CardholderEvent): void {
    for (const l of this.#listeners) l(e)
  }
}
