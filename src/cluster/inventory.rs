//! Reading what a cluster holds, page by page: every Secret (limit/continue, so ten
//! thousand Secrets need one page of memory) and cert-manager's Certificates.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client};

use super::{api_error, RemoteError};

/// Secrets fetched per request.
pub const PAGE_SIZE: u32 = 500;

/// Call `visit` for every Secret of `namespace` (all namespaces when `None`), one page at
/// a time.
pub async fn each_secret(
    client: &Client,
    namespace: Option<&str>,
    mut visit: impl FnMut(&Secret),
) -> Result<(), RemoteError> {
    let api: Api<Secret> = match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let what = match namespace {
        Some(namespace) => format!("secrets in namespace {namespace}"),
        None => "secrets in all namespaces".to_string(),
    };
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE_SIZE);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let page = api
            .list(&params)
            .await
            .map_err(|err| api_error(err, "list", &what))?;
        for secret in &page.items {
            visit(secret);
        }
        match page.metadata.continue_.filter(|next| !next.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
}

/// What a cert-manager `Certificate` reports about the certificate it manages.
#[derive(Debug, Clone)]
pub struct ManagedCertificate {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `spec.secretName`: the Secret cert-manager writes.
    pub secret_name: Option<String>,
    /// `status.notAfter` (RFC 3339).
    pub not_after: Option<String>,
    /// `status.renewalTime` (RFC 3339).
    pub renewal_time: Option<String>,
    /// The `Ready` condition's status and message.
    pub ready: Option<(String, String)>,
}

/// cert-manager's `Certificate` resource.
pub fn certificate_resource() -> ApiResource {
    ApiResource {
        group: "cert-manager.io".to_string(),
        version: "v1".to_string(),
        api_version: "cert-manager.io/v1".to_string(),
        kind: "Certificate".to_string(),
        plural: "certificates".to_string(),
    }
}

/// cert-manager's Certificates in `namespace` (all when `None`); `Ok(None)` when the
/// resource does not exist (cert-manager not installed).
pub async fn certificates(
    client: &Client,
    namespace: Option<&str>,
) -> Result<Option<Vec<ManagedCertificate>>, RemoteError> {
    let resource = certificate_resource();
    let api: Api<DynamicObject> = match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let list = match api.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
        Err(err) => return Err(api_error(err, "list", "certificates.cert-manager.io")),
    };
    Ok(Some(list.items.iter().map(managed_certificate).collect()))
}

/// What one cert-manager `Certificate` object reports.
pub fn managed_certificate(object: &DynamicObject) -> ManagedCertificate {
    let text = |value: &serde_json::Value, path: &[&str]| {
        path.iter()
            .try_fold(value, |value, key| value.get(key))
            .and_then(|value| value.as_str())
            .map(str::to_string)
    };
    let ready = object.data["status"]["conditions"]
        .as_array()
        .and_then(|conditions| {
            conditions.iter().find(|c| c["type"] == "Ready").map(|c| {
                (
                    text(c, &["status"]).unwrap_or_default(),
                    text(c, &["message"]).unwrap_or_default(),
                )
            })
        });
    ManagedCertificate {
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        secret_name: text(&object.data, &["spec", "secretName"]),
        not_after: text(&object.data, &["status", "notAfter"]),
        renewal_time: text(&object.data, &["status", "renewalTime"]),
        ready,
    }
}
