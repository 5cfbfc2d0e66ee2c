/**
 * The admin route `mpos-bridge pair` uses: loopback clients only (by the socket's address, not a
 * header), never a request with a browser's Origin, always with the secret of admin.secret (0600);
 * it issues codes (also shown on a free pinpad), lists pairings and revokes them.
 */
import t from 'tap'
import { readFileSync, statSync } from 'node:fs'
import { networkInterfaces } from 'node:os'
import path from 'node:path'
import { Client, EK, httpRequest, memoryLogger, screenText, startBridge, type Rig } from './helpers.js'
import { ADMIN_SECRET_FILE } from '../../src/server/pairing/admin.js'

const POS = 'http://localhost:5173'
const secretOf = (rig: Rig) => readFileSync(path.join(rig.dataDir, ADMIN_SECRET_FILE), 'utf8').trim()
const admin = async (rig: Rig, method: string, route: string, options: { headers?: Record<string, string>; body?: unknown; secret?: string | null } = {}) => {
  const secret = options.secret === undefined ? secretOf(rig) : options.secret
  const res = await httpRequest(method, `${rig.httpUrl}/admin/pairing${route}`, {
    headers: { ...(secret !== null ? { authorization: `Bearer ${secret}` } : {}), ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  })
  return { status: res.status, body: JSON.parse(res.body) as Record<string, any> }
}

t.test('the secret file is made at start, readable by its owner only', async (t) => {
  const rig = await startBridge(t)
  const file = path.join(rig.dataDir, ADMIN_SECRET_FILE)
  t.equal(statSync(file).mode & 0o777, 0o600)
  t.match(secretOf(rig), /^[0-9a-f]{64}$/)
})

t.test('refused: no secret, a wrong secret, a browser Origin, a non-loopback client', async (t) => {
  const rig = await startBridge(t)
  const secret = secretOf(rig)
  // The wrong secret differs in its last character (the right one may well end in 0).
  t.match(await admin(rig, 'POST', '/code', { secret: null, body: {} }), { status: 401, body: { success: false, code: 'MPOS_ERR_ADMIN_UNAUTHORIZED', error: /no secret/ } })
  t.match(await admin(rig, 'POST', '/code', { secret: `${secret.slice(0, -1)}${secret.endsWith('0') ? '1' : '0'}`, body: {} }), { status: 401, body: { code: 'MPOS_ERR_ADMIN_UNAUTHORIZED', error: /wrong secret/ } })
  t.match(await admin(rig, 'GET', '/tokens', { secret: 'short' }), { status: 401, body: { code: 'MPOS_ERR_ADMIN_UNAUTHORIZED' } })
  t.match(await admin(rig, 'GET', '/tokens', { headers: { authorization: secret } }), { status: 401 }, 'the secret alone, without Bearer')
  // A page on an allowed origin, even one that knew the secret.
  t.match(await admin(rig, 'POST', '/code', { headers: { origin: POS }, body: {} }), { status: 403, body: { code: 'MPOS_ERR_ADMIN_FORBIDDEN', error: /not for web pages/ } })
  t.match(await admin(rig, 'GET', '/tokens', { headers: { origin: 'null' } }), { status: 403 })
  t.match(await admin(rig, 'GET', '/tokens', { headers: { 'sec-fetch-site': 'same-origin' } }), { status: 403 })
  t.equal(rig.server.pairing.codeValid, false, 'no code was issued')

  // A client on another machine, by the socket's address: no header makes it loopback.
  for (const remoteAddress of ['192.168.1.20', '::ffff:10.0.0.7', 'fe80::1']) {
    const res = await rig.server.app.inject({
      method: 'GET',
      url: '/admin/pairing/tokens',
      remoteAddress,
      headers: { host: '127.0.0.1', authorization: `Bearer ${secret}`, 'x-forwarded-for': '127.0.0.1', forwarded: 'for=127.0.0.1' },
    })
    t.match({ status: res.statusCode, body: res.json() }, { status: 403, body: { code: 'MPOS_ERR_ADMIN_FORBIDDEN', error: /loopback clients only/ } }, remoteAddress)
  }
  for (const remoteAddress of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) {
    const res = await rig.server.app.inject({ method: 'GET', url: '/admin/pairing/tokens', remoteAddress, headers: { host: '127.0.0.1', authorization: `Bearer ${secret}` } })
    t.equal(res.statusCode, 200, `${remoteAddress}: served`)
  }
})

const lan = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)
t.test('refused over the network: a bridge listening on every address', { skip: lan ? false : 'no non-loopback IPv4 address here' }, async (t) => {
  const rig = await startBridge(t, { host: '0.0.0.0' })
  // The Host header names loopback (it passes the Host check); the socket's address does not.
  const res = await httpRequest('GET', `http://${lan!.address}:${rig.port}/admin/pairing/tokens`, { headers: { host: `127.0.0.1:${rig.port}`, authorization: `Bearer ${secretOf(rig)}` } })
  t.match({ status: res.status, body: JSON.parse(res.body) }, { status: 403, body: { code: 'MPOS_ERR_ADMIN_FORBIDDEN' } })
  t.equal((await admin(rig, 'GET', '/tokens')).status, 200, 'from loopback it answers')
})

