/**
 * The package's root directory, whether this runs as TypeScript (src/package-root.ts) or compiled
 * (dist/src/package-root.js): files read at run time that are not code (visualizations/…) live
 * there, not under dist/.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(import.meta.url)
const compiled = here.endsWith('.js')

export const PACKAGE_ROOT = path.resolve(path.dirname(here), compiled ? '../..' : '..')

/** A path under the package root. */
export const packagePath = (...parts: string[]): string => path.join(PACKAGE_ROOT, ...parts)
