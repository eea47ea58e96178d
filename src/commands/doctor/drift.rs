//! doctor's drift part: local files against the secrets.

use super::*;
use crate::check::{Cause, Evidence};

impl Doctor<'_> {
    pub(super) fn drift_part(&mut self, secrets: &ClusterSecrets) {
        let Some(dir) = self.request.dir.clone() else {
            return;
        };
        let ca_secret = format!("{}/{}", self.request.namespace, self.request.ca_secret_name);
        let tls_secret = self.secret_ref();
        let mut compared = 0;
        // Each local file read once, beside what the cluster holds.
        let pairs = [
            ("tls.crt", &tls_secret, secrets.tls_data("tls.crt")),
            ("tls.key", &tls_secret, secrets.tls_data("tls.key")),
            ("cacerts.pem", &ca_secret, secrets.ca_bytes()),
        ]
        .map(|(file, secret_name, in_cluster)| {
            let local = read_if_present(&dir.join(file));
            (file, secret_name, in_cluster, local)
        });
        // The Secret was renewed after the local copy: its tls.crt and tls.key are both
        // newer, and pushing either file would put the older set back.
        let secret_newer = match &pairs[0] {
            (_, _, Some(remote), Some(local)) => newer(remote, local),
            _ => false,
        };
        for (file, secret_name, in_cluster, local) in pairs {
            let path = dir.join(file);
            let Some(local) = local else {
                continue;
            };
            compared += 1;
            let shown = path.display();
            let local_file = Subject::File {
                path: shown.to_string(),
            };
            let (check, fix) = match in_cluster {
                Some(remote) if remote == local => (
                    Check::ok(
                        CheckId::Drift,
                        format!("{shown} equals {file} of secret {secret_name}"),
                    ),
                    None,
                ),
                Some(remote)
                    if file == crate::rancher::CA_SECRET_KEY
                        && crate::rancher::same_cacerts(&remote, &local) =>
                {
                    (Check::ok(
                        CheckId::Drift,
                        format!("{shown} differs from {file} of secret {secret_name} only in white space around it, which Rancher trims: CATTLE_CA_CHECKSUM is the same")
                    ), None)
                }
                // Another CA (or the same CAs in another order): a push moves the
                // checksum every agent pins — a planned change, never a command.
                Some(remote) if file == crate::rancher::CA_SECRET_KEY => {
                    let (from, to) = (
                        crate::rancher::ca_checksum(&remote),
                        crate::rancher::ca_checksum(&local),
                    );
                    let reordered = same_certificates(&remote, &local);
                    let what = if reordered {
                        "holds the same CA certificates as"
                    } else {
                        "differs from"
                    };
                    let message = format!(
                        "{shown} {what} {file} of secret {secret_name}{}: pushing it moves CATTLE_CA_CHECKSUM from {from} to {to}, and agents registered with the old one stop connecting at their next restart",
                        if reordered { ", in another order" } else { "" }
                    );
                    let fix = Fix::words(
                        Cause::LocalDiffers,
                        format!(
                            "a CA change for every agent: plan it with rcert rotate plan --to {} (or make {shown} equal to the secret's again)",
                            crate::check::shell_quote(&dir.display().to_string())
                        ),
                    );
                    (
                        Check::failed(CheckId::Drift, Cause::LocalDiffers, message)
                            .with_evidence(Evidence::checksums(Some(&to), Some(&from))),
                        Some(fix),
                    )
                }
                // The Secret holds a newer certificate than the file: pushing the file
                // would put an older one back.
                Some(_) if secret_newer && file != crate::rancher::CA_SECRET_KEY => (
                    Check::failed(
                        CheckId::Drift,
                        Cause::LocalDiffers,
                        format!("{shown} is older than {file} of secret {secret_name} (the secret's leaf expires later): the secret was renewed after this copy"),
                    ),
                    Some(Fix::words(
                        Cause::LocalDiffers,
                        format!("refresh the local copy from the secret (kubectl -n {} get secret {} -o jsonpath='{{.data.tls\\.crt}}' | base64 -d > {shown}, and tls.key likewise); pushing {shown} would put the older certificate back", self.request.namespace, self.request.secret_name),
                    )),
                ),
                Some(_) => (
                    Check::failed(
                        CheckId::Drift,
                        Cause::LocalDiffers,
                        format!("{shown} differs from {file} of secret {secret_name}"),
                    ),
                    Some(self.push_fix()),
                ),
                None => (
                    Check::failed(
                        CheckId::Drift,
                        Cause::LocalDiffers,
                        format!("{shown} exists locally but secret {secret_name} holds no {file}"),
                    ),
                    Some(self.push_fix()),
                ),
            };
            self.add(Section::Drift, check.about(local_file), fix);
        }
        if compared == 0 {
            let message = format!(
                "{} holds none of tls.crt, tls.key and cacerts.pem: nothing to compare with the cluster",
                dir.display()
            );
            let check =
                Check::skipped(CheckId::Drift, Cause::NotPresent, message).about(Subject::File {
                    path: dir.display().to_string(),
                });
            self.add(Section::Drift, check, None);
        }
    }
}

/// Whether two CA files hold the same certificates, whatever their order.
fn same_certificates(one: &[u8], other: &[u8]) -> bool {
    let fingerprints = |bytes: &[u8]| {
        let mut all: Vec<String> = inspect::certs_in(bytes)
            .into_iter()
            .map(|cert| cert.sha256_fingerprint)
            .collect();
        all.sort();
        all
    };
    let mine = fingerprints(one);
    !mine.is_empty() && mine == fingerprints(other)
}

/// Whether the leaf of `secret` (a tls.crt) expires later than the leaf of `local`.
fn newer(secret: &[u8], local: &[u8]) -> bool {
    let leaf_end = |bytes: &[u8]| {
        crate::checks::find_leaf(&inspect::certs_in(bytes)).map(|leaf| leaf.not_after_time())
    };
    matches!((leaf_end(secret), leaf_end(local)), (Some(secret), Some(local)) if secret > local)
}
