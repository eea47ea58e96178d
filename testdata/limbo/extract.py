#!/usr/bin/env python3
"""Select rcert-relevant x509-limbo cases and write them as JSON Lines.

Usage:
    python3 extract.py LIMBO_JSON [OUT_JSONL]
    (OUT_JSONL defaults to server-cases.jsonl next to this script)

Selection rule (all must hold):
  * validation_kind == "SERVER"
  * expected_peer_name is null, or its kind is "DNS" or "IP"
  * extended_key_usage is null/empty or exactly ["serverAuth"]
  * the case carries no CRLs (neither rcert nor the oracles do revocation)
  * id does not start with "bettertls::" (not available in our regenerated
    limbo.json; see README.md)

Output fields per line: id, description (first 200 chars), expected
("accept"/"reject"), leaf, intermediates, roots, peer_name, peer_kind, time,
time_defaulted, max_chain_depth, plus features and key_usage copied from limbo
for filtering.  Cases without a validation_time get DEFAULT_TIME and
time_defaulted=true.
"""
import json
import os
import sys

DEFAULT_TIME = "2026-11-29T00:00:00Z"


def selected(tc):
    if tc.get("validation_kind") != "SERVER":
        return False
    peer = tc.get("expected_peer_name")
    if peer is not None and peer.get("kind") not in ("DNS", "IP"):
        return False
    eku = tc.get("extended_key_usage") or []
    if eku and eku != ["serverAuth"]:
        return False
    if tc.get("crls"):
        return False
    if tc["id"].startswith("bettertls::"):
        return False
    return True


def convert(tc):
    peer = tc.get("expected_peer_name")
    vt = tc.get("validation_time")
    if vt is not None:
        # pydantic emits e.g. "2023-01-01T00:00:00Z" or "+00:00"; normalise.
        if vt.endswith("+00:00"):
            vt = vt[: -len("+00:00")] + "Z"
    return {
        "id": tc["id"],
        "description": (tc.get("description") or "")[:200],
        "expected": "accept" if tc["expected_result"] == "SUCCESS" else "reject",
        "leaf": tc["peer_certificate"],
        "intermediates": list(tc.get("untrusted_intermediates") or []),
        "roots": list(tc.get("trusted_certs") or []),
        "peer_name": peer["value"] if peer else None,
        "peer_kind": peer["kind"] if peer else None,
        "time": vt if vt is not None else DEFAULT_TIME,
        "time_defaulted": vt is None,
        "max_chain_depth": tc.get("max_chain_depth"),
        "features": tc.get("features") or [],
        "key_usage": tc.get("key_usage") or [],
    }


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "server-cases.jsonl")
    with open(src, encoding="utf-8") as f:
        limbo = json.load(f)
    cases = [convert(tc) for tc in limbo["testcases"] if selected(tc)]
    with open(out, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, sort_keys=False) + "\n")
    acc = sum(c["expected"] == "accept" for c in cases)
    dflt = sum(c["time_defaulted"] for c in cases)
    print(f"selected {len(cases)} of {len(limbo['testcases'])} cases "
          f"({acc} accept, {len(cases) - acc} reject; {dflt} with default time "
          f"{DEFAULT_TIME}) -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
