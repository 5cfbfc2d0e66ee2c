/**
 * The live view of the state machines: every inspection event (already sanitized by the
 * runtime) is kept per actor and streamed to the devtools page.
 */
import { EventEmitter } from 'node:events'
import { systemClock, type Clock } from '../../clock.js'

export interface InspectRecord {
  actor: string
  type: string
  snapshot?: unknown
  event?: unknown
}

export interface ActorView {
  actor: string
  state?: unknown
  context?: unknown
  lastEvent?: unknown
  updatedAt: number
}

export class DevtoolsHub extends EventEmitter<{ update: [ActorView] }> {
  readonly #actors = new Map<string, ActorView>()
  readonly #recent: InspectRecord[] = []

  /** `clock`: what `updatedAt` is read from (default: the real one). */
  constructor(readonly clock: Clock = systemClock) {
    super()
  }

  record(e: InspectRecord): void {
    const view = this.#actors.get(e.actor) ?? { actor: e.actor, updatedAt: 0 }
    if (e.type === '@xstate.snapshot' && e.snapshot && typeof e.snapshot === 'object') {
      const s = e.snapshot as { value?: unknown; context?: unknown }
      view.state = s.value
      view.context = s.context
    }
    if (e.type === '@xstate.event') {
      view.lastEvent = e.event
      this.#recent.push(e)
      if (this.#recent.length > 200) this.#recent.shift()
    }
    view.updatedAt = this.clock.now()
    this.#actors.set(e.actor, view)
    this.emit('update', view)
  }

  actors(): ActorView[] {
    return [...this.#actors.values()].filter((a) => a.state !== undefined)
  }

  recent(): InspectRecord[] {
    return [...this.#recent]
  }
}
