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
    let permitted = DnsConstraints::of(cert).map_or_else(Vec::new, |dns| dns.permitted);
    permitted.is_empty()
        || permitted.iter().any(|subtree| {
            let subtree = subtree.trim_start_matches('.');
            base == subtree || base.ends_with(&format!(".{subtree}"))
        })
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
    let dns = DnsConstraints::of(ca)?;
    if !dns.bases().any(|base| base.starts_with('.')) {
        return None;
    }
    let within = |name: &str, base: &str| match base.strip_prefix('.') {
        Some(_) => name.len() > base.len() && name.ends_with(base),
        None => name == base || name.ends_with(&format!(".{base}")),
    };
    names
        .iter()
        .map(String::as_str)
        .find(|name| dns.refuses(&name.to_ascii_lowercase(), within))
}

/// Whether a CA's nameConstraints exclude a DNS name as OpenSSL reads them: the name is
/// in an excluded DNS subtree, or outside every permitted one (when there are any).
pub fn openssl_excludes_dns(ca: &Cert, name: &str) -> bool {
    // OpenSSL does not hold a wildcard SAN against the constraints.
    if name.starts_with("*.") {
        return false;
    }
    let Some(dns) = DnsConstraints::of(ca) else {
        return false;
    };
    // OpenSSL's nc_dns: a base matches the name itself or a subdomain of it; a base with
    // a leading period only subdomains.
    let within = |name: &str, base: &str| match base.strip_prefix('.') {
        Some(_) => name.ends_with(base),
        None => name == base || name.ends_with(&format!(".{base}")),
    };
    dns.refuses(&name.to_ascii_lowercase(), within)
}

/// A CA's DNS name constraints, lower-cased (a base listed both as permitted and as
/// excluded counts as permitted).
struct DnsConstraints {
    permitted: Vec<String>,
    excluded: Vec<String>,
}

impl DnsConstraints {
    /// None when the certificate constrains no DNS name.
    fn of(cert: &Cert) -> Option<DnsConstraints> {
        let dns = |excluded: bool| -> Vec<String> {
            constraint_subtrees(cert, excluded)
                .iter()
                .filter_map(|base| match base {
                    GeneralName::DNSName(base) => Some(base.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        };
        let permitted = dns(false);
        let excluded: Vec<String> = dns(true)
            .into_iter()
            .filter(|base| !permitted.contains(base))
            .collect();
        (!permitted.is_empty() || !excluded.is_empty()).then_some(DnsConstraints {
            permitted,
            excluded,
        })
    }

    fn bases(&self) -> impl Iterator<Item = &String> {
        self.permitted.iter().chain(&self.excluded)
    }

    /// Whether `name` (lower-cased) is outside every permitted base (when there are any)
    /// or inside an excluded one, `within(name, base)` deciding what a base covers.
    fn refuses(&self, name: &str, within: impl Fn(&str, &str) -> bool) -> bool {
        let allowed =
            self.permitted.is_empty() || self.permitted.iter().any(|base| within(name, base));
        !allowed || self.excluded.iter().any(|base| within(name, base))
    }
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
