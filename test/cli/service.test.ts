/**
 * `mpos-bridge service install`: the systemd unit filled in for a till and checked by
 * `systemd-analyze verify` (Debian's systemd), the packaged unit as shipped too; --dry-run writes
 * nothing; the WinSW configuration for Windows.
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { tempDir } from '../server/helpers.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = path.join(ROOT, 'bin', 'mpos-bridge.js')
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** systemd-analyze verify: exit code and what it said (it reports problems on stderr). */
async function verify(unit: string): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await promisify(execFile)('systemd-analyze', ['verify', unit])
    return { code: 0, stderr }
  } catch (err) {
    const e = err as { code?: number | string; stderr?: string }
    if (e.code === 'ENOENT') throw new Error('systemd-analyze is missing: apt-get install systemd (.ci/run does)')
    return { code: Number(e.code), stderr: e.stderr ?? '' }
  }
}

t.test('service install --systemd: the unit filled in for this till verifies', async (t) => {
  const dir = await tempDir(t)
  const unit = path.join(dir, 'mpos-bridge.service')
  const config = path.join(dir, 'etc', 'config.json')
  const r = await run(['service', 'install', '--systemd', '--output', unit, '--user', 'daemon', '--data-dir', path.join(dir, 'data'), '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /systemctl enable --now mpos-bridge/)
  const text = await readFile(unit, 'utf8')
  t.match(text, /^User=daemon$/m)
  t.match(text, new RegExp(`^Environment=MPOS_BRIDGE_DATA_DIR=${path.join(dir, 'data')}$`, 'm'))
  t.match(text, new RegExp(`^ExecStart=${process.execPath} ${BIN} serve --config ${config}$`, 'm'), 'this node, this package\'s bin, the configuration file')
  t.match(text, /^Restart=on-failure$/m)
  t.match(text, /^StandardError=journal$/m)
  t.match(text, /^KillSignal=SIGTERM$/m)
  const checked = await verify(unit)
  t.same(checked, { code: 0, stderr: '' }, 'systemd-analyze verify: no complaint')

  // The check has teeth: a unit whose program does not exist fails it.
  const broken = path.join(dir, 'broken.service')
  await writeFile(broken, text.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'))
  t.not((await verify(broken)).code, 0, 'a missing ExecStart program fails verify')
})

t.test('the packaged unit verifies as shipped', async (t) => {
  t.same(await verify(path.join(ROOT, 'packaging', 'systemd', 'mpos-bridge.service')), { code: 0, stderr: '' })
})

t.test('--dry-run writes nothing and says what it would do; usage errors', async (t) => {
  const dir = await tempDir(t)
  const unit = path.join(dir, 'x.service')
  const r = await run(['service', 'install', '--systemd', '--dry-run', '--output', unit, '--user', 'nobody', '--data-dir', '/srv/mpos bridge'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /Would write .*x\.service/)
  t.match(r.stdout, /^Environment="MPOS_BRIDGE_DATA_DIR=\/srv\/mpos bridge"$/m, 'a path with a space, quoted for systemd')
  t.match(r.stdout, /install -d -o nobody -m 0700 "\/srv\/mpos bridge"/)
  t.notOk(existsSync(unit), 'nothing written')
  const usage = [['service'], ['service', 'install'], ['service', 'install', '--systemd', '--windows'], ['service', 'remove', '--systemd']]
  for (const [i, bad] of (await Promise.all(usage.map((args) => run(args)))).entries()) {
    t.equal(bad.code, 2, usage[i]!.join(' '))
    t.match(JSON.parse(bad.stderr), { error: { code: 'MPOS_ERR_USAGE' } })
  }
})

t.test('service install --windows: the WinSW configuration with this node and package', async (t) => {
  const dir = await tempDir(t)
  const xml = path.join(dir, 'mpos-bridge.xml')
  const r = await run(['service', 'install', '--windows', '--output', xml, '--data-dir', path.join(dir, 'data')])
  t.equal(r.code, 0, r.stderr)
  const text = await readFile(xml, 'utf8')
  t.match(text, `<executable>${process.execPath}</executable>`)
  t.match(text, `<arguments>"${BIN}" serve</arguments>`)
  t.match(text, `<env name="MPOS_BRIDGE_DATA_DIR" value="${path.join(dir, 'data')}"/>`)
  t.match(text, /<onfailure action="restart"/)
  t.match(text, /<stoptimeout>30 sec<\/stoptimeout>/)
})
