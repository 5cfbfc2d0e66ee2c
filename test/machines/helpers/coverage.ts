/**
 * State and transition coverage of the machines, measured on live actors: every transition a
 * machine defines (events, `always`, invoke onDone/onError, guards as separate branches) gets a
 * stable key, and an inspection observer records the keys of the transitions the actors really
 * took and the state nodes they really were in (transient ones included, from the microsteps).
 */
import type { AnyStateMachine, InspectionEvent } from 'xstate'
import { guardLabel } from '../../../scripts/machine-graph.js'

// xstate keeps these on its state nodes; its public types do not expose all of them.
export interface Node {
  id: string
  key: string
  type: string
  states: Record<string, Node>
  transitions: Map<string, Transition[]>
  always?: Transition[]
}
export interface Transition {
  eventType: string
  source: Node
  target?: Node[]
  guard?: unknown
}

/** `source event #branch`, the same for a machine and for the same machine after `.provide()`. */
export function transitionKey(t: Transition): string {
  const always = t.source.always?.indexOf(t) ?? -1
  if (always >= 0) return `${t.source.id} always#${always}`
  const list = t.source.transitions.get(t.eventType) ?? []
  return `${t.source.id} ${t.eventType}#${list.indexOf(t)}`
}

function describe(t: Transition): string {
  const guard = t.guard === undefined ? '' : ` [${guardLabel(t.guard)}]`
  const targets = t.target?.length ? t.target.map((n) => n.id).join(',') : '(stays)'
  return `${t.source.id} --${t.eventType || 'always'}${guard}--> ${targets}`
}

export interface Universe {
  /** State node ids, the root included. */
  states: string[]
  /** Transition key → readable description. */
  transitions: Map<string, string>
}

export function universe(machine: AnyStateMachine): Universe {
  const states: string[] = []
  const transitions = new Map<string, string>()
  const walk = (node: Node) => {
    states.push(node.id)
    for (const list of node.transitions.values()) for (const t of list) transitions.set(transitionKey(t), describe(t))
    for (const t of node.always ?? []) transitions.set(transitionKey(t), describe(t))
    for (const child of Object.values(node.states)) walk(child)
  }
  walk(machine.root as unknown as Node)
  return { states, transitions }
}

/** What live actors of one machine (by its id) did. */
export class Coverage {
  readonly states = new Set<string>()
  readonly transitions = new Set<string>()
  readonly all: Universe

  constructor(readonly machine: AnyStateMachine) {
    this.all = universe(machine)
  }

  /** An inspection observer: pass it to createActor's `inspect` or to `system.inspect`. */
  readonly observe = (e: InspectionEvent): void => {
    const logic = (e.actorRef as { logic?: { id?: string; root?: unknown } }).logic
    if (!logic?.root || logic.id !== this.machine.id) return
    if (e.type === '@xstate.microstep') {
      for (const t of e._transitions as unknown as Transition[]) this.transitions.add(transitionKey(t))
    }
    if (e.type === '@xstate.microstep' || e.type === '@xstate.snapshot') {
      for (const n of ((e.snapshot as { _nodes?: Node[] })._nodes ?? [])) this.states.add(n.id)
    }
  }

  missingStates(): string[] {
    return this.all.states.filter((s) => !this.states.has(s))
  }

  missingTransitions(): string[] {
    return [...this.all.transitions].filter(([key]) => !this.transitions.has(key)).map(([, d]) => d)
  }

  summary(): string {
    const s = this.all.states.length - this.missingStates().length
    const tr = this.all.transitions.size - this.missingTransitions().length
    return `${this.machine.id}: ${s}/${this.all.states.length} states, ${tr}/${this.all.transitions.size} transitions`
  }
}
