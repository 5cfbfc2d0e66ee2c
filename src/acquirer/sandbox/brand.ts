/** Card brand from the PAN's leading digits, for the sandbox's answers (Brazilian brands first). */

const ELO_PREFIXES = [
  '401178', '401179', '431274', '438935', '451416', '457393', '457631', '457632', '504175', '627780',
  '636297', '636368',
]
const ELO_RANGES: Array<[number, number]> = [
  [506699, 506778], [509000, 509999], [650031, 650033], [650035, 650051], [650405, 650439],
  [650485, 650538], [650541, 650598], [650700, 650718], [650720, 650727], [650901, 650920],
  [651652, 651679], [655000, 655019], [655021, 655058],
]
const HIPERCARD_PREFIXES = ['606282', '384100', '384140', '384160', '637095', '637568', '637599', '637609', '637612']

export function cardBrand(pan: string): string | undefined {
  if (!/^\d{12,19}$/.test(pan)) return undefined
  const six = Number(pan.slice(0, 6))
  const four = Number(pan.slice(0, 4))
  if (ELO_PREFIXES.some((p) => pan.startsWith(p)) || ELO_RANGES.some(([lo, hi]) => six >= lo && six <= hi)) return 'elo'
  if (HIPERCARD_PREFIXES.some((p) => pan.startsWith(p))) return 'hipercard'
  if (/^3[47]/.test(pan)) return 'amex'
  if (pan.startsWith('4')) return 'visa'
  if (/^5[1-5]/.test(pan) || (four >= 2221 && four <= 2720)) return 'mastercard'
  return undefined
}

/** The Luhn check digit is right. */
export function luhnValid(pan: string): boolean {
  if (!/^\d{12,19}$/.test(pan)) return false
  let sum = 0
  for (let i = 0; i < pan.length; i++) {
    let d = pan.charCodeAt(pan.length - 1 - i) - 48
    if (i % 2 === 1) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return sum % 10 === 0
}
