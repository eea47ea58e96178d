//! The CA bundles the API server trusts to call admission webhooks and aggregated APIs:
//! every `webhooks[].clientConfig.caBundle` of the Validating and Mutating webhook
//! configurations and every APIService's `spec.caBundle` (as x509-certificate-exporter's
//! cabundle source reads them), and the Node Events k3s and RKE2 emit about certificates.

use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client};

use super::{api_error, RemoteError};

/// The Validating and Mutating webhook configurations rancher-webhook owns.
pub const RANCHER_WEBHOOK_CONFIGURATION: &str = "rancher.cattle.io";
/// The Secret rancher-webhook serves with (SAN `rancher-webhook.cattle-system.svc`).
pub const RANCHER_WEBHOOK_TLS_SECRET: &str = "cattle-webhook-tls";
/// The name the API server calls rancher-webhook by.
pub const RANCHER_WEBHOOK_SERVICE_NAME: &str = "rancher-webhook.cattle-system.svc";

/// One CA bundle and where it sits.
#[derive(Debug, Clone)]
pub struct CaBundleRef {
    /// `validatingwebhookconfiguration`, `mutatingwebhookconfiguration` or `apiservice`.
    pub kind: &'static str,
    /// The object's name.
    pub object: String,
    /// The webhook's name inside a configuration (None for an APIService).
    pub webhook: Option<String>,
    /// The bundle's PEM bytes (decoded from base64 by the API's JSON).
    pub bytes: Vec<u8>,
}

impl CaBundleRef {
    /// `validatingwebhookconfiguration/rancher.cattle.io webhook rancher.cattle.io.secrets`.
    pub fn describe(&self) -> String {
        match &self.webhook {
            Some(webhook) => format!("{}/{} webhook {webhook}", self.kind, self.object),
            None => format!("{}/{}", self.kind, self.object),
        }
    }
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: format!("{group}/{version}"),
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

fn decoded(value: &serde_json::Value) -> Option<Vec<u8>> {
    let text = value.as_str().filter(|text| !text.is_empty())?;
    serde_json::from_value::<k8s_openapi::ByteString>(serde_json::Value::String(text.to_string()))
        .ok()
        .map(|bytes| bytes.0)
}

/// Every CA bundle of the webhook configurations and APIServices. A kind the cluster
/// does not serve (404) holds none.
pub async fn ca_bundles(client: &Client) -> Result<Vec<CaBundleRef>, RemoteError> {
    let mut found = Vec::new();
    let kinds = [
        (
            "validatingwebhookconfiguration",
            resource(
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
                "validatingwebhookconfigurations",
            ),
        ),
        (
            "mutatingwebhookconfiguration",
            resource(
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
                "mutatingwebhookconfigurations",
            ),
        ),
        (
            "apiservice",
            resource("apiregistration.k8s.io", "v1", "APIService", "apiservices"),
        ),
    ];
    for (kind, api_resource) in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource);
        let list = match api.list(&ListParams::default()).await {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(err) => return Err(api_error(err, "list", &api_resource.plural)),
        };
        for object in list.items {
            let name = object.metadata.name.clone().unwrap_or_default();
            if kind == "apiservice" {
                if let Some(bytes) = decoded(&object.data["spec"]["caBundle"]) {
                    found.push(CaBundleRef {
                        kind,
                        object: name,
                        webhook: None,
                        bytes,
                    });
                }
                continue;
            }
            for webhook in object.data["webhooks"].as_array().into_iter().flatten() {
                if let Some(bytes) = decoded(&webhook["clientConfig"]["caBundle"]) {
                    found.push(CaBundleRef {
                        kind,
                        object: name.clone(),
                        webhook: webhook["name"].as_str().map(str::to_string),
                        bytes,
                    });
                }
            }
        }
    }
    Ok(found)
}

/// A k3s/RKE2 Node Event about certificates (since k3s v1.29.4): a leaf inside its renewal
/// window (`CertificateExpirationWarning`) or a CA within 365 days of expiry
/// (`CACertificateExpirationWarning`).
#[derive(Debug, Clone)]
pub struct CertificateEvent {
    /// The Event's reason.
    pub reason: String,
    /// The node it is about.
    pub node: String,
    /// What k3s/RKE2 said.
    pub message: String,
}

/// The reasons k3s and RKE2 emit on Nodes.
pub const CERTIFICATE_EVENT_REASONS: [&str; 2] = [
    "CertificateExpirationWarning",
    "CACertificateExpirationWarning",
];

/// Every certificate Event on a Node, all namespaces, one list per reason (filtered on
/// the server by `reason`, and again here).
pub async fn certificate_events(client: &Client) -> Result<Vec<CertificateEvent>, RemoteError> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::all(client.clone());
    let mut found = Vec::new();
    for reason in CERTIFICATE_EVENT_REASONS {
        let params = ListParams::default().fields(&format!("reason={reason}"));
        let list = api
            .list(&params)
            .await
            .map_err(|err| api_error(err, "list", "events"))?;
        for event in list.items {
            if event.reason.as_deref() != Some(reason)
                || event.involved_object.kind.as_deref() != Some("Node")
            {
                continue;
            }
            found.push(CertificateEvent {
                reason: reason.to_string(),
                node: event.involved_object.name.clone().unwrap_or_default(),
                message: event.message.clone().unwrap_or_default(),
            });
        }
    }
    Ok(found)
}
