#!/usr/bin/env bash
# The exporter's figures (issue "Exporter"), against the Kubernetes API emulator:
#   peak RSS with 2,000 TLS secrets (4,000 certificates) and with 10,000 (20,000),
#   memory per certificate, time to ready (the first LIST, 500 per page),
#   /metrics render time (median of 21 scrapes over loopback) and how long a created
#   Secret takes to show in /metrics (median of 5).
#   benches/exporter.sh [SECRETS...]     (default: 2000 10000; scripts/test installs the emulator)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/benches/timing.sh"
rcert=$(build_release "$root")
python=$root/target/kmock-venv/bin/python
work=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# One chain for every secret: tls.crt holds leaf + intermediate (2 certificates).
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -subj /CN=bench-ca -days 3650 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
  -subj /CN=bench.example.com 2>/dev/null
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 7 -days 90 -out leaf.pem 2>/dev/null
cat leaf.pem ca.pem > tls.crt

wait_for_line() { # wait_for_line FILE: until FILE has a first line (bounded)
  for _ in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "no output in $1" >&2; exit 1
}

measure() {
  local secrets=$1
  sleep infinity | "$python" "$root/tests/emulator/kmock_launcher.py" > emu.url 2>/dev/null &
  pids+=($!)
  wait_for_line emu.url
  local api; api=$(head -1 emu.url)
  "$python" - "$api" "$secrets" <<'PY'
import base64, json, sys, urllib.request
api, count = sys.argv[1], int(sys.argv[2])
crt = base64.b64encode(open("tls.crt", "rb").read()).decode()
key = base64.b64encode(open("leaf.key", "rb").read()).decode()
for start in range(0, count, 500):
    objects = [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"namespace": f"ns{i % 50}", "name": f"tls-{i}"},
                "data": {"tls.crt": crt, "tls.key": key}} for i in range(start, min(count, start + 500))]
    body = json.dumps({"resource": "v1/secrets", "objects": objects}).encode()
    urllib.request.urlopen(urllib.request.Request(api + "/_rcert/objects", data=body, method="POST")).read()
PY
  printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: emu\n  cluster:\n    server: %s\ncontexts:\n- name: emu\n  context:\n    cluster: emu\n    user: emu\nusers:\n- name: emu\n  user: {}\ncurrent-context: emu\n' "$api" > kubeconfig
  rm -f serve.url
  local t0=${EPOCHREALTIME/./}
  "$rcert" expiry --serve 127.0.0.1:0 --kubeconfig kubeconfig --no-node > serve.url 2> serve.log &
  local exporter=$!
  pids+=($exporter)
  wait_for_line serve.url
  local url; url=$(head -1 serve.url)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ]; do sleep 0.05; done
  local t1=${EPOCHREALTIME/./}
  local series; series=$(curl -s "$url/metrics" | grep -c '^x509_cert_not_after{')
  : > scrape.ns
  for _ in $(seq 1 21); do timed scrape.ns curl -s -o /dev/null "$url/metrics"; done
  : > change.ns
  for n in 1 2 3 4 5; do
    local name="fresh-$n" c0=${EPOCHREALTIME/./}
    curl -s -o /dev/null -X POST -H 'Content-Type: application/json' "$api/api/v1/namespaces/ns1/secrets" \
      -d "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"kubernetes.io/tls\",\"metadata\":{\"name\":\"$name\",\"namespace\":\"ns1\"},\"data\":{\"tls.crt\":\"$(base64 -w0 tls.crt)\"}}"
    # (grep -q in a pipe would end curl with SIGPIPE, which pipefail counts as a failure)
    until curl -s -o metrics.txt "$url/metrics" && grep -q "secret_name=\"$name\"" metrics.txt; do sleep 0.02; done
    echo $(( (${EPOCHREALTIME/./} - c0) * 1000 )) >> change.ns
  done
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' "/proc/$exporter/status")
  printf '%6d secrets %6d certificates: peak RSS %6.1f MiB, ready in %6.2f s, /metrics %7.2f ms (median), a new Secret in /metrics after %7.2f ms (median)\n' \
    "$secrets" "$series" "$(awk -v k="$hwm" 'BEGIN {print k/1024}')" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b-a)/1e6}')" \
    "$(ms "$(median < scrape.ns)")" "$(ms "$(median < change.ns)")"
  echo "$series $hwm" >> "$work/points"
  kill "$exporter" 2>/dev/null || true
  pkill -P $$ -f kmock_launcher 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pids=()
  sleep 0.5
}

echo "rcert expiry --serve on $(nproc) cores, $(date -u +%Y-%m-%d)"
for secrets in "${@:-2000 10000}"; do
  # shellcheck disable=SC2086
  for n in $secrets; do measure "$n"; done
done
if [ "$(wc -l < "$work/points")" -ge 2 ]; then
  awk 'NR==1 {c1=$1; k1=$2} END {printf "memory per certificate: %.0f bytes (slope between the two runs)\n", ($2-k1)*1024/($1-c1)}' "$work/points"
fi
