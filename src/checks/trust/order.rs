//! The order check: leaf first, each certificate followed by its issuer, nothing extra.

use super::*;
use crate::check::{Cause, Fix};

impl Examined<'_> {
    /// The `--untrusted` file `cert` was read from.
    fn untrusted_file_of(&self, cert: &Cert) -> Option<&str> {
        let index = self
            .context
            .untrusted
            .iter()
            .position(|given| given.sha256_fingerprint == cert.sha256_fingerprint)?;
        self.context.untrusted_files.get(index).map(String::as_str)
    }

    pub(in crate::checks) fn order_check(&self) -> Check {
        let (leaf, certs, origin) = (self.leaf, self.certs, self.origin.name());
        let fix = self.origin.reorder_hint();
        if let Some((index, duplicate)) = certs.iter().enumerate().find(|(index, cert)| {
            certs[..*index]
                .iter()
                .any(|earlier| earlier.der() == cert.der())
        }) {
            return Check::warning(
                CheckId::Order, Cause::DuplicateCertificate,
                format!(
                    "'{}' appears twice in {origin} (certificate {}): clients get it twice; remove the copy ({fix})",
                    duplicate.subject,
                    index + 1
                ),
            )
            .with_fix(self.origin.reorder_fix(Cause::DuplicateCertificate));
        }
        let leaf_position = certs.iter().position(|cert| cert.der() == leaf.der());
        if leaf_position != Some(0) {
            return Check::failed(
                CheckId::Order, Cause::LeafNotFirst,
                format!(
                    "wrong order: the leaf '{}' is certificate {} of {} in {origin}; it must come first ({fix})",
                    leaf.subject,
                    leaf_position.map_or(0, |p| p + 1),
                    certs.len()
                ),
            )
            .with_fix(self.origin.reorder_fix(Cause::LeafNotFirst));
        }
        let in_file = |cert: &Cert| certs.iter().any(|c| c.der() == cert.der());
        let on_path = |cert: &Cert| self.path.iter().any(|c| c.der() == cert.der());
        let file_order: Vec<&Cert> = certs.iter().filter(|cert| on_path(cert)).collect();
        let path_order: Vec<&Cert> = self.path.iter().filter(|cert| in_file(cert)).collect();
        if let Some(position) = file_order
            .iter()
            .zip(&path_order)
            .position(|(found, expected)| found.der() != expected.der())
        {
            return Check::failed(
                CheckId::Order, Cause::WrongOrder,
                format!(
                    "wrong order: '{}' stands where its issuer '{}' belongs; each certificate must be followed by its issuer ({fix})",
                    file_order[position].subject, path_order[position].subject
                ),
            )
            .with_fix(self.origin.reorder_fix(Cause::WrongOrder));
        }
        // Off the path webpki took, but the issuer another certificate names (a policy CA
        // above a trusted issuing CA, a renewed intermediate beside an old trusted copy):
        // part of the chain other clients build.
        let names_it = |cert: &Cert| {
            certs
                .iter()
                .chain(&self.path)
                .any(|other| other.der() != cert.der() && other.raw_issuer == cert.raw_subject)
        };
        if let Some(extra) = certs.iter().find(|cert| !on_path(cert) && !names_it(cert)) {
            return Check::warning(
                CheckId::Order,
                Cause::UnrelatedCertificate,
                format!(
                    "'{}' in {origin} is not part of the chain of '{}'; remove it",
                    extra.subject, leaf.subject
                ),
            );
        }
        let from_elsewhere = self
            .path
            .iter()
            .skip(1)
            .find(|cert| !cert.self_signed && !in_file(cert) && !is_anchor(cert, self.context));
        if let Some(missing) = from_elsewhere {
            return Check::warning(
                CheckId::Order, Cause::MissingIntermediate,
                format!(
                    "{origin} lacks the intermediate '{}' (found in --untrusted); clients get only what {origin} holds (rcert fullchain)",
                    missing.subject
                ),
            )
            .with_fix(match self.untrusted_file_of(missing) {
                Some(holder) => self.origin.append_fix(Cause::MissingIntermediate, holder),
                None => Fix::doc(Cause::MissingIntermediate),
            });
        }
        // The leaf's issuer found only in the CA file: the chain verifies against that file,
        // but whoever holds only the root refuses what the server sends.
        let only_in_ca_file = self.path.iter().skip(1).find(|cert| {
            // A renewed copy of it in the file: the stale one in the CA file is said there.
            let renewed = certs.iter().any(|c| c.raw_subject == cert.raw_subject);
            !cert.self_signed && !in_file(cert) && !renewed && is_anchor(cert, self.context)
        });
        if let Some(intermediate) = only_in_ca_file {
            return Check::warning(
                CheckId::Order, Cause::MissingIntermediate,
                format!(
                    "{origin} lacks the intermediate '{}', which only the CA file holds: clients that trust just the root (curl, browsers, kubectl with the root) refuse what the server sends; put it in tls.crt after the leaf (rcert fullchain)",
                    intermediate.subject
                ),
            )
            .with_fix(match self.context.ca.as_ref() {
                Some(ca) => self.origin.append_fix(Cause::MissingIntermediate, &ca.source),
                None => Fix::doc(Cause::MissingIntermediate),
            });
        }
        let root_note = if certs.len() > 1 && certs.last().is_some_and(|cert| cert.self_signed) {
            "; the root is included, which is allowed"
        } else {
            ""
        };
        Check::ok(
            CheckId::Order,
            format!(
                "leaf first, each certificate followed by its issuer: {} certificate(s){root_note}",
                certs.len()
            ),
        )
    }
}
