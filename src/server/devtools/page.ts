/** The devtools page: plain HTML and script, no build step. */
export const DEVTOOLS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mpos-bridge devtools</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 18px;font-weight:600}
main{display:grid;grid-template-columns:380px 1fr;gap:16px;padding:16px}
section{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0002}
h2{font-size:15px;margin:0 0 8px}
.lcd{font:18px/1.3 ui-monospace,monospace;background:#b8c99a;color:#1f2a14;padding:8px 10px;border-radius:4px;min-height:48px;white-space:pre;margin:6px 0}
button,select,input{font:inherit;margin:2px}
.actor{border-top:1px solid #eee;padding:6px 0}
.actor b{font-family:ui-monospace,monospace}
.state{font-family:ui-monospace,monospace;color:#0b5}
pre{margin:4px 0;font-size:12px;max-height:140px;overflow:auto;background:#fafafa;padding:4px}
img{max-width:100%;background:#fff}
.diagrams a{margin-right:10px}
</style></head><body>
<header>mpos-bridge devtools — live machines and virtual pinpads</header>
<main>
<div id="pads"></div>
<div>
<section><h2>Machines</h2><div id="actors">waiting for activity…</div></section>
<section class="diagrams" style="margin-top:16px"><h2>Diagrams</h2>
<a href="#" data-d="device">device</a><a href="#" data-d="context">context</a><a href="#" data-d="session">session</a><a href="#" data-d="bridge">bridge</a>
<div><img id="diagram" alt=""></div></section>
</div></main>
<script>
const actors = new Map(); let cards = []
const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]))
const stateText = (v) => typeof v === 'string' ? v : JSON.stringify(v)
function renderActors() {
  const list = [...actors.values()].sort((a, b) => a.actor.localeCompare(b.actor))
  document.getElementById('actors').innerHTML = list.map((a) =>
    '<div class="actor"><b>' + esc(a.actor) + '</b> <span class="state">' + esc(stateText(a.state)) + '</span>' +
    (a.lastEvent ? '<pre>last event: ' + esc(JSON.stringify(a.lastEvent)) + '</pre>' : '') + '</div>').join('')
}
async function act(id, body) {
  const r = await fetch('/devtools/pinpads/' + id, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!r.ok) alert((await r.json()).error)
}
function renderPads(pads) {
  const root = document.getElementById('pads')
  for (const p of pads) {
    let el = document.getElementById('pad' + p.id)
    if (!el) {
      el = document.createElement('section'); el.id = 'pad' + p.id; el.style.marginBottom = '16px'
      el.innerHTML = '<h2>Virtual pinpad ' + p.id + ' <small class="plug"></small></h2><div class="lcd"></div>' +
        '<div><select class="card">' + cards.map((c) => '<option value="' + c.name + '" title="' + esc(c.description) + '">' + c.name + '</option>').join('') + '</select>' +
        '<select class="how"><option value="">as the card is</option><option>insert</option><option>swipe</option><option>tap</option></select>' +
        '<button data-a="present">present</button></div>' +
        '<div><input class="pin" size="6" value="1234"><button data-a="pin">type PIN</button><button data-a="cancel">CANCELA</button><button data-a="remove">remove card</button></div>' +
        '<div>menu <button data-a="up">▲</button><button data-a="down">▼</button><button data-a="ok">OK</button> ' +
        '<input class="data" size="12" placeholder="digits"><button data-a="enter">type data</button></div>' +
        '<div><button data-a="unplug">unplug</button><button data-a="plug">plug</button> ' +
        '<button data-a="stall">stall/unstall</button><button data-a="nak">NAK next</button><button data-a="corrupt">corrupt next</button></div>' +
        '<div class="info"></div>'
      root.appendChild(el)
      el.addEventListener('click', (e) => {
        const a = e.target.dataset && e.target.dataset.a; if (!a) return
        const how = el.querySelector('.how').value
        const map = {
          present: { action: 'present', card: el.querySelector('.card').value, ...(how ? { how } : {}) },
          pin: { action: 'pin', pin: el.querySelector('.pin').value }, cancel: { action: 'key', key: 'cancel' },
          up: { action: 'key', key: 'up' }, down: { action: 'key', key: 'down' }, ok: { action: 'key', key: 'ok' },
          enter: { action: 'enter', data: el.querySelector('.data').value },
          remove: { action: 'remove' }, unplug: { action: 'unplug' }, plug: { action: 'plug' },
          stall: { action: 'fault', fault: 'stalled', value: !el.dataset.stalled || el.dataset.stalled === 'false' },
          nak: { action: 'fault', fault: 'nakNext', value: 1 }, corrupt: { action: 'fault', fault: 'corruptNext', value: 1 },
        }
        act(p.id, map[a])
      })
    }
    el.dataset.stalled = String(p.faults.stalled)
    el.querySelector('.plug').textContent = p.present ? '(plugged)' : '(unplugged)'
    el.querySelector('.lcd').textContent = (p.display.lines.length ? p.display.lines : ['']).join('\\n')
    el.querySelector('.info').textContent = 'card in slot: ' + (p.inserted || '—') + ' · tables ' + p.tables + (p.faults.stalled ? ' · STALLED' : '')
  }
}
document.querySelectorAll('[data-d]').forEach((a) => a.addEventListener('click', (e) => { e.preventDefault(); document.getElementById('diagram').src = '/devtools/diagrams/' + a.dataset.d + '.svg' }))
fetch('/devtools/state').then((r) => r.json()).then((s) => {
  cards = s.cards; for (const a of s.actors) actors.set(a.actor, a); renderActors(); renderPads(s.pinpads)
  const es = new EventSource('/devtools/events')
  es.onmessage = (m) => { const d = JSON.parse(m.data); if (d.type === 'actor') { actors.set(d.view.actor, d.view); renderActors() } else renderPads(d.pinpads) }
})
</script></body></html>`
