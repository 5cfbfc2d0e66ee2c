/**
 * The package as a till gets it: `npm pack`, the tarball's file list (what runs, nothing of the
 * tests, fixtures or benchmarks), installed into an empty folder, then from there: `npx mpos-bridge
 * --help`, `cert`, `serve --config` with TLS (/health 200, a payment over wss://localhost trusting
 * the CA) and `service install --systemd` finding its packaged unit.
 *
 * What it assumes: dependencies resolve from the npm registry and come from the npm cache
 * (--prefer-offline; `npm ci` filled it); install scripts are skipped and better-sqlite3's native
 * addon is copied from this checkout's node_modules (the same version, checked) — compiling it again
 * takes minutes; every other dependency runs as installed. The bin is run as package.json's `bin`
 * names it, whatever it needs (the TypeScript through tsx, or a compiled dist/ that `npm pack`'s
 * `prepare` builds).
 */
import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { Client, EK, tempDir, until } from '../server/helpers.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const exec = promisify(execFile)
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx'
const capture = process.env[LOG_CAPTURE_ENV]
/** No MPOS_* of the caller; the suite's log capture (an absolute path: the children run elsewhere). */
const ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') && !k.startsWith('npm_'))),
  ...(capture ? { [LOG_CAPTURE_ENV]: path.resolve(ROOT, capture) } : {}),
}

t.test('npm pack → install in an empty folder → help, cert, serve with TLS, a payment, service unit', async (t) => {
  const work = await tempDir(t)
  const { stdout } = await exec(NPM, ['pack', '--json', '--pack-destination', work], { cwd: ROOT, env: ENV, maxBuffer: 16 * 1024 * 1024 })
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = packed!.files.map((f) => f.path)
  const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }
  for (const needed of [manifest.bin['mpos-bridge']!, 'package.json', 'README.md', 'packaging/systemd/mpos-bridge.service', 'packaging/windows/mpos-bridge.xml', 'web/devtools/index.html', 'visualizations/device.svg', 'dist/src/client/index.js']) {
    t.ok(files.includes(needed), `the tarball has ${needed}`)
  }
  t.ok(files.some((f) => f.startsWith('src/') || f.startsWith('dist/')), 'and the program')
  t.same(files.filter((f) => /^(test|bench|scripts|docs|\.ci)\//.test(f) || /^visualizations\/.*\.(mmd|md)$/.test(f) || /fixture|\.test\.|\.log-capture/.test(f)), [], 'no tests, fixtures, benchmarks or tooling')

  const till = path.join(work, 'till')
  await mkdir(till)
  await writeFile(path.join(till, 'package.json'), JSON.stringify({ name: 'till', private: true }))
  await exec(NPM, ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', path.join(work, packed!.filename)], { cwd: till, env: ENV, maxBuffer: 16 * 1024 * 1024 })
  const installed = path.join(till, 'node_modules', 'mpos-bridge')
  const sqlite = (root: string) => path.join(root, 'node_modules', 'better-sqlite3')
  const version = async (dir: string) => (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version
  t.equal(await version(sqlite(till)), await version(sqlite(ROOT)), 'the same better-sqlite3 as this checkout: its built addon fits')
  await mkdir(path.join(sqlite(till), 'build', 'Release'), { recursive: true })
  await copyFile(path.join(sqlite(ROOT), 'build', 'Release', 'better_sqlite3.node'), path.join(sqlite(till), 'build', 'Release', 'better_sqlite3.node'))

  const npx = (args: string[]) => exec(NPX, ['--no-install', 'mpos-bridge', ...args], { cwd: till, env: ENV })
  const help = await npx(['--help'])
  t.match(help.stdout, /^Usage: mpos-bridge <command>/m, 'npx mpos-bridge --help')
  for (const command of ['serve', 'config', 'cert', 'service']) t.match(help.stdout, new RegExp(`^  ${command} `, 'm'))

  const dataDir = path.join(work, 'data')
  const cert = await npx(['cert', '--data-dir', dataDir, '--quiet'])
  t.match(cert.stdout, /Created in .*: a local CA and a server certificate/)
  const config = path.join(work, 'bridge.json')
  await writeFile(config, JSON.stringify({ dataDir, port: 0, tls: true, tlsPort: 0, noDiscovery: true, shutdownGrace: 0 }))

  // The installed command itself (as a service manager runs it), so that SIGTERM reaches the bridge and not npx.
  const serve = spawn(path.join(till, 'node_modules', '.bin', 'mpos-bridge'), ['serve', '--config', config], { cwd: till, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGKILL')
  })
  let err = ''
  serve.stderr.setEncoding('utf8').on('data', (s: string) => (err += s))
  serve.stdout.resume()
  const exited = new Promise<number | null>((r) => serve.once('exit', r))
  await until(() => /mpos-bridge listening/.test(err) || serve.exitCode !== null, 'the installed bridge listens')
  const listening = JSON.parse(err.split('\n').find((l) => l.includes('mpos-bridge listening'))!) as { url: string; tlsUrl: string }
  t.equal((await fetch(`${listening.url}/health`)).status, 200, '/health 200')
  // What the installed package serves from files beside its code: the browser client and the demo page.
  const clientJs = await fetch(`${listening.url}/client.js`)
  t.equal(clientJs.status, 200, '/client.js from the installed package')
  t.match(await clientJs.text(), /export (async )?function connect|export \{[^}]*connect/, 'the client module')
  t.equal((await fetch(`${listening.url}/`)).status, 200, 'the demo page')

  const ca = await readFile(path.join(dataDir, 'tls', 'ca.crt'), 'utf8')
  const c = await Client.open(t, `${listening.tlsUrl.replace('https', 'wss')}/ws`, { protocol: 'mpos-bridge', ca })
  t.match(await c.request({ command: 'initialize', encryption_key: EK }), { success: true })
  t.match(await c.request({ command: 'process_payment', amount: 1000 }), { success: true, response: { status: 'accepted' } }, 'a payment over wss://localhost from the installed package')
  serve.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM: exit 0')

  const unit = path.join(work, 'mpos-bridge.service')
  await npx(['service', 'install', '--systemd', '--output', unit, '--user', 'daemon', '--config', config])
  t.match(await readFile(unit, 'utf8'), new RegExp(`^ExecStart=\\S+ ${installed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/bin/mpos-bridge\\.js serve --config `, 'm'), 'the unit runs the installed package')
})
