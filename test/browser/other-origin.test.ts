/**
 * A POS page on ANOTHER local origin (its own tiny HTTP server, on another port) takes a payment
 * in a dozen lines with `import('http://127.0.0.1:PORT/client.js')` — the README's example — in
 * headless Chromium. A page on an origin the bridge does not allow cannot even import the client.
 */
import t from 'tap'
import { EK, memoryLogger, startBridge, WAIT_MS } from '../server/helpers.js'
import { artifact, launch, pageServer } from './helpers.js'

/** The README's "Use it from your POS page" example, with the bridge's address from the query. */
const POS_PAGE = `<!doctype html><meta charset="utf-8"><title>My POS</title><pre id="out">paying…</pre>
<script type="module">
const bridgeUrl = new URLSearchParams(location.search).get('bridge') // http://127.0.0.1:2000
const { connect } = await import(bridgeUrl + '/client.js')
const bridge = await connect({ url: bridgeUrl.replace('http', 'ws') + '/ws', context: 'till-1' })
await bridge.initialize({ encryptionKey: '${EK}' })
const payment = await bridge.processPayment({ amount: 1000 })
// your server authorizes payment.card_hash with the acquirer, then:
const { approved } = await bridge.finishPayment({ success: true, responseCode: '0000' })
document.getElementById('out').textContent = JSON.stringify({ status: payment.status, approved, origin: location.origin })
</script>`

t.test('a page on another local origin takes a payment through /client.js', async (t) => {
  const rig = await startBridge(t)
  const port = await pageServer(t, POS_PAGE)
  t.not(port, rig.port)
  const browser = await launch(t)
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(`http://localhost:${port}/?bridge=${encodeURIComponent(rig.httpUrl)}`)
  await page.waitForSelector('#out:has-text("approved")', { timeout: WAIT_MS })
  t.same(JSON.parse((await page.textContent('#out'))!), { status: 'accepted', approved: true, origin: `http://localhost:${port}` })
  t.same(errors, [])
  await page.screenshot({ path: artifact('other-origin') })
})

t.test('a page on an origin that is not allowed cannot import the client', async (t) => {
  const { logger } = memoryLogger('warn')
  const rig = await startBridge(t, { logger })
  const port = await pageServer(t, POS_PAGE, '127.0.0.2')
  const browser = await launch(t)
  const page = await browser.newPage()
  const failed = page.waitForEvent('pageerror', { timeout: WAIT_MS })
  await page.goto(`http://127.0.0.2:${port}/?bridge=${encodeURIComponent(rig.httpUrl)}`)
  t.match((await failed).message, /Failed to fetch dynamically imported module/, 'the import failed (403, no CORS header)')
  t.equal(await page.textContent('#out'), 'paying…')
  t.equal(rig.server.runtime.sessionCount, 0, 'no connection reached the bridge')
})
