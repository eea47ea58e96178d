//! Facts of the name constraints on a path that decide which client refuses a violation.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::x509::Cert;

/// Whether a certificate's nameConstraints hold a directoryName subtree.
pub fn has_directory_name_constraints(cert: &Cert) -> bool {
    constraint_subtrees(cert, true)
        .iter()
        .any(|base| matches!(base, GeneralName::DirectoryName(_)))
}

/// Whether a wildcard DNS name (`*.example.com`) lies inside every permitted DNS subtree
/// of a certificate's nameConstraints (true when it permits none): its violation is then
/// an excluded subtree, which OpenSSL does not apply to wildcards.
pub fn wildcard_within_permitted(cert: &Cert, wildcard: &str) -> bool {
    let base = wildcard.trim_start_matches("*.").to_ascii_lowercase();
    let permitted: Vec<String> = constraint_subtrees(cert, false)
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(name) => Some(name.trim_start_matches('.').to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    permitted.is_empty()
        || permitted
            .iter()
            .any(|subtree| base == *subtree || base.ends_with(&format!(".{subtree}")))
}

/// OpenSSL's bound on name-constraint work (`NAME_CHECK_MAX` in `v3_ncons.c`): it refuses
/// a chain ("unspecified certificate verification error") when the names of a
/// certificate (subject entries + SANs) times the subtrees of a CA above it exceed 2^20.
pub fn openssl_name_check_overflow(ca: &Cert, below: &Cert) -> bool {
    const NAME_CHECK_MAX: usize = 1 << 20;
    let constraints = constraint_subtrees(ca, true).len();
    if constraints == 0 {
        return false;
    }
    let Ok((_, x509)) = X509Certificate::from_der(below.der()) else {
        return false;
    };
    let sans = x509
        .subject_alternative_name()
        .ok()
        .flatten()
        .map_or(0, |san| san.value.general_names.len());
    let names = x509.subject().iter_attributes().count() + sans;
    names > 0 && constraints > NAME_CHECK_MAX / names
}

/// A DNS name Go refuses under a CA's nameConstraints that hold a leading-period DNS
/// subtree (`.example.com`): Go reads that form as "subdomains only", so `example.com`
/// itself is outside it ("x509: … DNS name \"example.com\" is not permitted by any
/// constraint"); OpenSSL and webpki read it otherwise. None without such a subtree.
pub fn go_leading_period_refusal<'n>(ca: &Cert, names: &'n [String]) -> Option<&'n str> {
    let dns = |excluded: bool| -> Vec<String> {
        constraint_subtrees(ca, excluded)
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(name) => Some(name.to_ascii_lowercase()),
                _ => None,
            })
            .collect()
    };
    let permitted = dns(false);
    let all = dns(true);
    if !all.iter().any(|constraint| constraint.starts_with('.')) {
        return None;
    }
    let excluded: Vec<&String> = all.iter().filter(|c| !permitted.contains(c)).collect();
    let within = |name: &str, constraint: &str| match constraint.strip_prefix('.') {
        Some(_) => name.len() > constraint.len() && name.ends_with(constraint),
        None => name == constraint || name.ends_with(&format!(".{constraint}")),
    };
    names.iter().map(String::as_str).find(|name| {
        let name = name.to_ascii_lowercase();
        let allowed = permitted.is_empty() || permitted.iter().any(|c| within(&name, c));
        !allowed || excluded.iter().any(|c| within(&name, c))
    })
}

/// Whether a CA's nameConstraints exclude a DNS name as OpenSSL reads them: the name is
/// in an excluded DNS subtree, or outside every permitted one (when there are any).
pub fn openssl_excludes_dns(ca: &Cert, name: &str) -> bool {
    let dns = |excluded: bool| -> Vec<String> {
        constraint_subtrees(ca, excluded)
            .iter()
            .filter_map(|base| match base {
                GeneralName::DNSName(base) => Some(base.to_ascii_lowercase()),
                _ => None,
            })
            .collect()
    };
    // OpenSSL does not hold a wildcard SAN against the constraints.
    if name.starts_with("*.") {
        return false;
    }
    let permitted = dns(false);
    let all = dns(true);
    if all.is_empty() {
        return false;
    }
    let name = name.to_ascii_lowercase();
    // OpenSSL's nc_dns: a base matches the name itself or a subdomain of it; a base with
    // a leading period only subdomains.
    let within = |base: &str| match base.strip_prefix('.') {
        Some(_) => name.ends_with(base),
        None => name == base || name.ends_with(&format!(".{base}")),
    };
    let excluded = all.iter().filter(|base| !permitted.contains(base));
    excluded.clone().any(|base| within(base))
        || (!permitted.is_empty() && !permitted.iter().any(|base| within(base)))
}

/// The bases of a certificate's permitted (and, with `excluded`, excluded) subtrees.
fn constraint_subtrees(cert: &Cert, excluded: bool) -> Vec<GeneralName<'_>> {
    // The nameConstraints OID (2.5.29.30) in the DER, before parsing: most certificates
    // have none, and this runs for every certificate of every chain judged.
    const NAME_CONSTRAINTS_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x1d, 0x1e];
    if !cert
        .der()
        .windows(NAME_CONSTRAINTS_OID.len())
        .any(|window| window == NAME_CONSTRAINTS_OID)
    {
        return Vec::new();
    }
    let Ok((_, x509)) = X509Certificate::from_der(cert.der()) else {
        return Vec::new();
    };
    let mut bases = Vec::new();
    for ext in x509.extensions() {
        if let ParsedExtension::NameConstraints(constraints) = ext.parsed_extension() {
            let excluded_subtrees = constraints.excluded_subtrees.iter().flatten();
            let chosen = constraints
                .permitted_subtrees
                .iter()
                .flatten()
                .chain(excluded_subtrees.filter(|_| excluded));
            bases.extend(chosen.map(|subtree| subtree.base.clone()));
        }
    }
    bases
}
