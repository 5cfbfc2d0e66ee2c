/**
 * `mpos-bridge journal`: the recent commands of the payment journal and the payments that await
 * their finish_payment, read while the bridge runs (read-only). No card data: the journal holds
 * none, and card hashes are left out of this listing.
 */
import { defaultDataDir } from '../data-dir.js'
import { UsageError } from '../../errors.js'
import { readJournal, type Entry } from '../../journal/store.js'
import type { Command } from '../command.js'

/** What a row shows: never the card hash or the cardholder's name, even while the journal keeps them. */
function summary(e: Entry): Record<string, unknown> {
  const answer = e.answer as { success?: boolean; code?: string; response?: { status?: string } } | undefined
  return {
    at: new Date(e.createdAt).toISOString(),
    context: e.context,
    command_id: JSON.parse(e.key) as unknown,
    command: e.command,
    state: e.state,
    ...(e.request.amount !== undefined ? { amount: e.request.amount } : {}),
    ...(answer ? { success: answer.success } : {}),
    ...(answer?.response?.status ? { status: answer.response.status } : {}),
    ...(answer?.code ? { code: answer.code } : {}),
    ...(e.awaitingFinish ? { awaiting_finish: true } : {}),
  }
}

export const journalCommand: Command = {
  name: 'journal',
  summary: 'List recent money commands of the payment journal and the payments awaiting finish_payment (no card data).',
  options: {
    context: { type: 'string', value: 'C', description: 'Only this context' },
    since: { type: 'string', value: 'ISO', description: 'Only commands from this time on (e.g. 2026-12-04 or 2026-12-04T09:00:00Z)' },
    pending: { type: 'boolean', description: 'Only payments with a card hash that await their finish_payment' },
    limit: { type: 'string', value: 'N', description: 'At most N rows (default 100)' },
    json: { type: 'boolean', description: 'One JSON object per line instead of a table' },
    'data-dir': { type: 'string', value: 'DIR', env: 'MPOS_BRIDGE_DATA_DIR', description: `Where the journal lives (default ${defaultDataDir()})` },
  },
  async run(values) {
    const dir = (values['data-dir'] as string | undefined) ?? defaultDataDir()
    const since = values.since as string | undefined
    const sinceMs = since !== undefined ? Date.parse(since) : undefined
    if (sinceMs !== undefined && Number.isNaN(sinceMs)) throw new UsageError('journal', `--since: not a date: ${since}`)
    const limit = values.limit !== undefined ? Number(values.limit) : 100
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('journal', `--limit: not a positive integer: ${String(values.limit)}`)
    const journal = readJournal(dir)
    if (!journal) {
      process.stderr.write(`No journal in ${dir} yet (it is made when the bridge first runs there)\n`)
      return 0
    }
    try {
      const rows = journal
        .list({
          ...(values.context !== undefined ? { context: values.context as string } : {}),
          ...(sinceMs !== undefined ? { since: sinceMs } : {}),
          ...(values.pending ? { pending: true } : {}),
          limit,
        })
        .map(summary)
      if (values.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`)
        return 0
      }
      const pending = journal.awaitingFinish()
      process.stdout.write(rows.length ? table(rows) : 'No commands.\n')
      if (!values.pending) {
        process.stdout.write(
          pending.length
            ? `\n${pending.length} payment(s) await their finish_payment: ${pending.map((e) => `${e.context}/${e.key}`).join(', ')}\n`
            : '\nNo payment awaits its finish_payment.\n',
        )
      }
      return 0
    } finally {
      journal.close()
    }
  },
}

function table(rows: Record<string, unknown>[]): string {
  const cols = ['at', 'context', 'command_id', 'command', 'state', 'amount', 'status', 'code', 'awaiting_finish']
  const cell = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v))
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)))
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()
  return `${[line(cols), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n')}\n`
}
