#!/usr/bin/env python3
"""One fixture per path-validation rule that `rcert verify` judges (issue 10).

    python3 testdata/rules.py OUTDIR

Writes, for each case, `OUTDIR/CASE/{ca.pem,untrusted.pem,leaf.pem}` and one
`OUTDIR/manifest.json` listing every case: the rule, the files, the host name to check,
rcert's expected exit code and a fragment of its expected message, and the verdict of
`openssl verify -x509_strict` on the same files. Certificates are made by Python
`cryptography`; the two things it refuses to make (a negative serial number and a SHA-1
signature) are made by the openssl CLI. Dates are relative to now, so nothing expires.
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
DAY = datetime.timedelta(days=1)
UNKNOWN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.1")
HOST = "example.com"


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]) if cn else x509.Name([])


def p256():
    return ec.generate_private_key(ec.SECP256R1())


def key_usage(cert_sign, digital_signature=False, key_agreement=False):
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=key_agreement, key_cert_sign=cert_sign,
        crl_sign=cert_sign, encipher_only=False, decipher_only=False)


class Issued:
    """A certificate and the key that belongs to it."""

    def __init__(self, cert, key):
        self.cert, self.key = cert, key

    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)


DEFAULT = object()


def make(subject, issuer=None, key=None, ca=True, pathlen=None, serial=None,
         not_before=None, not_after=None, bc=DEFAULT, ku=DEFAULT, ski=DEFAULT, aki=DEFAULT,
         san=DEFAULT, extra=()):
    """Build a certificate; every extension can be replaced (a tuple (value, critical)) or
    dropped (None). `issuer` is an Issued, or None for a self-signed certificate."""
    key = key or p256()
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else name(subject) if isinstance(subject, str) else subject
    subject_name = name(subject) if isinstance(subject, str) else subject
    builder = (x509.CertificateBuilder()
               .subject_name(subject_name).issuer_name(issuer_name).public_key(key.public_key())
               .not_valid_before(not_before or NOW - DAY)
               .not_valid_after(not_after or NOW + 365 * DAY)
               .serial_number(1))
    builder._serial_number = serial if serial is not None else x509.random_serial_number()
    defaults = {
        "bc": (x509.BasicConstraints(ca=ca, path_length=pathlen if ca else None), True),
        "ku": (key_usage(True) if ca else key_usage(False, digital_signature=True), True),
        "ski": (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        "aki": (x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), False),
        "san": None if ca else (x509.SubjectAlternativeName([x509.DNSName(HOST)]), False),
    }
    given = {"bc": bc, "ku": ku, "ski": ski, "aki": aki, "san": san}
    for slot, default in defaults.items():
        value = default if given[slot] is DEFAULT else given[slot]
        if value is not None:
            builder = builder.add_extension(value[0], critical=value[1])
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    for value, critical in extra:
        builder = builder.add_extension(value, critical=critical)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def raw(oid, der):
    return x509.UnrecognizedExtension(oid, der)


def openssl_resign(issued, issuer, extra_args, out_dir):
    """Re-issue `issued`'s subject, key and extensions with the openssl CLI (for what
    `cryptography` refuses: a negative serial, a SHA-1 signature)."""
    with tempfile.TemporaryDirectory() as tmp:
        def write(path, data):
            with open(os.path.join(tmp, path), "wb") as f:
                f.write(data)
        write("leaf.pem", issued.pem())
        write("leaf.key", issued.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        write("ca.pem", issuer.pem())
        write("ca.key", issuer.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        write("ext.cnf", b"[v3]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                         b"extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
                         b"authorityKeyIdentifier=keyid\nsubjectAltName=DNS:" + HOST.encode() + b"\n")
        subprocess.run(["openssl", "x509", "-x509toreq", "-in", "leaf.pem", "-signkey", "leaf.key",
                        "-out", "leaf.csr"], cwd=tmp, check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                        "-days", "30", "-extfile", "ext.cnf", "-extensions", "v3", "-out", "out.pem",
                        *extra_args], cwd=tmp, check=True, capture_output=True)
        with open(os.path.join(tmp, "out.pem"), "rb") as f:
            return x509.load_pem_x509_certificate(f.read())


CASES = []


def case(rule, expect, message, openssl, ca, leaf, untrusted=(), host=HOST, name_=None):
    """Record one case. `expect`: rcert's exit code; `message`: a fragment of its output;
    `openssl`: True if `openssl verify -x509_strict` accepts, False if it refuses."""
    CASES.append({
        "name": name_ or rule.lower().replace(" ", "-").replace("/", "-").replace(",", "")
        .replace("(", "").replace(")", "").replace("'", "").replace(":", ""),
        "rule": rule, "expect": expect, "message": message, "openssl": openssl,
        "host": host, "ca": list(ca), "untrusted": list(untrusted), "leaf": leaf,
    })


def main(out):
    root = make("rules Root CA")
    ica = make("rules Intermediate CA", issuer=root)

    def leaf_of(issuer, **kw):
        return make(HOST, issuer=issuer, ca=False, **kw)

    # --- the baseline --------------------------------------------------------------------
    case("good chain", 0, "trusted by", True, [root], leaf_of(ica), [ica])
    case("good chain, leaf signed by the root", 0, "trusted by", True, [root], leaf_of(root))

    # --- validity of every certificate on the path ---------------------------------------
    expired_root = make("expired Root CA", not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    case("expired root CA in --ca", 1, "'CN=expired Root CA' expired on", False,
         [expired_root], leaf_of(expired_root))
    expired_ica = make("expired Intermediate CA", issuer=root, not_before=NOW - 400 * DAY,
                       not_after=NOW - DAY)
    case("expired intermediate given with --untrusted", 1,
         "'CN=expired Intermediate CA' expired on", False, [root],
         leaf_of(expired_ica, not_before=NOW - 300 * DAY), [expired_ica])
    future_ica = make("future Intermediate CA", issuer=root, not_before=NOW + 10 * DAY,
                      not_after=NOW + 400 * DAY)
    case("not-yet-valid intermediate", 1, "'CN=future Intermediate CA' is not valid yet", False,
         [root], leaf_of(future_ica), [future_ica])

    # --- unknown critical extensions -------------------------------------------------------
    unknown = [(raw(UNKNOWN_OID, b"\x05\x00"), True)]
    case("unknown critical extension in the leaf", 1, "unhandled critical extension", False,
         [root], leaf_of(root, extra=unknown))
    crit_root = make("critical-ext Root CA", extra=unknown)
    case("unknown critical extension in the root", 1, "unhandled critical extension", False,
         [crit_root], leaf_of(crit_root))
    crit_ica = make("critical-ext Intermediate CA", issuer=root, pathlen=0, extra=unknown)
    case("unknown critical extension in an intermediate", 1, "unhandled critical extension", False,
         [root], leaf_of(crit_ica), [crit_ica])

    # --- basicConstraints and keyUsage on CAs ---------------------------------------------
    no_kcs = make("no-keyCertSign Intermediate CA", issuer=root,
                  ku=(key_usage(False, digital_signature=True), True))
    case("intermediate CA without keyCertSign", 1, "lacks keyCertSign", False,
         [root], leaf_of(no_kcs), [no_kcs])
    no_bc = make("no-basicConstraints Intermediate CA", issuer=root, bc=None)
    case("intermediate without basicConstraints", 1, "no basicConstraints", False,
         [root], leaf_of(no_bc), [no_bc])
    not_ca = make("CA-false Intermediate", issuer=root,
                  bc=(x509.BasicConstraints(ca=False, path_length=None), True), ku=None)
    case("intermediate with CA:FALSE", 1, "CA:FALSE", False, [root], leaf_of(not_ca), [not_ca])
    root_no_bc = make("no-basicConstraints Root CA", bc=None)
    case("root without basicConstraints", 1, "no basicConstraints", False,
         [root_no_bc], leaf_of(root_no_bc))
    root_nc_bc = make("non-critical-bc Root CA",
                      bc=(x509.BasicConstraints(ca=True, path_length=None), False))
    case("root with non-critical basicConstraints", 1, "basicConstraints is not marked critical",
         False, [root_nc_bc], leaf_of(root_nc_bc))
    root_inconsistent = make("inconsistent Root CA", ku=(key_usage(False), False))
    case("root CA:TRUE without keyCertSign", 1, "lacks keyCertSign", False,
         [root_inconsistent], leaf_of(root_inconsistent))
    # A root's pathLen: webpki does not read a trust anchor's constraints; Go and OpenSSL do.
    root_pathlen0 = make("pathlen-0 Root CA", pathlen=0)
    ica_under_pathlen0 = make("under-pathlen-0 Intermediate CA", issuer=root_pathlen0)
    case("root pathlen:0 above an intermediate", 1, "allows 0 intermediate CA(s) below it",
         False, [root_pathlen0], leaf_of(ica_under_pathlen0), untrusted=[ica_under_pathlen0])
    # The CA file holds the intermediates and the root (Rancher's docs): Go stops at the
    # first certificate of its pool, OpenSSL goes on to the self-signed root and judges
    # every CA on the way.
    expired_top = make("expired top Root CA", not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    ica_under_expired = make("under-expired-root Intermediate CA", issuer=expired_top)
    case("expired root above a trusted intermediate", 1, "valid", False,
         [ica_under_expired, expired_top], leaf_of(ica_under_expired))
    policy_pathlen0 = make("pathlen-0 Policy CA", issuer=root, pathlen=0)
    issuing = make("Issuing CA", issuer=policy_pathlen0)
    case("pathlen:0 policy CA above a trusted issuing CA", 1, "allows 0 intermediate CA(s) below it",
         False, [issuing, policy_pathlen0, root], leaf_of(issuing))
    # Go checks a parent's keyUsage when it has any bit set — a root's too.
    root_signs_only = make("digitalSignature-only Root CA",
                           ku=(key_usage(False, digital_signature=True), True))
    case("root keyUsage digitalSignature without keyCertSign", 1, "lacks keyCertSign", False,
         [root_signs_only], leaf_of(root_signs_only))
    # A CA whose extendedKeyUsage leaves out serverAuth: Go and OpenSSL refuse the chain,
    # the root's included.
    client_auth = (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    root_client_auth = make("clientAuth Root CA", extra=(client_auth,))
    case("root with extendedKeyUsage clientAuth only", 1, "extendedKeyUsage of a CA without serverAuth",
         True, [root_client_auth], leaf_of(root_client_auth))
    ica_client_auth = make("clientAuth Intermediate CA", issuer=root, extra=(client_auth,))
    case("intermediate with extendedKeyUsage clientAuth only", 1,
         "extendedKeyUsage of a CA without serverAuth", True, [root],
         leaf_of(ica_client_auth), untrusted=[ica_client_auth])
    case("leaf with keyCertSign", 1, "keyUsage keyCertSign on a certificate that is not a CA",
         False, [root], leaf_of(root, ku=(key_usage(True, digital_signature=True), True)))
    # OpenSSL's sslserver purpose takes keyAgreement as well (KU_TLS); the CA/B profile
    # wants digitalSignature for an ECDSA server key.
    case("ECDSA leaf with keyAgreement only", 0, "keyUsage lacks digitalSignature", True, [root],
         leaf_of(root, ku=(key_usage(False, key_agreement=True), True)))
    case("leaf with cRLSign only", 1, "keyUsage has neither digitalSignature, keyEncipherment nor keyAgreement",
         True, [root], leaf_of(root, ku=(x509.KeyUsage(
             digital_signature=False, content_commitment=False, key_encipherment=False,
             data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=True,
             encipher_only=False, decipher_only=False), True)))

    # --- key identifiers --------------------------------------------------------------------
    def aki_of(issued):
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issued.key.public_key())

    case("critical authorityKeyIdentifier", 1, "authorityKeyIdentifier is marked critical", False,
         [root], leaf_of(root, aki=(aki_of(root), True)))
    ski_key = p256()
    crit_ski = make("critical-SKI Intermediate CA", issuer=root, key=ski_key,
                    ski=(x509.SubjectKeyIdentifier.from_public_key(ski_key.public_key()), True))
    case("critical subjectKeyIdentifier", 1, "subjectKeyIdentifier is marked critical", False,
         [root], leaf_of(crit_ski), [crit_ski])
    root_no_ski = make("no-SKI Root CA", ski=None, aki=None)
    case("root without subjectKeyIdentifier", 1, "no subjectKeyIdentifier", False,
         [root_no_ski], leaf_of(root_no_ski, aki=None))
    ica_no_ski = make("no-SKI Intermediate CA", issuer=root, ski=None)
    case("intermediate without subjectKeyIdentifier", 1, "no subjectKeyIdentifier", False,
         [root], leaf_of(ica_no_ski, aki=None), [ica_no_ski])
    case("leaf without authorityKeyIdentifier", 1, "no authorityKeyIdentifier", False,
         [root], leaf_of(root, aki=None))
    ica_no_aki = make("no-AKI Intermediate CA", issuer=root, aki=None)
    case("intermediate without authorityKeyIdentifier", 1, "no authorityKeyIdentifier", False,
         [root], leaf_of(ica_no_aki), [ica_no_aki])
    root_key = p256()
    root_aki_fields = make("AKI-fields Root CA", key=root_key, aki=(x509.AuthorityKeyIdentifier(
        x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()).digest,
        [x509.DirectoryName(name("AKI-fields Root CA"))], 1), False))
    case("root AKI with issuer and serial", 1, "authorityCertIssuer", False,
         [root_aki_fields], leaf_of(root_aki_fields))
    root_aki_other = make("AKI-mismatch Root CA", aki=(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(p256().public_key()), False))
    case("root AKI not matching its own key", 1, "differs from its own subjectKeyIdentifier", False,
         [root_aki_other], leaf_of(root_aki_other))
    root_aki_own = make("AKI-own Root CA")
    case("root AKI matching its own key", 0, "trusted by", True, [root_aki_own], leaf_of(root_aki_own))

    # --- names ------------------------------------------------------------------------------
    empty_root = make(x509.Name([]), ca=True)
    case("CA with an empty subject", 1, "empty subject", False, [empty_root], leaf_of(empty_root))
    empty_subject_san = (x509.SubjectAlternativeName([x509.DNSName(HOST)]), False)
    case("empty subject with non-critical SAN", 1, "empty subject with a non-critical subjectAltName",
         False, [root], make(x509.Name([]), issuer=root, ca=False, san=empty_subject_san))
    case("empty subject with critical SAN", 0, "trusted by", True, [root],
         make(x509.Name([]), issuer=root, ca=False,
              san=(x509.SubjectAlternativeName([x509.DNSName(HOST)]), True)))
    case("critical SAN with a non-empty subject", 0,
         "subjectAltName is critical although the subject is not empty", True, [root],
         leaf_of(root, san=(x509.SubjectAlternativeName([x509.DNSName(HOST)]), True)))
    case("underscore in a DNS SAN", 1, "contains an underscore", True, [root],
         leaf_of(root, san=(x509.SubjectAlternativeName([x509.DNSName("my_host.example.com")]), False)),
         host="my_host.example.com")
    case("CN that is not one of the SANs", 0, "is not one of its SANs", True, [root],
         make("other.example.org", issuer=root, ca=False))

    # --- name constraints ------------------------------------------------------------------
    permitted = x509.NameConstraints(permitted_subtrees=[x509.DNSName(HOST)], excluded_subtrees=None)
    nc_ok = make("NC Intermediate CA", issuer=root, extra=[(permitted, True)])
    case("name constraints permitting the name", 0, "trusted by", True, [root], leaf_of(nc_ok), [nc_ok])
    case("name constraints in a leaf", 1, "nameConstraints in a certificate that is not a CA", True,
         [root], leaf_of(root, extra=[(permitted, True)]))
    nc_noncrit = make("NC-noncritical Intermediate CA", issuer=root, extra=[(permitted, False)])
    case("non-critical name constraints", 1, "nameConstraints is not marked critical", True,
         [root], leaf_of(nc_noncrit), [nc_noncrit])
    nc_empty = make("NC-empty Intermediate CA", issuer=root,
                    extra=[(raw(x509.oid.ExtensionOID.NAME_CONSTRAINTS, b"\x30\x00"), True)])
    case("name constraints with empty subtrees", 1, "neither permitted nor excluded", True,
         [root], leaf_of(nc_empty), [nc_empty])
    nc_period = make("NC-period Intermediate CA", issuer=root, extra=[(x509.NameConstraints(
        permitted_subtrees=[x509.DNSName(".example.com")], excluded_subtrees=None), True)])
    case("leading-period DNS name constraint", 1, "starts with a period", True,
         [root], make("leaf", issuer=nc_period, ca=False, san=(
             x509.SubjectAlternativeName([x509.DNSName("www.example.com")]), False)),
         [nc_period], host="www.example.com")

    # --- authority information access ----------------------------------------------------------
    aia = x509.AuthorityInformationAccess([x509.AccessDescription(
        x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
        x509.UniformResourceIdentifier("http://ca.example.com/ca.crt"))])
    case("AIA with a CA issuers URI", 0, "trusted by", True, [root], leaf_of(root, extra=[(aia, False)]))
    case("critical AIA", 1, "authorityInfoAccess is marked critical", False, [root],
         leaf_of(root, extra=[(aia, True)]))
    case("empty AIA", 1, "authorityInfoAccess holds no valid access description", True, [root],
         leaf_of(root, extra=[(raw(x509.oid.ExtensionOID.AUTHORITY_INFORMATION_ACCESS, b"\x30\x00"), False)]))

    # --- keys and algorithms -------------------------------------------------------------------
    case("RSA-1024 leaf", 1, "RSA key of 1024 bits", True, [root],
         leaf_of(root, key=rsa.generate_private_key(65537, 1024)))
    case("RSA modulus not a multiple of 8", 1, "is not a multiple of 8", True, [root],
         leaf_of(root, key=rsa.generate_private_key(65537, 2052)))
    case("ECDSA P-192 leaf", 1, "P-192 key", True, [root],
         leaf_of(root, key=ec.generate_private_key(ec.SECP192R1())))
    case("DSA leaf", 1, "DSA key", True, [root], leaf_of(root, key=dsa.generate_private_key(2048)))
    rsa_root = make("RSA Root CA", key=rsa.generate_private_key(65537, 2048))
    sha1_leaf = Issued(openssl_resign(leaf_of(rsa_root), rsa_root, ["-sha1"], out), None)
    case("SHA-1 signed leaf", 1, "insecure algorithm SHA1-RSA", True, [rsa_root], sha1_leaf)
    sha1_root = Issued(subprocess.run(
        ["openssl", "req", "-x509", "-new", "-key", "/dev/stdin", "-subj", "/CN=SHA-1 Root CA",
         "-days", "30", "-sha1", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        input=rsa_root.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()),
        check=True, capture_output=True).stdout, rsa_root.key)
    sha1_root.cert = x509.load_pem_x509_certificate(sha1_root.cert)
    case("SHA-1 self-signature of the root (not checked)", 0, "trusted by", True, [sha1_root],
         leaf_of(sha1_root))

    # --- serial numbers --------------------------------------------------------------------------
    case("serial number zero", 1, "serial number 0", True, [root], leaf_of(root, serial=0))
    case("serial number of 21 bytes", 1, "serial number of 21 bytes", True, [root],
         leaf_of(root, serial=(1 << 166) + 12345))
    negative = Issued(openssl_resign(leaf_of(root), root, ["-set_serial", "-1234"], out), None)
    case("negative serial number", 1, "negative serial number", True, [root], negative)

    # --- path building -----------------------------------------------------------------------------
    # A CA key rollover: a new key under the same name, its certificate signed by the old key.
    rolled_key = p256()
    self_issued = make("rules Root CA", issuer=root, key=rolled_key)
    case("self-issued intermediate (CA key rollover)", 0, "trusted by", True,
         [root], leaf_of(self_issued), [self_issued])
    ica0 = make("pathlen0 Intermediate CA", issuer=root, pathlen=0)
    ica0_rolled = make("pathlen0 Intermediate CA", issuer=ica0, key=p256())
    case("self-issued certificate not counted against pathlen", 0, "trusted by", True,
         [root], leaf_of(ica0_rolled), [ica0, ica0_rolled])
    sub_ica = make("sub Intermediate CA", issuer=ica0)
    case("pathlen:0 intermediate issuing another CA", 1, "pathlen", False,
         [root], leaf_of(sub_ica), [ica0, sub_ica])
    other_root = make("rules Root CA")  # same name, another key: what a second selfsign makes
    case("CA file holding another CA of the same name", 1, "does not hold the issuer", False,
         [other_root], leaf_of(ica), [ica])
    unrelated = make("unrelated Root CA")
    case("CA file holding an unrelated CA", 1, "does not hold the issuer", False,
         [unrelated], leaf_of(ica), [ica])

    manifest = []
    for index, entry in enumerate(CASES):
        directory = os.path.join(out, f"{index:02d}-{entry['name']}")
        os.makedirs(directory, exist_ok=True)

        def write(file, issued_list):
            path = os.path.join(directory, file)
            with open(path, "wb") as f:
                for issued in issued_list:
                    f.write(issued.cert.public_bytes(serialization.Encoding.PEM))
            return path
        item = {k: entry[k] for k in ("name", "rule", "expect", "message", "openssl", "host")}
        item["dir"] = directory
        item["ca"] = write("ca.pem", entry["ca"])
        item["untrusted"] = write("untrusted.pem", entry["untrusted"]) if entry["untrusted"] else None
        item["leaf"] = write("leaf.pem", [entry["leaf"]])
        manifest.append(item)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "rules-fixtures"
    os.makedirs(target, exist_ok=True)
    main(target)
