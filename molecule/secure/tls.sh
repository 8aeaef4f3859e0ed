#!/usr/bin/env bash
# A throw-away CA and the gateway's certificate (SAN IP 192.0.2.1), made once
# per scenario run in Molecule's ephemeral directory; the inventory reads them
# (group_vars/all/tls.yml), the outsider verifies the gateway with the CA.
set -euo pipefail
dir="${MOLECULE_EPHEMERAL_DIRECTORY:?}/tls"
[ -f "$dir/gateway.crt" ] && exit 0
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=aib secure test CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=192.0.2.1" -keyout gateway.key -out gateway.csr 2>/dev/null
printf 'subjectAltName=IP:192.0.2.1\nextendedKeyUsage=serverAuth\n' > gateway.ext
openssl x509 -req -in gateway.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile gateway.ext -out gateway.crt 2>/dev/null
chmod 0600 ca.key gateway.key
echo created
