/**
 * The demo POS page (`/`): a till built on /client.js and nothing else — amount, Pay, the pinpad's
 * prompts live, authorization with the embedded sandbox acquirer as a shop's server would do it
 * (POST /sandbox/1/transactions with the card hash), finish_payment, approved or declined — beside
 * a virtual pinpad to click (./pinpad-control routes). A payment in progress is kept in
 * sessionStorage by its command_ids (never the card hash), so a reloaded page recovers it from the
 * journal. Plain HTML, no build step, nothing from a CDN.
 */

/** The page's script (its hash goes into the Content-Security-Policy: no other inline script runs). */
export const DEMO_SCRIPT = `
const $ = (id) => document.getElementById(id)
const EK = 'ek_test_mposBridgeDemoPage0000000000000000'
const saved = { get: () => JSON.parse(sessionStorage.getItem('demo.payment') || 'null'), set: (p) => sessionStorage.setItem('demo.payment', JSON.stringify(p)), clear: () => sessionStorage.removeItem('demo.payment') }
const uuid = () => crypto.randomUUID()
const money = (cents) => 'R$ ' + (cents / 100).toFixed(2).replace('.', ',')
let context = sessionStorage.getItem('demo.context')
if (!context) sessionStorage.setItem('demo.context', (context = 'demo-' + uuid().slice(0, 8)))
let bridge, padId = null, busy = false

function say(text, kind) { const el = $('state'); el.textContent = text; el.dataset.kind = kind || '' }
function log(text) { const li = document.createElement('li'); li.textContent = new Date().toLocaleTimeString() + '  ' + text; $('log').prepend(li) }
function outcome(kind, title, detail) {
  const el = $('outcome'); el.dataset.outcome = kind; el.hidden = false; $('prompt').textContent = ''; say('ready')
  el.querySelector('b').textContent = title; el.querySelector('span').textContent = detail || ''
}
function setBusy(on) { busy = on; $('pay').disabled = on; $('cancel').disabled = !on; $('amount').disabled = on }
function showCard(auth, payment) {
  const rows = [['method', (payment.payment_method || '').replace('_', ' ')], ['online PIN', payment.is_online_pin ? 'yes' : 'no']]
  if (auth) rows.unshift(['card', (auth.brand || 'card') + ' ' + auth.first.slice(0, 4) + ' •••• •••• ' + auth.last], ['authorization', auth.authorization || '—'], ['acquirer code', auth.code])
  $('result').innerHTML = ''
  for (const [k, v] of rows) { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v; $('result').append(dt, dd) }
}

async function ensureReady() {
  const s = await bridge.status()
  if (s.status !== 'idle') return (padId = s.connected_device_id)
  const virtual = (await bridge.listDevices()).find((d) => d.kind === 'virtual')
  if (!virtual) throw new Error('no virtual pinpad is offered')
  say('opening the pinpad…')
  await bridge.initialize({ encryptionKey: EK, deviceId: virtual.id })
  padId = virtual.id
  log('pinpad ' + virtual.id + ' initialized')
}

async function pay() {
  const amount = Math.round(Number($('amount').value.replace(',', '.')) * 100)
  if (!(amount >= 1)) return say('type an amount, e.g. 10.00', 'error')
  $('outcome').hidden = true; $('result').innerHTML = ''
  setBusy(true)
  try {
    await ensureReady()
    const p = { id: uuid(), amount }
    saved.set(p)
    say('waiting for the card: ' + money(amount))
    log('process_payment ' + money(amount))
    await afterPayment(p, await bridge.processPayment({ amount, commandId: p.id }))
  } catch (e) { failed(e) }
  setBusy(false)
}

/** From the card hash to the end: authorize (once), finish (under its own command_id), say the outcome. */
async function afterPayment(p, payment) {
  log('payment ' + payment.status)
  if (payment.status !== 'accepted') {
    await finish(p, { success: false }).catch(() => {})
    saved.clear()
    const kind = payment.status === 'canceled' ? 'cancelled' : payment.status === 'rejected' ? 'declined' : 'failed'
    return outcome(kind, payment.status === 'canceled' ? 'Cancelled' : 'Not paid (' + payment.status + ')', payment.error || '')
  }
  if (!p.auth) {
    if (!payment.card_hash) throw new Error('the card hash is gone (the journal drops it 24 h after the finish)')
    say('authorizing with the sandbox acquirer…')
    const res = await fetch('/sandbox/1/transactions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: p.amount, card_hash: payment.card_hash }) })
    const tx = await res.json()
    if (!res.ok) throw new Error('the acquirer refused the request: ' + JSON.stringify(tx.errors || tx))
    p.auth = { paid: tx.status === 'paid', code: tx.acquirer_response_code, emv: tx.card_emv_response, brand: tx.card.brand, first: tx.card.first_digits, last: tx.card.last_digits, authorization: tx.authorization_code }
    saved.set(p)
    log('acquirer: ' + tx.status + ' ' + tx.acquirer_response_code)
  }
  showCard(p.auth, payment)
  say('finishing on the pinpad…')
  const f = await finish(p, { success: true, responseCode: p.auth.code, ...(p.auth.emv ? { emvData: p.auth.emv } : {}) })
  saved.clear()
  if (p.auth.paid && f.approved) outcome('approved', 'Approved', money(p.amount) + ' · authorization ' + p.auth.authorization)
  else if (p.auth.paid) outcome('declined', 'Declined by the card', 'the chip refused the approval: reverse the authorization')
  else outcome('declined', 'Declined', 'acquirer response ' + p.auth.code)
}

function finish(p, params) {
  if (!p.finishId) { p.finishId = uuid(); saved.set(p) }
  return bridge.finishPayment(params, { commandId: p.finishId })
}

function failed(e) {
  log('error ' + (e.code || '') + ': ' + e.message)
  outcome('failed', 'Failed', (e.code ? e.code + ': ' : '') + e.message)
  if (!saved.get()?.auth) saved.clear()
}

/** A page reloaded mid-payment: the journal tells what became of it; the same command_id re-attaches, never pays twice. */
async function recover(p) {
  setBusy(true)
  say('recovering the payment of ' + money(p.amount) + '…')
  log('recovering payment ' + p.id.slice(0, 8))
  try {
    const r = await bridge.getResult(p.id)
    if (r.state === 'done' && r.answer.success) await afterPayment(p, r.answer.response)
    else if (r.state === 'running') await afterPayment(p, await bridge.processPayment({ amount: p.amount, commandId: p.id }))
    else { saved.clear(); outcome('failed', 'Payment lost', r.state === 'done' ? r.answer.error : 'the bridge says ' + r.state + ': take a new payment') }
  } catch (e) { failed(e) }
  setBusy(false)
}

// The virtual pinpad: its screen, and what a cardholder does.
async function act(body) {
  if (padId === null) return
  const r = await fetch('/devtools/pinpads/' + padId, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!r.ok) log('pinpad: ' + (await r.json()).error)
}
let pin = ''
function showPin() { $('pin').textContent = pin ? '•'.repeat(pin.length) : 'PIN' }
$('keys').addEventListener('click', (e) => {
  const k = e.target.dataset && e.target.dataset.key
  if (!k) return
  if (/^[0-9]$/.test(k)) { if (pin.length < 12) pin += k }
  else if (k === 'clear') pin = ''
  else if (k === 'cancel') { pin = ''; act({ action: 'key', key: 'cancel' }) }
  else if (k === 'enter') { if (pin.length >= 4) act({ action: 'pin', pin }); else act({ action: 'key', key: 'ok' }); pin = '' }
  showPin()
})
for (const how of ['insert', 'swipe', 'tap']) $(how).addEventListener('click', () => act({ action: 'present', card: $('card').value, how }))
$('remove').addEventListener('click', () => act({ action: 'remove' }))
$('unplug').addEventListener('click', () => act({ action: 'unplug' }))
$('plug').addEventListener('click', () => act({ action: 'plug' }))
$('auto').addEventListener('change', () => act({ action: 'auto', on: $('auto').checked }))
let cardsShown = false
async function refreshPad() {
  try {
    const s = await (await fetch('/devtools/pinpads')).json()
    if (!cardsShown) { cardsShown = true; for (const c of s.cards) { const o = new Option(c.name, c.name); o.title = c.description; $('card').add(o) } }
    const pad = s.pinpads.find((p) => p.id === padId) || s.pinpads[0]
    if (!pad) return
    if (padId === null) padId = pad.id
    $('lcd').textContent = pad.present ? (pad.display.lines.length ? pad.display.lines : ['']).join('\\n') : '(unplugged)'
    $('slot').textContent = pad.inserted ? 'card in the slot: ' + pad.inserted : ''
    $('auto').checked = pad.auto
    $('pad').dataset.present = String(pad.present)
  } catch {}
}
setInterval(refreshPad, 300); refreshPad()

$('pay').addEventListener('click', pay)
$('cancel').addEventListener('click', () => bridge.cancel().then(() => log('cancel sent'), (e) => log('cancel: ' + e.message)))
document.querySelectorAll('[data-cents]').forEach((b) => b.addEventListener('click', () => { $('amount').value = '10.' + b.dataset.cents }))

try {
  const { connect } = await import('/client.js')
  bridge = await connect({ url: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws', context })
  bridge.on('pinpad_message', (m) => { $('prompt').textContent = m.lines.join('\\n'); log('pinpad: ' + m.lines.join(' / ')) })
  bridge.on('status', (m) => { $('device').textContent = m.device_state || m.status })
  bridge.on('device_removed', (m) => log('device removed: ' + m.device.name))
  bridge.on('device_added', (m) => log('device added: ' + m.device.name))
  bridge.on('connection', (e) => { $('conn').textContent = e.state; log('connection ' + e.state) })
  $('conn').textContent = 'open'
  const p = saved.get()
  if (p) await recover(p)
  else { say('ready'); setBusy(false) }
  document.body.dataset.ready = 'true'
} catch (e) { say('cannot reach the bridge: ' + e.message, 'error') }
`

