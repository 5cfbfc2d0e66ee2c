/**
 * The configuration file: keys derived from serve's option table, precedence flags > environment >
 * file > defaults with the source of each value, errors naming the key and the allowed values,
 * `config --print` (secrets masked) and `serve --config` as child processes.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { configKey, configSchema, resolveCommandArgs } from '../../src/cli/config.js'
import { serveCommand } from '../../src/cli/commands/serve.js'
import type { Command } from '../../src/cli/command.js'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { tempDir } from '../server/helpers.js'

const BIN = fileURLToPath(new URL('../../bin/mpos-bridge.js', import.meta.url))
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))

const resolve = (argv: string[], env: NodeJS.ProcessEnv = {}) => resolveCommandArgs(serveCommand, argv, env, serveCommand.options)

async function configFile(t: Test, content: unknown, name = 'bridge.json'): Promise<string> {
  const file = path.join(await tempDir(t), name)
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

t.test('every serve flag has a key, and a new flag gets one by itself', async (t) => {
  const keys = Object.keys((configSchema(serveCommand.options) as { properties: object }).properties)
  const flags = Object.entries(serveCommand.options).filter(([, o]) => o.file !== false).map(([name]) => name)
  t.same(keys, flags.map(configKey))
  t.ok(keys.includes('allowedOrigin') && keys.includes('tlsPort') && keys.includes('logLevel'))
  t.notOk(keys.includes('config'), '--config is not a key of the file itself')
  const withNewFlag: Command = { ...serveCommand, options: { ...serveCommand.options, 'require-pairing': { type: 'boolean', env: 'X_PAIRING', description: 'x' } } }
  const file = await configFile(t, { requirePairing: true })
  const { values, resolved } = resolveCommandArgs(withNewFlag, ['--config', file], {}, withNewFlag.options)
  t.equal(values['require-pairing'], true)
  t.equal(resolved.sources['require-pairing'], 'file')
})

t.test('flags > environment > file > defaults, each value with its source', async (t) => {
  const file = await configFile(t, { port: 3000, host: '::1', baud: 9600, logLevel: 'warn', allowedOrigin: ['https://pos.example.com'], devtools: true })
  const { values, resolved } = resolve(['--config', file, '--port', '4000'], { MPOS_BRIDGE_HOST: '127.0.0.1', MPOS_BRIDGE_BAUD: '115200' })
  t.same(
    { port: values.port, host: values.host, baud: values.baud, level: values['log-level'], origins: values['allowed-origin'], devtools: values.devtools, days: values['journal-days'] },
    { port: '4000', host: '127.0.0.1', baud: '115200', level: 'warn', origins: ['https://pos.example.com'], devtools: true, days: '7' },
  )
  t.match(resolved.sources, { port: 'flag', host: 'env', baud: 'env', 'log-level': 'file', 'allowed-origin': 'file', devtools: 'file', 'journal-days': 'default', config: 'flag' })
  t.equal(resolved.configFile, file)
})

t.test('the data directory\'s config.json is read when no --config is named; relative paths are the file\'s', async (t) => {
  const dataDir = await tempDir(t)
  await writeFile(path.join(dataDir, 'config.json'), JSON.stringify({ port: 2100, tlsCert: 'certs/mine.pem' }))
  const { values, resolved } = resolve(['--data-dir', dataDir])
  t.equal(values.port, '2100')
  t.equal(values['tls-cert'], path.join(dataDir, 'certs/mine.pem'))
  t.equal(resolved.configFile, path.join(dataDir, 'config.json'))
  const none = resolve(['--data-dir', await tempDir(t)])
  t.equal(none.resolved.configFile, undefined, 'no file: defaults')
  t.equal(none.values.port, '2000')
})

t.test('a bad file: errors that name the key and what it may be', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ prot: 2000 }, /"prot" is not a setting; the settings are: host, port, .*allowedOrigin/],
    [{ logLevel: 'loud' }, /logLevel must be one of "trace", "debug", "info", "warn", "error", "fatal", "silent"/],
    [{ port: 70000 }, /port must be <= 65535/],
    [{ port: '2000' }, /port must be of type integer/],
    [{ tls: 'yes' }, /tls must be of type boolean/],
    [{ allowedOrigin: 'https://a.example' }, /allowedOrigin must be a list/],
    [[1, 2], /the file must hold a JSON object/],
    ['{ "port": 2000, }', /is not JSON/],
  ]
  for (const [content, message] of cases) {
    const file = await configFile(t, content)
    t.throws(() => resolve(['--config', file]), { code: 'MPOS_ERR_CONFIG', message }, JSON.stringify(content))
  }
  t.throws(() => resolve(['--config', '/nonexistent/mpos.json']), { code: 'MPOS_ERR_CONFIG', message: /cannot be read \(ENOENT\)/ })
})

t.test('config --print: values and sources, secrets masked; serve refuses a bad file with exit 2', async (t) => {
  const dataDir = await tempDir(t)
  const file = await configFile(t, { port: 2100, apiUrl: 'https://ek_live_x:s3cret@api.example.com/1', tlsKey: '/etc/mpos/key.pem', logLevel: 'debug' })
  const bad = await configFile(t, { logLevel: 'loud' })
  const [printed, table, serve] = await Promise.all([
    run(['config', '--print', '--json', '--config', file, '--data-dir', dataDir, '--log-level', 'warn'], { MPOS_BRIDGE_PORT: '2200' }),
    run(['config', '--print', '--config', file, '--data-dir', dataDir]),
    run(['serve', '--config', bad, '--data-dir', dataDir]),
  ])
  t.equal(printed.code, 0, printed.stderr)
  const { file: shownFile, settings } = JSON.parse(printed.stdout)
  t.equal(shownFile, file)
  t.match(settings, {
    port: { value: '2200', source: 'env' },
    logLevel: { value: 'warn', source: 'flag' },
    apiUrl: { value: 'https://ek_live_x:********@api.example.com/1', source: 'file' },
    tlsKey: { value: '********', source: 'file' },
    host: { value: '127.0.0.1', source: 'default' },
    tls: { value: false, source: 'default' },
    dataDir: { value: dataDir, source: 'flag' },
  })
  t.notMatch(printed.stdout, /s3cret|key\.pem/, 'no secret printed')
  t.match(table.stdout, /^port\s+2100\s+file$/m)
  t.match(table.stdout, /^journalDays\s+7\s+default$/m)

  t.equal(serve.code, 2)
  t.match(JSON.parse(serve.stderr), { error: { code: 'MPOS_ERR_CONFIG', message: /logLevel must be one of/ } })
})

t.test('serve --config: the file\'s settings are used', async (t) => {
  const dataDir = await tempDir(t)
  await mkdir(dataDir, { recursive: true })
  const file = await configFile(t, { port: 0, noDiscovery: true, dataDir, logLevel: 'info', shutdownGrace: 0 })
  const child = spawn(process.execPath, [BIN, 'serve', '--config', file], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let err = ''
  const exited = new Promise<number | null>((r) => child.once('exit', r))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${err}`)), 30_000)
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s
      const m = /"url":"(http:[^"]+)".*mpos-bridge listening/.exec(err)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
  })
  t.not(new URL(url).port, '2000', 'port 0 from the file: any free port')
  t.equal(((await (await fetch(`${url}/health`)).json()) as { status: string }).status, 'ok')
  child.kill('SIGTERM')
  t.equal(await exited, 0)
})

t.test('README: the configuration table has a row for every key', async (t) => {
  const readme = await import('node:fs/promises').then((fs) => fs.readFile(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8'))
  for (const [name, o] of Object.entries(serveCommand.options)) {
    if (o.file === false) continue
    t.match(readme, new RegExp(`^\\| \`${configKey(name)}\` .*\\| \`--${name}\` \\| \`${o.env}\` \\|`, 'm'), `${configKey(name)} is documented`)
  }
})
