#!/usr/bin/env bash
# Time `rcert push --dry-run` (both manifests, after validating the files) against the two
# `kubectl create secret … --dry-run=client -o yaml` calls an operator runs today, on the
# same files, in one run, alternating. Prints medians and the ratio.
#   benches/compare_push.sh [RUNS]     (default 21)
set -euo pipefail
runs=${1:-21}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/benches/timing.sh"
rcert=$(build_release "$root")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$rcert" selfsign --host rancher.example.com --out "$work/certs" >/dev/null


rcert_dry_run() { "$rcert" push --namespace cattle-system --dir "$work/certs" --dry-run; }
kubectl_dry_run() {
  kubectl -n cattle-system create secret tls tls-rancher-ingress --cert="$work/certs/tls.crt" \
    --key="$work/certs/tls.key" --dry-run=client -o yaml
  kubectl -n cattle-system create secret generic tls-ca --from-file=cacerts.pem="$work/certs/cacerts.pem" \
    --dry-run=client -o yaml
}

echo "$(machine), $(kubectl version --client 2>/dev/null | head -1)"
: > "$work/r"; : > "$work/k"
for _ in $(seq "$runs"); do
  timed "$work/r" rcert_dry_run
  timed "$work/k" kubectl_dry_run
done
r=$(median < "$work/r"); k=$(median < "$work/k")
report "push --dry-run, both secrets (median of $runs)" "$r" "$k" "kubectl×2"
