#!/usr/bin/env python3
"""OpenSSL oracle for x509-limbo cases (JSON Lines from testdata/limbo/extract.py).

Usage:
    python3 tests/oracle/openssl.py < testdata/limbo/server-cases.jsonl > openssl-results.jsonl

For each case runs (OpenSSL 3.0 default mode, i.e. without -x509_strict):

    openssl verify -purpose sslserver -attime <unix seconds> \
        -no-CApath -no-CAstore -CAfile roots.pem [-untrusted inter.pem] \
        [-verify_hostname NAME | -verify_ip IP] leaf.pem

-no-CApath/-no-CAstore keep the system trust store out of the picture (without
them `openssl verify` also consults the default CA directory).  Roots that
OpenSSL cannot parse are skipped (like the Go oracle); a case with no usable
root is rejected.  Output per case: {"id", "accept", "error"} where error is
OpenSSL's first "error N at D depth lookup: ..." line (or the last stderr line
if there is none).
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

OPENSSL = os.environ.get("OPENSSL", "openssl")
ERR_RE = re.compile(r"^error \d+ at \d+ depth lookup:.*$", re.M)


def unix_seconds(rfc3339):
    s = rfc3339.replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(s).timestamp())


def parses(pem, tmpdir):
    path = os.path.join(tmpdir, "probe.pem")
    with open(path, "w") as f:
        f.write(pem)
    r = subprocess.run([OPENSSL, "x509", "-noout", "-in", path],
                       capture_output=True, text=True)
    return r.returncode == 0


def first_error(out):
    m = ERR_RE.search(out)
    if m:
        return m.group(0).strip()
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    return lines[-1] if lines else "openssl failed without output"


def verify(tc):
    with tempfile.TemporaryDirectory(prefix="limbo-ossl-") as d:
        roots = [r for r in tc.get("roots") or [] if parses(r, d)]
        if not roots:
            return False, "no usable trusted roots"
        ca = os.path.join(d, "roots.pem")
        with open(ca, "w") as f:
            f.write("".join(r if r.endswith("\n") else r + "\n" for r in roots))
        leaf = os.path.join(d, "leaf.pem")
        with open(leaf, "w") as f:
            f.write(tc["leaf"])
        cmd = [OPENSSL, "verify", "-purpose", "sslserver", "-auth_level", "2",
               "-attime", str(unix_seconds(tc["time"])),
               "-no-CApath", "-no-CAstore", "-CAfile", ca]
        inters = tc.get("intermediates") or []
        if inters:
            inter = os.path.join(d, "inter.pem")
            with open(inter, "w") as f:
                f.write("".join(p if p.endswith("\n") else p + "\n" for p in inters))
            cmd += ["-untrusted", inter]
        name, kind = tc.get("peer_name"), tc.get("peer_kind")
        if name is not None:
            cmd += ["-verify_ip" if kind == "IP" else "-verify_hostname", name]
        cmd += [leaf]
        r = subprocess.run(cmd, capture_output=True, text=True)
        out = r.stdout + "\n" + r.stderr
        if r.returncode == 0 and re.search(r": OK\s*$", r.stdout):
            return True, ""
        return False, first_error(out)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        tc = json.loads(line)
        try:
            ok, err = verify(tc)
        except Exception as e:  # keep going on odd inputs
            ok, err = False, f"oracle exception: {e!r}"
        print(json.dumps({"id": tc["id"], "accept": ok, "error": err}), flush=True)


if __name__ == "__main__":
    main()
