/** RSP_STAT values (§3.1.1), by wire value. */
export const RETURN_CODES = {
  0: 'ST_OK',
  3: 'ST_NOSEC',
  4: 'ST_F1',
  5: 'ST_F2',
  6: 'ST_F3',
  7: 'ST_F4',
  8: 'ST_BACKSP',
  9: 'ST_ERRPKTSEC',
  10: 'ST_INVCALL',
  11: 'ST_INVPARM',
  12: 'ST_TIMEOUT',
  13: 'ST_CANCEL',
  19: 'ST_MANDAT',
  20: 'ST_TABVERDIF',
  21: 'ST_TABERR',
  40: 'ST_INTERR',
  41: 'ST_MCDATAERR',
  42: 'ST_ERRKEY',
  43: 'ST_NOCARD',
  44: 'ST_PINBUSY',
  45: 'ST_RSPOVRFL',
  46: 'ST_ERRCRYPT',
  51: 'ST_NOSAM',
  60: 'ST_DUMBCARD',
  61: 'ST_ERRCARD',
  67: 'ST_CARDINVALIDAT',
  68: 'ST_CARDPROBLEMS',
  69: 'ST_CARDINVDATA',
  70: 'ST_CARDAPPNAV',
  71: 'ST_CARDAPPNAUT',
  76: 'ST_ERRFALLBACK',
  77: 'ST_INVAMOUNT',
  78: 'ST_ERRMAXAID',
  79: 'ST_CARDBLOCKED',
  80: 'ST_CTLSMULTIPLE',
  81: 'ST_CTLSCOMMERR',
  82: 'ST_CTLSINVALIDAT',
  83: 'ST_CTLSPROBLEMS',
  84: 'ST_CTLSAPPNAV',
  85: 'ST_CTLSAPPNAUT',
  86: 'ST_CTLSEXTCVM',
  87: 'ST_CTLSIFCHG',
  100: 'ST_MFNFOUND',
  101: 'ST_MFERRFMT',
  102: 'ST_MFERR',
} as const satisfies Record<number, string>

export type ReturnCodeName = (typeof RETURN_CODES)[keyof typeof RETURN_CODES]

/** Wire values by name, e.g. `ST.TABVERDIF === 20`. */
export const ST = Object.fromEntries(
  Object.entries(RETURN_CODES).map(([code, name]) => [name.slice(3), Number(code)]),
) as { readonly [K in ReturnCodeName as K extends `ST_${infer N}` ? N : never]: number }

export function returnCodeName(code: number): string {
  return (RETURN_CODES as Record<number, string>)[code] ?? 'UNKNOWN'
}

/** Formats a status as the three digits it has on the wire. */
export function formatStatus(code: number): string {
  return String(code).padStart(3, '0')
}
