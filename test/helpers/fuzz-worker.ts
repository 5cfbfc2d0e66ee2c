/**
 * Runs a fast-check property in a worker thread and reports to the tap test that asked.
 *
 * Why a worker: the property cases replace the global timers and Date.now (VirtualClock), which
 * must not disturb tap's own timers; tap tracks every promise of its process with async hooks,
 * which costs the promise-heavy link code about a third of its speed (a worker has its own
 * globals and no hooks); and a case that freezes the thread (a synchronous or microtask loop, no
 * timer can interrupt it) is caught: the worker counts the cases it starts in shared memory, and
 * when the count stops moving the worker is terminated and the case named. The worker runs at a
 * lower CPU priority (nice 10) so that tests with real-time deadlines running beside it go first.
 *
 *   // test/abecs/link-fuzz.test.ts
 *   await runPropertyInWorker(t, new URL('../fuzz/host-link.ts', import.meta.url), 'hostLinkProperty', runs)
 *
 * The module's export is called in the worker and returns (a promise of) an async property; the
 * module must not import tap.
 */
import { setPriority } from 'node:os'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import fc from 'fast-check'

export interface FuzzReport {
  failed: boolean
  /** fast-check's report (seed, path, counterexample, error) when it failed. */
  message: string
  numRuns: number
  seconds: number
  /** Counts the property chose to publish (see `count`), for the test's log. */
  stats: Record<string, number>
}

interface Job {
  module: string
  name: string
  runs: number
  seed: number
  path: string | undefined
  /** progress[0]: cases started so far. */
  progress: Int32Array
}

/** Published by the property while it runs, sent back with the report. */
export const fuzzStats: Record<string, number> = {}
export const count = (key: string, n = 1): void => {
  fuzzStats[key] = (fuzzStats[key] ?? 0) + n
}

/** A case that has not finished after this long (real time) froze its thread. */
const STALL_MS = 60_000

export async function runPropertyInWorker(
  t: { ok(v: unknown, message: string): unknown; comment(...m: any[]): unknown },
  module: URL,
  name: string,
  runs: number,
): Promise<FuzzReport> {
  const given = Number(process.env.MPOS_FUZZ_SEED)
  const seed = Number.isSafeInteger(given) ? given : (Math.random() * 2 ** 31) | 0
  const progress = new Int32Array(new SharedArrayBuffer(4))
  const job: Job = { module: module.href, name, runs, seed, path: process.env.MPOS_FUZZ_PATH || undefined, progress }
  // The cases need CPU, never the wall clock: a nice value (which the worker thread inherits) lets
  // the suite's other tests — some with real-time deadlines — go first on a busy machine.
  try {
    setPriority(10)
  } catch {
    // not allowed here: run at the usual priority
  }
  const tsx = import.meta.resolve('tsx/esm/api')
  const self = import.meta.url
  // The worker starts in plain JavaScript: it registers tsx, then loads this file.
  const code = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(self)}) }).then((m) => m.workerMain())`
  const worker = new Worker(code, { eval: true, workerData: job })
  let watchdog: NodeJS.Timeout | undefined
  const report = await new Promise<FuzzReport>((resolve, reject) => {
    let seen = -1
    let since = Date.now()
    watchdog = setInterval(() => {
      const started = Atomics.load(progress, 0)
      if (started !== seen) {
        seen = started
        since = Date.now()
      } else if (Date.now() - since > STALL_MS) {
        void worker.terminate()
        resolve({
          failed: true,
          message:
            `case ${started} (counting from 1) froze the thread for ${STALL_MS / 1000} s: a synchronous or microtask loop.\n` +
            `Replay it with MPOS_FUZZ_SEED=${seed} MPOS_FUZZ_PATH=${job.path ?? started - 1} (exact unless it happened while shrinking)`,
          numRuns: started,
          seconds: 0,
          stats: {},
        })
      }
    }, 1000)
    worker.once('message', resolve)
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`the fuzz worker exited (${code}) without a report`)))
  }).finally(() => clearInterval(watchdog))
  await worker.terminate()
  t.ok(!report.failed, report.failed ? report.message : `${report.numRuns} cases in ${report.seconds.toFixed(1)} s (seed ${seed})`)
  if (Object.keys(report.stats).length) t.comment(Object.entries(report.stats).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join(', '))
  return report
}

/** Worker side: runs the property named in workerData and posts the report. */
export async function workerMain(): Promise<void> {
  if (isMainThread) throw new Error('workerMain runs in a worker')
  const job = workerData as Job
  const mod = (await import(job.module)) as Record<string, () => fc.IAsyncPropertyWithHooks<unknown[]> | Promise<fc.IAsyncPropertyWithHooks<unknown[]>>>
  const started = Date.now()
  let report: FuzzReport
  try {
    const property = (await mod[job.name]!()).beforeEach(async (previous) => {
      Atomics.add(job.progress, 0, 1)
      await previous()
    })
    const details = await fc.check(property, { numRuns: job.runs, seed: job.seed, ...(job.path ? { path: job.path } : {}) })
    const error = details.errorInstance as Error | undefined
    report = {
      failed: details.failed,
      // fast-check v4 leaves the error out of its message (it is the cause): put it back.
      message: `${fc.defaultReportMessage(details) ?? ''}${error ? `\nGot error: ${error.stack ?? error}` : ''}`,
      numRuns: details.numRuns,
      seconds: (Date.now() - started) / 1000,
      stats: fuzzStats,
    }
  } catch (err) {
    report = { failed: true, message: (err as Error)?.stack ?? String(err), numRuns: 0, seconds: (Date.now() - started) / 1000, stats: fuzzStats }
  }
  parentPort!.postMessage(report)
}
