/** EMV table maintenance on the virtual pinpad (§6.7): GTS, TLI, TLR, TLE. */
import { ok, type HandlerTable } from './types.js'

export const tableHandlers: HandlerTable = {
  GTS: ({ GTS_ACQIDX }, { pad }) => ok({ GTS_TABVER: pad.tables.version(Number(GTS_ACQIDX)) }),
  TLI: ({ TLI_ACQIDX, TLI_TABVER }, { pad }) => ({ status: pad.tables.begin(Number(TLI_ACQIDX), TLI_TABVER) }),
  TLR: ({ records }, { pad }) => {
    pad.display.show2x16('  ATUALIZANDO       TABELAS    ', 'TLR')
    return { status: pad.tables.add(records) }
  },
  TLE: (_req, { pad }) => {
    const status = pad.tables.end()
    if (pad.display.screen.source === 'TLR') pad.display.clear('TLE')
    return { status }
  },
}
