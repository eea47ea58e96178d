//! Why the ingress serves its "Kubernetes Ingress Controller Fake Certificate": read what
//! ingress-nginx reads — the Ingress that routes the host, its `spec.tls` entry, the
//! Secret it names — and name the one precondition that fails.

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ListParams;
use kube::Api;

use super::*;

impl Doctor<'_> {
    /// The failing precondition and its fix; `None` when the cluster cannot be read.
    pub(super) async fn fake_certificate_cause(&self) -> Option<(String, String)> {
        let client = self.client.clone()?;
        let namespace = &self.request.namespace;
        let host = &self.request.host.host;
        let helm = |flags: &str| {
            format!(
                "helm upgrade rancher rancher-latest/rancher -n {namespace} --reuse-values {flags}"
            )
        };
        let ingresses: Api<Ingress> = Api::namespaced(client.clone(), namespace);
        let list = ingresses.list(&ListParams::default()).await.ok()?;
        let routes_host = |ingress: &&Ingress| {
            ingress.spec.as_ref().is_some_and(|spec| {
                spec.rules
                    .iter()
                    .flatten()
                    .any(|rule| rule.host.as_deref() == Some(host))
            })
        };
        let Some(ingress) = list.items.iter().find(routes_host).or_else(|| {
            list.items
                .iter()
                .find(|i| i.metadata.name.as_deref() == Some("rancher"))
        }) else {
            return Some((
                format!("no Ingress in {namespace} routes {host} (rules[].host): ingress-nginx has no certificate for it"),
                helm(&format!("--set hostname={host}")),
            ));
        };
        let name = format!(
            "{namespace}/{}",
            ingress.metadata.name.as_deref().unwrap_or("?")
        );
        let covers = |pattern: &str| {
            pattern == host
                || pattern
                    .strip_prefix("*.")
                    .is_some_and(|base| host.split_once('.').is_some_and(|(_, rest)| rest == base))
        };
        let entry = ingress
            .spec
            .as_ref()
            .and_then(|spec| spec.tls.as_ref())
            .and_then(|tls| {
                tls.iter()
                    .find(|entry| entry.hosts.iter().flatten().any(|h| covers(h)))
            });
        let Some(entry) = entry else {
            return Some((
                format!("Ingress {name} has no spec.tls entry for {host}: ingress-nginx serves its default certificate"),
                helm("--set ingress.tls.source=secret"),
            ));
        };
        let Some(secret_name) = entry.secret_name.clone() else {
            return Some((
                format!("the spec.tls entry for {host} in Ingress {name} names no secretName"),
                helm("--set ingress.tls.source=secret"),
            ));
        };
        let secrets: Api<Secret> = Api::namespaced(client, namespace);
        let push =
            format!("rcert push --namespace {namespace} --secret-name {secret_name} --dir ./certs");
        let Ok(found) = secrets.get_opt(&secret_name).await else {
            return None;
        };
        let Some(secret) = found else {
            return Some((
                format!(
                    "Ingress {name} names secret {secret_name} for {host}, and it does not exist"
                ),
                push,
            ));
        };
        let kind = secret.type_.as_deref().unwrap_or("Opaque");
        if kind != "kubernetes.io/tls" {
            return Some((
                format!("secret {namespace}/{secret_name} has type {kind}; ingress-nginx loads only kubernetes.io/tls"),
                format!("{push} --replace"),
            ));
        }
        let data = secret.data.unwrap_or_default();
        let (Some(crt), Some(key)) = (data.get("tls.crt"), data.get("tls.key")) else {
            return Some((
                format!("secret {namespace}/{secret_name} lacks tls.crt or tls.key"),
                push,
            ));
        };
        let chain = inspect::certs_in(&crt.0);
        let Some(leaf) = chain.first() else {
            return Some((
                format!(
                    "tls.crt of secret {namespace}/{secret_name} holds no readable certificate"
                ),
                push,
            ));
        };
        match inspect::key_in(&key.0) {
            None => return Some((format!("tls.key of secret {namespace}/{secret_name} holds no usable key (encrypted, or another format)"), push)),
            Some(key) if !leaf.matches_key(&key) => {
                return Some((format!("tls.key of secret {namespace}/{secret_name} does not belong to its certificate '{}'", leaf.subject), push))
            }
            Some(_) => {}
        }
        let context = Context {
            ca: None,
            untrusted: Vec::new(),
            key: None,
            hosts: vec![host.clone()],
            at: time::OffsetDateTime::now_utc(),
            warn_days: 0,
        };
        let checks = checks::check_chain(
            &chain,
            Origin::File(&format!("secret {namespace}/{secret_name}")),
            &context,
        );
        if let Some(name_check) = checks
            .iter()
            .find(|c| c.name == CheckId::Name && c.status == Status::Failed)
        {
            return Some((
                format!(
                    "the certificate in secret {namespace}/{secret_name} is {}",
                    name_check.message
                ),
                push,
            ));
        }
        Some((
            format!("Ingress {name} and secret {namespace}/{secret_name} look right: ingress-nginx has not reloaded them"),
            "kubectl -n ingress-nginx rollout restart daemonset/ingress-nginx-controller   # or the deployment of your ingress controller".to_string(),
        ))
    }
}
