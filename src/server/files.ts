/**
 * Files the bridge serves that are not code (the devtools page's assets in web/, the diagrams in
 * visualizations/): found from the package's top directory, so that the same code finds them
 * whether it runs from src/ (tsx) or compiled, from dist/src/.
 */
import { readFileSync } from 'node:fs'
import { PACKAGE_ROOT, packagePath } from '../package-root.js'

/** The package's top directory (where package.json, web/ and visualizations/ are; not dist/, which has a copy of package.json). */
export const PACKAGE_DIR = PACKAGE_ROOT
export { packagePath }

/** The package's version (package.json). */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version
