#!/usr/bin/env python3
"""Regenerate x509-limbo's limbo.json from its Python sources.

The mirror of C2SP/x509-limbo available to us does not carry the generated
limbo.json blob (nor limbo/_assets/bettertls.json), so we rebuild it with the
upstream generator (`python -m limbo compile`), minus the BetterTLS cases.

Usage:
    python3 regen_limbo.py /path/to/x509-limbo-checkout > /tmp/limbo.json

Needs (as pinned upstream): cryptography~=46.0, pydantic~=2.13, requests, jinja2, certifi (pyOpenSSL is only
used for re-fetching the online cases and is stubbed out here).

NOTE: the generator creates fresh random keys on every run, so the PEMs differ
byte-for-byte from upstream's published limbo.json; ids, chain shapes and
expected results are the same.
"""
import sys
import types

sys.path.insert(0, sys.argv[1])
# online.py imports pyOpenSSL only for live TLS fetches (`compile --online`).
sys.modules.setdefault("OpenSSL", types.SimpleNamespace(SSL=None))

from limbo import testcases  # noqa: E402
from limbo.models import Limbo  # noqa: E402
from limbo.testcases import online  # noqa: E402

# register_testcases() print()s progress to stdout; keep stdout clean.
_stdout, sys.stdout = sys.stdout, sys.stderr
online.register_testcases()
sys.stdout = _stdout
cases = [tc() for _, tc in testcases.registry.items()]
print(Limbo(version=1, testcases=cases).model_dump_json(indent=2))
