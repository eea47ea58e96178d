//! doctor's check of `tls-ca-additional` (the extra CAs Rancher trusts for outgoing
//! connections), judged like `push --additional-ca` builds it: CA certificates only, none
//! expired, no duplicates, under key `ca-additional.pem`.

use kube::Api;

use super::*;
use crate::check::Cause;
use crate::rancher::{ADDITIONAL_CA_SECRET, ADDITIONAL_CA_SECRET_KEY};

impl Doctor<'_> {
    /// Read and judge `tls-ca-additional` when it exists.
    pub(super) async fn additional_ca_part(&mut self) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let namespace = self.request.namespace.clone();
        let api: Api<Secret> = Api::namespaced(client, &namespace);
        let Ok(Some(secret)) = api.get_opt(ADDITIONAL_CA_SECRET).await else {
            return;
        };
        let name = format!("{namespace}/{ADDITIONAL_CA_SECRET}");
        let additional = Subject::Secret {
            namespace: namespace.to_string(),
            name: ADDITIONAL_CA_SECRET.to_string(),
        };
        let fix = Fix::command(
            Cause::BadAdditionalCa,
            argv(&[
                "rcert",
                "push",
                "--namespace",
                &namespace,
                "--dir",
                "./certs",
                "--additional-ca",
                "ca1.pem",
                "--additional-ca",
                "ca2.pem",
            ]),
        );
        let Some(bytes) = secret_data(&secret, ADDITIONAL_CA_SECRET_KEY) else {
            self.add_about(Section::Cluster, &additional,
                Check::failed(
                    CheckId::TlsCa, Cause::BadAdditionalCa,
                    format!("secret {name} has no key {ADDITIONAL_CA_SECRET_KEY}: Rancher trusts none of its CAs"),
                ),
                Some(fix.clone()),
            );
            return;
        };
        let certs = inspect::certs_in(&bytes);
        let now = self.request.at;
        let problem = if certs.is_empty() {
            Some("holds no readable certificate".to_string())
        } else if let Some(leaf) = certs.iter().find(|cert| !cert.is_ca) {
            Some(format!(
                "holds '{}', which is not a CA certificate",
                leaf.subject
            ))
        } else if let Some(old) = certs.iter().find(|cert| cert.not_after_time() < now) {
            Some(format!(
                "holds '{}', expired on {}",
                old.subject, old.not_after
            ))
        } else {
            certs
                .iter()
                .enumerate()
                .find(|(index, cert)| certs[..*index].iter().any(|c| c.der() == cert.der()))
                .map(|(_, cert)| format!("holds '{}' twice", cert.subject))
        };
        match problem {
            Some(problem) => self.add_about(
                Section::Cluster,
                &additional,
                Check::failed(
                    CheckId::TlsCa,
                    Cause::BadAdditionalCa,
                    format!("secret {name} {problem}"),
                ),
                Some(fix),
            ),
            None => self.add_about(
                Section::Cluster,
                &additional,
                Check::ok(
                    CheckId::TlsCa,
                    format!(
                        "secret {name}: {} CA certificate(s), all valid",
                        certs.len()
                    ),
                ),
                None,
            ),
        }
    }
}
