// The live state inspector: each machine actor drawn as its machine's diagram (the SVGs generated
// into visualizations/, whose state elements carry id="state:<path>") with the active state
// nodes highlighted; and the event log — filter by actor and context, pause, export JSON lines.
// Everything it shows was sanitized by the bridge (no keys, no card data).

const MACHINE_ORDER = ['bridge', 'context', 'device', 'session']
/** Entries kept in the page; the table shows the newest ROWS of those that pass the filters. */
const KEEP = 5000
const ROWS = 400

const diagrams = new Map()
/** A machine's SVG, fetched once. */
function diagram(machine) {
  if (!diagrams.has(machine)) diagrams.set(machine, fetch('/devtools/diagrams/' + encodeURIComponent(machine) + '.svg').then((r) => (r.ok ? r.text() : null)))
  return diagrams.get(machine)
}

/** Every state node a state value makes active: `{ a: { b: 'c' } }` → machine, machine.a, machine.a.b, machine.a.b.c. */
export function activePaths(machine, value) {
  const out = [machine]
  const walk = (prefix, v) => {
    if (typeof v === 'string') out.push(prefix + '.' + v)
    else if (v && typeof v === 'object') for (const [k, sub] of Object.entries(v)) {
      out.push(prefix + '.' + k)
      walk(prefix + '.' + k, sub)
    }
  }
  walk(machine, value)
  return out
}

/** The active leaves as short paths (`connected.payment.steps.cardholder.awaitingCard`). */
function leaves(value, prefix = '') {
  if (typeof value === 'string') return [prefix + value]
  if (!value || typeof value !== 'object') return []
  return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix + k + '.'))
}

const time = (at) => new Date(at).toISOString().slice(11, 23)
const sortKey = (a) => String(MACHINE_ORDER.indexOf(a.machine)).padStart(2, '0') + a.actor.replace(/\d+/g, (n) => n.padStart(6, '0'))

