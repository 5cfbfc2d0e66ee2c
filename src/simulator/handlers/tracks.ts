/**
 * GTK (§3.3.12, §6.5.12): the complete tracks (and a chip card's PAN) once per CEX/GCX, in clear or
 * encrypted (§5.4.2) under a data key (EBX's methods) or a random TDES key sent under the host's
 * RSA key ("9x"). ECB uses one key (one KSN) for every field; CBC encrypts each field apart, each with
 * its own KSN when the key is DUKPT (§6.3.4.2).
 */
import { ST } from '../../abecs/return-codes.js'
import type { PpData } from '../../abecs/params.js'
import { encryptNibbleTrack, encryptTrack1, toNibbles, type BlockCipher } from '../../abecs/track-crypt.js'
import { dataKey } from '../data-keys.js'
import { ok, fail, type HandlerTable } from './types.js'

type Field = 'pan' | 'track1' | 'track2' | 'track3'
const KSN_OF: Record<Field, 'PP_ENCPANKSN' | 'PP_TRK1KSN' | 'PP_TRK2KSN' | 'PP_TRK3KSN'> = {
  pan: 'PP_ENCPANKSN',
  track1: 'PP_TRK1KSN',
  track2: 'PP_TRK2KSN',
  track3: 'PP_TRK3KSN',
}
const DATA_OF: Record<Field, 'PP_ENCPAN' | 'PP_TRACK1' | 'PP_TRACK2' | 'PP_TRACK3'> = {
  pan: 'PP_ENCPAN',
  track1: 'PP_TRACK1',
  track2: 'PP_TRACK2',
  track3: 'PP_TRACK3',
}

export const trackHandlers: HandlerTable = {
  GTK: (p, { pad }) => {
    const kept = pad.session?.tracksForGtk
    if (!kept) return fail(ST.INVCALL)
    // §6.5.12: SPE_TRACKS of any size; a missing or odd character means "not wanted".
    const want = (i: number) => p.SPE_TRACKS === undefined || p.SPE_TRACKS[i] === '1'
    const fields = (['pan', 'track1', 'track2', 'track3'] as const).filter((f, i) => want(i) && kept[f])
    const out: PpData = {}
    if (p.SPE_MTHDDAT === undefined) {
      for (const f of fields) out[DATA_OF[f]] = f === 'track1' ? Buffer.from(kept[f]!, 'latin1') : toNibbles(kept[f]!)
      pad.session!.tracksForGtk = undefined
      return ok(out)
    }
    const open = p.SPE_OPNDIG === undefined ? 0 : Number(p.SPE_OPNDIG)
    if (open % 2 || open > 8) return fail(ST.INVPARM)
    const key = dataKey(
      pad.keys,
      {
        method: p.SPE_MTHDDAT,
        allowRandom: true,
        ...(p.SPE_KEYIDX !== undefined ? { keyIndex: p.SPE_KEYIDX } : {}),
        ...(p.SPE_WKENC ? { wkenc: p.SPE_WKENC } : {}),
        ...(p.SPE_IVCBC ? { iv: p.SPE_IVCBC } : {}),
        ...(p.SPE_PBKMOD ? { rsaModulus: p.SPE_PBKMOD } : {}),
        ...(p.SPE_PBKEXP ? { rsaExponent: p.SPE_PBKEXP } : {}),
      },
      pad.identity.specVersion,
    )
    if ('status' in key) return fail(key.status)
    pad.session!.tracksForGtk = undefined
    const shared = key.cbc ? undefined : key.issue()
    for (const f of fields) {
      const { cipher, ksn } = shared ?? key.issue()
      const seal = (c: BlockCipher) => (f === 'track1' ? encryptTrack1(kept[f]!, open, c) : encryptNibbleTrack(kept[f]!, open, c))
      out[DATA_OF[f]] = seal(cipher)
      if (ksn) out[KSN_OF[f]] = ksn
    }
    if (key.encKrand) out.PP_ENCKRAND = key.encKrand
    return ok(out)
  },
}
