/**
 * A real headless Chromium runs a page with a client written the way the original browser client
 * (`mpos-bridge-js`) works: subprotocol `mpos-bridge`, a `command_id` on every request, a
 * `context` from its options, a call resolved with `response` when `success` is true and rejected
 * with `error` otherwise, and every message carrying an `event` field emitted as that event. The
 * page runs initialize → process_payment → finish_payment → close against the bridge; the test
 * reads what it got. Pages from origins that are not allowed cannot connect (403).
 *
 * Chromium comes from Debian (`apt-get install -y chromium`, done by .ci/run); playwright-core
 * drives it and downloads no browser. Without Chromium this test fails: it never skips.
 */
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import http from 'node:http'
import { chromium, type Browser, type Page } from 'playwright-core'
import { decryptCardHash } from '../../src/acquirer/sandbox/index.js'
import { findCard } from '../../src/simulator/cards.js'
import { EK, memoryLogger, startBridge, WAIT_MS, type Message, type Rig } from '../server/helpers.js'

/** The page: its client is written after mpos-bridge-js (protocol/index.js + commands/index.js). */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>POS</title></head>
<body><h1>Caixa</h1><pre id="out"></pre>
<script>
  // A client in the style of mpos-bridge-js.
  function openBridge(config) {
    var socket = new WebSocket(config.endpoint, 'mpos-bridge')
    var callbacks = {}
    var listeners = {}
    var counter = 0
    function commandId() { return 'c' + Date.now().toString(36) + (++counter).toString(36) + Math.random().toString(36).slice(2, 8) }
    function emit(name, payload) { (listeners[name] || []).forEach(function (fn) { fn(payload) }) }
    function on(name, fn) { (listeners[name] = listeners[name] || []).push(fn) }
    function send(request, options) {
      var opts = Object.assign({ context: config.context }, options)
      var full = Object.assign({ context: opts.context, command_id: commandId() }, request)
      return new Promise(function (resolve, reject) {
        callbacks[full.command_id] = function (result) {
          if (result.success === true) resolve(result.response)
          else reject(result.error)
        }
        socket.send(JSON.stringify(full))
      })
    }
    socket.addEventListener('open', function () { emit('ready') })
    socket.addEventListener('error', function (e) { emit('error', e) })
    socket.addEventListener('close', function (e) { emit('close', e) })
    socket.addEventListener('message', function (e) {
      var message = JSON.parse(e.data)
      if (message.command) {
        var cb = callbacks[message.command_id]
        if (cb) { delete callbacks[message.command_id]; cb(message) }
      } else if (message.event) {
        emit(message.event, message)
      }
    })
    function command(name) { return function (args, options) { return send(Object.assign({ command: name }, args), options) } }
    return {
      socket: socket, on: on, send: send,
      listDevices: command('list_devices'),
      initialize: function (args, options) { return send(Object.assign({ command: 'initialize', encryption_key: config.encryption_key }, args), options) },
      status: command('status'),
      processPayment: command('process_payment'),
      finishPayment: command('finish_payment'),
      close: command('close'),
    }
  }

  var params = new URLSearchParams(location.search)
  var out = { events: [], origin: location.origin }
  function done() { document.getElementById('out').textContent = JSON.stringify(out); window.__result = out }
  var bridge = openBridge({ endpoint: params.get('bridge'), encryption_key: params.get('ek'), context: 'browser-till' })
  ;['status', 'pinpad_message', 'payment_status', 'device_added', 'device_removed'].forEach(function (name) {
    bridge.on(name, function (m) { out.events.push(m) })
  })
  bridge.on('error', function () { out.connectError = true })
  bridge.on('close', function (e) { out.closeCode = e.code; if (!out.finished) done() })
  bridge.on('ready', async function () {
    out.protocol = bridge.socket.protocol
    try {
      out.devices = await bridge.listDevices()
      out.initialize = (await bridge.initialize({ device_id: 1 })) ?? null
      out.payment = await bridge.processPayment({ amount: 1000 })
      try { await bridge.processPayment({ amount: 500 }); out.rejected = null } catch (e) { out.rejected = e }
      out.finish = (await bridge.finishPayment({ success: true, response_code: '0000' })) ?? null
      out.status = await bridge.status()
      out.close = (await bridge.close()) ?? null
    } catch (e) {
      out.failure = String(e)
    }
    out.finished = true
    done()
  })