export const DEMO_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mpos-bridge demo POS</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
*{box-sizing:border-box}body{font:15px system-ui,sans-serif;margin:0;background:#eef0f3;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;justify-content:space-between}
header small{opacity:.7}main{display:grid;grid-template-columns:minmax(340px,1fr) 320px;gap:20px;padding:20px;max-width:980px;margin:auto}
section{background:#fff;border-radius:10px;padding:16px 18px;box-shadow:0 1px 3px #0002}
h2{font-size:16px;margin:0 0 12px}label{display:block;font-size:13px;color:#556}
.amount{display:flex;gap:8px;margin:4px 0 8px}.amount input{font-size:22px;width:100%;padding:6px 10px;border:1px solid #ccd;border-radius:6px}
button{font:inherit;padding:8px 14px;border-radius:6px;border:1px solid #bbc;background:#f7f8fa;cursor:pointer}button:disabled{opacity:.45;cursor:default}
#pay{background:#1769e0;color:#fff;border-color:#1769e0;font-weight:600}.hints button{font-size:12px;padding:3px 7px;margin:2px 2px 0 0}
#state{margin:12px 0 4px;font-weight:600}#state[data-kind=error]{color:#b00}
.prompt{font:16px/1.35 ui-monospace,monospace;background:#f3f5f8;border-radius:6px;padding:8px 10px;white-space:pre;min-height:50px}
#outcome{margin-top:12px;padding:12px 14px;border-radius:8px;font-size:14px}#outcome b{display:block;font-size:20px}
#outcome[data-outcome=approved]{background:#e3f6e8;color:#135c2a}#outcome[data-outcome=declined],#outcome[data-outcome=failed]{background:#fde8e8;color:#8a1111}#outcome[data-outcome=cancelled]{background:#f2f2f2;color:#444}
dl{display:grid;grid-template-columns:120px 1fr;margin:10px 0 0;font-size:14px}dt{color:#667}dd{margin:0 0 4px}
ol{font:12px ui-monospace,monospace;color:#445;max-height:150px;overflow:auto;padding-left:0;list-style:none;margin:8px 0 0}
.pad{background:#2b2f36;color:#fff;border-radius:18px;padding:16px}.pad[data-present=false]{opacity:.6}
#lcd{font:17px/1.3 ui-monospace,monospace;background:#b8c99a;color:#1f2a14;padding:8px 10px;border-radius:4px;min-height:54px;white-space:pre;margin:4px 0 10px}
.pad select{width:100%;font:inherit;margin-bottom:6px}.row{display:flex;gap:6px;margin-bottom:8px}.row button{flex:1}
#keys{display:grid;grid-template-columns:repeat(3,1fr);gap:6px}#keys button{font-size:17px;padding:10px 0;background:#e9ebef}
#keys [data-key=cancel]{background:#d23b3b;color:#fff}#keys [data-key=clear]{background:#e8c33a}#keys [data-key=enter]{background:#2e9b4a;color:#fff}
#pin{text-align:center;letter-spacing:4px;margin:4px 0 8px;color:#ccd}.small{font-size:12px;color:#aab;margin-top:6px}.pad label{color:#ccd}
</style></head><body>
<header><span>mpos-bridge · demo POS</span><small>connection: <span id="conn">…</span> · pinpad: <span id="device">—</span></small></header>
<main>
<section><h2>Till</h2>
<label for="amount">Amount (R$)</label>
<div class="amount"><input id="amount" value="10.00" inputmode="decimal" autocomplete="off"><button id="pay" disabled>Pay</button><button id="cancel" disabled>Cancel</button></div>
<div class="hints">The cents choose the outcome:
<button data-cents="00">.00 approved</button><button data-cents="05">.05 declined</button><button data-cents="51">.51 no funds</button><button data-cents="03">.03 online PIN</button><button data-cents="70">.70 chip declines</button></div>
<div id="state">connecting…</div>
<label>The pinpad says</label><div class="prompt" id="prompt"></div>
<div id="outcome" hidden><b></b><span></span></div>
<dl id="result"></dl>
<ol id="log"></ol>
</section>
<section class="pad" id="pad"><h2>Virtual pinpad</h2>
<div id="lcd"></div>
<label for="card">Test card</label><select id="card"></select>
<div class="row"><button id="insert">Insert</button><button id="swipe">Swipe</button><button id="tap">Tap</button></div>
<div id="pin">PIN</div>
<div id="keys">${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => `<button data-key="${d}">${d}</button>`).join('')}<button data-key="clear">LIMPA</button><button data-key="0">0</button><button data-key="enter">ENTRA</button><button data-key="cancel" style="grid-column:span 3">CANCELA</button></div>
<div class="row" style="margin-top:10px"><button id="remove">Remove card</button><button id="unplug">Unplug</button><button id="plug">Plug</button></div>
<label><input type="checkbox" id="auto"> the customer acts alone (visa-credit, PIN 1234)</label>
<div class="small" id="slot"></div>
</section>
</main>
<script type="module">${DEMO_SCRIPT}</script>
</body></html>`
