/**
 * Files the bridge serves that are not code (the devtools page's assets in web/, the diagrams in
 * visualizations/): found from the package's top directory, so that the same code finds them
 * whether it runs from src/ (tsx) or compiled, from dist/src/.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

function findPackageDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = path.join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'mpos-bridge') return dir
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error('mpos-bridge: the package directory (with package.json) was not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}

/** The package's top directory (where package.json, web/ and visualizations/ are). */
export const PACKAGE_DIR = findPackageDir()

export const packagePath = (...parts: string[]) => path.join(PACKAGE_DIR, ...parts)

/** The package's version (package.json). */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version
