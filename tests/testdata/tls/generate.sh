#!/usr/bin/env bash
# Regenerates the TEST-ONLY PKI in this folder (see README.md). The outputs are
# committed so tests never depend on openssl at run time; the ~100 year validity
# means they never need regenerating just because they expired.
#
#   ca.pem / ca.key                  trusted test root "dotproxy test CA"
#   server.pem / server.key          leaf for dot.test (+ IP SANs 127.0.0.1, ::1), chain included
#   other_ca.pem                     a second root that tests never trust
#   other_server.pem / other_server.key  dot.test leaf signed by other_ca ("unknown issuer")
#   client.pem / client.key          client certificate (clientAuth) signed by ca, for mutual TLS
#   other_client.pem / other_client.key  client certificate signed by other_ca (refused)
#
# ECDSA P-256 keeps handshakes cheap and is accepted by rustls (Deno), OpenSSL
# (unbound) and GnuTLS (kdig) alike.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

DAYS=36525
TLS_NAME=dot.test
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# new_key FILE: a P-256 key in PKCS#8 PEM ("PRIVATE KEY"), which every consumer reads.
new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# make_ca NAME CN: writes NAME.pem and NAME.key (self-signed root).
make_ca() {
  local name=$1 cn=$2
  new_key "$name.key"
  openssl req -x509 -new -key "$name.key" -sha256 -days "$DAYS" -subj "/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$name.pem"
}

# make_leaf NAME CA: writes NAME.key and NAME.pem (leaf followed by the CA cert).
make_leaf() {
  local name=$1 ca=$2
  new_key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$TLS_NAME" -out "$WORK/$name.csr"
  cat >"$WORK/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:$TLS_NAME,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
  # A random serial instead of a .srl file, so nothing but the outputs is left behind.
  openssl x509 -req -in "$WORK/$name.csr" -CA "$ca.pem" -CAkey "$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$DAYS" \
    -extfile "$WORK/$name.ext" -out "$WORK/$name.crt" 2>/dev/null
  openssl verify -CAfile "$ca.pem" "$WORK/$name.crt" >/dev/null
  cat "$WORK/$name.crt" "$ca.pem" >"$name.pem"
}

# make_client NAME CA: writes NAME.key and NAME.pem (a client leaf followed by the CA cert).
make_client() {
  local name=$1 ca=$2
  new_key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=dotproxy test client" -out "$WORK/$name.csr"
  cat >"$WORK/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
  openssl x509 -req -in "$WORK/$name.csr" -CA "$ca.pem" -CAkey "$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "$DAYS" \
    -extfile "$WORK/$name.ext" -out "$WORK/$name.crt" 2>/dev/null
  openssl verify -CAfile "$ca.pem" -purpose sslclient "$WORK/$name.crt" >/dev/null
  cat "$WORK/$name.crt" "$ca.pem" >"$name.pem"
}

make_ca ca "dotproxy test CA"
make_leaf server ca

# The untrusted pair: its CA key is thrown away, only its certificate is kept.
make_ca "$WORK/other_ca" "dotproxy untrusted test CA"
cp "$WORK/other_ca.pem" other_ca.pem
make_leaf other_server "$WORK/other_ca"
make_client client ca
make_client other_client "$WORK/other_ca"

# Keys are test-only and public anyway, but keep them readable for unbound (any user).
chmod 644 ./*.pem ./*.key

if openssl verify -CAfile ca.pem <(openssl x509 -in other_server.pem) >/dev/null 2>&1; then
  echo "other_server.pem must NOT verify against ca.pem" >&2
  exit 1
fi
echo "generated test PKI in $(pwd)"