</script></body></html>`

function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('chromium is not installed: run `apt-get install -y chromium` (.ci/run does)')
  }
}

async function launch(t: Test, extraArgs: string[] = []): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  })
  t.teardown(() => browser.close())
  return browser
}

/** A tiny HTTP server for the page, on a given loopback address. */
async function pageServer(t: Test, host = '127.0.0.1'): Promise<number> {
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/pos')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(PAGE)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((r) => server.listen(0, host, r))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.close(() => r())
        server.closeAllConnections() // the browser's keep-alive connections
      }),
  )
  return (server.address() as { port: number }).port
}

async function runPage(page: Page, pageUrl: string, rig: Rig): Promise<Message> {
  const url = `${pageUrl}/pos?bridge=${encodeURIComponent(rig.wsUrl)}&ek=${encodeURIComponent(EK)}`
  await page.goto(url)
  await page.waitForFunction(() => (globalThis as unknown as { __result?: unknown }).__result !== undefined, undefined, { timeout: WAIT_MS })
  return (await page.evaluate(() => (globalThis as unknown as { __result: unknown }).__result)) as Message
}

t.test('the original client in Chromium: initialize → process_payment → finish_payment → close', async (t) => {
  const rig = await startBridge(t)
  const port = await pageServer(t)
  const browser = await launch(t)
  const page = await browser.newPage()
  rig.pinpads[0]!.cardholder.present('visa-credit')

  const out = await runPage(page, `http://localhost:${port}`, rig)
  t.equal(out.failure, undefined, 'no call failed')
  t.equal(out.origin, `http://localhost:${port}`)
  t.equal(out.protocol, 'mpos-bridge', 'the server selected the subprotocol the client asked for')
  t.match(out.devices, [{ id: 1, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec' }, { id: 2 }], 'list_devices resolved with the list')
  t.equal(out.initialize, null, 'initialize resolved (no response)')
  t.match(out.payment, { status: 'accepted', card_holder_name: 'ANA SILVA', payment_method: 'credit_card', is_online_pin: true })
  const fields = await decryptCardHash(out.payment.card_hash, rig.dataDir)
  t.equal(fields.card_number, findCard('visa-credit').pan, 'the card hash holds the presented card')
  t.equal(
    out.rejected,
    'process_payment is not allowed now in context "browser-till"; allowed: finish_payment, cancel, status, list_devices, close',
    'a refused call rejects with the error string',
  )
  t.same(out.finish, { approved: true }, 'finish_payment resolved with its response')
  t.match(out.status, { status: 'initialized', connected_device_id: 1, devices_available: 2 }, 'status resolved with the response')
  t.equal(out.close, null, 'close resolved')
  t.equal(out.closeCode, undefined, 'the socket stayed open')

  const events = out.events as Message[]
  t.ok(events.length > 0, 'pushed events reached the client as events')
  t.ok(events.every((e) => e.event !== 'status' || e.context === 'browser-till'), "status events are the page's context")
  t.ok(events.some((e) => e.event === 'pinpad_message' && e.lines[0] === 'SOLICITE A SENHA'), 'the PIN prompt')
  t.same(events.filter((e) => e.event === 'payment_status'), [{ event: 'payment_status', context: 'browser-till', status: 'accepted' }])
  t.match(events.at(-1), { event: 'status', context: 'browser-till', status: 'idle' }, 'closed at the end')
  t.same(rig.server.runtime.contexts(), [], 'close ended the context')
  t.notOk(JSON.stringify(out).includes(findCard('visa-credit').pan), 'the card number reached the page nowhere')
})

t.test('pages from origins that are not allowed cannot connect (403)', async (t) => {
  const { logger, lines } = memoryLogger('warn')
  const rig = await startBridge(t, { logger, allowedOrigins: ['http://pos.shop.test:*'] })
  const port = await pageServer(t, '127.0.0.1')
  const otherPort = await pageServer(t, '127.0.0.2')
  const browser = await launch(t, ['--host-resolver-rules=MAP evil.test 127.0.0.1, MAP pos.shop.test 127.0.0.1'])

  for (const origin of [`http://127.0.0.2:${otherPort}`, `http://evil.test:${port}`]) {
    const page = await browser.newPage()
    const consoleErrors: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text())
    })
    const out = await runPage(page, origin, rig)
    t.equal(out.origin, origin, `the page runs at ${origin}`)
    t.equal(out.connectError, true, `${origin}: the connection failed`)
    t.equal(out.closeCode, 1006, `${origin}: closed abnormally, never opened`)
    t.equal(out.protocol, undefined, `${origin}: never open`)
    t.equal(out.devices, undefined, `${origin}: no command went through`)
    t.ok(consoleErrors.some((e) => /403/.test(e)), `${origin}: the browser saw 403 (${consoleErrors.join(' | ')})`)
    t.ok(
      lines().some((l) => l.msg === 'refused: origin' && l.origin === origin),
      `${origin}: the bridge refused the handshake for its origin`,
    )
    await page.close()
  }
  t.equal(rig.server.runtime.sessionCount, 0, 'no session was opened')
  t.same(rig.server.runtime.contexts(), [], 'no context was touched')

  // An origin given with --allowed-origin connects.
  const page = await browser.newPage()
  rig.pinpads[0]!.cardholder.present('visa-credit')
  const out = await runPage(page, `http://pos.shop.test:${port}`, rig)
  t.equal(out.failure, undefined)
  t.equal(out.protocol, 'mpos-bridge', 'an allowed origin connects')
  t.match(out.payment, { status: 'accepted' })
})
