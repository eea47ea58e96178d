#!/usr/bin/env bash
# Time `rcert push --dry-run` (both manifests, after validating the files) against the two
# `kubectl create secret … --dry-run=client -o yaml` calls an operator runs today, on the
# same files, in one run, alternating. Prints medians and the ratio.
#   benches/compare_push.sh [RUNS]     (default 21)
set -euo pipefail
runs=${1:-21}
root=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
rcert="$root/target/release/rcert"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$rcert" selfsign --host rancher.example.com --out "$work/certs" >/dev/null

timed() { # timed FILE COMMAND...: append the command's wall time in ns
  local file=$1; shift
  local t0=${EPOCHREALTIME/./}
  "$@" >/dev/null 2>&1
  local t1=${EPOCHREALTIME/./}
  echo $(( (t1 - t0) * 1000 )) >> "$file"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v ns="$1" 'BEGIN {printf "%.2f", ns/1e6}'; }

rcert_dry_run() { "$rcert" push --namespace cattle-system --dir "$work/certs" --dry-run; }
kubectl_dry_run() {
  kubectl -n cattle-system create secret tls tls-rancher-ingress --cert="$work/certs/tls.crt" \
    --key="$work/certs/tls.key" --dry-run=client -o yaml
  kubectl -n cattle-system create secret generic tls-ca --from-file=cacerts.pem="$work/certs/cacerts.pem" \
    --dry-run=client -o yaml
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(kubectl version --client 2>/dev/null | head -1), $(date -u +%F)"
: > "$work/r"; : > "$work/k"
for _ in $(seq "$runs"); do
  timed "$work/r" rcert_dry_run
  timed "$work/k" kubectl_dry_run
done
r=$(median < "$work/r"); k=$(median < "$work/k")
printf 'push --dry-run, both secrets (median of %s)   rcert %8s ms   kubectl x2 %8s ms   ratio %6.1fx\n' \
  "$runs" "$(ms "$r")" "$(ms "$k")" "$(awk -v a="$k" -v b="$r" 'BEGIN {print a/b}')"
