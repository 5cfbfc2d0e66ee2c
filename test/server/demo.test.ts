/**
 * What the demo POS page and the browser client need over HTTP: `/client.js` (an ES module, CORS
 * for allowed origins, 403 for others), `/` (the demo page, with a strict CSP, only with
 * `demo` and a virtual pinpad), and the virtual pinpads' controls without `--devtools` — but not
 * the machines' state or event stream, which stay behind `--devtools`.
 */
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { httpGet, httpRequest, memoryLogger, startBridge } from './helpers.js'

const BUILT = new URL('../../dist/src/client/index.js', import.meta.url)

t.test('/client.js: the built client, importable from allowed origins only', async (t) => {
  const rig = await startBridge(t)
  const plain = await httpGet(`${rig.httpUrl}/client.js`)
  t.equal(plain.status, 200)
  t.match(plain.headers['content-type'], /^application\/javascript/)
  t.equal(plain.body, await readFile(BUILT, 'utf8'), 'the file npm run build:client made')
  t.match(plain.body, /export async function connect\(/)
  t.notOk(/^\s*import\s/m.test(plain.body), 'one module: no imports')
  t.equal(plain.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS header')

  const local = await httpGet(`${rig.httpUrl}/client.js`, { origin: 'http://localhost:5173' })
  t.equal(local.status, 200)
  t.equal(local.headers['access-control-allow-origin'], 'http://localhost:5173', 'an allowed origin may import it')
  t.match(local.headers.vary, /Origin/)

  const evil = await httpGet(`${rig.httpUrl}/client.js`, { origin: 'https://evil.example' })
  t.equal(evil.status, 403)
  t.equal(JSON.parse(evil.body).code, 'MPOS_ERR_FORBIDDEN_ORIGIN')
  t.equal(evil.headers['access-control-allow-origin'], undefined)
})

t.test('the demo page is served at / with demo on and a virtual pinpad', async (t) => {
  const rig = await startBridge(t, { demo: true })
  const page = await httpGet(`${rig.httpUrl}/`)
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /import\('\/client\.js'\)/, 'built on the client')
  t.notMatch(page.body, /https?:\/\/(?!127\.0\.0\.1|localhost)[a-z]/i, 'nothing from another host (works offline)')
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/, 'its own script by hash, no unsafe-inline script')
  t.match(csp, new RegExp(`connect-src 'self' ws://127\\.0\\.0\\.1:${rig.port}`))
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(page.headers['x-frame-options'], 'DENY')
  t.equal((await httpGet(`${rig.httpUrl}/`, { origin: 'https://evil.example' })).status, 403, 'a foreign origin')
})

t.test('with the demo, the pinpad controls work; the machines stay behind --devtools', async (t) => {
  const rig = await startBridge(t, { demo: true })
  const state = await httpGet(`${rig.httpUrl}/devtools/pinpads`)
  t.equal(state.status, 200)
  const body = JSON.parse(state.body)
  t.match(body.pinpads, [{ id: 1, present: true, display: { lines: Array }, inserted: null, auto: true }, { id: 2 }])
  t.ok(body.cards.some((c: { name: string }) => c.name === 'visa-credit'), 'the test cards')
  t.notOk('actors' in body, 'no machine state')

  const unplug = await httpRequest('POST', `${rig.httpUrl}/devtools/pinpads/1`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'unplug' }) })
  t.equal(unplug.status, 200)
  t.equal(rig.server.runtime.virtualDevices()[0]!.device.present, false, 'unplugged')
  const bad = await httpRequest('POST', `${rig.httpUrl}/devtools/pinpads/1`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'explode' }) })
  t.equal(bad.status, 400, 'schema validation as in devtools')
  t.equal(JSON.parse(bad.body).code, 'MPOS_ERR_DEVTOOLS_INVALID')
  const foreign = await httpRequest('POST', `${rig.httpUrl}/devtools/pinpads/1`, { headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify({ action: 'plug' }) })
  t.equal(foreign.status, 403, 'the Origin check')

  for (const route of ['/devtools', '/devtools/state', '/devtools/events', '/devtools/diagrams/device.svg']) {
    t.equal((await httpGet(`${rig.httpUrl}${route}`)).status, 404, `${route}: only with --devtools`)
  }
})

t.test('no demo without a virtual pinpad, nor when it is off', async (t) => {
  const noSim = await startBridge(t, { demo: true, simulator: false })
  t.equal((await httpGet(`${noSim.httpUrl}/`)).status, 404)
  t.equal((await httpGet(`${noSim.httpUrl}/devtools/pinpads`)).status, 404)
  const off = await startBridge(t)
  t.equal((await httpGet(`${off.httpUrl}/`)).status, 404)
  t.equal((await httpGet(`${off.httpUrl}/devtools/pinpads`)).status, 404)
  t.equal((await httpGet(`${off.httpUrl}/client.js`)).status, 200, 'the client is always served')
  // The demo authorizes with the embedded sandbox: another acquirer (--api-url) has no use for it.
  const { logger, lines } = memoryLogger()
  const elsewhere = await startBridge(t, { demo: true, apiUrl: 'http://127.0.0.1:9/acquirer', logger })
  t.equal((await httpGet(`${elsewhere.httpUrl}/`)).status, 404, 'no demo with --api-url')
  t.equal((await httpGet(`${elsewhere.httpUrl}/devtools/pinpads`)).status, 404)
  t.ok(lines().some((l) => /demo page is not served/.test(String(l.msg))), 'and the log says why')
})
