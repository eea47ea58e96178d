//! push's inputs: the files read once, validated as verify does, and planned as the
//! Secrets to apply (tls-ca, tls-rancher-ingress, tls-ca-additional).

use super::*;
use crate::certset::{CertSet, Judgement};
use crate::check::Cause;

/// The files, read once: exact bytes (what lands in the secrets) and parsed facts.
pub(super) struct Inputs {
    /// None when only `--additional-ca` is pushed.
    pub(super) server: Option<CertSet>,
    pub(super) ca: Option<CaBundle>,
    /// `--additional-ca` certificates with the file each came from, in input order.
    pub(super) additional: Vec<(String, Cert)>,
    /// The time of judgement (the request's).
    pub(super) at: time::OffsetDateTime,
    /// Whose rejection fails a check (the request's).
    pub(super) clients: crate::check::Clients,
    /// `--additional-ca` files that also hold private keys (refused: never pushed).
    pub(super) additional_keys: Vec<(String, Vec<String>)>,
}

impl Inputs {
    pub(super) fn load(request: &PushRequest) -> Result<Inputs, crate::Error> {
        let server = match (&request.cert, &request.key) {
            (Some(cert), Some(key)) => Some(CertSet::load(cert, key)?),
            _ => None,
        };
        let ca = request.ca.as_ref().map(CaBundle::load).transpose()?;
        let mut additional = Vec::new();
        let mut additional_keys = Vec::new();
        for file in &request.additional_ca {
            let read = crate::x509::pem::load_certificates_beside_keys(file)?;
            if !read.key_labels.is_empty() {
                additional_keys.push((file.name(), read.key_labels));
            }
            for cert in inspect::certs_from(&read.loaded)? {
                additional.push((file.name(), cert));
            }
        }
        Ok(Inputs {
            at: request.at,
            clients: request.clients,
            additional,
            additional_keys,
            server,
            ca,
        })
    }

    /// The verify checks that decide whether the files may be pushed.
    pub(super) fn validate(&self) -> Vec<Check> {
        let Some(server) = &self.server else {
            return self.additional_check().into_iter().collect();
        };
        let checks = server.validate(&Judgement {
            roots: self.ca.clone(),
            hosts: Vec::new(),
            at: self.at,
            clients: self.clients,
        });
        // Without --ca a private chain cannot be judged: say so, do not refuse — unless
        // something besides the trust anchor is wrong.
        let untrusted_only = self.ca.is_none()
            && !checks.iter().any(|check| {
                check.status == Status::Failed
                    && !matches!(check.name, CheckId::Chain | CheckId::Clients)
            });
        checks
            .into_iter()
            .map(|check| match check.status {
                Status::Failed if check.name == CheckId::Chain && self.ca.is_none() => {
                    let message =
                        format!("{} (pass --ca when a private CA signed it)", check.message);
                    check.restated(Status::Warning, message)
                }
                Status::Failed if check.name == CheckId::Clients && untrusted_only => Check {
                    status: Status::Warning,
                    ..check
                },
                _ => check,
            })
            .chain(self.additional_check())
            .collect()
    }

    /// `tls-ca-additional` takes CA certificates only: a leaf refuses the push.
    pub(super) fn additional_check(&self) -> Option<Check> {
        if let Some((file, keys)) = self.additional_keys.first() {
            return Some(Check::failed(
                CheckId::TlsCa,
                Cause::PrivateKeyPublished,
                checks::private_key_message(
                    file,
                    keys,
                    "tls-ca-additional is a list of public CA certificates",
                ),
            ));
        }
        if self.additional.is_empty() {
            return None;
        }
        if let Some((file, leaf)) = self.additional.iter().find(|(_, cert)| !cert.is_ca) {
            return Some(Check::failed(
                CheckId::TlsCa, Cause::BadAdditionalCa,
                format!(
                    "{file}: '{}' is not a CA certificate; tls-ca-additional holds the CAs Rancher trusts for outgoing connections (registries, git, OIDC), not server certificates",
                    leaf.subject
                ),
            ));
        }
        let (kept, notes) = self.additional_bundle();
        let message = format!(
            "tls-ca-additional: {} CA certificate(s){}",
            kept.len(),
            if notes.is_empty() {
                String::new()
            } else {
                format!("; {}", notes.join("; "))
            }
        );
        Some(if notes.is_empty() {
            Check::ok(CheckId::TlsCa, message)
        } else {
            Check::warning(CheckId::TlsCa, Cause::AdditionalCaDropped, message)
        })
    }

