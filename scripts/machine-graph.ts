/**
 * Diagrams generated from the machine definitions themselves: a walk of `machine.root` (nested
 * states, final states, invokes, transitions with their guards — events, `always`, `after`,
 * invoke onDone/onError) rendered as Mermaid `stateDiagram-v2` and as Graphviz DOT (→ SVG).
 * Everything is emitted in definition order, so the same machines give byte-identical files.
 */
import type { AnyStateMachine } from 'xstate'

interface StateNodeLike {
  id: string
  key: string
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history'
  states: Record<string, StateNodeLike>
  transitions: Map<string, TransitionLike[]>
  always?: TransitionLike[]
  invoke: Array<{ id: string; src: unknown }>
  initial?: { target: StateNodeLike[] }
  parent?: StateNodeLike
}
interface TransitionLike {
  eventType: string
  source: StateNodeLike
  target?: StateNodeLike[]
  guard?: unknown
  delay?: number | string
}

/** A guard as its name: `name`, `name(params)`, `and(a, b)`, `not(a)`; unnamed inline guards say so. */
export function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard
  if (typeof guard === 'function') {
    // stateIn({ initialized: { obligation: 'finishRequired' } }) → in(obligation.finishRequired)
    const stateValue = (guard as { stateValue?: unknown }).stateValue
    if (stateValue !== undefined) return `in(${statePath(stateValue).split('.').slice(-2).join('.')})`
    const combined = (guard as { guards?: unknown[] }).guards
    if (Array.isArray(combined)) return `${guard.name}(${combined.map(guardLabel).join(', ')})`
    return guard.name && guard.name !== 'guard' ? guard.name : 'inline guard'
  }
  if (guard && typeof guard === 'object' && 'type' in guard) {
    const { type, params } = guard as { type: string; params?: unknown }
    if (params === undefined || typeof params === 'function') return type
    const values = typeof params === 'object' && params !== null ? Object.values(params) : [params]
    return `${type}(${values.map((v) => (Array.isArray(v) ? v.join('|') : String(v))).join(', ')})`
  }
  return 'inline guard'
}

/** A state value as a dotted path: `{ a: { b: 'c' } }` → `a.b.c`. */
function statePath(value: unknown): string {
  if (typeof value === 'string') return value
  const [k, v] = Object.entries(value as Record<string, unknown>)[0]!
  return `${k}.${statePath(v)}`
}

/** The event a transition waits for, as a reader would say it. */
export function eventLabel(t: Pick<TransitionLike, 'eventType' | 'delay'>): string {
  const e = t.eventType
  if (e === '') return 'always'
  let m = /^xstate\.done\.actor\.(.+)$/.exec(e)
  if (m) return `done.${m[1]}`
  m = /^xstate\.error\.actor\.(.+)$/.exec(e)
  if (m) return `error.${m[1]}`
  m = /^xstate\.after\.([^.]+)\./.exec(e)
  if (m) return `after ${/^\d+$/.test(m[1]!) ? `${m[1]} ms` : m[1]}`
  return e
}

export interface Edge {
  source: string
  /** Undefined for a transition that stays in its state (no target). */
  target?: string
  label: string
}

export interface GraphNode {
  id: string
  key: string
  type: StateNodeLike['type']
  children: GraphNode[]
  initial?: string
  invokes: string[]
}

export interface MachineGraph {
  id: string
  root: GraphNode
  edges: Edge[]
}

function transitionsOf(node: StateNodeLike): TransitionLike[] {
  const out: TransitionLike[] = []
  for (const list of node.transitions.values()) out.push(...list)
  out.push(...(node.always ?? []))
  return out
}

