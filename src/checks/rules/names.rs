//! The naming rules: SANs (IP lengths, criticality), underscores, the CN among the SANs.

use super::*;
use crate::check::Cause;

impl Judged<'_, '_> {
    /// Subject alternative names: criticality against the subject, and DNS name syntax.
    pub(super) fn names(&mut self) {
        if let Some(ext) = self.extension(OID_SAN) {
            if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
                let bad_ip = san.general_names.iter().any(
                    |name| matches!(name, GeneralName::IPAddress(bytes) if bytes.len() != 4 && bytes.len() != 16),
                );
                if bad_ip {
                    self.fail(
                        Family::Profile, Cause::BadSubjectAltName,
                        "an iPAddress SAN that is neither 4 nor 16 bytes (Go: \"x509: cannot parse IP address\")".to_string(),
                    );
                }
            }
        }
        let subject_empty = self.x509.subject().as_raw().len() <= 2;
        if let Some(ext) = self.extension(OID_SAN) {
            if subject_empty && !ext.critical {
                self.reject(Clients::STRICT,
                    Family::Profile, Cause::WrongCriticality,
                    "empty subject with a non-critical subjectAltName (RFC 5280 4.2.1.6: it MUST be critical then)".to_string(),
                );
            }
            if !subject_empty && ext.critical && self.role == Role::Leaf {
                self.strict(
                    Family::Profile, Cause::WrongCriticality,
                    "subjectAltName is critical although the subject is not empty (CA/Browser Forum: MUST be non-critical)".to_string(),
                );
            }
        } else if subject_empty && self.role == Role::Leaf {
            self.fail(
                Family::Profile,
                Cause::BadSubjectAltName,
                "neither a subject nor a subjectAltName: it names nothing".to_string(),
            );
        }
        if self.role != Role::Leaf {
            return;
        }
        for name in &self.cert.dns_names {
            if name.contains('_') {
                self.reject(Clients::STRICT,
                    Family::Profile, Cause::UnderscoreInName,
                    format!("DNS name '{name}' contains an underscore, which host names may not (the CA/Browser Forum forbids it since 2019; certificate linters refuse it, Go and OpenSSL accept it): use a name with '-'"),
                );
            }
        }
        let common_names: Vec<String> = self
            .x509
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_string))
            .collect();
        for cn in common_names {
            let listed = self
                .cert
                .dns_names
                .iter()
                .chain(&self.cert.ip_addresses)
                .any(|name| *name == cn);
            if self.cert.has_san() && !listed {
                self.strict(
                    Family::Profile, Cause::CommonNameNotInSan,
                    format!("the CN '{cn}' is not one of its SANs (CA/Browser Forum: the CN must repeat a SAN; clients ignore the CN)"),
                );
            }
        }
    }
}
