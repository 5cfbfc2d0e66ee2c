/**
 * `npm run visualize`: writes visualizations/<machine>.mmd (Mermaid stateDiagram-v2),
 * visualizations/<machine>.svg (Graphviz) and visualizations/README.md, generated from the
 * machine definitions (scripts/machine-graph.ts). test/machines/visualizations.test.ts
 * regenerates them in memory and fails when the committed files differ.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { renderAll } from './machine-graph.js'

export const VISUALIZATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'visualizations')

const files = await renderAll()
mkdirSync(VISUALIZATIONS_DIR, { recursive: true })
// Files of machines that no longer exist go too.
for (const name of readdirSync(VISUALIZATIONS_DIR)) {
  if (!files.has(name)) rmSync(path.join(VISUALIZATIONS_DIR, name))
}
for (const [name, contents] of files) writeFileSync(path.join(VISUALIZATIONS_DIR, name), contents)
console.log(`wrote ${[...files.keys()].map((f) => `visualizations/${f}`).join(', ')}`)
