#!/usr/bin/env bash
# Time `rcert expiry --no-node -o json` against the Kubernetes API emulator holding 2,000
# TLS secrets (leaf + CA each) in 20 namespaces, seeded straight into its store, against:
#   (a) `kubectl get secrets -A -o json` on the same emulator (the list is the floor), and
#   (b) the shell loop operators use today: that list, then `openssl x509 -enddate` per secret.
# Prints medians, ratios and rcert's peak memory.
#   benches/compare_expiry.sh [RUNS] [SECRETS]     (default 7 runs, 2000 secrets)
set -euo pipefail
runs=${1:-7}
count=${2:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/benches/timing.sh"
rcert=$(build_release "$root")
python=$root/target/kmock-venv/bin/python
[ -x "$python" ] || { echo "run scripts/test once first (it makes the emulator's venv)"; exit 2; }
work=$(mktemp -d)
exec 3> >("$python" "$root/tests/emulator/kmock_launcher.py" > "$work/url")
trap 'exec 3>&-; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -1 "$work/url")
cat > "$work/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: emu, cluster: {server: "$url"}}]
users: [{name: emu, user: {token: bench}}]
contexts: [{name: emu, context: {cluster: emu, user: emu}}]
current-context: emu
YAML
bash "$root/testdata/generate.sh" "$work/fixtures" >/dev/null
"$python" - "$url" "$count" "$work/fixtures" <<'PY'
import base64, json, sys, urllib.request
url, count, fixtures = sys.argv[1], int(sys.argv[2]), sys.argv[3]
crt = base64.b64encode(open(f"{fixtures}/fullchain-root.pem", "rb").read()).decode()
key = base64.b64encode(open(f"{fixtures}/leaf.key", "rb").read()).decode()
objects = [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"namespace": f"team-{i % 20}", "name": f"tls-{i}"},
            "data": {"tls.crt": crt, "tls.key": key}} for i in range(count)]
seeded = 0
for start in range(0, count, 200):  # the emulator takes bodies up to 1 MiB
    body = json.dumps({"resource": "v1/secrets", "objects": objects[start:start + 200]}).encode()
    request = urllib.request.Request(url + "/_rcert/objects", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    seeded += json.load(urllib.request.urlopen(request))["objects"]
print("seeded", seeded, "secrets", file=sys.stderr)
PY
export KUBECONFIG=$work/kubeconfig
rcert_expiry() { "$rcert" expiry --no-node -o json; }
kubectl_list() { kubectl get secrets -A -o json; }
shell_loop() {
  kubectl get secrets -A -o jsonpath='{range .items[*]}{.data.tls\.crt}{"\n"}{end}' |
    while read -r data; do printf '%s' "$data" | base64 -d | openssl x509 -noout -enddate; done
}
echo "$(machine), $(kubectl version --client 2>/dev/null | head -1), $count secrets in 20 namespaces"
rcert_expiry | python3 -c 'import json,sys; d=json.load(sys.stdin); print("rcert lists", len(d["items"]), "items")'
: > "$work/r"; : > "$work/k"; : > "$work/s"
for _ in $(seq "$runs"); do
  timed "$work/r" rcert_expiry
  timed "$work/k" kubectl_list
done
loop_runs=$(( runs < 3 ? runs : 3 ))
for _ in $(seq "$loop_runs"); do timed "$work/s" shell_loop; done
r=$(median < "$work/r")
report "expiry --no-node -o json (median of $runs)" "$r" "$(median < "$work/k")" "kubectl-get"
report "vs. list + openssl -enddate per secret ($loop_runs)" "$r" "$(median < "$work/s")" "shell-loop"
peak=$( { /usr/bin/time -f '%M' "$rcert" expiry --no-node -o json >/dev/null; } 2>&1 | tail -1)
echo "rcert peak memory: $(( peak / 1024 )) MiB (max resident set size)"
