// `prepare` (run by `npm ci` and `npm install`): compiles the bridge into dist/. A production
// install (`--omit=dev`) has no TypeScript: it keeps the dist/ it has (a packed tarball carries one).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'

let tsc
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
} catch {
  const has = existsSync(new URL('../dist/src/cli/main.js', import.meta.url))
  process.stderr.write(`mpos-bridge prepare: TypeScript is not installed (a production install): ${has ? 'keeping the dist/ there is' : 'no dist/ to run; build it where the dev dependencies are'}\n`)
  process.exit(0)
}
// The bridge, then the browser client again on its own settings (one ES module with its .d.ts).
for (const project of ['tsconfig.build.json', 'tsconfig.client.json']) {
  const built = spawnSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit', cwd: new URL('..', import.meta.url) })
  if (built.status !== 0) process.exit(built.status ?? 1)
}
