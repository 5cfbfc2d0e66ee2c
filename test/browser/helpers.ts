/**
 * Headless Chromium for the browser tests: Debian's `chromium` (apt-get, done by .ci/run) driven by
 * playwright-core, which downloads no browser. Without Chromium the tests fail: they never skip.
 * Screenshots go to test-artifacts/ (ignored by git).
 */
import type { Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import http from 'node:http'
import { chromium, type Browser } from 'playwright-core'

export const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)

export function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('chromium is not installed: run `apt-get install -y chromium` (.ci/run does)')
  }
}

export async function launch(t: Test, extraArgs: string[] = []): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync', ...extraArgs],
  })
  t.teardown(() => browser.close())
  return browser
}

/** Where a screenshot named `name` goes (test-artifacts/NAME.png). */
export function artifact(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true })
  return new URL(`${name}.png`, ARTIFACTS).pathname
}

/** A tiny HTTP server on its own port (another origin) serving one page at `/`. */
export async function pageServer(t: Test, html: string, host = '127.0.0.1'): Promise<number> {
  const server = http.createServer((req, res) => {
    if (req.url === '/' || req.url?.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(html)
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  await new Promise<void>((r) => server.listen(0, host, r))
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.close(() => r())
        server.closeAllConnections()
      }),
  )
  return (server.address() as { port: number }).port
}
