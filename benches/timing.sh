# Shared by the compare scripts: wall-clock timing without forking around the command,
# medians and a ratio line. Source it: . "$(dirname "$0")/timing.sh"

# timed FILE COMMAND...: run COMMAND (output discarded, failures tolerated: probes of
# broken endpoints fail on purpose) and append its wall time in ns to FILE.
timed() {
  local file=$1; shift
  local t0=${EPOCHREALTIME/./}
  "$@" >/dev/null 2>&1 || true
  local t1=${EPOCHREALTIME/./}
  echo $(( (t1 - t0) * 1000 )) >> "$file"
}

# median < FILE: the median of one number per line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# ms NS: nanoseconds as milliseconds with two decimals.
ms() { awk -v ns="$1" 'BEGIN {printf "%.2f", ns/1e6}'; }

# report LABEL RCERT_NS OTHER_NS OTHER_NAME: one aligned line with the ratio other/rcert.
report() {
  printf '%-50s rcert %9s ms   %-10s %9s ms   ratio %6.1fx\n' "$1" "$(ms "$2")" "$4" "$(ms "$3")" \
    "$(awk -v a="$3" -v b="$2" 'BEGIN {print a/b}')"
}

# build_release ROOT: build rcert in release mode; prints the binary's path.
build_release() {
  cargo build --release --quiet --manifest-path "$1/Cargo.toml"
  echo "$1/target/release/rcert"
}

# machine: one line describing where the figures come from.
machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(openssl version | cut -d' ' -f1-2), $(date -u +%F)"
}
