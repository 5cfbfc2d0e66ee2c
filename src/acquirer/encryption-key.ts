/**
 * `ek_test_Abc…Ll23`: enough to tell keys apart in a log, not enough to use one. Short or
 * unusual keys show only their first three characters.
 */
export function maskEncryptionKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) return '(none)'
  const prefix = /^(?:ek|ak)_(?:test|live)_/.exec(key)?.[0] ?? key.slice(0, 3)
  const rest = key.length - prefix.length
  return rest >= 12 ? `${prefix}…${key.slice(-4)}` : `${prefix}…`
}
