//! doctor's check of rancher-webhook's own trust: every caBundle of the webhook
//! configurations `rancher.cattle.io` must verify the certificate rancher-webhook serves
//! (secret `cattle-webhook-tls`, SAN `rancher-webhook.cattle-system.svc`); otherwise the
//! API server cannot call the webhook and every Rancher API write fails with
//! "x509: certificate signed by unknown authority".

use kube::Api;

use super::*;
use crate::check::Cause;
use crate::cluster::webhooks::{
    ca_bundles, RANCHER_WEBHOOK_CONFIGURATION, RANCHER_WEBHOOK_SERVICE_NAME,
    RANCHER_WEBHOOK_TLS_SECRET,
};

impl Doctor<'_> {
    /// Judge the caBundles against `cattle-webhook-tls` when the secret exists.
    pub(super) async fn webhook_part(&mut self) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let namespace = self.request.namespace.clone();
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        let Ok(Some(secret)) = api.get_opt(RANCHER_WEBHOOK_TLS_SECRET).await else {
            return;
        };
        let Some(chain) = chain_of(secret_data(&secret, "tls.crt")) else {
            return;
        };
        let restart = rollout_restart(Cause::WebhookCaBundle, &namespace, "deploy/rancher-webhook")
            .note("it writes its CA into the caBundles at start");
        let bundles = match ca_bundles(&client).await {
            Ok(bundles) => bundles,
            Err(err) => {
                self.add_about(
                    Section::Cluster,
                    &webhook_configuration(),
                    Check::failed(
                        CheckId::Webhook,
                        Cause::ApiError,
                        format!("cannot list the webhook configurations: {err}"),
                    ),
                    None,
                );
                return;
            }
        };
        let rancher: Vec<_> = bundles
            .into_iter()
            .filter(|bundle| bundle.object == RANCHER_WEBHOOK_CONFIGURATION)
            .collect();
        let mut refused = Vec::new();
        for bundle in &rancher {
            let certs = inspect::certs_in(&bundle.bytes);
            let context = Context {
                ca: Some(CaBundle::new(
                    bundle.describe(),
                    certs,
                    bundle.bytes.clone(),
                    crate::rancher::BundleKind::Embedded,
                )),
                untrusted: Vec::new(),
                untrusted_files: Vec::new(),
                key: None,
                hosts: vec![RANCHER_WEBHOOK_SERVICE_NAME.to_string()],
                at: self.request.at,
                warn_days: 0,
                clients: crate::check::Clients::DEFAULT_SELECTION,
                max_depth: None,
            };
            let origin = format!("secret {namespace}/{RANCHER_WEBHOOK_TLS_SECRET}");
            let failed = checks::check_chain(&chain, Origin::File(&origin), &context)
                .into_iter()
                .find(|check| {
                    check.status == Status::Failed
                        && matches!(
                            check.name,
                            CheckId::Chain | CheckId::Name | CheckId::Validity
                        )
                });
            if let Some(check) = failed {
                // Name what the bundle holds and who issued the served certificate: the
                // usual cause is simply another CA.
                let held: Vec<String> = inspect::certs_in(&bundle.bytes)
                    .iter()
                    .map(|cert| format!("'{}'", cert.subject))
                    .collect();
                let issuer = chain
                    .first()
                    .map(|leaf| leaf.issuer.clone())
                    .unwrap_or_default();
                let why = if check.name == CheckId::Chain {
                    format!(
                        "it holds {}, the served certificate is issued by '{issuer}'",
                        if held.is_empty() {
                            "no certificate".to_string()
                        } else {
                            held.join(", ")
                        }
                    )
                } else {
                    check.message.clone()
                };
                refused.push(format!("{}: {why}", bundle.describe()));
            }
        }
        let check = match (rancher.is_empty(), refused.first()) {
            (true, _) => Check::warning(
                CheckId::Webhook, Cause::WebhookCaBundle,
                format!("secret {namespace}/{RANCHER_WEBHOOK_TLS_SECRET} exists, but no webhook configuration {RANCHER_WEBHOOK_CONFIGURATION} carries a caBundle for it"),
            ),
            (false, Some(first)) => Check::failed(
                CheckId::Webhook, Cause::WebhookCaBundle,
                format!(
                    "{} of {} caBundle(s) of {RANCHER_WEBHOOK_CONFIGURATION} do not verify what rancher-webhook serves ({first}): the API server cannot call it, and every Rancher API write fails with \"x509: certificate signed by unknown authority\"",
                    refused.len(),
                    rancher.len()
                ),
            ),
            (false, None) => Check::ok(
                CheckId::Webhook,
                format!(
                    "the {} caBundle(s) of {RANCHER_WEBHOOK_CONFIGURATION} verify secret {namespace}/{RANCHER_WEBHOOK_TLS_SECRET} for {RANCHER_WEBHOOK_SERVICE_NAME}",
                    rancher.len()
                ),
            ),
        };
        let fix = (check.status == Status::Failed).then_some(restart);
        self.add_about(Section::Cluster, &webhook_configuration(), check, fix);
    }
}

/// rancher-webhook's validating configuration, whose caBundle the API server trusts it by.
fn webhook_configuration() -> Subject {
    Subject::object(
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        None,
        RANCHER_WEBHOOK_CONFIGURATION,
    )
}
