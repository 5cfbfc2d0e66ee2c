/**
 * `mpos-bridge pair`: asks the running bridge for a one-time pairing code (printed here; with
 * --on-pinpad also shown on a free pinpad), lists the paired pages (--list) or revokes one
 * (--revoke ID), through its loopback admin route with the secret of the data directory.
 */
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import { join } from 'node:path'
import { defaultDataDir } from '../data-dir.js'
import { BridgeUnreachableError, INTERNAL_ERROR_CODE, UsageError } from '../../errors.js'
import { ADMIN_PREFIX, ADMIN_SECRET_FILE } from '../../server/pairing/admin.js'
import type { Command } from '../command.js'

interface Answer {
  status: number
  body: Record<string, unknown>
}

/** node:http, not fetch: nothing but what is written here is sent (no Origin, no Sec-Fetch-*). */
function call(base: string, secret: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const text = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(`${ADMIN_PREFIX}${path}`, base),
      {
        method,
        headers: { authorization: `Bearer ${secret}`, ...(text !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}) },
      },
      (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => (data += c))
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> })
          } catch {
            reject(new BridgeUnreachableError(base, `an answer that is not JSON (HTTP ${res.statusCode})`))
          }
        })
      },
    )
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')))
    req.on('error', (err) => reject(new BridgeUnreachableError(base, err.message)))
    req.end(text)
  })
}

/** A refusal of the bridge, as the CLI's error (code and message kept). */
function refusal(answer: Answer): Error {
  const { error, code } = answer.body as { error?: string; code?: string }
  return Object.assign(new Error(error ?? `HTTP ${answer.status}`), { code: code ?? INTERNAL_ERROR_CODE })
}

export const pairCommand: Command = {
  name: 'pair',
  summary: 'Pair a till\'s page: a one-time code from the running bridge (--on-pinpad: also on the pinpad); --list, --revoke ID.',
  options: {
    'on-pinpad': { type: 'boolean', description: 'Also show the code on a free pinpad\'s screen' },
    device: { type: 'string', value: 'ID', description: 'With --on-pinpad: the device id of the pinpad (default: the first free one)' },
    list: { type: 'boolean', description: 'List the paired pages: id, origin, created, last used (never a token)' },
    revoke: { type: 'string', value: 'ID', description: 'Revoke a pairing: its token stops working, also on connections using it now' },
    json: { type: 'boolean', description: 'Print JSON instead of text' },
    port: { type: 'string', value: 'PORT', default: '2000', env: 'MPOS_BRIDGE_PORT', description: 'The running bridge\'s port (reached on 127.0.0.1)' },
    url: { type: 'string', value: 'URL', description: 'The running bridge\'s base URL instead (a loopback address)' },
    'data-dir': { type: 'string', value: 'DIR', env: 'MPOS_BRIDGE_DATA_DIR', description: `The bridge's data directory, where ${ADMIN_SECRET_FILE} is (default ${defaultDataDir()})` },
  },
  async run(values) {
    const actions = [values.list === true, values.revoke !== undefined, values['on-pinpad'] === true].filter(Boolean).length
    if (actions > 1) throw new UsageError('pair', '--list, --revoke and --on-pinpad go one at a time')
    if (values.device !== undefined && !values['on-pinpad']) throw new UsageError('pair', '--device goes with --on-pinpad')
    const device = values.device !== undefined ? Number(values.device) : undefined
    if (device !== undefined && !(Number.isInteger(device) && device >= 1)) throw new UsageError('pair', `--device must be a device id (1, 2…), got ${String(values.device)}`)
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('pair', `--port must be 1–65535, got ${String(values.port)}`)
    const base = (values.url as string | undefined) ?? `http://127.0.0.1:${port}`
    try {
      new URL(base)
    } catch {
      throw new UsageError('pair', `--url is not a URL: ${base}`)
    }
    const dir = (values['data-dir'] as string | undefined) ?? defaultDataDir()
    const secret = await readFile(join(dir, ADMIN_SECRET_FILE), 'utf8').then(
      (s) => s.trim(),
      (err: Error) => {
        throw new BridgeUnreachableError(base, `no admin secret in ${dir} (${err.message.split(':')[0]}): the bridge writes ${ADMIN_SECRET_FILE} there when it starts`)
      },
    )
    const json = values.json === true
    const out = (s: string) => process.stdout.write(s)

    if (values.list) {
      const answer = await call(base, secret, 'GET', '/tokens')
      if (answer.status !== 200) throw refusal(answer)
      const rows = answer.body.pairings as Array<Record<string, unknown>>
      if (json) for (const r of rows) out(`${JSON.stringify(r)}\n`)
      else out(rows.length ? table(rows) : 'No paired pages.\n')
      return 0
    }
    if (values.revoke !== undefined) {
      const id = String(values.revoke)
      if (!/^\d+$/.test(id)) throw new UsageError('pair', `--revoke takes a pairing id (see --list), got ${id}`)
      const answer = await call(base, secret, 'DELETE', `/tokens/${id}`)
      if (answer.status !== 200) throw refusal(answer)
      const { revoked, connections } = answer.body as { revoked: { id: number; origin: string }; connections: number }
      out(json ? `${JSON.stringify(answer.body)}\n` : `Revoked pairing ${revoked.id} (${revoked.origin}); ${connections} open connection(s) lost it.\n`)
      return 0
    }
    const answer = await call(base, secret, 'POST', '/code', { on_pinpad: values['on-pinpad'] === true, ...(device !== undefined ? { device_id: device } : {}) })
    if (answer.status !== 200) throw refusal(answer)
    const { code, expires_at: expiresAt, pinpad, pinpad_error: pinpadError } = answer.body as {
      code: string
      expires_at: string
      pinpad?: { device_id: number }
      pinpad_error?: { error: string; code: string }
    }
    if (json) {
      out(`${JSON.stringify(answer.body)}\n`)
    } else {
      out(`Pairing code: ${code}\n`)
      out(`Type it in the till's page within 2 minutes (until ${expiresAt}); it pairs one page, once.\n`)
      if (pinpad) out(`Also shown on pinpad ${pinpad.device_id}.\n`)
    }
    if (pinpadError) process.stderr.write(`Not shown on a pinpad: ${pinpadError.error} (${pinpadError.code})\n`)
    return 0
  },
}

function table(rows: Array<Record<string, unknown>>): string {
  const cols = ['id', 'origin', 'created_at', 'last_used_at']
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v))
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)))
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()
  return `${[line(cols), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n')}\n`
}
