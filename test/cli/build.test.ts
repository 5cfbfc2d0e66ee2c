/**
 * The compiled bridge: `npm test` builds dist/ first (as `npm ci` does through `prepare`), and the
 * real `bin/mpos-bridge.js` runs it — help, `serve` answering /health and /ready, the devtools
 * diagrams (files read from the package root, not from dist/) — with no tsx in the process. A bin
 * without dist/ and without tsx says what to do.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { LOG_CAPTURE_ENV } from '../../src/log.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BIN = path.join(ROOT, 'bin/mpos-bridge.js')
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MPOS_') || k === LOG_CAPTURE_ENV))

function run(t: Test, bin: string, args: string[], until?: (stderr: string) => boolean) {
  const child = spawn(process.execPath, [bin, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  const reached = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000)
    const check = () => {
      if (until?.(stderr)) {
        clearTimeout(timer)
        resolve(true)
      }
    }
    child.stderr.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      resolve(until?.(stderr) ?? true)
    })
  })
  return { child, exited, reached, stdout: () => stdout, stderr: () => stderr }
}

t.test('dist/ is built and the bin runs it', async (t) => {
  t.ok(existsSync(path.join(ROOT, 'dist/src/cli/main.js')), 'dist/src/cli/main.js exists (npm run build)')
  t.ok(existsSync(path.join(ROOT, 'dist/src/cli/main.js.map')), 'with its source map')
  const help = run(t, BIN, ['--help'])
  t.equal(await help.exited, 0)
  t.match(help.stdout(), /Usage: mpos-bridge <command>/)
  t.notMatch(help.stderr(), /dist\/ is missing/, 'no fallback to the TypeScript')
})

t.test('serve from dist/: /health and /ready answer 200, the devtools diagrams are found', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mpos-build-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const serve = run(t, BIN, ['serve', '--port', '0', '--data-dir', dataDir, '--no-discovery', '--devtools'], (s) => s.includes('mpos-bridge listening'))
  t.ok(await serve.reached, `it listens (${serve.stderr().slice(0, 300)})`)
  const listening = serve
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; url?: string })
    .find((l) => l.msg === 'mpos-bridge listening')
  const url = listening!.url!
  t.equal((await fetch(`${url}/health`)).status, 200, '/health')
  const ready = await fetch(`${url}/ready`)
  t.equal(ready.status, 200, '/ready')
  t.equal(((await ready.json()) as { ready?: boolean }).ready, true)
  const svg = await fetch(`${url}/devtools/diagrams/device.svg`)
  t.equal(svg.status, 200, 'visualizations/ read from the package root')
  t.match(await svg.text(), /<svg/)
  t.notMatch(serve.stderr(), /dist\/ is missing/)
  serve.child.kill('SIGTERM')
  t.equal(await serve.exited, 0, 'exits 0 on SIGTERM')
})

t.test('without dist/ and without tsx the bin says what to do', async (t) => {
  // The bin alone in a folder with neither dist/ nor node_modules/.
  const dir = mkdtempSync(path.join(tmpdir(), 'mpos-bin-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(path.join(dir, 'bin'))
  copyFileSync(BIN, path.join(dir, 'bin/mpos-bridge.js'))
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}')
  const bare = run(t, path.join(dir, 'bin/mpos-bridge.js'), ['--help'])
  t.equal(await bare.exited, 1)
  t.match(bare.stderr(), /dist\/ is missing and tsx is not installed: run `npm run build`/)
})
