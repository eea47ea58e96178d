//! doctor's view of cert-manager, when it owns `tls-rancher-ingress`: the Certificate's
//! `Ready` condition, `notAfter` and `renewalTime`, and whether the `ca.crt` cert-manager
//! writes into the secret agrees with `tls-ca`.

use super::*;
use crate::check::Cause;
use crate::cluster::inventory::certificates;
use crate::cluster::secrets::cert_manager_owner;

impl Doctor<'_> {
    /// Judge the Certificate that manages the TLS secret.
    pub(super) async fn cert_manager_part(&mut self, secrets: &ClusterSecrets) {
        let (Some(client), Some(tls)) = (self.client.clone(), secrets.tls.as_ref()) else {
            return;
        };
        let Some(owner) = cert_manager_owner(tls) else {
            return;
        };
        let namespace = self.request.namespace.clone();
        let secret = self.request.secret_name.clone();
        let describe = |name: &str| {
            Fix::command(
                Cause::CertManager,
                argv(&["kubectl", "-n", &namespace, "describe", "certificate", name]),
            )
        };
        match certificates(&client, Some(&namespace)).await {
            Ok(Some(found)) => match found.iter().find(|c| c.secret_name.as_deref() == Some(&secret)) {
                Some(certificate) => {
                    let name = &certificate.name;
                    match &certificate.ready {
                        Some((status, message)) if status != "True" => self.add(
                            Section::Cluster,
                            Check::failed(
                                CheckId::CertManager, Cause::CertManager,
                                format!("Certificate {namespace}/{name} (cert-manager) is not Ready: {message}"),
                            )
                            .about(Subject::object("certificates.cert-manager.io", Some(&namespace), name)),
                            Some(describe(name)),
                        ),
                        _ => self.add(
                            Section::Cluster,
                            Check::ok(
                                CheckId::CertManager,
                                format!(
                                    "secret {namespace}/{secret} is managed by Certificate {namespace}/{name}: Ready, notAfter {}, renews at {}",
                                    certificate.not_after.as_deref().unwrap_or("?"),
                                    certificate.renewal_time.as_deref().unwrap_or("?")
                                ),
                            ),
                            None,
                        ),
                    }
                }
                None => self.add(
                    Section::Cluster,
                    Check::warning(
                        CheckId::CertManager, Cause::CertManager,
                        format!("secret {namespace}/{secret} is managed by {owner}, but no Certificate in {namespace} names it"),
                    ),
                    None,
                ),
            },
            Ok(None) => self.add(
                Section::Cluster,
                Check::warning(
                    CheckId::CertManager, Cause::CertManager,
                    format!("secret {namespace}/{secret} carries cert-manager's marks ({owner}), but cert-manager is not installed: nothing renews it"),
                ),
                None,
            ),
            Err(reason) => self.add(
                Section::Cluster,
                Check::skipped(CheckId::CertManager, Cause::ApiError, reason.to_string()),
                None,
            ),
        }
        self.cert_manager_ca(secrets);
    }

    /// cert-manager's `ca.crt` against `tls-ca`: agents trust the latter.
    fn cert_manager_ca(&mut self, secrets: &ClusterSecrets) {
        let (Some(ca_crt), Some(tls_ca)) = (secrets.tls_data("ca.crt"), secrets.ca_bytes()) else {
            return;
        };
        let fingerprints = |bytes: &[u8]| -> Vec<String> {
            inspect::certs_in(bytes)
                .into_iter()
                .map(|c| c.sha256_fingerprint)
                .collect()
        };
        if fingerprints(&ca_crt) != fingerprints(&tls_ca) {
            let namespace = &self.request.namespace;
            self.add(
                Section::Cluster,
                Check::failed(
                    CheckId::CertManager, Cause::CertManager,
                    format!(
                        "ca.crt of secret {} (the issuer cert-manager used) differs from secret {namespace}/{}: agents trust tls-ca and will refuse the certificate",
                        self.secret_ref(),
                        self.request.ca_secret_name
                    ),
                ),
                Some(Fix::words(
                    Cause::CertManager,
                    format!(
                        "kubectl -n {namespace} get secret {} -o jsonpath='{{.data.ca\\.crt}}' | base64 -d > cacerts.pem && rcert rotate plan --to <dir with the current tls.crt, tls.key and that cacerts.pem>",
                        self.request.secret_name
                    ),
                )),
            );
        }
    }
}
