#!/usr/bin/env python3
"""Merge oracle outputs into oracles.jsonl.

Usage:
    python3 merge.py server-cases.jsonl GO_RESULTS OPENSSL_RESULTS > oracles.jsonl

Each output line: {"id", "expected", "go": {"accept","error"},
"openssl": {"accept","error"}} in the order of server-cases.jsonl.
"""
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    cases, go, ossl = (load(p) for p in sys.argv[1:4])
    go = {r["id"]: r for r in go}
    ossl = {r["id"]: r for r in ossl}
    for c in cases:
        g, o = go[c["id"]], ossl[c["id"]]
        print(json.dumps({
            "id": c["id"],
            "expected": c["expected"],
            "go": {"accept": g["accept"], "error": g["error"]},
            "openssl": {"accept": o["accept"], "error": o["error"]},
        }))


if __name__ == "__main__":
    main()
