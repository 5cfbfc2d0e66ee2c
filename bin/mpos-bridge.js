#!/usr/bin/env node
// Runs the compiled bridge (dist/, built by `npm run build`, which `npm ci` and `npm install` run
// through `prepare`). In a development checkout without dist/, the TypeScript runs through tsx.
import { existsSync } from 'node:fs'
import module from 'node:module'

// Node ≥ 22.1 keeps V8's compiled code of the modules between starts (NODE_DISABLE_COMPILE_CACHE=1
// turns it off); Node 20 has no such cache and starts as before.
module.enableCompileCache?.()

const compiled = new URL('../dist/src/cli/main.js', import.meta.url)

if (existsSync(compiled)) {
  await import(compiled.href)
} else {
  let register
  try {
    ;({ register } = await import('tsx/esm/api'))
  } catch {
    process.stderr.write('mpos-bridge: dist/ is missing and tsx is not installed: run `npm run build` (or `npm ci`, which builds) in the package first\n')
    process.exit(1)
  }
  process.stderr.write('mpos-bridge: dist/ is missing: running the TypeScript through tsx (`npm run build` compiles it)\n')
  register()
  await import('../src/cli/main.ts')
}
