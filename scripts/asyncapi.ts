/**
 * `npm run asyncapi`: writes docs/asyncapi.json, the `/ws` protocol as an AsyncAPI 3.0 document
 * generated from the server's own schemas (src/server/asyncapi/document.ts). The server serves the
 * same at /asyncapi.json; test/server/asyncapi.test.ts fails when the committed file is stale.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { asyncApiText } from '../src/server/asyncapi/document.js'

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'asyncapi.json')
writeFileSync(file, asyncApiText())
console.log(`wrote ${path.relative(process.cwd(), file)}`)
