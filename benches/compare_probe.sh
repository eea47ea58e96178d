#!/usr/bin/env bash
# Time `rcert probe` against `openssl s_client` on loopback, in one run, alternating:
# one endpoint (one rcert probe vs one s_client), and 50 endpoints (one rcert probe of 50
# targets vs 50 s_client runs in sequence). The endpoints are one nginx listening on 50
# loopback ports with the test hierarchy's chain. Prints medians and ratios.
#   benches/compare_probe.sh [RUNS]     (default 21)
set -euo pipefail
runs=${1:-21}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/benches/timing.sh"
rcert=$(build_release "$root")
work=$(mktemp -d)
nginx_pid=
cleanup() { [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

bash "$root/testdata/generate.sh" "$work/fixtures" >/dev/null
base=$(( 20000 + RANDOM % 20000 ))
listens=""
targets=()
for i in $(seq 0 49); do
  listens+="listen 127.0.0.1:$((base + i)) ssl; "
  targets+=("127.0.0.1:$((base + i))")
done
cat > "$work/nginx.conf" <<EOF
daemon off; master_process on; worker_processes 2; pid $work/nginx.pid; error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off; client_body_temp_path $work/b; proxy_temp_path $work/p; fastcgi_temp_path $work/f;
  uwsgi_temp_path $work/u; scgi_temp_path $work/s;
  server { $listens server_name rancher.example.com;
    ssl_certificate $work/fixtures/fullchain.pem; ssl_certificate_key $work/fixtures/leaf.key; }
}
EOF
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
nginx_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$((base + 49))) 2>/dev/null && break; sleep 0.05; done


s_client_one() {
  openssl s_client -connect "$1" -servername rancher.example.com -CAfile "$work/fixtures/root.pem" </dev/null
}
s_client_all() { for target in "${targets[@]}"; do s_client_one "$target"; done; }
probe() { "$rcert" probe --servername rancher.example.com --ca "$work/fixtures/root.pem" "$@"; }

echo "$(machine), nginx $("$nginx_bin" -v 2>&1 | cut -d/ -f2)"
: > "$work/r1"; : > "$work/o1"; : > "$work/r50"; : > "$work/o50"
for _ in $(seq "$runs"); do
  timed "$work/r1" probe "${targets[0]}"
  timed "$work/o1" s_client_one "${targets[0]}"
done
for _ in $(seq "$(( runs < 11 ? runs : 11 ))"); do
  timed "$work/r50" probe "${targets[@]}"
  timed "$work/o50" s_client_all
done
report "probe 1 endpoint (median of $runs)" "$(median < "$work/r1")" "$(median < "$work/o1")" s_client
report "probe 50 endpoints (vs 50 s_client in sequence)" "$(median < "$work/r50")" "$(median < "$work/o50")" "s_client×50"
