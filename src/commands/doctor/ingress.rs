//! Why the ingress serves its "Kubernetes Ingress Controller Fake Certificate" (or a
//! Gateway its default): read what the controller reads — the Ingress that routes the
//! host and its `spec.tls` entry, or the Gateway listener for the host and its
//! `certificateRefs` — then the Secret it names, and name the one precondition that fails.

use crate::cluster::describe_api_error;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::Api;
use serde_json::Value;

use super::*;

/// Why the controller serves its default certificate, and the fix.
/// Why the controller serves its own certificate instead of Rancher's, and the fix.
#[derive(Debug, Clone)]
pub(super) struct Diagnosis {
    /// One line an operator reads.
    pub(super) message: String,
    /// What fixes it.
    pub(super) fix: Fix,
}

fn diagnosis(message: String, fix: Fix) -> Diagnosis {
    Diagnosis { message, fix }
}

/// A fix in words (no single command does it).
fn words(text: String) -> Fix {
    Fix::words(Cause::IngressFakeCertificate, text)
}

/// The Secret a controller loads for the host, and who names it.
struct SecretReference {
    namespace: String,
    name: String,
    /// `Ingress cattle-system/rancher` or `Gateway infra/edge listener https`.
    holder: String,
    /// What makes the controller load the secret again.
    reload: Fix,
    /// What the controller itself said about the reference (Gateway `ResolvedRefs`).
    controller_says: Option<String>,
}

/// What one source (Ingress or Gateway API) says about the host.
enum Lookup {
    /// It names a Secret for the host.
    Found(SecretReference),
    /// It routes the host, and a precondition fails before any Secret.
    Diagnosed(Diagnosis),
    /// It does not route the host.
    NotRouted,
}

/// Whether a host pattern (`rancher.example.com`, `*.example.com`) covers `host`.
/// Names compare as DNS does: case-insensitively, a trailing dot ignored.
fn covers(pattern: &str, host: &str) -> bool {
    same_host(pattern, host)
        || pattern.strip_prefix("*.").is_some_and(|base| {
            host.split_once('.')
                .is_some_and(|(_, rest)| same_host(rest, base))
        })
}

use crate::checks::same_host;

