/**
 * The log scan: proof that no card data reaches a log. Every logger of every test process and of
 * the CLI processes the tests spawn writes every line, at trace level and with the real output's
 * redaction, to MPOS_BRIDGE_LOG_CAPTURE (.taprc sets it; src/log.ts). This file fails on any test
 * card number, track, PIN block, card hash, unmasked encryption key, card field, cardholder name or
 * value a customer typed for pinpad_input in those lines (test/log-scan/scanner.ts).
 *
 * It must run after every other test file: tap starts files in name order ("zz" sorts last), so
 * when this one starts every other file has started; it then waits until its siblings — the other
 * test processes of the same tap runner — have exited before reading the capture.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { LOG_CAPTURE_ENV, silentLogger } from '../src/log.js'
import { createScanner, describeFinding, FINDING_KINDS, scanDirectory } from './log-scan/scanner.js'

const SIBLINGS_TIMEOUT_MS = 240_000
t.setTimeout(SIBLINGS_TIMEOUT_MS + 120_000)

/** Live processes whose parent is `ppid` (zombies excluded): /proc on Linux, `ps` elsewhere. */
function childrenOf(ppid: number): number[] {
  if (existsSync('/proc/self/stat')) {
    const pids: number[] = []
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        // "pid (comm) state ppid …": comm may hold blanks and parentheses.
        const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        if (Number(parent) === ppid && state !== 'Z') pids.push(Number(entry))
      } catch {
        // gone meanwhile
      }
    }
    return pids
  }
  return execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, parent, state]) => Number(parent) === ppid && !state?.startsWith('Z'))
    .map(([pid]) => Number(pid))
}

const siblings = (): number[] => childrenOf(process.ppid).filter((pid) => pid !== process.pid)

const dir = process.env[LOG_CAPTURE_ENV]
if (!dir) {
  if (process.env.TAP === '1') t.fail(`${LOG_CAPTURE_ENV} is not set: .taprc's test-env should set it`)
  else t.plan(0, `${LOG_CAPTURE_ENV} is not set: run the suite through tap`)
} else {
  t.test('no card data in any log line of the suite', async (t) => {
    // Only a tap runner's other children are sibling test files.
    const underTap = process.env.TAP === '1'
    const seen = new Set<number>()
    if (underTap) {
      const deadline = Date.now() + SIBLINGS_TIMEOUT_MS
      for (let running = siblings(); running.length > 0; running = siblings()) {
        for (const pid of running) seen.add(pid)
        if (Date.now() > deadline) {
          t.fail(`other test processes still running after ${SIBLINGS_TIMEOUT_MS / 1000} s: ${running.join(', ')}; scanning what there is`)
          break
        }
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    t.comment(`waited for ${seen.size} other test process(es) to finish`)

    // This process's own capture: proves capture works here, at trace level, through a child logger.
    const canary = `log-scan-canary-${process.pid}-${Date.now()}`
    silentLogger.child({ component: 'log-scan' }).trace({ canary }, 'canary')
    const own = path.join(path.resolve(dir), `${process.pid}.ndjson`)
    t.ok(existsSync(own) && readFileSync(own, 'utf8').includes(canary), 'a trace line of a silent logger is in the capture')

    const scanner = createScanner()
    const started = Date.now()
    const report = await scanDirectory(path.resolve(dir), scanner)
    const byName = [...report.byName].map(([name, lines]) => `${name}: ${lines} lines in ${report.filesByName.get(name)} files`).join('; ')
    t.comment(`scanned ${report.lines} lines in ${report.files} files (one per process) in ${Date.now() - started} ms; ${byName}`)
    t.comment(`${scanner.knownPinBlocks} PIN blocks known`)
    if (seen.size > 0 || report.files > 1) t.ok(report.files > 1 && report.lines > 100, 'the logs of the other test processes were captured')

    for (const kind of FINDING_KINDS) {
      const found = report.findings.filter((f) => f.kind === kind).map(describeFinding)
      t.same(found.slice(0, 50), [], `no ${kind} in any captured log line${found.length > 50 ? ` (${found.length} found, first 50 shown)` : ''}`)
    }
  })
}
