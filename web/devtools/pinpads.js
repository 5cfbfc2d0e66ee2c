// The virtual pinpads: their displays and buttons to act as the cardholder or inject link faults
// (POST /devtools/pinpads/:id, checked by the bridge with JSON Schema).
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])

async function act(id, body) {
  const r = await fetch('/devtools/pinpads/' + id, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!r.ok) alert((await r.json()).error)
}

export class Pinpads {
  constructor(root, cards) {
    this.root = root
    this.cards = cards
  }

  #create(p) {
    const el = document.createElement('section')
    el.id = 'pad' + p.id
    el.className = 'pad'
    el.innerHTML =
      '<h2>Virtual pinpad ' + p.id + ' <small class="plug"></small></h2><div class="lcd"></div>' +
      '<div><select class="card">' + this.cards.map((c) => '<option value="' + esc(c.name) + '" title="' + esc(c.description) + '">' + esc(c.name) + '</option>').join('') + '</select>' +
      '<select class="how"><option value="">as the card is</option><option>insert</option><option>swipe</option><option>tap</option></select>' +
      '<button data-a="present">present</button></div>' +
      '<div><input class="pin" size="6" value="1234"><button data-a="pin">type PIN</button><button data-a="cancel">CANCELA</button><button data-a="remove">remove card</button></div>' +
      '<div>menu <button data-a="up">▲</button><button data-a="down">▼</button><button data-a="ok">OK</button> ' +
      '<input class="data" size="12" placeholder="digits"><button data-a="enter">type data</button></div>' +
      '<div><button data-a="unplug">unplug</button><button data-a="plug">plug</button> ' +
      '<button data-a="stall">stall/unstall</button><button data-a="nak">NAK next</button><button data-a="corrupt">corrupt next</button></div>' +
      '<div class="info"></div>'
    el.addEventListener('click', (e) => {
      const a = e.target.dataset && e.target.dataset.a
      if (!a) return
      const how = el.querySelector('.how').value
      const map = {
        present: { action: 'present', card: el.querySelector('.card').value, ...(how ? { how } : {}) },
        pin: { action: 'pin', pin: el.querySelector('.pin').value },
        cancel: { action: 'key', key: 'cancel' },
        up: { action: 'key', key: 'up' },
        down: { action: 'key', key: 'down' },
        ok: { action: 'key', key: 'ok' },
        enter: { action: 'enter', data: el.querySelector('.data').value },
        remove: { action: 'remove' },
        unplug: { action: 'unplug' },
        plug: { action: 'plug' },
        stall: { action: 'fault', fault: 'stalled', value: !el.dataset.stalled || el.dataset.stalled === 'false' },
        nak: { action: 'fault', fault: 'nakNext', value: 1 },
        corrupt: { action: 'fault', fault: 'corruptNext', value: 1 },
      }
      act(p.id, map[a])
    })
    this.root.appendChild(el)
    return el
  }

  render(pads) {
    for (const p of pads) {
      const el = document.getElementById('pad' + p.id) ?? this.#create(p)
      el.dataset.stalled = String(p.faults.stalled)
      el.querySelector('.plug').textContent = p.present ? '(plugged)' : '(unplugged)'
      el.querySelector('.lcd').textContent = (p.display.lines.length ? p.display.lines : ['']).join('\n')
      el.querySelector('.info').textContent = 'card in slot: ' + (p.inserted || '—') + ' · tables ' + p.tables + (p.faults.stalled ? ' · STALLED' : '')
    }
  }
}
