/**
 * The shape the README's architecture section promises, checked on the source itself: the
 * machines are pure, the folders of src/ import each other without a cycle, there is one catalog
 * of coded errors, and the benchmarks use no test code.
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '..')

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f))
}

/** Every import of a file: [specifier, the file it resolves to (relative specifiers only)]. */
function importsOf(file: string): { spec: string; target?: string }[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8')
  const out: { spec: string; target?: string }[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g)) {
    const spec = (m[1] ?? m[2])!
    out.push(spec.startsWith('.') ? { spec, target: path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts') } : { spec })
  }
  return out
}

/** The unit of layering: `machines`, a folder of src/ (`src/abecs`), or a file at src/'s top (`src/errors.ts`). */
const unitOf = (file: string) => {
  const parts = file.split(path.sep)
  return parts[0] === 'src' ? parts.slice(0, 2).join('/') : parts[0]!
}

t.test('the machines import no I/O: serialport, ws, fastify, fs, net', async (t) => {
  const banned = /^(?:serialport|@serialport\/.*|ws|fastify|@fastify\/(?!error$).*|(?:node:)?(?:fs|fs\/promises|net|http|https|child_process))$/
  const found = sources('machines').flatMap((f) => importsOf(f).filter((i) => banned.test(i.spec)).map((i) => `${f}: ${i.spec}`))
  t.same(found, [])
  const intoSrc = sources('machines').flatMap((f) => importsOf(f).filter((i) => i.target?.startsWith('src') && i.target !== path.join('src', 'errors.ts')).map((i) => `${f}: ${i.spec}`))
  t.same(intoSrc, [], 'of src/, the machines use only the error catalog')
})

t.test('no import cycle between the folders of src/ (and machines/)', async (t) => {
  const edges = new Map<string, Set<string>>()
  for (const file of [...sources('src'), ...sources('machines')]) {
    for (const { target } of importsOf(file)) {
      if (!target || !/^(src|machines)/.test(target)) continue
      const [a, b] = [unitOf(file), unitOf(target)]
      if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b))
    }
  }
  // Tarjan's strongly connected components: any of more than one unit is a cycle.
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const cycles: string[][] = []
  const visit = (v: string) => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop()!
        component.push(w)
      } while (w !== v)
      if (component.length > 1) cycles.push(component.sort())
    }
  }
  for (const v of edges.keys()) if (!index.has(v)) visit(v)
  t.same(cycles, [])
  t.ok(edges.get('src/server')?.has('src/bridge') && edges.get('src/bridge')?.has('src/pinpad') && edges.get('src/pinpad')?.has('src/abecs') && edges.get('src/abecs')?.has('src/transport'), 'the data flow: server → bridge → pinpad → abecs → transport')
})

t.test('one catalog of coded errors: src/errors.ts', async (t) => {
  const files = [...sources('src'), ...sources('machines')]
  t.same(files.filter((f) => path.basename(f) === 'errors.ts'), [path.join('src', 'errors.ts')], 'no other errors.ts')
  // The browser client imports nothing (it is served as one module): it names its codes, each defined in the catalog.
  const client = path.join('src', 'client', 'index.ts')
  const catalog = readFileSync(path.join(ROOT, 'src', 'errors.ts'), 'utf8')
  const clientCodes = [...readFileSync(path.join(ROOT, client), 'utf8').matchAll(/'(MPOS_ERR_[A-Z_]+)'/g)].map((m) => m[1]!)
  t.ok(clientCodes.length > 0, 'the client names its codes')
  t.same(clientCodes.filter((c) => !catalog.includes(`'${c}'`)), [], "every code of the client is in the catalog")
  const outside = files.filter((f) => f !== path.join('src', 'errors.ts') && f !== client).flatMap((f) => {
    const code = readFileSync(path.join(ROOT, f), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*(\/\/|\*|\/\*\*)/.test(line))
    return code.filter((line) => /createError\(|'MPOS_ERR_[A-Z_]+'|"MPOS_ERR_[A-Z_]+"/.test(line)).map((line) => `${f}: ${line.trim()}`)
  })
  t.same(outside, [], 'no error class or code literal outside the catalog')
})

t.test('the benchmarks and scripts use no test code', async (t) => {
  const found = [...sources('bench'), ...sources('scripts')].flatMap((f) => importsOf(f).filter((i) => i.target?.startsWith('test')).map((i) => `${f}: ${i.spec}`))
  t.same(found, [])
})
