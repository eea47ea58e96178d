#!/usr/bin/env bash
# A CA change from start to finish against the Kubernetes API emulator (kmock) holding a
# Rancher install's objects: the two secrets, the cacerts setting, two downstream clusters,
# a fleet cluster, the cattle-cluster-agent Deployment and the rancher helm release.
# The README's "Changing the private CA" transcript is this script's output.
#   scripts/rotate-demo.sh            (after scripts/test, which installs the emulator)
set -euo pipefail
cd "$(dirname "$0")/.."
RCERT=${RCERT:-target/debug/rcert}
PYTHON=${RCERT_KMOCK_PYTHON:-target/kmock-venv/bin/python}
[ -x "$RCERT" ] || cargo build -q
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# The emulator runs while its stdin is open.
mkfifo hold
"$OLDPWD/$PYTHON" "$OLDPWD/tests/emulator/kmock_launcher.py" < hold > url 2>/dev/null &
exec 3> hold
for _ in $(seq 100); do [ -s url ] && break; sleep 0.1; done
url=$(head -1 url)
export KUBECONFIG=$work/kubeconfig
cat > "$KUBECONFIG" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: rancher, cluster: {server: $url}}]
users: [{name: admin, user: {token: demo}}]
contexts: [{name: rancher, context: {cluster: rancher, user: admin}}]
current-context: rancher
YAML
rcert() { "$OLDPWD/$RCERT" "$@"; }
control() { curl -fsS -X POST -H 'Content-Type: application/json' --data-binary @- "$url$1" > /dev/null; }

# Yesterday's install: the old CA in both secrets and everywhere downstream.
rcert selfsign --host rancher.example.com --out old > /dev/null
rcert push --dir old --backup-dir old/backups > /dev/null
old_ca=$(jq -Rs . < old/cacerts.pem)
old_sum=$(sha256sum < old/cacerts.pem | cut -d' ' -f1)
echo '{"resource": "management.cattle.io/v3/settings", "kind": "Setting", "singular": "setting", "namespaced": false}' | control /_rcert/resources
echo '{"resource": "management.cattle.io/v3/clusters", "kind": "Cluster", "singular": "cluster", "namespaced": false}' | control /_rcert/resources
echo '{"resource": "fleet.cattle.io/v1alpha1/clusters", "kind": "Cluster", "singular": "cluster"}' | control /_rcert/resources
echo "{\"resource\": \"management.cattle.io/v3/settings\", \"objects\": [
  {\"apiVersion\": \"management.cattle.io/v3\", \"kind\": \"Setting\", \"metadata\": {\"name\": \"cacerts\"}, \"value\": $old_ca},
  {\"apiVersion\": \"management.cattle.io/v3\", \"kind\": \"Setting\", \"metadata\": {\"name\": \"agent-tls-mode\"}, \"value\": \"strict\"}]}" | control /_rcert/objects
cluster() { echo "{\"apiVersion\": \"management.cattle.io/v3\", \"kind\": \"Cluster\", \"metadata\": {\"name\": \"$1\"}, \"spec\": {\"displayName\": \"$2\"},
  \"status\": {\"conditions\": [{\"type\": \"Connected\", \"status\": \"True\"}, {\"type\": \"AgentTlsStrictCheck\", \"status\": \"True\"}]}}"; }
echo "{\"resource\": \"management.cattle.io/v3/clusters\", \"objects\": [$(cluster local local), $(cluster c-m-4x7kq prod), $(cluster c-m-9zt2w staging)]}" | control /_rcert/objects
echo '{"resource": "fleet.cattle.io/v1alpha1/clusters", "objects": [
  {"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster", "metadata": {"namespace": "fleet-default", "name": "prod"}, "spec": {"redeployAgentGeneration": 1}},
  {"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster", "metadata": {"namespace": "fleet-default", "name": "staging"}, "spec": {}}]}' | control /_rcert/objects
echo "{\"resource\": \"apps/v1/deployments\", \"objects\": [{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\",
  \"metadata\": {\"namespace\": \"cattle-system\", \"name\": \"cattle-cluster-agent\"},
  \"spec\": {\"selector\": {\"matchLabels\": {\"app\": \"cattle-cluster-agent\"}}, \"template\": {\"metadata\": {\"labels\": {\"app\": \"cattle-cluster-agent\"}},
  \"spec\": {\"containers\": [{\"name\": \"cluster-register\", \"image\": \"rancher/rancher-agent:v2.12.3\",
  \"env\": [{\"name\": \"CATTLE_SERVER\", \"value\": \"https://rancher.example.com\"}, {\"name\": \"CATTLE_CA_CHECKSUM\", \"value\": \"$old_sum\"}]}]}}}}]}" | control /_rcert/objects
release=$(echo '{"name": "rancher", "version": 3, "namespace": "cattle-system", "info": {"status": "deployed"},
  "config": {"hostname": "rancher.example.com", "ingress": {"tls": {"source": "secret"}}, "privateCA": true}}' | gzip -c | base64 -w0 | base64 -w0)
echo "{\"resource\": \"v1/secrets\", \"objects\": [{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"type\": \"helm.sh/release.v1\",
  \"metadata\": {\"namespace\": \"cattle-system\", \"name\": \"sh.helm.release.v1.rancher.v3\",
  \"labels\": {\"owner\": \"helm\", \"name\": \"rancher\", \"status\": \"deployed\", \"version\": \"3\"}}, \"data\": {\"release\": \"$release\"}}]}" | control /_rcert/objects

show() { echo "\$ rcert $*"; rcert --color never "$@" 2>&1 | sed "s|$work/||g" || true; echo; }
rcert selfsign --host rancher.example.com --out new > /dev/null
show rotate plan --to new
show rotate apply --to new --dry-run
show rotate apply --to new
show rotate status --to new
# Rancher restarted: the cacerts setting follows tls-ca.
new_ca=$(jq -Rs . < new/cacerts.pem)
new_sum=$(sha256sum < new/cacerts.pem | cut -d' ' -f1)
echo "{\"resource\": \"management.cattle.io/v3/settings\", \"objects\": [{\"apiVersion\": \"management.cattle.io/v3\", \"kind\": \"Setting\", \"metadata\": {\"name\": \"cacerts\"}, \"value\": $new_ca}]}" | control /_rcert/objects
echo '$ kubectl -n cattle-system rollout restart deploy/rancher   # the cacerts setting follows tls-ca'
echo
show rotate apply --to new
# The agents came back with the new checksum.
echo "{\"resource\": \"apps/v1/deployments\", \"objects\": [{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"namespace\": \"cattle-system\", \"name\": \"cattle-cluster-agent\"}, \"spec\": {\"selector\": {\"matchLabels\": {\"app\": \"cattle-cluster-agent\"}}, \"template\": {\"metadata\": {\"labels\": {\"app\": \"cattle-cluster-agent\"}}, \"spec\": {\"containers\": [{\"name\": \"cluster-register\", \"image\": \"rancher/rancher-agent:v2.12.3\", \"env\": [{\"name\": \"CATTLE_CA_CHECKSUM\", \"value\": \"$new_sum\"}]}]}}}}]}" | control /_rcert/objects
show rotate status --to new
