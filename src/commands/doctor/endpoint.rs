//! doctor's endpoint part: the host and each node probed with the host name as SNI.

use super::*;
use crate::check::Cause;

impl Doctor<'_> {
    pub(super) async fn endpoint_part(
        &mut self,
        ca: Option<CaBundle>,
        secret_chain: Option<&[Cert]>,
    ) -> Vec<ProbeResult> {
        let mut targets = vec![self.request.host.clone()];
        targets.extend(self.request.nodes.iter().cloned());
        let probe_request = ProbeRequest {
            at: self.request.at,
            targets,
            servername: Some(self.request.host.host.clone()),
            ca,
            alpn: crate::tls::Alpn::browser(),
            timeout: self.request.cluster.timeout,
            concurrency: 16,
            rancher: true,
            warn_days: 30,
            clients: self.request.clients,
            max_depth: None,
        };
        let report = served::probe(&probe_request, None).await;
        let fake_served = report.results.iter().any(|result| {
            result
                .chain
                .first()
                .is_some_and(is_ingress_fake_certificate)
        });
        let fake_cause = if fake_served {
            self.fake_certificate_cause().await
        } else {
            None
        };
        for result in &report.results {
            self.judge_endpoint(result, secret_chain, fake_cause.as_ref());
        }
        if let Some(consistency) = report.consistency.clone() {
            self.add(
                Section::Endpoint,
                consistency,
                Some(Fix::words(
                    Cause::ChainsDiffer,
                    "find the stale node above and restart its ingress controller (or fix its load-balancer backend)",
                )),
            );
        }
        report.results
    }

    fn judge_endpoint(
        &mut self,
        result: &ProbeResult,
        secret_chain: Option<&[Cert]>,
        fake_cause: Option<&super::ingress::Diagnosis>,
    ) {
        let target = result.target.clone();
        let endpoint = Subject::Endpoint {
            target: target.clone(),
        };
        if let Some(error) = &result.error {
            self.unreachable = true;
            self.add_about(
                Section::Endpoint,
                &endpoint,
                Check::skipped(
                    CheckId::Reachable,
                    Cause::Unreachable,
                    format!("{target}: {error}; endpoint checks skipped"),
                ),
                None,
            );
            return;
        }
        let Some(leaf) = result.chain.first() else {
            let reason = result
                .checks
                .first()
                .map_or_else(|| "no certificate".to_string(), |c| c.message.clone());
            self.add_about(
                Section::Endpoint,
                &endpoint,
                Check::failed(
                    CheckId::Handshake,
                    Cause::HandshakeFailed,
                    format!("{target}: {reason}"),
                ),
                None,
            );
            return;
        };
        if is_ingress_fake_certificate(leaf) {
            let (cause, fix) = match fake_cause {
                Some(found) => (found.message.clone(), found.fix.clone()),
                None => (
                    format!(
                        "the ingress could not load secret {} (missing, wrong type, or key and certificate do not match)",
                        self.secret_ref()
                    ),
                    self.push_fix(),
                ),
            };
            self.add_about(Section::Endpoint, &endpoint,
                Check::failed(
                    CheckId::Served, Cause::IngressFakeCertificate,
                    format!(
                        "{target} serves the ingress controller's default \"{INGRESS_FAKE_CERTIFICATE}\": {cause}"
                    ),
                ),
                Some(fix),
            );
            return;
        }
        match secret_chain {
            // The same leaf and intermediates in another order, or with the root left
            // out or added: what the ingress loaded is the secret (the order check says
            // what to do about the file).
            Some(chain)
                if fingerprints(chain) != fingerprints(&result.chain)
                    && same_non_roots(chain, &result.chain) =>
            {
                self.add_about(
                    Section::Endpoint,
                    &endpoint,
                    Check::ok(
                        CheckId::Served,
                        format!(
                            "{target} serves the leaf and intermediates of secret {} (in another order or with another root than tls.crt holds; see the order check)",
                            self.secret_ref()
                        ),
                    ),
                    None,
                )
            }
            Some(chain) if fingerprints(chain) == fingerprints(&result.chain) => self.add_about(
                Section::Endpoint,
                &endpoint,
                Check::ok(
                    CheckId::Served,
                    format!(
                        "{target} serves the chain of secret {} (leaf sha256 {}…)",
                        self.secret_ref(),
                        short(&leaf.sha256_fingerprint)
                    ),
                ),
                None,
            ),
            Some(chain) => {
                // The secret's leaf, wherever tls.crt has it (a file out of order is the
                // order check's finding, not a stale ingress).
                let secret_leaf = crate::checks::find_leaf(chain);
                let same_leaf =
                    secret_leaf.map(|c| &c.sha256_fingerprint) == Some(&leaf.sha256_fingerprint);
                let message = if same_leaf {
                    format!(
                        "{target} serves the leaf of secret {} but another chain ({} certificate(s) served, {} in the secret)",
                        self.secret_ref(),
                        result.chain.len(),
                        chain.len()
                    )
                } else {
                    format!(
                        "{target} serves '{}' (sha256 {}…, expires {}), not the certificate in secret {} (sha256 {}…): a stale ingress, node or load balancer",
                        leaf.display_name(),
                        short(&leaf.sha256_fingerprint),
                        leaf.not_after,
                        self.secret_ref(),
                        secret_leaf.map_or("?", |c| short(&c.sha256_fingerprint)),
                    )
                };
                self.add_about(
                    Section::Endpoint,
                    &endpoint,
                    Check::failed(CheckId::Served, Cause::ServedDiffers, message),
                    Some(reload_ingress_nginx(Cause::ServedDiffers)),
                );
            }
            None => self.add_probe_checks(result),
        }
    }

    /// Without a secret to compare with, judge the served chain on its own.
    fn add_probe_checks(&mut self, result: &ProbeResult) {
        for check in &result.checks {
            if matches!(
                check.name,
                CheckId::Ping | CheckId::Cacerts | CheckId::CacertsChain | CheckId::CaChecksum
            ) {
                continue;
            }
            let mut check = check.clone();
            check.message = format!("{}: {}", result.target, check.message);
            let fix = self.fix_for_secret_check(check.name);
            let endpoint = Subject::Endpoint {
                target: result.target.clone(),
            };
            self.add_about(Section::Endpoint, &endpoint, check, fix);
        }
    }
}
