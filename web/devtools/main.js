// The devtools page: one server-sent event stream feeds the inspector and the virtual pinpads.
import { Inspector } from './inspector.js'
import { Pinpads } from './pinpads.js'

const state = await fetch('/devtools/state').then((r) => r.json())
const pads = new Pinpads(document.getElementById('pads'), state.cards)
const inspector = new Inspector(document)
pads.render(state.pinpads)

const conn = document.getElementById('conn')
const events = new EventSource('/devtools/events')
events.onopen = () => (conn.textContent = 'live')
events.onerror = () => (conn.textContent = 'reconnecting…')
events.onmessage = (m) => {
  const d = JSON.parse(m.data)
  switch (d.type) {
    case 'init':
      inspector.reset(d.actors, d.log)
      pads.render(d.pinpads)
      break
    case 'actor':
      inspector.actor(d.view)
      break
    case 'log':
      inspector.log(d.entry)
      break
    case 'gone':
      inspector.gone(d.actor)
      break
    case 'pinpads':
      pads.render(d.pinpads)
      break
  }
}
