import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The installed package's folder (the one with its package.json), from the sources or a compiled build alike. */
export function packageRoot(from = fileURLToPath(import.meta.url)): string {
  for (let dir = path.dirname(from); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'mpos-bridge') return dir
  }
  throw new Error('the mpos-bridge package folder was not found')
}
