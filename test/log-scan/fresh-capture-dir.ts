/**
 * tap's `before` script (.taprc): empties the log capture directory (.log-capture/, the one .taprc's
 * test-env names), so that the log scan ending the run (test/zz-log-scan.test.ts) reads this run's
 * logs only.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../../.log-capture', import.meta.url))
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
