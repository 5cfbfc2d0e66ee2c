/**
 * Card data between the card read and the card hash. The machines carry only the opaque
 * reference; the data never enters a machine's context, a snapshot, a log or an event.
 */
import { randomUUID } from 'node:crypto'
import type { CapturedCard } from './captured-card.js'
import { wipeCapturedCard } from './card-hash.js'

export class CardVault {
  readonly #cards = new Map<string, CapturedCard>()

  put(card: CapturedCard): string {
    const ref = `card-${randomUUID()}`
    this.#cards.set(ref, card)
    return ref
  }

  get(ref: string): CapturedCard | undefined {
    return this.#cards.get(ref)
  }

  /** Removes the card and wipes it. */
  drop(ref: string): void {
    const card = this.#cards.get(ref)
    if (!card) return
    this.#cards.delete(ref)
    wipeCapturedCard(card)
  }

  get size(): number {
    return this.#cards.size
  }
}
