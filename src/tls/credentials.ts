/**
 * The certificate and key `serve --tls` serves, read with Node's own X.509 parser (the X.509
 * library that makes them, src/tls/certs.ts, is loaded only by `mpos-bridge cert`).
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { CertificateError } from '../errors.js'

/** The expiry of the first certificate of a PEM file. */
export function certificateExpiry(pem: string): Date {
  return new Date(new X509Certificate(pem).validTo)
}

export interface ServerCredentials {
  cert: string
  key: string
  expires: Date
  certFile: string
}

/** The certificate and key `serve --tls` uses (the data directory's unless named). */
export function loadServerCredentials(certFile: string, keyFile: string): ServerCredentials {
  let cert: string
  let key: string
  try {
    cert = readFileSync(certFile, 'utf8')
    key = readFileSync(keyFile, 'utf8')
  } catch (err) {
    throw new CertificateError(`${(err as NodeJS.ErrnoException).path ?? certFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): run mpos-bridge cert first`)
  }
  let expires: Date
  try {
    expires = certificateExpiry(cert)
  } catch (err) {
    throw new CertificateError(`${certFile} is not a PEM certificate (${(err as Error).message})`)
  }
  try {
    // A key that is not the certificate's (or not a key) fails here, before anything listens.
    createSecureContext({ cert, key })
  } catch (err) {
    throw new CertificateError(`${certFile} and its key do not make a usable pair (${(err as Error).message})`)
  }
  return { cert, key, expires, certFile }
}
