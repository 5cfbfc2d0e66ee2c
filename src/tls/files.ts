import path from 'node:path'

/** Where `mpos-bridge cert` keeps the CA and the server certificate: `<data dir>/tls/`. */
export interface TlsFiles {
  dir: string
  caCert: string
  caKey: string
  cert: string
  key: string
}

export const tlsFiles = (dataDir: string): TlsFiles => {
  const dir = path.join(dataDir, 'tls')
  return { dir, caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') }
}
