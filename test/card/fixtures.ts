/** Captured cards for the card-hash tests (test PANs that pass Luhn; made-up PIN blocks and KSNs). */
import type { CapturedCard } from '../../src/card/captured-card.js'

/** Real-looking GOC output: 9F26, 9F27, 9F10, 9F37, 9F36, 95, 9A, 9C, 9F02, 5F2A, 82. */
export const EMV_DATA =
  '9F26088C71A63B82948CEB' + '9F270180' + '9F10120110A04001220000000000000000000000FF' + '9F37043C90C02C' +
  '9F36020086' + '95050080048000' + '9A03241029' + '9C0100' + '9F0206000000001000' + '5F2A020986' + '82021980'

export const chipOnlinePin = (): CapturedCard => ({
  captureMethod: 'emv',
  contactless: false,
  paymentMethod: 'credit_card',
  pan: '4761739001010010',
  expiration: '301231',
  panSequenceNumber: 1,
  track2: '4761739001010010=30122011143804400000',
  holderName: 'SILVA/JOAO',
  emvData: EMV_DATA,
  pin: { mode: 'online', block: '3F8A1C2D4E5B6A79', ksn: 'FFFF9876543210E0000A' },
  brand: 'visa',
  applicationLabel: 'VISA CREDITO',
})

export const chipOfflinePin = (): CapturedCard => ({
  captureMethod: 'emv',
  contactless: false,
  paymentMethod: 'debit_card',
  pan: '5413330089020011',
  expiration: '291130',
  panSequenceNumber: 0,
  track2: '5413330089020011=29112011000000000000',
  holderName: 'SOUZA/MARIA C ',
  emvData: EMV_DATA,
  pin: { mode: 'offline' },
  brand: 'mastercard',
})

export const magstripeCredit = (): CapturedCard => ({
  captureMethod: 'magstripe',
  contactless: false,
  paymentMethod: 'credit_card',
  pan: '5413330089010012',
  expiration: '3012',
  panSequenceNumber: 0,
  track1: 'B5413330089010012^SOUZA/MARIA^30122011000000000000',
  track2: '5413330089010012=30122011000000000000',
  holderName: 'SOUZA/MARIA',
})

export const magstripeDebitPin = (): CapturedCard => ({
  captureMethod: 'magstripe',
  contactless: false,
  paymentMethod: 'debit_card',
  pan: '6362970000457013',
  expiration: '2808',
  panSequenceNumber: 0,
  track2: '6362970000457013=28082060000088290770',
  track3: '016362970000457013=98600000000000000000000000000000001',
  pin: { mode: 'online', block: '0A1B2C3D4E5F6071', ksn: 'FFFF0123456789800003' },
})

export const contactless = (): CapturedCard => ({
  captureMethod: 'emv',
  contactless: true,
  paymentMethod: 'credit_card',
  pan: '5413330089010020',
  expiration: '271031',
  panSequenceNumber: 2,
  track2: '5413330089010020D27102010000000000000F',
  emvData: EMV_DATA,
})