export class Inspector {
  constructor(doc) {
    this.doc = doc
    this.root = doc.getElementById('actors')
    this.cards = new Map()
    this.entries = []
    this.held = []
    this.paused = false
    this.filters = { actor: '', context: '', type: '' }
    this.actorNames = new Set()
    this.contextNames = new Set()
    const $ = (id) => doc.getElementById(id)
    this.body = $('log').querySelector('tbody')
    $('filter-actor').addEventListener('change', (e) => this.#filter('actor', e.target.value))
    $('filter-context').addEventListener('change', (e) => this.#filter('context', e.target.value))
    $('filter-type').addEventListener('input', (e) => this.#filter('type', e.target.value.trim()))
    $('pause').addEventListener('click', () => this.setPaused(!this.paused))
    $('export').addEventListener('click', () => this.export())
    $('clear').addEventListener('click', () => {
      this.entries = []
      this.held = []
      this.#render()
    })
  }

  reset(actors, log) {
    for (const name of [...this.cards.keys()]) this.gone(name)
    for (const a of actors) this.actor(a)
    this.entries = []
    this.held = []
    for (const e of log) this.log(e)
    this.#render()
  }

  // --- diagrams ---------------------------------------------------------------------------

  actor(view) {
    if (!view.machine) return
    let card = this.cards.get(view.actor)
    if (!card) card = this.#card(view)
    card.view = view
    card.el.dataset.context = view.contextName ?? ''
    card.el.querySelector('.ctx').textContent = view.contextName !== undefined && view.machine === 'device' ? 'context ' + view.contextName : ''
    const text = leaves(view.state).join(' ∥ ')
    card.el.querySelector('.state').textContent = text
    card.el.querySelector('pre').textContent = JSON.stringify(view.context, null, 2)
    this.#highlight(card)
  }

  gone(name) {
    const card = this.cards.get(name)
    if (!card) return
    card.el.remove()
    this.cards.delete(name)
    if (!this.cards.size) this.root.classList.add('empty')
  }

  #card(view) {
    const el = this.doc.createElement('div')
    el.className = 'actor'
    el.dataset.actor = view.actor
    el.dataset.machine = view.machine
    el.innerHTML = '<h3><b></b> <span class="ctx"></span> <span class="state"></span></h3><div class="diagram" title="click to zoom"></div><details><summary>context</summary><pre></pre></details>'
    el.querySelector('b').textContent = view.actor
    const box = el.querySelector('.diagram')
    box.addEventListener('click', () => {
      box.classList.toggle('zoomed')
      // The active node to the middle of the box (the page itself does not move).
      const node = box.querySelector('g.node.active')
      if (!node) return
      const r = node.getBoundingClientRect()
      const b = box.getBoundingClientRect()
      box.scrollLeft += r.left - b.left - (b.width - r.width) / 2
      box.scrollTop += r.top - b.top - (b.height - r.height) / 2
    })
    if (this.root.classList.contains('empty')) {
      this.root.textContent = ''
      this.root.classList.remove('empty')
    }
    // Bridge first, then contexts, devices, sessions, each by name.
    const key = sortKey(view)
    const next = [...this.root.children].find((c) => sortKey({ actor: c.dataset.actor, machine: c.dataset.machine }) > key)
    this.root.insertBefore(el, next ?? null)
    const card = { el, box, view, svg: null }
    this.cards.set(view.actor, card)
    diagram(view.machine).then((text) => {
      if (!text || !this.cards.has(view.actor)) return
      const svg = new DOMParser().parseFromString(text, 'image/svg+xml').documentElement
      // Many actors share a machine: ids would repeat in the page, so each state says its path in data-state.
      for (const g of svg.querySelectorAll('g[id]')) {
        if (g.id.startsWith('state:')) g.dataset.state = g.id.slice('state:'.length)
        g.removeAttribute('id')
      }
      card.svg = this.doc.importNode(svg, true)
      box.appendChild(card.svg)
      this.#highlight(card)
    })
    return card
  }

  #highlight(card) {
    if (!card.svg) return
    const active = new Set(activePaths(card.view.machine, card.view.state))
    for (const g of card.svg.querySelectorAll('g.state')) g.classList.toggle('active', active.has(g.dataset.state))
    card.box.dataset.active = leaves(card.view.state).join(' ')
  }

  // --- event log --------------------------------------------------------------------------

  log(entry) {
    if (this.paused) {
      this.held.push(entry)
      this.#counts()
      return
    }
    this.#add(entry)
    if (this.#passes(entry)) {
      // Newest first, by seq: an event is streamed once its actor's snapshot came, so not always in order.
      const after = [...this.body.children].find((tr) => Number(tr.dataset.seq) < entry.seq)
      this.body.insertBefore(this.#row(entry), after ?? null)
      while (this.body.children.length > ROWS) this.body.lastElementChild.remove()
    }
    this.#counts()
  }

  setPaused(paused) {
    this.paused = paused
    const button = this.doc.getElementById('pause')
    button.textContent = paused ? 'Resume' : 'Pause'
    button.classList.toggle('paused', paused)
    if (!paused) {
      for (const e of this.held.splice(0)) this.#add(e)
      this.#render()
    }
    this.#counts()
  }

  /** The entries that pass the filters, as JSON lines (one event a line), downloaded. */
  export() {
    const lines = this.entries.filter((e) => this.#passes(e)).map((e) => JSON.stringify(e))
    const blob = new Blob(lines.length ? [lines.join('\n') + '\n'] : [], { type: 'application/x-ndjson' })
    const a = this.doc.createElement('a')
    a.href = URL.createObjectURL(blob)
    a.download = 'mpos-bridge-events-' + new Date().toISOString().replace(/[:.]/g, '-') + '.jsonl'
    this.doc.body.appendChild(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000)
  }

  #add(entry) {
    let i = this.entries.length
    while (i > 0 && this.entries[i - 1].seq > entry.seq) i--
    this.entries.splice(i, 0, entry)
    if (this.entries.length > KEEP) this.entries.shift()
    this.#option('filter-actor', this.actorNames, entry.actor)
    if (entry.contextName !== undefined) this.#option('filter-context', this.contextNames, entry.contextName)
  }

  #option(id, seen, value) {
    if (seen.has(value)) return
    seen.add(value)
    const select = this.doc.getElementById(id)
    const option = this.doc.createElement('option')
    option.value = option.textContent = value
    const next = [...select.options].slice(1).find((o) => o.value.localeCompare(value, undefined, { numeric: true }) > 0)
    select.insertBefore(option, next ?? null)
  }

  #filter(name, value) {
    this.filters[name] = value
    this.#render()
  }

  #passes(e) {
    const f = this.filters
    return (!f.actor || e.actor === f.actor) && (!f.context || e.contextName === f.context) && (!f.type || e.type.toLowerCase().includes(f.type.toLowerCase()))
  }

  #render() {
    const rows = []
    for (let i = this.entries.length - 1; i >= 0 && rows.length < ROWS; i--) if (this.#passes(this.entries[i])) rows.push(this.#row(this.entries[i]))
    this.body.replaceChildren(...rows)
    this.#counts()
  }

  #counts() {
    this.doc.getElementById('held').textContent = this.paused ? this.held.length + ' new while paused' : ''
    const shown = this.body.children.length
    this.doc.getElementById('count').textContent = shown + ' shown · ' + this.entries.length + ' kept'
  }

  #row(e) {
    const tr = this.doc.createElement('tr')
    tr.dataset.seq = e.seq
    tr.dataset.actor = e.actor
    tr.dataset.context = e.contextName ?? ''
    const { type, ...rest } = e.event && typeof e.event === 'object' ? e.event : { type: e.type }
    const detail = JSON.stringify(rest)
    const cells = [String(e.seq), time(e.at), e.actor, e.contextName ?? '', e.source ?? '', null, e.state === undefined ? '' : leaves(e.state).join(' ∥ ')]
    cells.forEach((text, i) => {
      const td = this.doc.createElement('td')
      if (text === null) {
        td.className = 'ev'
        const b = this.doc.createElement('b')
        b.textContent = e.type
        const span = this.doc.createElement('span')
        span.textContent = detail === '{}' ? '' : ' ' + (detail.length > 200 ? detail.slice(0, 200) + '…' : detail)
        td.title = detail
        td.append(b, span)
      } else {
        td.textContent = text
        if (i === cells.length - 1) td.className = 'st'
      }
      tr.appendChild(td)
    })
    return tr
  }
}