/** The machine as nodes and labelled edges, in definition order. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const edges: Edge[] = []
  const walk = (node: StateNodeLike): GraphNode => {
    for (const t of transitionsOf(node)) {
      const guard = t.guard === undefined ? '' : ` [${guardLabel(t.guard)}]`
      const label = `${eventLabel(t)}${guard}`
      const targets = t.target ?? []
      if (!targets.length) edges.push({ source: node.id, label })
      for (const target of targets) edges.push({ source: node.id, target: target.id, label })
    }
    const initial = node.initial?.target?.[0]?.id
    return {
      id: node.id,
      key: node.key,
      type: node.type,
      children: Object.values(node.states).map(walk),
      ...(initial ? { initial } : {}),
      invokes: node.invoke.map((i) => (typeof i.src === 'string' && i.src !== i.id ? `${i.id} (${i.src})` : i.id)),
    }
  }
  const root = walk(machine.root as unknown as StateNodeLike)
  return { id: machine.id, root, edges }
}

// --- Mermaid -------------------------------------------------------------------------

/** Mermaid labels: `:` starts a label and `#`/`;` are entity syntax, so they are replaced. */
const mtext = (s: string) => s.replace(/[:;#]/g, ' ').replace(/\s+/g, ' ').trim()

/**
 * Mermaid ids: the state's key when no other state of the machine has it, else its path.
 * Composite states are declared by id only (`state id {`): Mermaid mishandles aliased
 * composites (`state "x" as id {`), see mermaid-js/mermaid#3858.
 */
function mermaidIds(root: GraphNode): Map<string, string> {
  const all: GraphNode[] = []
  const collect = (n: GraphNode) => {
    all.push(n)
    n.children.forEach(collect)
  }
  collect(root)
  const count = new Map<string, number>()
  for (const n of all) count.set(n.key, (count.get(n.key) ?? 0) + 1)
  const ids = new Map<string, string>()
  for (const n of all) ids.set(n.id, (count.get(n.key) === 1 ? n.key : n.id).replace(/[^A-Za-z0-9_]/g, '_'))
  return ids
}

export function toMermaid(machine: AnyStateMachine): string {
  const g = machineGraph(machine)
  const ids = mermaidIds(g.root)
  const mid = (id: string) => ids.get(id)!
  const lines: string[] = ['---', `title: ${g.id} machine, generated from machines/${g.id}.machine.ts`, '---', 'stateDiagram-v2']
  // A root with transitions of its own (or no children at all) is drawn as a state too.
  const drawRoot = g.root.children.length === 0 || g.edges.some((e) => e.source === g.root.id)

  const emit = (node: GraphNode, indent: string) => {
    const id = mid(node.id)
    if (node.children.length) {
      lines.push(`${indent}state ${id} {`)
      const inner = `${indent}  `
      if (node.initial) lines.push(`${inner}[*] --> ${mid(node.initial)}`)
      for (const child of node.children) emit(child, inner)
      lines.push(`${indent}}`)
      // Mermaid has no description line for a composite state: its invokes go in a note.
      if (node.invokes.length) lines.push(`${indent}note right of ${id} : invoke ${node.invokes.map(mtext).join(', ')}`)
    } else {
      lines.push(`${indent}${id}`)
      for (const inv of node.invokes) lines.push(`${indent}${id} : invoke ${mtext(inv)}`)
      if (node.type === 'final') lines.push(`${indent}${id} --> [*]`)
    }
  }

  if (drawRoot) {
    lines.push(`  [*] --> ${mid(g.root.id)}`)
    emit(g.root, '  ')
  } else {
    if (g.root.initial) lines.push(`  [*] --> ${mid(g.root.initial)}`)
    for (const child of g.root.children) emit(child, '  ')
  }
  // Transitions after every state is declared in its composite, at the top level (a state first
  // mentioned inside another composite would be moved there, mermaid-js/mermaid#5290).
  for (const e of g.edges) lines.push(`  ${mid(e.source)} --> ${mid(e.target ?? e.source)} : ${mtext(e.label)}`)
  return `${lines.join('\n')}\n`
}

// --- Graphviz DOT ----------------------------------------------------------------------

const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')
const q = (s: string) => `"${esc(s)}"`
/** A multi-line label, one centred line each. */
const dotLabel = (lines: string[]) => `"${lines.map(esc).join('\\n')}"`

/**
 * The SVG element of a state carries `id="state:<path>"` (the state's path from the machine id:
 * `device.connected.ready`) and `class="state <type>"`, so a page can highlight the active
 * state nodes of a live snapshot (src/server/devtools: the inspector).
 */
export const svgStateId = (path: string) => `state:${path}`
const svgId = (n: GraphNode) => `id=${q(svgStateId(n.id))}, class=${q(`state ${n.type}`)}`

export function toDot(machine: AnyStateMachine): string {
  const g = machineGraph(machine)
  const out: string[] = []
  const internal = new Map<string, string[]>()
  for (const e of g.edges) if (e.target === undefined) internal.set(e.source, [...(internal.get(e.source) ?? []), e.label])
  const anchor = (id: string) => `${id}.__anchor`
  const compound = new Set<string>()
  const parentOf = new Map<string, string>()
  const index = (n: GraphNode) => {
    if (n.children.length) compound.add(n.id)
    for (const c of n.children) {
      parentOf.set(c.id, n.id)
      index(c)
    }
  }
  index(g.root)
  const isInside = (id: string, ancestor: string) => {
    for (let p = parentOf.get(id); p; p = parentOf.get(p)) if (p === ancestor) return true
    return false
  }

  out.push(`digraph ${q(g.id)} {`)
  const rootLines = [`${g.id} machine`, ...(internal.get(g.root.id) ?? []).map((l) => `${l} (stays)`)]
  // The machine's own transitions (on its root) head the drawing, left-justified.
  const rootLabel = `"${rootLines.map(esc).join('\\l')}\\l"`
  out.push(`  graph [fontname="Helvetica", fontsize=11, compound=true, rankdir=TB, nodesep=0.4, labelloc=t, labeljust=l, label=${rootLabel}];`)
  out.push('  node [fontname="Helvetica", fontsize=10, shape=box, style=rounded];')
  out.push('  edge [fontname="Helvetica", fontsize=9];')

  const nodeLines = (n: GraphNode) => [n.key, ...n.invokes.map((i) => `invoke ${i}`), ...(internal.get(n.id) ?? []).map((l) => `${l} (stays)`)]
  const emit = (n: GraphNode, indent: string) => {
    if (n.children.length) {
      out.push(`${indent}subgraph ${q(`cluster_${n.id}`)} {`)
      out.push(`${indent}  label=${dotLabel(nodeLines(n))}; style=rounded; ${svgId(n).replace(', ', '; ')};`)
      out.push(`${indent}  ${q(anchor(n.id))} [shape=point, width=0.12, label=""];`)
      for (const c of n.children) emit(c, `${indent}  `)
      out.push(`${indent}}`)
    } else {
      const final = n.type === 'final' ? ', peripheries=2' : ''
      out.push(`${indent}${q(n.id)} [label=${dotLabel(nodeLines(n))}${final}, ${svgId(n)}];`)
    }
  }

  if (g.root.children.length) {
    out.push(`  ${q(anchor(g.root.id))} [shape=point, width=0.12, label=""];`)
    for (const c of g.root.children) emit(c, '  ')
  } else {
    out.push(`  ${q(g.root.id)} [label=${dotLabel(nodeLines(g.root).slice(0, 1 + g.root.invokes.length))}, ${svgId(g.root)}];`)
  }
  // Initial transitions: from the compound's anchor point to its initial child.
  const initials = (n: GraphNode) => {
    if (n.initial) {
      const target = compound.has(n.initial) ? anchor(n.initial) : n.initial
      out.push(`  ${q(anchor(n.id))} -> ${q(target)}${compound.has(n.initial) ? ` [lhead=${q(`cluster_${n.initial}`)}]` : ''};`)
    }
    n.children.forEach(initials)
  }
  if (g.root.children.length) initials(g.root)

  for (const e of g.edges) {
    if (e.target === undefined) continue
    const attrs = [`label=${q(e.label)}`]
    let from = e.source
    let to = e.target
    if (compound.has(e.source)) {
      from = anchor(e.source)
      if (!isInside(e.target, e.source) && e.target !== e.source) attrs.push(`ltail=${q(`cluster_${e.source}`)}`)
    }
    if (compound.has(e.target)) {
      to = anchor(e.target)
      if (!isInside(e.source, e.target) && e.target !== e.source) attrs.push(`lhead=${q(`cluster_${e.target}`)}`)
    }
    out.push(`  ${q(from)} -> ${q(to)} [${attrs.join(', ')}];`)
  }
  out.push('}')
  return `${out.join('\n')}\n`
}

/** The machines that get a diagram, by file name. */
export async function allMachines(): Promise<Array<{ name: string; machine: AnyStateMachine }>> {
  const [{ deviceMachine }, { contextMachine }, { sessionMachine }, { bridgeMachine }] = await Promise.all([
    import('../machines/device.machine.js'),
    import('../machines/context.machine.js'),
    import('../machines/session.machine.js'),
    import('../machines/bridge.machine.js'),
  ])
  return [
    { name: 'device', machine: deviceMachine as unknown as AnyStateMachine },
    { name: 'context', machine: contextMachine as unknown as AnyStateMachine },
    { name: 'session', machine: sessionMachine as unknown as AnyStateMachine },
    { name: 'bridge', machine: bridgeMachine as unknown as AnyStateMachine },
  ]
}

/** Every generated file: path relative to `visualizations/` → contents. */
export async function renderAll(): Promise<Map<string, string>> {
  const { Graphviz } = await import('@hpcc-js/wasm-graphviz')
  const graphviz = await Graphviz.load()
  const files = new Map<string, string>()
  const machines = await allMachines()
  for (const { name, machine } of machines) {
    files.set(`${name}.mmd`, toMermaid(machine))
    files.set(`${name}.svg`, graphviz.dot(toDot(machine), 'svg'))
  }
  const rows = machines.map(({ name, machine }) => {
    const g = machineGraph(machine)
    let states = 0
    const count = (n: GraphNode) => {
      states++
      n.children.forEach(count)
    }
    count(g.root)
    return `| ${name} | [${name}.mmd](${name}.mmd) | [${name}.svg](${name}.svg) | ${states} | ${g.edges.length} |`
  })
  files.set(
    'README.md',
    [
      '# State machine diagrams',
      '',
      'Generated from the machine definitions in `machines/` by `npm run visualize` (scripts/visualize.ts);',
      'do not edit by hand. `test/machines/visualizations.test.ts` fails when these files are stale.',
      '',
      'Each machine has a Mermaid `stateDiagram-v2` source (`.mmd`) and an SVG rendered with Graphviz.',
      'Labels: `done: X` / `error: X` are the onDone / onError of the invoked actor `X`, `always` an',
      'eventless transition, `[guard]` the guard of a branch (branches are tried in the order drawn),',
      'and a transition without a target (actions only) is a loop in Mermaid and "(stays)" in the SVG.',
      '',
      '| machine | Mermaid | SVG | state nodes (root included) | transitions |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n'),
  )
  return files
}
