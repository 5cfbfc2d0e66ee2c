/**
 * Who may talk to the bridge (peers.md, "Security of a WebSocket server on localhost"): the Origin
 * of every handshake against an allowlist, refused with 403 before the upgrade; the Host header
 * against loopback names on every route (DNS rebinding); 127.0.0.1 as the default address.
 */
import t from 'tap'
import { Client, handshakeStatus, httpGet, startBridge } from './helpers.js'
import { serveCommand } from '../../src/cli/commands/serve.js'
import { parseCommandArgs } from '../../src/cli/command.js'
import { checkHost, parseHost, type AccessPolicy } from '../../src/server/security.js'

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

t.test('checkHost: the Host header parsed as RFC 7230 §5.4 / RFC 3986 §3.2.2 say, loopback only', async (t) => {
  const policy: AccessPolicy = { allowedOrigins: [] }
  const accepted = [
    'localhost',
    'LOCALHOST',
    'localhost:2000',
    'localhost:', // port = *DIGIT: an empty port is no port
    '127.0.0.1',
    '127.0.0.1:2000',
    // IPv6 loopback, bracketed (RFC 3986 IP-literal) with or without a port…
    '[::1]',
    '[::1]:2000',
    '[::1]:',
    // …bare, as some clients send it (without a port: "::1:2000" is another address)…
    '::1',
    // …and in any of its spellings.
    '0:0:0:0:0:0:0:1',
    '[0:0:0:0:0:0:0:1]:2000',
    '[0000:0000:0000:0000:0000:0000:0000:0001]',
    '[::0:1]',
    // 127.0.0.1 mapped into IPv6 (RFC 4291 §2.5.5.2) is 127.0.0.1 itself.
    '[::ffff:127.0.0.1]:2000',
    '[::FFFF:7F00:1]',
    '::ffff:127.0.0.1',
  ]
  for (const host of accepted) t.same(checkHost(host, policy), { ok: true }, `${host}: accepted`)

  const refused = [
    '',
    ' ',
    // other IPv6 addresses
    '[::2]',
    '[::2]:2000',
    '::2',
    '::1:2000', // 0:0:0:0:0:0:1:2000, not ::1 port 2000
    '[::]',
    '::',
    // IPv4-mapped addresses other than 127.0.0.1, the deprecated IPv4-compatible form, NAT64
    '[::ffff:127.0.0.2]',
    '[::ffff:7f00:2]',
    '[::ffff:10.0.0.1]:2000',
    '[::ffff:0.0.0.0]',
    '[::127.0.0.1]',
    '[64:ff9b::7f00:1]',
    // names that merely start or end like loopback ones
    '::1.evil.com',
    '[::1].evil.com',
    'evil.com',
    'evil.com:2000',
    'localhost.evil.com',
    'localhost.evil.com:2000',
    'evil.com.localhost.',
    'localhost.',
    'user@localhost',
    'localhost/evil',
    'local host',
    '[localhost]',
    '[127.0.0.1]',
    // other IPv4 spellings and addresses: only 127.0.0.1 is served
    '127.0.0.2',
    '127.1',
    '2130706433',
    '0.0.0.0',
    // malformed
    '[::1',
    '::1]',
    '[::1]]',
    '[::1]2000',
    '[::1] :2000',
    '[::1]:20x0',
    '[::1]:2000:2000',
    '[::1]:-1',
    'localhost:2000:1',
    'localhost:abc',
    ':2000',
    '[]',
    '[]:2000',
    // zone ids and IPvFuture are no Host a browser sends
    '[fe80::1%25eth0]',
    '[::1%25lo]',
    '::1%lo',
    '[v1.fe]',
  ]
  for (const host of refused) {
    t.same(checkHost(host, policy), host ? { ok: false, reason: `host ${JSON.stringify(host)} is not a loopback name` } : { ok: false, reason: 'missing Host header' }, `${JSON.stringify(host)}: refused`)
  }
  t.same(checkHost(undefined, policy), { ok: false, reason: 'missing Host header' })

  t.same(parseHost('[::1]:2000'), { host: '[::1]', port: '2000' }, 'an IP-literal and its port')
  t.same(parseHost('::1'), { host: '[::1]' }, 'a bare IPv6 address: canonical, in brackets, no port')
  t.same(parseHost('[0:0:0:0:0:0:0:1]'), { host: '[::1]' }, 'IPv6 compressed (RFC 5952)')
  t.same(parseHost('[::FFFF:127.0.0.1]:80'), { host: '[::ffff:7f00:1]', port: '80' })
  t.same(parseHost('LocalHost:80'), { host: 'localhost', port: '80' }, 'names are case-insensitive')
  t.same(parseHost('localhost:'), { host: 'localhost' })
  t.equal(parseHost('[::1'), undefined)

  // --host bound elsewhere on purpose: that name (or address, in any spelling) is served too.
  const lan: AccessPolicy = { allowedOrigins: [], extraHosts: ['192.168.0.5', '2001:db8::5', 'Till.local'] }
  for (const host of ['192.168.0.5:2000', '[2001:DB8:0::5]:2000', '2001:db8::5', 'till.LOCAL', '[::1]:2000']) t.same(checkHost(host, lan), { ok: true }, `${host}: served`)
  for (const host of ['192.168.0.6', '[2001:db8::6]:2000', 'till.local.evil.com', '192.168.0.5.evil.com']) t.equal(checkHost(host, lan).ok, false, `${host}: refused`)
})

t.test('Host ::1, bare or bracketed, reaches the bridge', async (t) => {
  const rig = await startBridge(t)
  for (const host of ['::1', `[::1]:${rig.port}`, '[::1]', `[0:0:0:0:0:0:0:1]:${rig.port}`, '0:0:0:0:0:0:0:1']) {
    const res = await httpGet(`${rig.httpUrl}/health`, { Host: host })
    t.same({ status: res.status, body: JSON.parse(res.body) }, { status: 200, body: { status: 'ok' } }, `/health with Host ${host}: 200`)
  }
  t.equal((await handshakeStatus(rig.wsUrl, { headers: { Host: '::1' } })).status, 101, '/ws with Host ::1 upgraded')
  for (const host of [`[::2]:${rig.port}`, '::1.evil.example', `[::1`, `::1:${rig.port}`, `[::ffff:10.0.0.1]:${rig.port}`]) {
    const res = await httpGet(`${rig.httpUrl}/health`, { Host: host })
    t.equal(res.status, 403, `/health with Host ${host}: 403`)
    t.match(JSON.parse(res.body), { success: false, code: 'MPOS_ERR_FORBIDDEN_HOST' })
  }
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
