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

/// The bases of a certificate's permitted (and, with `excluded`, excluded) subtrees.
fn constraint_subtrees(cert: &Cert, excluded: bool) -> Vec<GeneralName<'_>> {
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
