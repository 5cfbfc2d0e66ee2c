/** How to make browsers trust the local CA, per system (printed by `mpos-bridge cert`). */
export function trustSteps(caFile: string): string {
  return `Trust the CA once on this till (the server certificate can then be renewed without doing it again):

  Windows (Edge, Chrome; an administrator's prompt):
    certutil -addstore -f Root "${caFile}"
    (for the current user only, no administrator: certutil -user -addstore Root "${caFile}")

  macOS (Safari, Chrome):
    sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain "${caFile}"

  Debian / Ubuntu (system tools, curl, Node):
    sudo cp "${caFile}" /usr/local/share/ca-certificates/mpos-bridge-ca.crt && sudo update-ca-certificates
  Chrome and Chromium on Linux keep their own store (package libnss3-tools):
    certutil -d sql:$HOME/.pki/nssdb -A -t "C,," -n mpos-bridge -i "${caFile}"

  Firefox (any system; it has its own store):
    Settings → Privacy & Security → Certificates → View Certificates… → Authorities → Import…,
    choose ${caFile}, tick "Trust this CA to identify websites".
    (Or on Windows/macOS set security.enterprise_roots.enabled to true in about:config to use the system's.)

Then restart the browser and open https://localhost:2443/health (or your --tls-port).
The CA can vouch for localhost, 127.0.0.0/8 and ::1 only (X.509 name constraints).`
}