t.test('issue a code, list the pairings, revoke one', async (t) => {
  const rig = await startBridge(t, { requirePairing: true })
  const issued = await admin(rig, 'POST', '/code', { body: {} })
  t.match(issued, { status: 200, body: { code: /^\d{6}$/, expires_at: String } })
  t.notOk('pinpad' in issued.body, 'not shown on a pinpad unless asked')
  const ws = await Client.open(t, rig.wsUrl, { headers: { Origin: POS } })
  t.match(await ws.request({ command: 'pair', code: issued.body.code }), { success: true })
  await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 })

  const listed = await admin(rig, 'GET', '/tokens')
  t.match(listed, { status: 200, body: { pairings: [{ id: 1, origin: POS, created_at: String, last_used_at: null }] } })
  t.same(Object.keys(listed.body.pairings[0]).sort(), ['created_at', 'id', 'last_used_at', 'origin'], 'never a token or its hash')
  t.match(await admin(rig, 'DELETE', '/tokens/1'), { status: 200, body: { revoked: { id: 1, origin: POS }, connections: 1 } })
  t.match(await ws.request({ command: 'display_message', message: 'x' }), { code: 'MPOS_ERR_NOT_PAIRED' }, 'the open connection lost it')
  t.match(await admin(rig, 'DELETE', '/tokens/1'), { status: 404, body: { code: 'MPOS_ERR_PAIRING_NOT_FOUND' } })
  t.match(await admin(rig, 'DELETE', '/tokens/abc'), { status: 404 })
  t.same((await admin(rig, 'GET', '/tokens')).body, { pairings: [] })
  t.match(await admin(rig, 'POST', '/code', { body: { on_pinpad: 'yes' } }), { status: 400, body: { code: 'MPOS_ERR_INVALID_FIELD' } })
  t.match(await httpRequest('POST', `${rig.httpUrl}/admin/pairing/code`, { headers: { authorization: `Bearer ${secretOf(rig)}`, 'content-type': 'application/json' }, body: '{nope' }), { status: 400 })
})

t.test('with on_pinpad the code is also on a free pinpad until it is used', async (t) => {
  const { logger, lines } = memoryLogger('trace')
  const rig = await startBridge(t, { requirePairing: true, logger })
  const issued = await admin(rig, 'POST', '/code', { body: { on_pinpad: true, device_id: 2 } })
  t.match(issued, { status: 200, body: { pinpad: { device_id: 2 } } })
  t.same(screenText(rig.pinpads[1]!), ['PAREAMENTO', issued.body.code])
  const ws = await Client.open(t, rig.wsUrl, { headers: { Origin: POS } })
  t.match(await ws.request({ command: 'pair', code: issued.body.code }), { success: true })
  await rig.until(() => !screenText(rig.pinpads[1]!).includes(issued.body.code), 'the code leaves the screen')
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 2 }), { success: true }, 'the pinpad is free again')

  // A pinpad held by a till is never taken: the code is still issued, and the CLI says why it is not shown.
  const other = await admin(rig, 'POST', '/code', { body: { on_pinpad: true, device_id: 2 } })
  t.match(other, { status: 200, body: { code: /^\d{6}$/, pinpad_error: { code: 'MPOS_ERR_DEVICE_IN_USE' } } })
  t.notOk(screenText(rig.pinpads[1]!).includes(other.body.code))
  const first = await admin(rig, 'POST', '/code', { body: { on_pinpad: true } })
  t.match(first, { body: { pinpad: { device_id: 1 } } }, 'without device_id: the first free one')
  t.same(screenText(rig.pinpads[0]!), ['PAREAMENTO', first.body.code])
  const second = await admin(rig, 'POST', '/code', { body: { on_pinpad: true, device_id: 1 } })
  t.match(second, { body: { pinpad: { device_id: 1 } } }, 'a new code on the same pinpad takes the place of the one shown')
  t.same(screenText(rig.pinpads[0]!), ['PAREAMENTO', second.body.code])
  const replaced = await admin(rig, 'POST', '/code', { body: {} })
  await rig.until(() => !screenText(rig.pinpads[0]!).includes(second.body.code), 'a replaced code leaves the screen')
  t.ok(replaced.body.code)
  const logged = JSON.stringify(lines())
  t.match(logged, /pairing code shown on the pinpad/)
  for (const code of [issued.body.code, other.body.code, first.body.code, second.body.code, replaced.body.code]) t.notMatch(logged, new RegExp(`(?<!\\d)${code}(?!\\d)`), 'no code in any log line, trace level included')
  t.notMatch(logged, secretOf(rig), 'nor the secret')
})
