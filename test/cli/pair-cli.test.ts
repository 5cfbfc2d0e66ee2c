/**
 * `mpos-bridge pair` against a spawned `serve` (MPOS_BRIDGE_REQUIRE_PAIRING=1): the code printed
 * pairs a page, `--on-pinpad` also shows it on the virtual pinpad, `--list` shows the pairing
 * (never the token), `--revoke` ends it; without a bridge, or with a wrong data directory, it
 * says so.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { Client, EK, tempDir } from '../server/helpers.js'

const BIN = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))
const POS = 'http://localhost:5173'

async function serve(t: Parameters<typeof tempDir>[0], dir: string): Promise<{ port: number; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dir, '--no-discovery'], {
    env: { ...ENV, MPOS_BRIDGE_REQUIRE_PAIRING: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
  })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 30_000)
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      err += s
      const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)".*"require_pairing":true/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    })
  })
  return { port, stderr: () => err }
}

const pair = (args: string[]) => spawnSync(process.execPath, [BIN, 'pair', ...args], { env: ENV, encoding: 'utf8' })

t.test('pair, pair --list, pair --revoke against a running bridge', async (t) => {
  const dir = await tempDir(t)
  const bridge = await serve(t, dir)
  const where = ['--port', String(bridge.port), '--data-dir', dir]

  const issued = pair(where)
  t.equal(issued.status, 0, issued.stderr)
  const code = /Pairing code: (\d{6})/.exec(issued.stdout)?.[1]
  t.ok(code, 'the code is printed')
  t.match(issued.stdout, /within 2 minutes/)

  const ws = await Client.open(t, `ws://127.0.0.1:${bridge.port}/ws`, { headers: { Origin: POS } })
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { code: 'MPOS_ERR_NOT_PAIRED' }, 'serve took MPOS_BRIDGE_REQUIRE_PAIRING')
  const paired = await ws.request({ command: 'pair', code })
  t.match(paired, { success: true, response: { origin: POS } })

  const listed = pair([...where, '--list'])
  t.equal(listed.status, 0, listed.stderr)
  t.match(listed.stdout, /id\s+origin\s+created_at\s+last_used_at\n1\s+http:\/\/localhost:5173\s+\d{4}-\d\d-\d\dT/)
  t.notMatch(listed.stdout, paired.response.token.slice(4), 'never the token')
  t.match(JSON.parse(pair([...where, '--list', '--json']).stdout), { id: 1, origin: POS })

  const revoked = pair([...where, '--revoke', '1'])
  t.equal(revoked.status, 0, revoked.stderr)
  t.match(revoked.stdout, /Revoked pairing 1 \(http:\/\/localhost:5173\); 1 open connection\(s\) lost it/)
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { code: 'MPOS_ERR_NOT_PAIRED' })
  t.match(pair([...where, '--list']).stdout, /No paired pages/)
  t.match(pair([...where, '--revoke', '1']), { status: 1, stderr: /MPOS_ERR_PAIRING_NOT_FOUND/ })

  const shown = pair([...where, '--on-pinpad'])
  t.equal(shown.status, 0, shown.stderr)
  t.match(shown.stdout, /Pairing code: \d{6}\n.*\nAlso shown on pinpad 1\./)

  // The code is printed by the CLI only: never in the bridge's log.
  t.notMatch(bridge.stderr(), new RegExp(`(?<!\\d)${code}(?!\\d)`))
  t.notMatch(bridge.stderr(), paired.response.token.slice(4))
})

t.test('without a running bridge, or another data directory, it says what is wrong', async (t) => {
  const dir = await tempDir(t)
  t.match(pair(['--data-dir', dir, '--port', '1']), { status: 1, stderr: /MPOS_ERR_BRIDGE_UNREACHABLE.*no admin secret/ })
  const bridge = await serve(t, dir)
  const elsewhere = await tempDir(t)
  t.match(pair(['--data-dir', elsewhere, '--port', String(bridge.port)]), { status: 1, stderr: /no admin secret in/ })
  t.match(pair(['--data-dir', dir, '--port', String(bridge.port), '--list', '--revoke', '1']), { status: 2, stderr: /one at a time/ })
  t.match(pair(['--data-dir', dir, '--port', String(bridge.port), '--revoke', 'x']), { status: 2, stderr: /pairing id/ })
})