    /// The additional CAs kept (input order, duplicates and expired ones dropped) and why
    /// others were dropped.
    pub(super) fn additional_bundle(&self) -> (Vec<&Cert>, Vec<String>) {
        let now = self.at;
        let mut kept: Vec<&Cert> = Vec::new();
        let mut notes = Vec::new();
        for (file, cert) in &self.additional {
            if kept.iter().any(|known| known.der() == cert.der()) {
                notes.push(format!(
                    "dropped a duplicate of '{}' ({file})",
                    cert.subject
                ));
            } else if cert.not_after_time() < now {
                notes.push(format!(
                    "dropped '{}' ({file}): expired on {}",
                    cert.subject, cert.not_after
                ));
            } else {
                kept.push(cert);
            }
        }
        (kept, notes)
    }

    pub(super) fn plan(&self, request: &PushRequest) -> Vec<Planned> {
        let mut planned = Vec::new();
        let (additional, _) = self.additional_bundle();
        if !additional.is_empty() {
            let pem: String = additional.iter().map(|cert| cert.pem()).collect();
            planned.push(Planned {
                secret: secret(
                    &request.namespace,
                    crate::rancher::ADDITIONAL_CA_SECRET,
                    None,
                    [(crate::rancher::ADDITIONAL_CA_SECRET_KEY, pem.into_bytes())],
                ),
                summary: format!("{} additional CA certificate(s)", additional.len()),
                checksum: None,
            });
        }
        if let Some(ca) = &self.ca {
            let summary = ca
                .certs
                .first()
                .map(|cert| fingerprint_summary(cert, ca.checksum.as_deref()))
                .unwrap_or_default();
            planned.push(Planned {
                secret: secret(
                    &request.namespace,
                    &request.ca_secret_name,
                    None,
                    [(crate::rancher::CA_SECRET_KEY, ca.bytes.clone())],
                ),
                summary,
                checksum: ca.checksum.clone(),
            });
        }
        let Some(server) = &self.server else {
            return planned;
        };
        let summary = server
            .chain
            .first()
            .map(|leaf| fingerprint_summary(leaf, None))
            .unwrap_or_default();
        planned.push(Planned {
            secret: secret(
                &request.namespace,
                &request.secret_name,
                Some("kubernetes.io/tls"),
                [
                    ("tls.crt", server.cert_pem.clone()),
                    ("tls.key", server.key_pem.clone()),
                ],
            ),
            summary,
            checksum: None,
        });
        planned
    }
}

pub(super) fn fingerprint_summary(cert: &Cert, checksum: Option<&str>) -> String {
    let checksum = checksum
        .map(|sum| format!(", CATTLE_CA_CHECKSUM {}…", &sum[..12.min(sum.len())]))
        .unwrap_or_default();
    format!(
        "'{}' sha256 {}… expires {}{checksum}",
        cert.display_name(),
        &cert.sha256_fingerprint[..23.min(cert.sha256_fingerprint.len())],
        cert.not_after
    )
}

/// What a secret in the cluster holds, summarised like the new one.
pub(super) fn summarise_existing(secret: &Secret) -> String {
    let data = secret.data.clone().unwrap_or_default();
    let pem = data
        .get("tls.crt")
        .or_else(|| data.get("cacerts.pem"))
        .or_else(|| data.get(crate::rancher::ADDITIONAL_CA_SECRET_KEY))
        .map(|bytes| bytes.0.clone())
        .unwrap_or_default();
    let checksum = data
        .get("cacerts.pem")
        .map(|bytes| crate::rancher::ca_checksum(&bytes.0));
    match inspect::certs_in(&pem).first() {
        Some(cert) => fingerprint_summary(cert, checksum.as_deref()),
        None => "no readable certificate".to_string(),
    }
}
