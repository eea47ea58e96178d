#!/usr/bin/env bash
# Regenerate the test fixtures with the real openssl CLI.
#   testdata/generate.sh [OUTDIR]      (default: testdata/corpus)
# The tests run this script into a temporary directory on every run (so no
# certificate in it ever expires); testdata/corpus is a committed snapshot for
# trying rcert by hand and for the tests of broken input, which do not depend on time.
# See testdata/README.md for what each file is.
set -euo pipefail
out=${1:-"$(cd "$(dirname "$0")" && pwd)/corpus"}
mkdir -p "$out"
cd "$out"
rm -rf ./*

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ext() { # ext FILE LINES...: an extension file for openssl x509 -extfile
  local file=$1; shift
  printf '%s\n' "$@" > "$file"
}

sign() { # sign CSR CA_CERT CA_KEY DAYS EXTFILE OUT
  openssl x509 -req -in "$1" -CA "$2" -CAkey "$3" -set_serial "0x$(openssl rand -hex 16 | sed 's/^./4/')" \
    -days "$4" -sha256 -extfile "$5" -out "$6" 2>/dev/null
}

csr() { # csr KEY SUBJECT OUT
  openssl req -new -key "$1" -subj "$2" -out "$3"
}

# --- a three-level hierarchy: root -> intermediate -> leaf -----------------------------
ec_key root.key
openssl req -x509 -new -key root.key -subj "/O=rcert test/CN=rcert Test Root CA" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out root.pem

ec_key inter.key
csr inter.key "/O=rcert test/CN=rcert Test Intermediate CA" inter.csr
ext ca.ext "basicConstraints=critical,CA:TRUE,pathlen:0" "keyUsage=critical,keyCertSign,cRLSign" \
  "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
sign inter.csr root.pem root.key 3000 ca.ext inter.pem

server_ext() { # server_ext FILE SAN
  ext "$1" "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" \
    "subjectAltName=$2"
}

ec_key leaf.key
csr leaf.key "/O=rcert test/CN=rancher.example.com" leaf.csr
server_ext leaf.ext "DNS:rancher.example.com,DNS:*.apps.example.com,IP:127.0.0.1,IP:::1"
sign leaf.csr inter.pem inter.key 825 leaf.ext leaf.pem

# CN-only: no subjectAltName at all.
ext cn-only.ext "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
sign leaf.csr inter.pem inter.key 825 cn-only.ext cn-only.pem

# A leaf valid for ten years (longer than the 825 days clients accept).
sign leaf.csr inter.pem inter.key 3650 leaf.ext long-lived.pem

# A leaf signed directly by the root (what `rcert selfsign` and Rancher's script make).
sign leaf.csr root.pem root.key 825 leaf.ext direct-leaf.pem

# Expired and not-yet-valid leaves, through `openssl ca` (openssl 3.0 x509 cannot set dates).
mkdir -p ca-db && : > ca-db/index.txt && echo 01 > ca-db/serial
cat > ca.cnf <<EOF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
x509_extensions = server
[ any ]
commonName = supplied
organizationName = optional
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:rancher.example.com
[ intermediate ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl ca -batch -notext -config ca.cnf -cert inter.pem -keyfile inter.key -in leaf.csr \
  -startdate 20200101000000Z -enddate 20210101000000Z -out expired.pem 2>/dev/null
openssl ca -batch -notext -config ca.cnf -cert inter.pem -keyfile inter.key -in leaf.csr \
  -startdate 20990101000000Z -enddate 21000101000000Z -out not-yet-valid.pem 2>/dev/null
# The intermediate's earlier, expired certificate (same name and key), left in a cacerts.pem
# beside the root after the intermediate was renewed.
openssl ca -batch -notext -preserveDN -config ca.cnf -extensions intermediate -cert root.pem -keyfile root.key \
  -in inter.csr -startdate 20200101000000Z -enddate 20210101000000Z -out inter-expired.pem 2>/dev/null
cat inter-expired.pem root.pem > stale-cacerts.pem
rm -rf ca-db ca.cnf

# A self-signed server certificate (no CA behind it).
ec_key self-signed.key
openssl req -x509 -new -key self-signed.key -subj "/CN=rancher.example.com" -days 825 -sha256 \
  -addext "subjectAltName=DNS:rancher.example.com" -addext "extendedKeyUsage=serverAuth" \
  -out self-signed.pem

# What ingress-nginx serves when it cannot load the secret.
ec_key ingress-fake.key
openssl req -x509 -new -key ingress-fake.key -days 365 -sha256 \
  -subj "/O=Acme Co/CN=Kubernetes Ingress Controller Fake Certificate" \
  -addext "subjectAltName=DNS:ingress.local" -addext "extendedKeyUsage=serverAuth" -out ingress-fake.pem

# --- an unrelated CA and leaf ------------------------------------------------------------
ec_key other-root.key
openssl req -x509 -new -key other-root.key -subj "/O=elsewhere/CN=Unrelated Root CA" -days 3650 \
  -sha256 -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out other-root.pem
ec_key other.key

# An intermediate with the same name as ours but another key (a "wrong" intermediate).
csr other.key "/O=rcert test/CN=rcert Test Intermediate CA" impostor.csr
sign impostor.csr other-root.pem other-root.key 3000 ca.ext impostor-inter.pem

# --- bundles as operators assemble them -------------------------------------------------
cat leaf.pem inter.pem > fullchain.pem
cat leaf.pem inter.pem root.pem > fullchain-root.pem
cat inter.pem leaf.pem > wrong-order.pem
cat leaf.pem root.pem inter.pem > root-before-inter.pem
cat leaf.pem other-root.pem inter.pem > extra-cert.pem
cat cn-only.pem inter.pem > cn-only-chain.pem
cat expired.pem inter.pem > expired-chain.pem
cat not-yet-valid.pem inter.pem > not-yet-valid-chain.pem
cat long-lived.pem inter.pem > long-lived-chain.pem
cat leaf.pem inter.pem root.pem > cacerts-whole-chain.pem
cp leaf.pem cacerts-leaf.pem
cat inter.pem root.pem > cacerts-inter-root.pem
printf '%s' "$(cat root.pem)" > root-no-newline.pem
cat leaf.pem leaf.key > leaf-and-key.pem
# What Windows CAs, `openssl x509 -text` and PKCS#12 exports hand out: still good chains.
sed 's/$/\r/' fullchain.pem > fullchain-crlf.pem
{ openssl x509 -in leaf.pem -text; cat inter.pem; } > fullchain-with-text.pem
{ printf 'Bag Attributes\n    friendlyName: rancher\nsubject=/O=rcert test/CN=rancher.example.com\n'; cat fullchain.pem; } > fullchain-bag-attributes.pem

# --- two intermediates: root -> policy CA -> issuing CA -> leaf (enterprise PKIs) -------
ec_key policy.key
csr policy.key "/O=rcert test/CN=rcert Test Policy CA" policy.csr
ext policy.ext "basicConstraints=critical,CA:TRUE,pathlen:1" "keyUsage=critical,keyCertSign,cRLSign" \
  "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
sign policy.csr root.pem root.key 3000 policy.ext policy.pem
ec_key issuing.key
csr issuing.key "/O=rcert test/CN=rcert Test Issuing CA" issuing.csr
sign issuing.csr policy.pem policy.key 3000 ca.ext issuing.pem
sign leaf.csr issuing.pem issuing.key 825 leaf.ext two-inter-leaf.pem
cat two-inter-leaf.pem issuing.pem policy.pem > two-inter-chain.pem      # tls.crt
cat issuing.pem policy.pem root.pem > two-inter-cacerts.pem               # cacerts.pem, Rancher's order

# --- key flavours and formats -----------------------------------------------------------
openssl ec -in leaf.key -out leaf.sec1.key 2>/dev/null                  # EC PRIVATE KEY
openssl genrsa -traditional -out rsa.key 2048 2>/dev/null               # RSA PRIVATE KEY
csr rsa.key "/CN=rsa.example.com" rsa.csr
server_ext rsa.ext "DNS:rsa.example.com"
sign rsa.csr inter.pem inter.key 825 rsa.ext rsa.pem
openssl pkey -in rsa.key -out rsa.pkcs8.key                             # PRIVATE KEY (RSA)
openssl genpkey -algorithm ed25519 -out ed25519.key
openssl x509 -in leaf.pem -outform DER -out leaf.der
openssl pkey -in leaf.key -outform DER -out leaf.key.der
openssl x509 -in root.pem -trustout -addtrust serverAuth -out root.trusted.pem  # TRUSTED CERTIFICATE

# --- broken input -----------------------------------------------------------------------
: > empty.pem
printf '\n  \n' > blank.pem
printf 'this is not a certificate\n' > garbage.txt
head -c 300 /dev/urandom | tr '\055' '\056' > garbage.bin  # random bytes without any '-' (no PEM marker)
printf '\060\003\002\001\005' > garbage.der                 # valid DER, but neither cert nor key
head -n 6 leaf.pem > truncated.pem
awk 'NR==3 {print "!!!!not base64 at all!!!!"; next} {print}' leaf.pem > bad-base64.pem
openssl pkey -in leaf.key -aes256 -passout pass:secret -out encrypted.key
openssl ec -in leaf.key -aes256 -passout pass:secret -out encrypted.sec1.key 2>/dev/null
openssl genpkey -algorithm ed448 -out ed448.key                     # unsupported key type
cp leaf.csr only-csr.pem
rm -f ./*.csr ./*.ext ./*.srl
