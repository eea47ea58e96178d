//! doctor's drift part: local files against the secrets.

use super::*;
use crate::check::Cause;

impl Doctor<'_> {
    pub(super) fn drift_part(&mut self, secrets: &ClusterSecrets) {
        let Some(dir) = self.request.dir.clone() else {
            return;
        };
        let ca_secret = format!("{}/{}", self.request.namespace, self.request.ca_secret_name);
        let tls_secret = self.secret_ref();
        let mut compared = 0;
        for (file, secret_name, in_cluster) in [
            ("tls.crt", &tls_secret, secrets.tls_data("tls.crt")),
            ("tls.key", &tls_secret, secrets.tls_data("tls.key")),
            ("cacerts.pem", &ca_secret, secrets.ca_bytes()),
        ] {
            let path = dir.join(file);
            let Some(local) = read_if_present(&path) else {
                continue;
            };
            compared += 1;
            let shown = path.display();
            let check = match in_cluster {
                Some(remote) if remote == local => Check::ok(
                    CheckId::Drift,
                    format!("{shown} equals {file} of secret {secret_name}"),
                ),
                Some(remote)
                    if file == crate::rancher::CA_SECRET_KEY
                        && crate::rancher::same_cacerts(&remote, &local) =>
                {
                    Check::ok(
                        CheckId::Drift,
                        format!("{shown} differs from {file} of secret {secret_name} only in white space around it, which Rancher trims: CATTLE_CA_CHECKSUM is the same")
                    )
                }
                Some(remote) if file == crate::rancher::CA_SECRET_KEY => Check::failed(
                    CheckId::Drift, Cause::LocalDiffers,
                    format!(
                        "{shown} differs from {file} of secret {secret_name}: pushing it moves CATTLE_CA_CHECKSUM from {} to {}, and agents registered with the old one stop connecting at their next restart (rcert rotate plan --to {})",
                        crate::rancher::ca_checksum(&remote),
                        crate::rancher::ca_checksum(&local),
                        dir.display()
                    ),
                ),
                Some(_) => Check::failed(
                    CheckId::Drift, Cause::LocalDiffers,
                    format!("{shown} differs from {file} of secret {secret_name}"),
                ),
                None => Check::failed(
                    CheckId::Drift, Cause::LocalDiffers,
                    format!("{shown} exists locally but secret {secret_name} holds no {file}"),
                ),
            };
            let local_file = Subject::File {
                path: shown.to_string(),
            };
            self.add(
                Section::Drift,
                check.about(local_file),
                Some(self.push_fix()),
            );
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
