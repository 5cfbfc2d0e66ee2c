/** DUKPT:TDES:DAT keys (§5.1.2): the next transaction key with a MAC variant (request = DAT#1, response = DAT#3). */
import { macKey, type DukptKeyStore } from '../crypto/dukpt.js'

export function nextDataKey(store: DukptKeyStore, variant: 'request' | 'response'): { ksn: Buffer; key: Buffer } {
  const { ksn, transactionKey } = store.next()
  return { ksn, key: macKey(transactionKey, variant) }
}
