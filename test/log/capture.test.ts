/**
 * src/log.ts's log capture (MPOS_BRIDGE_LOG_CAPTURE): every logger also writes every line at trace
 * level to <dir>/<pid>.ndjson, redacted as the real output, whatever way the process ends; the real
 * output is the same with capture on or off.
 */
import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { LOG_CAPTURE_ENV } from '../../src/log.js'

const SCRIPT = fileURLToPath(new URL('./log-lines.ts', import.meta.url))
const ALL = ['real trace', 'real debug', 'real info', 'real warn redacted', 'child trace', 'child info', 'silent trace', 'silent error', 'silent child debug', 'muted error']
const REAL = ['real info', 'real warn redacted', 'child info']

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mpos-log-capture-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Run {
  pid: number
  stderr: string
  signal: string | null
}

function run(args: string[], captureDir: string | undefined): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env[LOG_CAPTURE_ENV]
  if (captureDir) env[LOG_CAPTURE_ENV] = captureDir
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', SCRIPT, ...args], { env }, (err, _stdout, stderr) =>
      resolve({ pid: child.pid!, stderr, signal: (err as { signal?: string } | null)?.signal ?? null }),
    )
  })
}

const parse = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
const messages = (lines: Array<Record<string, unknown>>) => lines.map((l) => l.msg).filter((m) => m !== 'burst')
/** A line without what differs between runs. */
const stable = ({ time: _t, pid: _p, ...rest }: Record<string, unknown>) => JSON.stringify(rest)

for (const end of ['natural', 'exit', 'kill'] as const) {
  t.test(`capture on, the process ends ${end === 'natural' ? 'by itself' : `with ${end === 'exit' ? 'process.exit' : 'SIGKILL'}`}: every line is in the file`, async (t) => {
    const dir = tempDir(t)
    const r = await run([end], path.join(dir, 'nested'))
    if (end === 'kill') t.equal(r.signal, 'SIGKILL', 'killed')
    t.same(readdirSync(path.join(dir, 'nested')), [`${r.pid}.ndjson`], 'one file, named by the pid, in a directory made for it')
    const captured = parse(readFileSync(path.join(dir, 'nested', `${r.pid}.ndjson`), 'utf8'))
    t.same(messages(captured), ALL, 'every logger, every level, children too')
    t.equal(captured.filter((l) => l.msg === 'burst').length, 200, 'nothing lost at the end')
    t.same(
      captured.map((l) => l.level),
      captured.map((l) => ({ 'real trace': 10, 'real debug': 20, 'real info': 30, 'real warn redacted': 40, 'child trace': 10, 'child info': 30, 'silent trace': 10, 'silent error': 50, 'silent child debug': 20, 'muted error': 50 })[l.msg as string] ?? 10),
      'at their own levels',
    )
    const text = JSON.stringify(captured)
    t.notOk(/(PAN|TRACK|HASH|PIN)-VALUE/.test(text), 'redacted as the real output')
    t.match(captured.find((l) => l.msg === 'real warn redacted'), { card: { pan: '[redacted]', track2: '[redacted]' }, card_hash: '[redacted]', pinBlock: '[redacted]' }, 'the redacted paths, top level and one down')
    t.match(captured.find((l) => l.msg === 'silent child debug'), { name: 'mpos-bridge', component: 'quiet', card: { cardNumber: '[redacted]' } }, 'silentLogger too')

    if (end === 'kill') return
    const real = parse(r.stderr)
    t.same(messages(real), REAL, 'the real output keeps its level')
    const capturedText = readFileSync(path.join(dir, 'nested', `${r.pid}.ndjson`), 'utf8')
    for (const line of r.stderr.split('\n').filter(Boolean)) t.ok(capturedText.includes(`${line}\n`), `"${(JSON.parse(line) as { msg: string }).msg}" is in the capture byte for byte`)
  })
}

t.test('capture off: no file, and the real output is the same as with capture on', async (t) => {
  const dir = tempDir(t)
  const [off, on] = await Promise.all([run(['natural'], undefined), run(['natural'], dir)])
  t.same(readdirSync(dir), [`${on.pid}.ndjson`], 'only the run with capture wrote a file')
  t.same(parse(off.stderr).map(stable), parse(on.stderr).map(stable), 'the same lines on stderr')
  t.same(messages(parse(off.stderr)), REAL, 'at the logger\'s level')
})

t.test('pretty output on a terminal, capture on: the terminal gets pretty text, the file JSON', async (t) => {
  const dir = tempDir(t)
  const r = await run(['natural', 'pretty'], dir)
  t.match(r.stderr, /real info/, 'pretty lines')
  t.notMatch(r.stderr, /real debug|silent error|^\{/m, 'the pretty output at its level, no JSON')
  t.same(messages(parse(readFileSync(path.join(dir, `${r.pid}.ndjson`), 'utf8'))), ALL, 'every line as JSON in the capture')
})
