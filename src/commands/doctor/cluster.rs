//! doctor's cluster part: the two secrets read and run through every verify check.

use crate::certset::{CertSet, Judgement};
use crate::check::{Cause, Subject};
use kube::Api;

use super::*;

/// Why the cluster part could not read the secrets (it is then skipped, and says why).
#[derive(Debug, thiserror::Error)]
enum SecretsError {
    #[error("no usable kubeconfig: {0}")]
    Kubeconfig(#[source] crate::cluster::ClusterError),
    #[error("cluster checks skipped: {0}")]
    Api(#[source] crate::cluster::RemoteError),
}

impl Doctor<'_> {
    /// Read the secrets and run the verify checks on them; returns them (None when the
    /// cluster part was skipped).
    pub(super) async fn cluster_part(&mut self) -> Option<ClusterSecrets> {
        match self.read_secrets().await {
            Ok(secrets) => {
                self.check_secrets(&secrets);
                Some(secrets)
            }
            Err(reason) => {
                self.add(
                    Section::Cluster,
                    Check::skipped(CheckId::Secrets, Cause::ApiError, reason.to_string()),
                    None,
                );
                None
            }
        }
    }

    async fn read_secrets(&mut self) -> Result<ClusterSecrets, SecretsError> {
        let request = self.request;
        let connected = request.cluster.connect().await;
        let connected = connected.map_err(SecretsError::Kubeconfig)?;
        let client = connected.client.clone();
        self.requests = Some(connected.requests);
        self.client = Some(client.clone());
        let api: Api<Secret> = Api::namespaced(client, &request.namespace);
        let mut secrets = ClusterSecrets::default();
        for (name, slot) in [
            (&request.secret_name, &mut secrets.tls),
            (&request.ca_secret_name, &mut secrets.ca),
        ] {
            match api.get_opt(name).await {
                Ok(found) => *slot = found,
                Err(err) => {
                    self.unreachable = true;
                    let what = format!("secret {}/{name}", request.namespace);
                    let error = crate::cluster::api_error(err, "get", &what);
                    return Err(SecretsError::Api(error));
                }
            }
        }
        Ok(secrets)
    }

    fn check_secrets(&mut self, secrets: &ClusterSecrets) {
        let secret = self.secret_ref();
        let Some(tls) = &secrets.tls else {
            self.cluster_failure(
                CheckId::Secret,
                Cause::BadSecret,
                format!(
                    "secret {secret} does not exist: the ingress serves its default certificate"
                ),
            );
            return;
        };
        let kind = tls.type_.as_deref().unwrap_or("Opaque");
        if kind != "kubernetes.io/tls" {
            self.cluster_failure(CheckId::Secret, Cause::BadSecret, format!("secret {secret} has type {kind}, not kubernetes.io/tls: the ingress ignores it"));
        }
        let set = secrets.tls_data("tls.crt").and_then(|cert| {
            let key = secrets.tls_data("tls.key");
            CertSet::from_secret(&secret, &cert, key.as_deref())
        });
        let Some(set) = set else {
            self.cluster_failure(
                CheckId::Secret,
                Cause::BadSecret,
                format!("secret {secret} holds no readable certificate in tls.crt"),
            );
            return;
        };
        if set.key.is_none() {
            self.cluster_failure(CheckId::Key, Cause::BadSecret, format!("secret {secret} holds no usable private key in tls.key (encrypted, or another format?)"));
        }
        let ca = secrets.ca_bytes().and_then(|bytes| {
            bundle_from(
                &format!(
                    "secret {}/{}",
                    self.request.namespace, self.request.ca_secret_name
                ),
                bytes,
            )
        });
        if let Some((key, _)) = secrets
            .ca_entry()
            .filter(|(key, _)| key != crate::rancher::CA_SECRET_KEY)
        {
            let ca_secret = format!("{}/{}", self.request.namespace, self.request.ca_secret_name);
            self.add(
                Section::Cluster,
                Check::failed(
                    CheckId::TlsCa, Cause::BadSecret,
                    format!("secret {ca_secret} holds its CA under key '{key}', but Rancher reads key cacerts.pem only: /cacerts stays empty"),
                ),
                Some(self.push_fix().note(format!(
                    "it writes cacerts.pem into secret {}",
                    self.request.ca_secret_name
                ))),
            );
        }
        if ca.is_none() {
            self.add(
                Section::Cluster,
                Check::warning(
                    CheckId::TlsCa, Cause::NoPrivateCa,
                    format!(
                        "no secret {}/{}: Rancher runs without privateCA, agents must trust the chain through their system roots",
                        self.request.namespace, self.request.ca_secret_name
                    ),
                ),
                None,
            );
        }
        let judgement = Judgement {
            roots: ca,
            hosts: vec![self.request.host.host.clone()],
            at: self.request.at,
            clients: self.request.clients,
        };
        let in_secret = Subject::Secret {
            namespace: self.request.namespace.to_string(),
            name: self.request.secret_name.clone(),
        };
        for mut check in set.validate(&judgement) {
            if check.name == CheckId::CaChecksum {
                continue;
            }
            // A finding about no certificate in particular (or about tls.key) is about
            // the Secret.
            if check.status != Status::Ok {
                if matches!(check.subject, Some(Subject::File { .. })) {
                    check.subject = None;
                }
                check = check.about_by_default(&in_secret);
            }
            let fix = self.fix_for_secret_check(check.name);
            self.add(Section::Cluster, check, fix);
        }
    }

    pub(super) fn fix_for_secret_check(&self, name: CheckId) -> Option<Fix> {
        let push = self.push_argv();
        let fullchain = |args: &[&str]| {
            Fix::command(
                Cause::WrongOrder,
                argv(&[&["rcert", "fullchain"], args].concat()),
            )
            .then(push.clone())
        };
        Some(match name {
            // The chain lacks a certificate: it must come from the CA.
            CheckId::Chain => fullchain(&[
                "tls.crt", "intermediate.pem", "root.pem", "--out", "tls.crt", "--force",
            ]),
            // Out of order: tls.crt holds them all, put them in order where it is.
            CheckId::Order => fullchain(&["tls.crt", "--out", "tls.crt", "--force"]),
            // Which key belongs is a search among the operator's key files.
            CheckId::Key => Fix::words(
                Cause::KeyMismatch,
                format!(
                    "find the key that belongs to tls.crt (rcert inspect tls.crt KEYFILE… says which), put it in tls.key, then {}",
                    Fix::command(Cause::KeyMismatch, push).line()
                ),
            ),
            CheckId::Validity => self.renew_fix(),
            // Reissued from the same CA (the agents' checksum stays), for the host.
            CheckId::San | CheckId::Name => self
                .renew_fix()
                .note("or reissue it from your CA with a SAN for the host"),
            CheckId::CaFile => fullchain(&["tls.crt", "root.pem", "--cacerts", "cacerts.pem", "--force"]),
            _ => return None,
        })
    }
}
