/**
 * visualizations/ holds diagrams generated from the machines (npm run visualize). They are
 * regenerated here in memory: a committed file that differs means someone changed a machine
 * and forgot to regenerate.
 */
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { fromPromise, setup, type AnyStateMachine } from 'xstate'
import { allMachines, machineGraph, renderAll, toDot, toMermaid } from '../../scripts/machine-graph.js'
import { universe } from './helpers/coverage.js'

const DIR = fileURLToPath(new URL('../../visualizations/', import.meta.url))

t.test('the committed diagrams are those the machines generate', async (t) => {
  const files = await renderAll()
  t.same([...files.keys()].sort(), ['README.md', 'bridge.mmd', 'bridge.svg', 'context.mmd', 'context.svg', 'device.mmd', 'device.svg', 'session.mmd', 'session.svg'])
  const stale = [...files].filter(([name, contents]) => !existsSync(DIR + name) || readFileSync(DIR + name, 'utf8') !== contents).map(([name]) => name)
  t.same(stale, [], 'diagrams are stale: run npm run visualize')
  const unknown = readdirSync(DIR).filter((name) => !files.has(name))
  t.same(unknown, [], 'files of no machine in visualizations/: run npm run visualize')
})

t.test('generation is deterministic', async (t) => {
  const [a, b] = [await renderAll(), await renderAll()]
  for (const [name, contents] of a) t.equal(b.get(name), contents, name)
})

t.test('every state and every transition of every machine is in its diagrams', async (t) => {
  for (const { name, machine } of await allMachines()) {
    const all = universe(machine)
    const g = machineGraph(machine)
    t.equal(g.edges.length, all.transitions.size, `${name}: one edge per transition (targetless ones included)`)
    const mmd = toMermaid(machine)
    const dot = toDot(machine)
    const edgeLines = mmd.split('\n').filter((l) => / --> /.test(l) && !l.includes('[*]'))
    t.equal(edgeLines.length, all.transitions.size, `${name}: one Mermaid arrow per transition`)
    const svg = (await renderAll()).get(`${name}.svg`)!
    for (const id of all.states) {
      const key = id.split('.').at(-1)!
      if (id !== machine.id || g.root.children.length === 0) t.match(mmd, new RegExp(`\\b${key}\\b`), `${name}.mmd has ${id}`)
      t.ok(svg.includes(`>${key}`) || svg.includes(`${key}</text>`) || svg.includes(key), `${name}.svg shows ${id}`)
      t.ok(dot.includes(`"${id}"`) || dot.includes(`"cluster_${id}"`) || id === machine.id, `${name}.dot has ${id}`)
    }
  }
})

t.test('every state is an SVG element with a stable id and class (the inspector highlights it)', async (t) => {
  const files = await renderAll()
  for (const { name, machine } of await allMachines()) {
    const svg = files.get(`${name}.svg`)!
    const g = machineGraph(machine)
    for (const id of universe(machine).states) {
      if (id === machine.id && g.root.children.length > 0) continue // a root with children is the whole drawing
      t.match(svg, new RegExp(`<g id="state:${id.replace(/\./g, '\\.')}" class="(node|cluster) state (atomic|compound|parallel|final)">`), `${name}.svg: ${id}`)
    }
  }
})

t.test('what the device diagram says', async (t) => {
  const machines = Object.fromEntries((await allMachines()).map((m) => [m.name, m.machine]))
  const mmd = toMermaid(machines.device!)
  // Guards of invoke onDone branches, always transitions, nested states and the final state.
  for (const line of [
    'stateDiagram-v2',
    '  [*] --> connecting',
    '  state connected {',
    '    [*] --> syncingTables',
    '  closed --> [*]',
    '  lost --> [*]',
    '  awaitingCard --> reloadingTables : done.readCard [isTablesOutdated]',
    '  awaitingCard --> onChip : done.readCard [cardIsChip]',
    '  awaitingCard --> processed : done.readCard',
    '  payment --> paymentFailed : error.*',
    '  syncingTables --> ready : always [skipsTableSync]',
    '  paymentFailed --> removingCard : always',
    '  connected --> lost : LINK.CLOSED',
    '  connected --> connected : PINPAD.PROMPT',
    '  awaitingFinish --> finishing : FINISH_PAYMENT [chipWentOnline]',
    '  cancelling --> unresponsive : error.cancelPinpad',
    '  timingOut --> unresponsive : error.cancelPinpad',
    '  unresponsive --> gone : always',
    '  waitingForKey --> hashing : always [keyReady]',
    '          awaitingCard : invoke readCard',
    '  note right of connected : invoke watchLink',
  ]) {
    t.ok(mmd.split('\n').includes(line), line)
  }
  const context = toMermaid(machines.context!)
  t.ok(context.includes('  ready --> paying : REQUEST [and(isCommand(process_payment), not(in(obligation.finishRequired)))]'), 'combined guards are named')
  t.ok(context.includes('  context --> context : REQUEST [isCommand(status)]'), 'a machine with transitions of its own is drawn as a state')
  t.notMatch(context + mmd, /inline guard/, 'no unnamed guard')
})

t.test('the generator on a machine with after, always, invoke, nesting and a final state', async (t) => {
  const machine = setup({
    actors: { work: fromPromise(async () => 1) },
    guards: { big: () => true, small: () => false },
  }).createMachine({
    id: 'sample',
    initial: 'a',
    states: {
      a: { after: { 500: 'b' }, on: { GO: [{ guard: 'big', target: 'b' }, { target: 'c' }] } },
      b: {
        initial: 'b1',
        invoke: { id: 'job', src: 'work', onDone: { target: 'c', guard: 'small' }, onError: 'a' },
        states: { b1: { always: { guard: 'big', target: 'b2' } }, b2: { on: { NEXT: '#sample.c' } } },
      },
      c: { type: 'final' },
    },
  }) as unknown as AnyStateMachine
  const mmd = toMermaid(machine)
  t.equal(
    mmd,
    [
      '---',
      'title: sample machine, generated from machines/sample.machine.ts',
      '---',
      'stateDiagram-v2',
      '  [*] --> a',
      '  a',
      '  state b {',
      '    [*] --> b1',
      '    b1',
      '    b2',
      '  }',
      '  note right of b : invoke job (work)',
      '  c',
      '  c --> [*]',
      '  a --> b : GO [big]',
      '  a --> c : GO',
      '  a --> b : after 500 ms',
      '  b --> c : done.job [small]',
      '  b --> a : error.job',
      '  b1 --> b2 : always [big]',
      '  b2 --> c : NEXT',
      '',
    ].join('\n'),
  )
  const dot = toDot(machine)
  t.match(dot, /"sample\.b\.__anchor" -> "sample\.c" \[label="done\.job \[small\]", ltail="cluster_sample\.b"\]/)
  t.match(dot, /"sample\.c" \[label="c", peripheries=2, id="state:sample\.c", class="state final"\]/, 'final state drawn with a double border')
  t.match(dot, /"sample\.__anchor" -> "sample\.a"/, 'initial state')
})