fn gateway_resource(kind: &str, plural: &str, version: &str) -> ApiResource {
    ApiResource {
        group: "gateway.networking.k8s.io".to_string(),
        version: version.to_string(),
        api_version: format!("gateway.networking.k8s.io/{version}"),
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

impl Doctor<'_> {
    /// The failing precondition and its fix; `None` when the cluster cannot be read.
    pub(super) async fn fake_certificate_cause(&self) -> Option<Diagnosis> {
        let client = self.client.clone()?;
        let namespace = &self.request.namespace;
        let host = &self.request.host.host;
        let reference = match self.ingress_lookup(&client).await? {
            Lookup::Found(reference) => reference,
            Lookup::Diagnosed(cause) => return Some(cause),
            Lookup::NotRouted => match self.gateway_lookup(&client).await {
                Lookup::Found(reference) => reference,
                Lookup::Diagnosed(cause) => return Some(cause),
                Lookup::NotRouted => {
                    return Some(diagnosis(
                        format!("no Ingress in {namespace} routes {host} (rules[].host), and no Gateway has an HTTPS listener for it: the controller has no certificate for it"),
                        self.helm(&format!("hostname={host}")),
                    ))
                }
            },
        };
        self.judge_secret(client, reference).await
    }

    fn helm(&self, value: &str) -> Fix {
        helm_upgrade(&self.request.namespace, value)
    }

    /// The Ingress that routes the host (or `rancher`) and its `spec.tls` entry.
    async fn ingress_lookup(&self, client: &kube::Client) -> Option<Lookup> {
        let namespace = &self.request.namespace;
        let host = &self.request.host.host;
        let ingresses: Api<Ingress> = Api::namespaced(client.clone(), namespace);
        let list = match ingresses.list(&ListParams::default()).await {
            Ok(list) => list,
            // A list that fails is said as such: never read as "nothing routes it".
            Err(err) => {
                return Some(Lookup::Diagnosed(diagnosis(
                    format!(
                        "{}; rcert cannot tell which Ingress routes {host}",
                        describe_api_error(&err, "list", &format!("Ingresses in {namespace}"))
                    ),
                    Fix::command(
                        Cause::ApiError,
                        argv(&["kubectl", "-n", namespace, "get", "ingress", "-o", "yaml"]),
                    )
                    .note(format!("look by hand, or allow list on ingresses (networking.k8s.io) in {namespace} for your user")),
                )))
            }
        };
        let routes_host = |ingress: &&Ingress| {
            ingress.spec.as_ref().is_some_and(|spec| {
                spec.rules
                    .iter()
                    .flatten()
                    .any(|rule| rule.host.as_deref().is_some_and(|h| same_host(h, host)))
            })
        };
        let Some(ingress) = list.items.iter().find(routes_host).or_else(|| {
            list.items
                .iter()
                .find(|i| i.metadata.name.as_deref() == Some("rancher"))
        }) else {
            return Some(Lookup::NotRouted);
        };
        let name = format!(
            "{namespace}/{}",
            ingress.metadata.name.as_deref().unwrap_or("?")
        );
        let entry = ingress
            .spec
            .as_ref()
            .and_then(|spec| spec.tls.as_ref())
            .and_then(|tls| {
                tls.iter()
                    .find(|entry| entry.hosts.iter().flatten().any(|h| covers(h, host)))
            });
        let Some(entry) = entry else {
            return Some(Lookup::Diagnosed(diagnosis(
                format!("Ingress {name} has no spec.tls entry for {host}: ingress-nginx serves its default certificate"),
                self.helm("ingress.tls.source=secret"),
            )));
        };
        let Some(secret_name) = entry.secret_name.clone() else {
            return Some(Lookup::Diagnosed(diagnosis(
                format!("the spec.tls entry for {host} in Ingress {name} names no secretName"),
                self.helm("ingress.tls.source=secret"),
            )));
        };
        Some(Lookup::Found(SecretReference {
            namespace: namespace.to_string(),
            name: secret_name,
            holder: format!("Ingress {name}"),
            reload: reload_ingress_nginx(Cause::IngressFakeCertificate),
            controller_says: None,
        }))
    }

    /// The Gateway API listener for the host (exact name before a wildcard before none)
    /// and its first `certificateRefs` entry; NotRouted when Gateway API is not installed,
    /// the API's refusal when the list fails otherwise.
    async fn gateway_lookup(&self, client: &kube::Client) -> Lookup {
        let host = &self.request.host.host;
        let gateways: Api<DynamicObject> = Api::all_with(
            client.clone(),
            &gateway_resource("Gateway", "gateways", "v1"),
        );
        let list = match gateways.list(&ListParams::default()).await {
            Ok(list) => list,
            // Gateway API not installed: nothing routes through it.
            Err(kube::Error::Api(status)) if status.code == 404 => return Lookup::NotRouted,
            Err(err) => {
                return Lookup::Diagnosed(diagnosis(
                    format!(
                        "{}; rcert cannot tell whether a Gateway routes {host}",
                        describe_api_error(&err, "list", "Gateways (gateway.networking.k8s.io)")
                    ),
                    Fix::command(Cause::ApiError, ["kubectl", "get", "gateways", "-A", "-o", "yaml"])
                        .note("look by hand, or allow list on gateways (gateway.networking.k8s.io) for your user"),
                ))
            }
        };
        // (rank, gateway, listener): 0 exact hostname, 1 wildcard, 2 no hostname.
        let mut candidates: Vec<(u8, &DynamicObject, &Value)> = Vec::new();
        for gateway in &list.items {
            for listener in gateway.data["spec"]["listeners"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let rank = match listener["hostname"].as_str() {
                    Some(pattern) if same_host(pattern, host) => 0,
                    Some(pattern) if covers(pattern, host) => 1,
                    Some(_) => continue,
                    None => 2,
                };
                candidates.push((rank, gateway, listener));
            }
        }
        candidates.sort_by_key(|(rank, _, listener)| {
            let tls = matches!(listener["protocol"].as_str(), Some("HTTPS" | "TLS"));
            (*rank, !tls)
        });
        let Some((_, gateway, listener)) = candidates.first() else {
            return Lookup::NotRouted;
        };
        let gateway_namespace = gateway.metadata.namespace.clone().unwrap_or_default();
        let holder = format!(
            "Gateway {gateway_namespace}/{} listener {}",
            gateway.metadata.name.as_deref().unwrap_or("?"),
            listener["name"].as_str().unwrap_or("?")
        );
        let protocol = listener["protocol"].as_str().unwrap_or("?");
        if !matches!(protocol, "HTTPS" | "TLS") {
            return Lookup::Diagnosed(diagnosis(
                format!("{holder} serves {host} over {protocol}, and no HTTPS listener covers it"),
                words(format!("add an HTTPS listener for {host} with tls.certificateRefs naming secret tls-rancher-ingress to the Gateway")),
            ));
        }
        if listener["tls"]["mode"].as_str() == Some("Passthrough") {
            return Lookup::Diagnosed(diagnosis(
                format!("{holder} passes TLS through: the certificate comes from the backend, not from a Secret of the Gateway"),
                words("rcert probe the backend directly (rcert probe ADDR --servername HOST)".to_string()),
            ));
        }
        let Some(reference) = listener["tls"]["certificateRefs"]
            .as_array()
            .and_then(|refs| refs.first())
        else {
            return Lookup::Diagnosed(diagnosis(
                format!("{holder} has no tls.certificateRefs: the Gateway has no certificate for {host}"),
                words("set tls.certificateRefs: [{kind: Secret, name: tls-rancher-ingress}] on the listener".to_string()),
            ));
        };
        let kind = reference["kind"].as_str().unwrap_or("Secret");
        let group = reference["group"].as_str().unwrap_or("");
        if kind != "Secret" || !group.is_empty() {
            return Lookup::Diagnosed(diagnosis(
                format!("{holder} refers to a {kind} (group '{group}'), not a core Secret"),
                words(
                    "refer to a Secret of type kubernetes.io/tls (kind: Secret, group: \"\")"
                        .to_string(),
                ),
            ));
        }
        let name = reference["name"].as_str().unwrap_or_default().to_string();
        let namespace = reference["namespace"]
            .as_str()
            .map_or(gateway_namespace.clone(), str::to_string);
        if namespace != gateway_namespace
            && !self
                .reference_granted(client, &gateway_namespace, &namespace)
                .await
        {
            return Lookup::Diagnosed(diagnosis(
                format!("{holder} names secret {namespace}/{name} in another namespace, and no ReferenceGrant in {namespace} lets Gateways of {gateway_namespace} read Secrets"),
                words(format!("kubectl apply a ReferenceGrant in {namespace}: from {{group: gateway.networking.k8s.io, kind: Gateway, namespace: {gateway_namespace}}} to {{group: \"\", kind: Secret, name: {name}}}")),
            ));
        }
        let listener_name = listener["name"].as_str().unwrap_or_default();
        let controller_says = gateway.data["status"]["listeners"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|status| status["name"] == listener_name)
            .flat_map(|status| status["conditions"].as_array().into_iter().flatten())
            .find(|c| c["type"] == "ResolvedRefs" && c["status"] == "False")
            .map(|c| {
                format!(
                    "the Gateway controller reports ResolvedRefs=False ({}: {})",
                    c["reason"].as_str().unwrap_or("?"),
                    c["message"].as_str().unwrap_or("")
                )
            });
        Lookup::Found(SecretReference {
            namespace,
            name,
            holder,
            reload: words(
                "restart the Gateway controller's pods, or check its logs for the listener"
                    .to_string(),
            ),
            controller_says,
        })
    }

    /// Whether a ReferenceGrant in `to` lets Gateways of `from` read Secrets.
    async fn reference_granted(&self, client: &kube::Client, from: &str, to: &str) -> bool {
        let grants: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            to,
            &gateway_resource("ReferenceGrant", "referencegrants", "v1beta1"),
        );
        let Ok(list) = grants.list(&ListParams::default()).await else {
            return false;
        };
        list.items.iter().any(|grant| {
            let from_ok = grant.data["spec"]["from"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|f| f["kind"] == "Gateway" && f["namespace"] == from);
            let to_ok = grant.data["spec"]["to"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["kind"] == "Secret" && t["group"].as_str().unwrap_or("").is_empty());
            from_ok && to_ok
        })
    }

    /// The Secret the controller loads: present, of type kubernetes.io/tls, both keys, a
    /// key that matches, a certificate for the host.
    async fn judge_secret(
        &self,
        client: kube::Client,
        reference: SecretReference,
    ) -> Option<Diagnosis> {
        let host = &self.request.host.host;
        let SecretReference {
            namespace,
            name: secret_name,
            holder: name,
            reload,
            controller_says,
        } = reference;
        let namespace = &namespace;
        let secrets: Api<Secret> = Api::namespaced(client, namespace);
        let push = Fix::command(
            Cause::BadSecret,
            argv(&[
                "rcert",
                "push",
                "--namespace",
                namespace,
                "--secret-name",
                &secret_name,
                "--dir",
                "./certs",
            ]),
        );
        let Ok(found) = secrets.get_opt(&secret_name).await else {
            return None;
        };
        let Some(secret) = found else {
            return Some(diagnosis(
                format!(
                    "{name} names secret {namespace}/{secret_name} for {host}, and it does not exist"
                ),
                push,
            ));
        };
        let kind = secret.type_.as_deref().unwrap_or("Opaque");
        if kind != "kubernetes.io/tls" {
            return Some(diagnosis(
                format!("secret {namespace}/{secret_name} has type {kind}; ingress-nginx loads only kubernetes.io/tls"),
                Fix::command(
                    Cause::BadSecret,
                    push.commands.concat().into_iter().chain(["--replace".to_string()]),
                ),
            ));
        }
        let data = secret.data.unwrap_or_default();
        let (Some(crt), Some(key)) = (data.get("tls.crt"), data.get("tls.key")) else {
            return Some(diagnosis(
                format!("secret {namespace}/{secret_name} lacks tls.crt or tls.key"),
                push,
            ));
        };
        let chain = inspect::certs_in(&crt.0);
        let Some(leaf) = chain.first() else {
            return Some(diagnosis(
                format!(
                    "tls.crt of secret {namespace}/{secret_name} holds no readable certificate"
                ),
                push,
            ));
        };
        match inspect::key_in(&key.0) {
            None => return Some(diagnosis(format!("tls.key of secret {namespace}/{secret_name} holds no usable key (encrypted, or another format)"), push)),
            Some(key) if !leaf.matches_key(&key) => {
                return Some(diagnosis(format!("tls.key of secret {namespace}/{secret_name} does not belong to its certificate '{}'", leaf.subject), push))
            }
            Some(_) => {}
        }
        let context = Context {
            ca: None,
            untrusted: Vec::new(),
            untrusted_files: Vec::new(),
            key: None,
            hosts: vec![host.clone()],
            at: self.request.at,
            warn_days: 0,
            clients: self.request.clients,
            max_depth: None,
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
            return Some(diagnosis(
                format!(
                    "the certificate in secret {namespace}/{secret_name} is {}",
                    name_check.message
                ),
                push,
            ));
        }
        if let Some(said) = controller_says {
            return Some(diagnosis(
                format!(
                    "{name} names secret {namespace}/{secret_name}, which looks right, but {said}"
                ),
                reload,
            ));
        }
        Some(diagnosis(
            format!("{name} and secret {namespace}/{secret_name} look right: the controller has not reloaded them"),
            reload,
        ))
    }
}
