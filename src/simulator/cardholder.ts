/**
 * The person at the virtual pinpad. By default they act on their own (present the configured
 * card a moment after the pinpad asks, type the PIN, take the card back) so an unattended run
 * completes a payment; the control API lets a test or a developer act instead.
 */
export type Presentation = 'insert' | 'swipe' | 'tap'
export type Key = 'ok' | 'cancel' | 'clear' | 'f1' | 'f2' | 'f3' | 'f4'

export interface CardholderOptions {
  /** Card presented when the pinpad asks and nobody acted; null = nobody does. */
  autoCard: string | null
  /** Human delay before the automatic card (ms). */
  presentAfterMs: number
  /** PIN typed when asked and nobody typed one; null = nobody does. */
  autoPin: string | null
  pinAfterMs: number
  /** Delay before an inserted card is taken back when the pinpad asks (RMC). */
  removeAfterMs: number
}

export const DEFAULT_CARDHOLDER: CardholderOptions = {
  autoCard: 'visa-credit',
  presentAfterMs: 300,
  autoPin: '1234',
  pinAfterMs: 300,
  removeAfterMs: 200,
}

export type CardAction = { type: 'card'; card: string; how?: Presentation } | { type: 'key'; key: Key }
export type PinAction = { type: 'pin'; pin: string } | { type: 'key'; key: Key }

interface Pending<T> {
  resolve: (v: T) => void
}

export type CardholderEvent =
  | { type: 'asked-for-card' }
  | { type: 'asked-for-pin' }
  | { type: 'asked-to-remove' }
  | { type: 'presented'; card: string; how?: Presentation }
  | { type: 'typed-pin' }
  | { type: 'pressed'; key: Key }
  | { type: 'removed' }

export class Cardholder {
  options: CardholderOptions
  #nextCard: CardAction | undefined
  #nextPin: PinAction | undefined
  #card: Pending<CardAction> | undefined
  #pin: Pending<PinAction> | undefined
  #key: Pending<Key> | undefined
  #removal: Pending<void> | undefined
  /** Name of the chip card sitting in the slot, if any. */
  inserted: string | undefined
  readonly #listeners = new Set<(e: CardholderEvent) => void>()

  constructor(options: Partial<CardholderOptions> = {}) {
    this.options = { ...DEFAULT_CARDHOLDER, ...options }
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
    if (this.#card) this.#settle('card', action)
    else this.#nextCard = action
  }

  typePin(pin: string): void {
    this.#emit({ type: 'typed-pin' })
    if (this.#pin) this.#settle('pin', { type: 'pin', pin })
    else this.#nextPin = { type: 'pin', pin }
  }

  /** Presses a key; only a waiting pinpad notices (keys are not stored, §6.8.1). */
  press(key: Key): void {
    this.#emit({ type: 'pressed', key })
    if (this.#card) this.#settle('card', { type: 'key', key })
    else if (this.#pin) this.#settle('pin', { type: 'key', key })
    else if (this.#key) this.#settle('key', key)
  }

  /** Takes the inserted card out of the slot. */
  remove(): void {
    if (!this.inserted) return
    this.inserted = undefined
    this.#emit({ type: 'removed' })
    if (this.#removal) this.#settle('removal', undefined)
  }

  // --- What the pinpad waits for ------------------------------------------------------

  /** Resolves with the card (or a key) or 'aborted' when the command is cancelled. */
  waitForCard(signal: AbortSignal): Promise<CardAction | 'aborted'> {
    this.#emit({ type: 'asked-for-card' })
    const ready = this.#nextCard
    this.#nextCard = undefined
    const auto = ready ?? (this.options.autoCard ? { type: 'card' as const, card: this.options.autoCard } : undefined)
    return this.#wait('card', signal, auto, ready ? 50 : this.options.presentAfterMs)
  }

  waitForPin(signal: AbortSignal): Promise<PinAction | 'aborted'> {
    this.#emit({ type: 'asked-for-pin' })
    const ready = this.#nextPin
    this.#nextPin = undefined
    const auto = ready ?? (this.options.autoPin ? { type: 'pin' as const, pin: this.options.autoPin } : undefined)
    return this.#wait('pin', signal, auto, ready ? 50 : this.options.pinAfterMs)
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

  #wait<T>(slot: 'card' | 'pin' | 'key' | 'removal', signal: AbortSignal, auto: T | undefined, afterMs: number, autoAct?: () => void): Promise<T | 'aborted'> {
    if (signal.aborted) return Promise.resolve('aborted')
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = (v: T | 'aborted') => {
        if (timer) clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.#setSlot(slot, undefined)
        resolve(v)
      }
      const onAbort = () => done('aborted')
      signal.addEventListener('abort', onAbort, { once: true })
      this.#setSlot(slot, { resolve: done as (v: unknown) => void })
      if (auto !== undefined) timer = setTimeout(() => done(auto), afterMs)
      else if (autoAct && this.options.autoCard !== null) timer = setTimeout(autoAct, this.options.removeAfterMs)
    })
  }

  #setSlot(slot: 'card' | 'pin' | 'key' | 'removal', pending: Pending<any> | undefined): void {
    if (slot === 'card') this.#card = pending
    else if (slot === 'pin') this.#pin = pending
    else if (slot === 'key') this.#key = pending
    else this.#removal = pending
  }

  #settle(slot: 'card' | 'pin' | 'key' | 'removal', value: unknown): void {
    const pending = (slot === 'card' ? this.#card : slot === 'pin' ? this.#pin : slot === 'key' ? this.#key : this.#removal) as
      | Pending<unknown>
      | undefined
    pending?.resolve(value)
  }

  #emit(e: CardholderEvent): void {
    for (const l of this.#listeners) l(e)
  }
}
