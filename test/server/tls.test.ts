/**
 * TLS: `mpos-bridge cert`'s CA and server certificate (files, modes, names), and the bridge serving
 * wss:// beside ws:// on one runtime — a client trusting the CA pays over wss://localhost, one
 * without it is refused, both ports see the same contexts; /ready reports the expiry; a renewed
 * certificate is served after reloadTls(); TLS alone (the embedded sandbox reached in-process).
 */
import t, { type Test } from 'tap'
import https from 'node:https'
import { chmod, readFile, stat } from 'node:fs/promises'
import { X509Certificate } from 'node:crypto'
import WebSocket from 'ws'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { ensureCertificates, tlsFiles } from '../../src/tls/certs.js'
import { Client, EK, startBridge, tempDir } from './helpers.js'

/** The certificate a TLS server presents, and the answer to GET path (trusting `ca`). */
function get(url: string, ca: string): Promise<{ status: number; body: any; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        const raw = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate()!
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => (body += c))
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(body), cert: raw }))
      })
      .on('error', reject)
  })
}

async function pay(t: Test, c: Client): Promise<Record<string, any>> {
  t.match(await c.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  return c.request({ command: 'process_payment', amount: 1000 })
}

t.test('cert: a CA and a localhost certificate, private keys 0600, nothing rewritten unless renewed', async (t) => {
  const dir = await tempDir(t)
  const first = await ensureCertificates(dir)
  t.same(first.created, ['ca', 'server'])
  const files = tlsFiles(dir)
  for (const key of [files.caKey, files.key]) t.equal((await stat(key)).mode & 0o777, 0o600, `${key} is 0600`)
  const ca = new X509Certificate(await readFile(files.caCert))
  const server = new X509Certificate(await readFile(files.cert))
  t.ok(ca.ca, 'the CA is a CA')
  t.ok(server.verify(ca.publicKey), 'the server certificate is signed by the CA')
  t.notOk(server.ca)
  t.equal(server.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
  t.ok(server.checkHost('localhost') && server.checkIP('127.0.0.1') && server.checkIP('::1'))
  t.notOk(server.checkHost('example.com'))

  const again = await ensureCertificates(dir)
  t.same(again.created, [], 'a second run keeps both')
  t.equal(new X509Certificate(await readFile(files.cert)).serialNumber, server.serialNumber)

  await chmod(files.key, 0o644)
  const renewed = await ensureCertificates(dir, { renew: true })
  t.same(renewed.created, ['server'], '--renew: a new server certificate, the same CA')
  const next = new X509Certificate(await readFile(files.cert))
  t.not(next.serialNumber, server.serialNumber)
  t.ok(next.verify(ca.publicKey))
  t.equal(new X509Certificate(await readFile(files.caCert)).serialNumber, ca.serialNumber, 'the CA stays: browsers keep trusting')
  t.equal((await stat(files.key)).mode & 0o777, 0o600, 'the renewed key is 0600 again')
})

t.test('wss:// beside ws://: a payment over TLS with the CA, refused without it, one runtime', async (t) => {
  const dataDir = await tempDir(t)
  const { files } = await ensureCertificates(dataDir)
  const ca = await readFile(files.caCert, 'utf8')
  const rig = await startBridge(t, { dataDir, tls: { certFile: files.cert, keyFile: files.key, port: 0 } })
  const tlsUrl = rig.server.tlsUrl!
  t.match(tlsUrl, /^https:\/\/localhost:\d+$/)
  const wss = `${tlsUrl.replace('https', 'wss')}/ws`

  const secure = await Client.open(t, wss, { protocol: 'mpos-bridge', ca })
  const payment = await pay(t, secure)
  t.match(payment, { success: true, response: { status: 'accepted', card_hash: /\S/ } }, 'paid over wss://localhost')
  t.match(await secure.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })

  // The plain port reaches the same runtime: the context the TLS client made is there.
  const plain = await Client.open(t, rig.wsUrl)
  t.match(await plain.request({ command: 'status' }), { success: true, response: { status: 'initialized' } }, 'the same context on ws://')

  const refused = await new Promise<Error>((resolve, reject) => {
    const ws = new WebSocket(wss)
    ws.once('open', () => reject(new Error('a client without the CA connected')))
    ws.once('error', resolve)
  })
  t.match(refused, { code: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT/ }, 'a client without the CA is refused')

  const ready = await get(`${tlsUrl}/ready`, ca)
  t.equal(ready.status, 200)
  t.match(ready.body, { ready: true, tls: { expires_at: new Date(ready.cert.validTo).toISOString(), expired: false } })
  t.ok(ready.body.tls.days_left >= 395, `about a year left (${ready.body.tls.days_left} days)`)

  // cert --renew, then the bridge reads it again (serve does on SIGHUP): new connections get the new one.
  await ensureCertificates(dataDir, { renew: true })
  const expires = rig.server.reloadTls()
  const after = await get(`${tlsUrl}/health`, ca)
  t.equal(after.cert.serialNumber, new X509Certificate(await readFile(files.cert)).serialNumber, 'the renewed certificate is served')
  t.not(after.cert.serialNumber, ready.cert.serialNumber)
  t.equal(expires?.toISOString(), new Date(after.cert.validTo).toISOString())
})

t.test('TLS alone: no plain listener, a payment over wss:// with the embedded sandbox', async (t) => {
  const dataDir = await tempDir(t)
  const { files } = await ensureCertificates(dataDir)
  const ca = await readFile(files.caCert, 'utf8')
  const rig = await startBridge(t, { dataDir, port: 1, tls: { certFile: files.cert, keyFile: files.key, port: 0, only: true } })
  t.match(rig.server.url, /^https:\/\//, 'the one listener is https')
  const c = await Client.open(t, `${rig.server.tlsUrl!.replace('https', 'wss')}/ws`, { ca })
  t.match(await pay(t, c), { success: true, response: { status: 'accepted' } })
  t.match((await get(`${rig.server.tlsUrl}/ready`, ca)).body, { ready: true, acquirer: { reachable: true } }, 'the sandbox answers the readiness check too')
})

t.test('serve --tls without a certificate: a coded error naming the way out', async (t) => {
  const dataDir = await tempDir(t)
  const files = tlsFiles(dataDir)
  await t.rejects(startBridge(t, { dataDir, tls: { certFile: files.cert, keyFile: files.key, port: 0 } }), { code: 'MPOS_ERR_TLS_CERT', message: /mpos-bridge cert/ })
  // A key that is not the certificate's: refused before anything opens (the data directory stays free).
  await ensureCertificates(dataDir)
  const other = await tempDir(t)
  await ensureCertificates(other)
  await t.rejects(startBridge(t, { dataDir, tls: { certFile: files.cert, keyFile: tlsFiles(other).key, port: 0 } }), { code: 'MPOS_ERR_TLS_CERT', message: /usable pair/ })
  const rig = await startBridge(t, { dataDir, tls: { certFile: files.cert, keyFile: files.key, port: 0 } })
  t.ok(rig.server.tlsUrl, 'then the same data directory starts with the right key')
})

t.test('mpos-bridge cert prints where the files are and how to trust the CA on each system', async (t) => {
  const dataDir = await tempDir(t)
  const bin = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'cert', '--data-dir', dataDir], { env })
  const ca = tlsFiles(dataDir).caCert
  t.match(stdout, `certutil -addstore -f Root "${ca}"`, 'Windows')
  t.match(stdout, `security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "${ca}"`, 'macOS')
  t.match(stdout, `sudo cp "${ca}" /usr/local/share/ca-certificates/mpos-bridge-ca.crt && sudo update-ca-certificates`, 'Debian/Ubuntu')
  t.match(stdout, /Firefox[\s\S]*Authorities → Import/, 'Firefox')
  t.equal((await stat(tlsFiles(dataDir).key)).mode & 0o777, 0o600)
})
