/**
 * EMV tables as the acquirer serves them (`GET /terminal/updates`) and as the store keeps them.
 * Field names are snake_case like the rest of the acquirer API. Amounts are integer cents;
 * hexadecimal fields are text ("A0000000031010"), either case. See docs/emv-tables.md.
 */
import type { PaymentMethod } from '../card/captured-card.js'

/** One AID (ABECS §4.1.1, T1_*): an EMV application the terminal accepts, with its parameters. */
export interface AidEntry {
  /** TAB_ACQ: the acquirer ("rede credenciadora") that owns the record, 1–99. */
  acquirer_number: number
  /** TAB_RECIDX, 1–99; unique per acquirer among the AIDs. */
  record_index: number
  /** T1_AID, 5–16 bytes in hex. */
  aid: string
  /** T1_APPTYPE: 1 = credit, 2 = debit (up to 98). */
  application_type: number
  /** T1_DEFLABEL, at most 16 ISO-8859-1 characters. */
  application_name: string
  /** 9F09 options (T1_APPVER1–3), 1 to 3 values of 2 bytes; missing ones repeat the last. */
  app_versions: string[]
  /** 9F1A, three digits ("076"). */
  country_code: string
  /** 5F2A, three digits ("986"). */
  currency: string
  /** 5F36, 0–9. */
  currency_exponent: number
  /** 9F16, at most 15 ASCII characters; empty when absent. */
  merchant_id?: string
  /** 9F15, four digits. */
  mcc: string
  /** 9F1C, at most 8 ASCII characters. */
  terminal_id: string
  /** 9F33, 3 bytes hex ("E0F8C8"). */
  terminal_capabilities: string
  /** 9F40, 5 bytes hex. */
  additional_terminal_capabilities: string
  /** 9F35, two digits ("22"). */
  terminal_type: string
  /** Terminal action codes (5 bytes hex each). */
  tac_default: string
  tac_denial: string
  tac_online: string
  /** 9F1B, cents. */
  floor_limit: number
  /** 9F53, one ASCII character ("R"). */
  tcc: string
  /** T1_CTLSZEROAM: zero-amount contactless allowed (online only). */
  ctls_zero_amount: boolean
  /** T1_CTLSMODE, one character "0"–"C" ("0" = no contactless for this AID). */
  ctls_mode: string
  /** DF8124 / DF8123 / DF8126, cents. */
  ctls_transaction_limit: number
  ctls_floor_limit: number
  ctls_cvm_limit: number
  /** 9F6D, 2 bytes hex. */
  ctls_app_version: string
  /** Default TDOL and DDOL, hex, at most 20 bytes each (may be empty). */
  tdol: string
  ddol: string
  /** Contactless TACs (spec 2.0x); default to the contact ones. */
  ctls_tac_default?: string
  ctls_tac_denial?: string
  ctls_tac_online?: string
  /** Spec 2.12 fields; each defaults as §4.1.1 says when absent. */
  ctls_terminal_capabilities?: string
  ctls_additional_terminal_capabilities?: string
  mobile_cvm?: boolean
  ctls_mobile_transaction_limit?: number
  ctls_issuer_scripts?: boolean
}

/** One certification-authority public key (§4.1.2, T2_*). */
export interface CapkEntry {
  acquirer_number: number
  record_index: number
  /** RID, 5 bytes hex. */
  rid: string
  /** 9F22, 1 byte hex. */
  index: string
  /** "03" or "010001". */
  exponent: string
  /** Up to 248 bytes hex. */
  modulus: string
  /** SHA-1 over RID ‖ index ‖ modulus ‖ exponent, 20 bytes hex. */
  checksum: string
}

/** A revoked issuer certificate (§4.1.3, T3_*). */
export interface RevokedCertificateEntry {
  acquirer_number: number
  record_index: number
  rid: string
  /** CAPK index, 1 byte hex. */
  index: string
  /** Certificate serial number, 3 bytes hex. */
  serial_number: string
}

/** Which AID record serves a brand and payment method, and the EMV tags to ask the chip for. */
export interface ApplicationEntry {
  payment_method: PaymentMethod
  /** Lower-case brand name: visa, mastercard, elo, amex, hipercard… */
  card_brand: string
  acquirer_number: number
  /** `record_index` of the AID entry. */
  record_number: number
  /** EMV tags (hex, "9F26") for the card's EMV data (GOC/GOX tag list). */
  emv_tags: string[]
}

export interface EmvTables {
  /** The table version; goes to the pinpad as TLI_TABVER (A10), so 1–10 printable ASCII characters. */
  version: string
  aids: AidEntry[]
  capks: CapkEntry[]
  revoked_certificates?: RevokedCertificateEntry[]
  applications: ApplicationEntry[]
}

/** What the acquirer says of the stored tables: current (HTTP 304), or new ones. */
export type TerminalUpdates = { upToDate: true } | { upToDate: false; tables: EmvTables }

export interface TerminalUpdatesOptions {
  signal?: AbortSignal
  /** The stored table version ("" when none): the acquirer answers 304 when it is current. */
  checksum: string
  /** DUKPT key indexes the pinpad holds. */
  dukptKeys: readonly number[]
}

/** Where table updates come from (the acquirer client); tables/ needs no more of it. */
export interface TablesSource {
  getTerminalUpdates(encryptionKey: string, options: TerminalUpdatesOptions): Promise<TerminalUpdates>
}
