#!/usr/bin/env bash
# Time rcert against the tools operators use today, on the same work, in one run,
# alternating the two so both see the same machine state. Prints medians and ratios.
#   benches/compare.sh [RUNS]     (default 21 runs per measurement)
# (a) rcert selfsign vs the openssl recipe of Rancher's self-signed script
#     (CA key + cert, server key + CSR + cert with SANs, cat the chain), ecdsa-p256 and rsa-2048;
# (b) rcert verify of 1,000 full chains vs openssl verify of the same files (one process each).
set -euo pipefail
runs=${1:-21}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/benches/timing.sh"
rcert=$(build_release "$root")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT


openssl_key() { # openssl_key TYPE OUT
  if [ "$1" = rsa-2048 ]; then openssl genrsa -out "$2" 2048 2>/dev/null
  else openssl ecparam -name prime256v1 -genkey -noout -out "$2"; fi
}

openssl_recipe() { # the steps of Rancher's create_self-signed-cert.sh
  local type=$1 dir=$2
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  openssl_key "$type" cakey.pem
  openssl req -x509 -sha256 -new -nodes -key cakey.pem -days 3650 -out cacerts.pem -subj "/CN=cattle-ca"
  openssl_key "$type" tls.key
  openssl req -sha256 -new -key tls.key -out tls.csr -subj "/CN=rancher.example.com"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:rancher.example.com,IP:10.0.0.1" > ext.cnf
  openssl x509 -sha256 -req -in tls.csr -CA cacerts.pem -CAkey cakey.pem -CAcreateserial \
    -out tls.pem -days 825 -extfile ext.cnf 2>/dev/null
  cat tls.pem cacerts.pem > tls.crt
  cd - >/dev/null
}

rcert_selfsign() {
  "$rcert" selfsign --host rancher.example.com --ip 10.0.0.1 --key-type "$1" --out "$2" --force >/dev/null
}


machine

for type in ecdsa-p256 rsa-2048; do
  : > "$work/r" ; : > "$work/o"
  for _ in $(seq "$runs"); do
    timed "$work/r" rcert_selfsign "$type" "$work/rcert"
    timed "$work/o" openssl_recipe "$type" "$work/openssl"
  done
  report "selfsign $type (median of $runs)" "$(median < "$work/r")" "$(median < "$work/o")" openssl
done

# 1,000 full chains (leaf + intermediate) issued by one openssl-made intermediate.
bash "$root/testdata/generate.sh" "$work/fixtures" >/dev/null
mkdir -p "$work/chains"
for i in $(seq 1000); do
  "$rcert" selfsign --host "node$i.example.com" --ca-cert "$work/fixtures/inter.pem" \
    --ca-key "$work/fixtures/inter.key" --out "$work/chains/$i" >/dev/null
done
chains=("$work"/chains/*/tls.crt)
: > "$work/r" ; : > "$work/o"
verify_runs=$(( runs < 7 ? runs : 7 ))
for _ in $(seq "$verify_runs"); do
  timed "$work/r" "$rcert" verify --ca "$work/fixtures/root.pem" "${chains[@]}"
  timed "$work/o" openssl verify -x509_strict -purpose sslserver -CAfile "$work/fixtures/root.pem" \
    -untrusted "$work/fixtures/inter.pem" "${chains[@]}"
done
report "verify 1000 full chains (median of $verify_runs)" "$(median < "$work/r")" "$(median < "$work/o")" openssl
