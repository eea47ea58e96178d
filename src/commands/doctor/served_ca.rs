//! doctor's rancher part: `/ping`, `/cacerts` against `tls-ca`, local files and every node.

use super::*;
use crate::check::Cause;
use crate::check::Evidence;

impl Doctor<'_> {
    /// What fixes a `/cacerts` that served no CA bundle, from how it answered: a 404 or
    /// an HTML page is routing (the secrets are not at fault), 401/403 a proxy that asks
    /// for credentials, 5xx Rancher itself; an empty 200 is a Rancher without tls-ca.
    fn cacerts_fix(&self, status: Option<u16>, body: Option<&str>) -> Option<Fix> {
        let target = &self.request.host;
        // host[:port], the port only when it is not 443.
        let host = if target.port == 443 {
            target.host.clone()
        } else {
            target.address()
        };
        let namespace = &self.request.namespace;
        let route = Fix::command(
            Cause::CacertsUnavailable,
            argv(&["kubectl", "-n", namespace, "get", "ingress", "-o", "wide"]),
        )
        .then(argv(&["curl", "-vk", &format!("https://{host}/cacerts")]))
        .note(format!(
            "route https://{host}/cacerts to Rancher: check the ingress's host and backend, and the load balancer's rules"
        ));
        match status? {
            200 if body.is_some_and(|body| body.trim().is_empty()) => Some(self.push_fix()),
            200 | 404 => Some(route),
            401 | 403 => Some(Fix::words(
                Cause::CacertsUnavailable,
                format!("let /cacerts and /ping through the proxy in front of {host} without authentication: agents fetch them anonymously"),
            )),
            500..=599 => Some(Fix::command(
                Cause::CacertsUnavailable,
                argv(&["kubectl", "-n", namespace, "logs", "deploy/rancher", "--tail=50"]),
            )),
            _ => Some(route),
        }
    }

    /// /ping and /cacerts of the host; returns the served checksum.
    pub(super) fn rancher_part(
        &mut self,
        results: &[ProbeResult],
        secrets: Option<&ClusterSecrets>,
        local_ca: Option<&CaBundle>,
    ) -> Option<String> {
        let host = results.first()?;
        let facts = host.rancher.as_ref()?;
        if let Some(check) = host.checks.iter().find(|c| c.name == CheckId::Ping) {
            self.add(Section::Rancher, check.clone(), None);
        }
        self.compare_nodes_cacerts(results);
        let Some(served) = facts.cacerts_checksum.clone() else {
            // 404, 5xx, timeout, empty, HTML: the check says which, and what to do.
            if let Some(check) = host.checks.iter().find(|c| c.name == CheckId::Cacerts) {
                let fix = (check.status == Status::Failed)
                    .then(|| self.cacerts_fix(facts.cacerts_status, facts.cacerts.as_deref()))
                    .flatten();
                self.add(Section::Rancher, check.clone(), fix);
            }
            return None;
        };
        let restart = |note: &str| {
            rollout_restart(
                Cause::CacertsMismatch,
                &self.request.namespace,
                "deploy/rancher",
            )
            .note(note)
        };
        if let Some(ca_bytes) = secrets.and_then(ClusterSecrets::ca_bytes) {
            let expected = crate::rancher::ca_checksum(&ca_bytes);
            let ca_secret = format!("{}/{}", self.request.namespace, self.request.ca_secret_name);
            let check = if expected == served {
                Check::ok(
                    CheckId::Cacerts,
                    format!("/cacerts matches secret {ca_secret}"),
                )
            } else {
                Check::failed(
                    CheckId::Cacerts, Cause::CacertsMismatch,
                    format!(
                        "/cacerts (sha256 {served}) differs from secret {ca_secret} (sha256 {expected}): agents pinned to one of them will refuse the other"
                    ),
                )
                .with_evidence(Evidence::checksums(Some(&served), Some(&expected)))
            };
            self.add(
                Section::Rancher,
                check,
                Some(restart("Rancher reads tls-ca at start")),
            );
        }
        if let Some(local) = local_ca {
            let expected = crate::rancher::ca_checksum(&local.bytes);
            let check = if expected == served {
                Check::ok(
                    CheckId::CacertsLocal,
                    format!("/cacerts matches {}", local.source),
                )
            } else {
                Check::failed(
                    CheckId::CacertsLocal,
                    Cause::CacertsMismatch,
                    format!(
                        "/cacerts (sha256 {served}) differs from {} (sha256 {expected})",
                        local.source
                    ),
                )
                .with_evidence(Evidence::checksums(Some(&served), Some(&expected)))
            };
            // tls-ca already holds the local CA: Rancher has not restarted since. Else the
            // local CA is another one: moving to it is a CA change, never run unattended.
            let in_secret = secrets
                .and_then(ClusterSecrets::ca_bytes)
                .is_some_and(|bytes| crate::rancher::same_cacerts(&bytes, &local.bytes));
            let fix = if in_secret {
                restart("secret tls-ca already holds this CA: Rancher serves it after a restart")
            } else {
                Fix::words(
                    Cause::CacertsMismatch,
                    format!(
                        "{} is another CA than Rancher serves: moving to it changes CATTLE_CA_CHECKSUM for every agent — plan it with rcert rotate plan --to DIR (DIR holding it with tls.crt and tls.key)",
                        local.source
                    ),
                )
            };
            self.add(Section::Rancher, check, Some(fix));
        }
        if let Some(check) = host.checks.iter().find(|c| c.name == CheckId::CacertsChain) {
            self.add(Section::Rancher, check.clone(), Some(self.push_fix()));
        }
        let message = format!(
            "agents must be given CATTLE_CA_CHECKSUM={served} (sha256 of /cacerts as served)"
        );
        self.add(
            Section::Rancher,
            Check::ok(CheckId::CaChecksum, message),
            None,
        );
        Some(served)
    }

    /// Every node must serve the /cacerts the host serves: agents may reach any of them.
    fn compare_nodes_cacerts(&mut self, results: &[ProbeResult]) {
        let Some((host, nodes)) = results.split_first() else {
            return;
        };
        let expected = host
            .rancher
            .as_ref()
            .and_then(|f| f.cacerts_checksum.clone());
        for node in nodes {
            let Some(facts) = node.rancher.as_ref() else {
                continue;
            };
            let served = facts.cacerts_checksum.clone();
            if served == expected {
                continue;
            }
            let show = |sum: &Option<String>| {
                sum.as_deref()
                    .map_or_else(|| "nothing usable".to_string(), |s| format!("sha256 {s}"))
            };
            let check = Check::failed(
                CheckId::CacertsNode, Cause::CacertsNodeDiffers,
                format!(
                    "{} serves another /cacerts ({}) than {} ({}): agents that reach it see another CA",
                    node.target,
                    show(&served),
                    host.target,
                    show(&expected)
                ),
            )
            .with_evidence(Evidence::checksums(served.as_deref(), expected.as_deref()));
            let node_target = Subject::Endpoint {
                target: node.target.clone(),
            };
            self.add(
                Section::Rancher,
                check.about(node_target),
                Some(
                    rollout_restart(
                        Cause::CacertsNodeDiffers,
                        &self.request.namespace,
                        "deploy/rancher",
                    )
                    .note("every replica rereads tls-ca"),
                ),
            );
        }
    }
}
