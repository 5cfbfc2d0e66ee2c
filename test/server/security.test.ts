/**
 * Who may talk to the bridge (peers.md, "Security of a WebSocket server on localhost"): the Origin
 * of every handshake against an allowlist, refused with 403 before the upgrade; the Host header
 * against loopback names on every route (DNS rebinding); 127.0.0.1 as the default address.
 */
import t from 'tap'
import { Client, handshakeStatus, httpGet, startBridge } from './helpers.js'
import { serveCommand } from '../../src/cli/commands/serve.js'
import { parseCommandArgs } from '../../src/cli/command.js'

t.test('Origin allowlist on the handshake', async (t) => {
  const rig = await startBridge(t, { allowedOrigins: ['https://pos.example.com', 'https://*.shop.example:*'] })

  const accepted = [
    undefined, // a non-browser client sends no Origin
    'http://localhost:5173',
    'http://127.0.0.1:8080',
    'https://localhost',
    'http://[::1]:3000',
    'https://pos.example.com',
    'https://pos.example.com:443',
    'https://till.shop.example:8443',
    'https://a.b.shop.example',
  ]
  for (const origin of accepted) {
    const c = await Client.open(t, rig.wsUrl, { protocol: 'mpos-bridge', ...(origin ? { headers: { Origin: origin } } : {}) })
    t.equal(c.ws.protocol, 'mpos-bridge', `${origin ?? 'no Origin'}: upgraded`)
    t.match(await c.request({ command: 'status' }), { success: true }, `${origin ?? 'no Origin'}: served`)
    c.terminate()
  }

  const refused = [
    'https://evil.example',
    'null',
    'http://pos.example.com', // scheme differs
    'https://pos.example.com:8443', // exact origin: its port only
    'https://pos.example.com.evil.example',
    'https://evilpos.example.com',
    'https://shop.example', // the wildcard asks for a subdomain
    'http://till.shop.example:8080', // https only
    'http://localhost.evil.example:5173',
    'file://',
  ]
  for (const origin of refused) {
    const res = await handshakeStatus(rig.wsUrl, { protocol: 'mpos-bridge', headers: { Origin: origin } })
    t.equal(res.status, 403, `${origin}: 403 before the upgrade`)
    t.same(
      JSON.parse(res.body),
      { success: false, error: `Forbidden: origin ${JSON.stringify(origin)} is not allowed`, code: 'MPOS_ERR_FORBIDDEN_ORIGIN' },
      `${origin}: the body says why`,
    )
  }
  t.equal(rig.server.runtime.sessionCount, 0, 'no refused handshake opened a session')
})

t.test('only local origins without --allowed-origin', async (t) => {
  const rig = await startBridge(t)
  t.equal((await handshakeStatus(rig.wsUrl, { headers: { Origin: 'https://pos.example.com' } })).status, 403)
  t.equal((await handshakeStatus(rig.wsUrl, { headers: { Origin: 'http://localhost:5173' } })).status, 101)
})

t.test('Host must be a loopback name (DNS rebinding)', async (t) => {
  const rig = await startBridge(t)
  const evil = `evil.example:${rig.port}`
  const ws = await handshakeStatus(rig.wsUrl, { headers: { Host: evil } })
  t.equal(ws.status, 403, '/ws refused')
  t.same(JSON.parse(ws.body), { success: false, error: `Forbidden: host ${JSON.stringify(evil)} is not a loopback name`, code: 'MPOS_ERR_FORBIDDEN_HOST' })
  // Even with an allowed Origin: the page came through a rebinding name.
  t.equal((await handshakeStatus(rig.wsUrl, { headers: { Host: evil, Origin: `http://localhost:${rig.port}` } })).status, 403)

  for (const route of ['/status', '/health', '/metrics', '/ready', '/sandbox/1/transactions/card_hash_key']) {
    const res = await httpGet(`${rig.httpUrl}${route}`, { Host: evil })
    t.equal(res.status, 403, `${route} refused`)
    t.match(JSON.parse(res.body), { success: false, code: 'MPOS_ERR_FORBIDDEN_HOST' })
  }
  t.equal((await httpGet(`${rig.httpUrl}/status`, { Host: `evil.example` })).status, 403, 'without a port too')

  for (const host of [`localhost:${rig.port}`, `127.0.0.1:${rig.port}`, `[::1]:${rig.port}`, 'LOCALHOST']) {
    t.equal((await httpGet(`${rig.httpUrl}/status`, { Host: host })).status, 200, `Host ${host} served`)
  }
  t.equal((await handshakeStatus(rig.wsUrl, { headers: { Host: `localhost:${rig.port}` } })).status, 101, '/ws with Host localhost upgraded')
})

t.test('binds to 127.0.0.1 by default', async (t) => {
  const { values } = parseCommandArgs(serveCommand, [], {})
  t.equal(values.host, '127.0.0.1', 'serve --host defaults to 127.0.0.1')
  t.equal(values.port, '2000', 'serve --port defaults to 2000')
  const fromEnv = parseCommandArgs(serveCommand, [], { MPOS_BRIDGE_HOST: '::1' })
  t.equal(fromEnv.values.host, '::1', 'MPOS_BRIDGE_HOST overrides it')

  const rig = await startBridge(t)
  const address = rig.server.app.server.address()
  t.match(address, { address: '127.0.0.1', family: 'IPv4' }, 'the server listens on loopback only')
  t.match(rig.server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
})
