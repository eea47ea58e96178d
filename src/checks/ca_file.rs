//! The `cacerts.pem` check: only CA certificates, no private key, nothing expired, the
//! intermediates then the root as Rancher's docs ask.

use super::*;

/// A `cacerts.pem` with intermediates: Rancher's docs ("Updating the Rancher certificate")
/// want the intermediate(s) and the root, in that order — each certificate followed by
/// its issuer, ending at a root. The reverse order or a missing root is a finding.
fn intermediates_check(ca: &CaBundle, origin: Origin<'_>) -> Check {
    let certs = &ca.certs;
    let names = |list: &[Cert]| {
        list.iter()
            .map(|cert| format!("'{}'", cert.subject))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let ordered = certs.windows(2).all(|pair| pair[0].is_issued_by(&pair[1]));
    let ends_at_root = certs.last().is_some_and(|cert| cert.self_signed);
    // Words, not a command to run unattended: nothing breaks as it is, and reordering
    // changes the bytes CATTLE_CA_CHECKSUM hashes — every registered agent needs the new one.
    let reorder = |cause: Cause| {
        let leaf = origin.shell_word();
        let ca_file = ca.file_word();
        Fix::words(
            cause,
            format!("optional, and it changes CATTLE_CA_CHECKSUM (agents then need the new one: rcert rotate): rcert fullchain {leaf} {ca_file} --out {leaf} --cacerts {ca_file} --force — the leaf orders the CAs above it"),
        )
    };
    // A trust store is a set: no client minds the order, Rancher's docs do.
    let nothing_breaks = "no client minds the order of a CA file (Go, OpenSSL and browsers read it as a set), Rancher's docs do";
    match (ordered, ends_at_root) {
        (true, true) => Check::ok(
            CheckId::CaFile,
            format!(
                "{} holds the intermediate(s) then the root, as Rancher's docs ask for a certificate signed by an intermediate CA: {}",
                ca.source,
                names(certs)
            ),
        ),
        (false, _) if certs.iter().rev().collect::<Vec<_>>().windows(2).all(|pair| pair[0].is_issued_by(pair[1])) => {
            Check::warning(
                CheckId::CaFile, Cause::CaFileRootFirst,
                format!(
                    "{} holds the root before the intermediate(s) ({}); Rancher's docs ask for the intermediate(s) then the root ({nothing_breaks})",
                    ca.source,
                    names(certs)
                ),
            )
            .with_fix(reorder(Cause::CaFileRootFirst))
        }
        (false, _) => Check::warning(
            CheckId::CaFile, Cause::CaFileUnordered,
            format!(
                "{} holds CAs that do not follow one another ({}): Rancher's docs ask for each certificate followed by its issuer, ending at the root ({nothing_breaks})",
                ca.source,
                names(certs)
            ),
        )
        .with_fix(reorder(Cause::CaFileUnordered)),
        (true, false) => Check::warning(
            CheckId::CaFile, Cause::CaFileNoRoot,
            format!(
                "{} ends at the intermediate '{}' without its root; Rancher's docs ask for the intermediate(s) then the root (agents must be able to reach a root)",
                ca.source,
                certs.last().map(|cert| cert.subject.as_str()).unwrap_or_default()
            ),
        ),
    }
}

/// [`judged_ca_file`], about the CA file.
pub(super) fn ca_file_check(ca: &CaBundle, at: time::OffsetDateTime, origin: Origin<'_>) -> Check {
    let check = judged_ca_file(ca, at, origin);
    match check.status {
        Status::Ok => check,
        _ => check.about(Subject::File {
            path: ca.source.clone(),
        }),
    }
}

fn judged_ca_file(ca: &CaBundle, at: time::OffsetDateTime, origin: Origin<'_>) -> Check {
    if !ca.private_keys.is_empty() {
        return Check::failed(
            CheckId::CaFile,
            Cause::PrivateKeyPublished,
            private_key_message(
                &ca.source,
                &ca.private_keys,
                "Rancher serves tls-ca to anyone at /cacerts",
            ),
        );
    }
    if let Some(unusable) = ca.unusable.first() {
        return Check::failed(
            CheckId::CaFile,
            Cause::CaFileUnusable,
            format!("{}: {unusable}", ca.source),
        );
    }
    // A self-signed certificate is a root even without basicConstraints (the profile
    // check says what it lacks); anything else that is not a CA is a leaf.
    if let Some(leaf) = ca
        .certs
        .iter()
        .find(|cert| !cert.is_ca && !cert.self_signed)
    {
        return Check::failed(
            CheckId::CaFile, Cause::CaFileHoldsLeaf,
            format!(
                "{} holds the non-CA certificate '{}': it must hold only the CA certificate, or the agents' CATTLE_CA_CHECKSUM will not match",
                ca.source, leaf.subject
            ),
        )
        .with_fix(Fix::words(
            Cause::CaFileHoldsLeaf,
            format!(
                "keep only the CA certificates in it: rcert fullchain {leaf} {ca_file} --out {leaf} --cacerts {ca_file} --force (the server certificate goes to tls.crt, the CAs above it to the CA file)",
                leaf = origin.shell_word(),
                ca_file = ca.file_word()
            ),
        ));
    }
    if let Some(old) = ca.certs.iter().find(|cert| at > cert.not_after_time()) {
        return Check::warning(
            CheckId::CaFile,
            Cause::Expired,
            format!(
                "{} holds '{}', which expired on {}: a chain that OpenSSL clients (nginx, curl) build through it fails — they take the trust store's copy first, even when tls.crt carries a renewed one",
                ca.source, old.subject, old.not_after
            ),
        )
        .with_fix(Fix::words(
            Cause::Expired,
            format!("replace '{}' in {} with its renewed certificate (or remove it once nothing chains to it); the file's CATTLE_CA_CHECKSUM changes with it: agents need the new one (rcert rotate)", old.subject, ca.source),
        ));
    }
    if ca.certs.iter().any(|cert| !cert.self_signed) {
        return intermediates_check(ca, origin);
    }
    let roots: Vec<String> = ca
        .certs
        .iter()
        .map(|cert| format!("'{}'", cert.subject))
        .collect();
    Check::ok(
        CheckId::CaFile,
        format!("{} holds only the root CA {}", ca.source, roots.join(", ")),
    )
}
