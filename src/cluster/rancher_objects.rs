//! Rancher's own objects, read with kube's dynamic API (no generated types): the
//! `cacerts` and `agent-tls-mode` settings, the management clusters with their
//! `Connected` and `AgentTlsStrictCheck` conditions, and the `CATTLE_CA_CHECKSUM` the
//! `cattle-cluster-agent` Deployment was given.

use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client};

use super::agent_workloads;
use super::{api_error, RemoteError};

/// A condition's status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Why, as Rancher wrote it.
    pub message: String,
}

impl Condition {
    /// Why, as Rancher wrote it, or that it wrote nothing.
    pub fn reason(&self) -> &str {
        match self.message.trim() {
            "" => "Rancher gives no reason",
            reason => reason,
        }
    }
}

/// A `clusters.management.cattle.io` object.
#[derive(Debug, Clone)]
pub struct ManagedCluster {
    /// Its name (`local`, `c-m-abc12`).
    pub name: String,
    /// `spec.displayName`.
    pub display_name: Option<String>,
    /// The `Connected` condition.
    pub connected: Option<Condition>,
    /// The `AgentTlsStrictCheck` condition.
    pub strict_check: Option<Condition>,
    /// The object as read, for its backup.
    pub object: DynamicObject,
}

impl ManagedCluster {
    /// The cluster as a finding's subject.
    pub fn subject(&self) -> crate::check::Subject {
        crate::check::Subject::object("clusters.management.cattle.io", None, &self.name)
    }
}

/// What the agents depend on, as the cluster says.
#[derive(Debug, Clone, Default)]
pub struct AgentState {
    /// `settings.management.cattle.io/cacerts` `value` (what Rancher serves at /cacerts).
    pub cacerts_setting: Option<String>,
    /// `settings.management.cattle.io/agent-tls-mode` `value` (`strict` or `system-store`).
    pub agent_tls_mode: Option<String>,
    /// Every management cluster.
    pub clusters: Vec<ManagedCluster>,
    /// `cattle-cluster-agent` and `cattle-node-agent` in the namespace, those that exist,
    /// with their `CATTLE_CA_CHECKSUM`.
    pub workloads: Vec<agent_workloads::AgentWorkload>,
}

fn management(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "management.cattle.io".to_string(),
        version: "v3".to_string(),
        api_version: "management.cattle.io/v3".to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
    }
}

/// Read the agents' state; `Ok(None)` when the cluster holds no Rancher objects.
pub async fn agent_state(
    client: &Client,
    namespace: &str,
) -> Result<Option<AgentState>, RemoteError> {
    let mut state = AgentState::default();
    let settings: Api<DynamicObject> =
        Api::all_with(client.clone(), &management("Setting", "settings"));
    // A Setting's effective value is `value`, else its `default` (Rancher's settings.Get):
    // agent-tls-mode carries `default: strict` on fresh installs since v2.9.0.
    let setting = |found: &Option<DynamicObject>| {
        let object = found.as_ref()?;
        ["value", "default"]
            .iter()
            .filter_map(|field| object.data[field].as_str())
            .find(|value| !value.is_empty())
            .map(str::to_string)
    };
    // Rancher always has a cacerts setting (its value may be empty): a 404 means the
    // resource itself is unknown here — a downstream cluster, or no Rancher at all.
    let cacerts = match settings.get("cacerts").await {
        Ok(found) => Some(found),
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
        Err(err) => {
            return Err(api_error(
                err,
                "get",
                "settings.management.cattle.io/cacerts",
            ))
        }
    };
    state.cacerts_setting = setting(&cacerts);
    let mode = settings
        .get_opt("agent-tls-mode")
        .await
        .map_err(|err| api_error(err, "get", "settings.management.cattle.io/agent-tls-mode"))?;
    state.agent_tls_mode = setting(&mode);
    let clusters: Api<DynamicObject> =
        Api::all_with(client.clone(), &management("Cluster", "clusters"));
    let list = clusters
        .list(&ListParams::default())
        .await
        .map_err(|err| api_error(err, "list", "clusters.management.cattle.io"))?;
    state.clusters = list.items.iter().map(managed_cluster).collect();
    state.workloads = agent_workloads::all(client, namespace).await?;
    Ok(Some(state))
}

fn managed_cluster(object: &DynamicObject) -> ManagedCluster {
    let condition = |kind: &str| {
        object.data["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == kind)
            .map(|c| Condition {
                status: c["status"].as_str().unwrap_or_default().to_string(),
                message: c["message"].as_str().unwrap_or_default().to_string(),
            })
    };
    ManagedCluster {
        name: object.metadata.name.clone().unwrap_or_default(),
        display_name: object.data["spec"]["displayName"]
            .as_str()
            .map(str::to_string),
        connected: condition("Connected"),
        strict_check: condition("AgentTlsStrictCheck"),
        object: object.clone(),
    }
}

/// A `clusters.fleet.cattle.io` object.
#[derive(Debug, Clone)]
pub struct FleetCluster {
    /// Its namespace (`fleet-default`, `fleet-local`).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `spec.redeployAgentGeneration` (0 when unset).
    pub redeploy_generation: i64,
    /// The object as read, for its backup.
    pub object: DynamicObject,
}

impl FleetCluster {
    /// The cluster as a finding's subject.
    pub fn subject(&self) -> crate::check::Subject {
        crate::check::Subject::object(
            "clusters.fleet.cattle.io",
            Some(&self.namespace),
            &self.name,
        )
    }
}

fn fleet_resource() -> ApiResource {
    ApiResource {
        group: "fleet.cattle.io".to_string(),
        version: "v1alpha1".to_string(),
        api_version: "fleet.cattle.io/v1alpha1".to_string(),
        kind: "Cluster".to_string(),
        plural: "clusters".to_string(),
    }
}

/// Every fleet cluster; empty when fleet is not installed.
pub async fn fleet_clusters(client: &Client) -> Result<Vec<FleetCluster>, RemoteError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &fleet_resource());
    let list = match api.list(&ListParams::default()).await {
        Ok(list) => list,
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(Vec::new()),
        Err(err) => return Err(api_error(err, "list", "clusters.fleet.cattle.io")),
    };
    Ok(list
        .items
        .iter()
        .map(|object| FleetCluster {
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
            redeploy_generation: object.data["spec"]["redeployAgentGeneration"]
                .as_i64()
                .unwrap_or(0),
            object: object.clone(),
        })
        .collect())
}

/// The Rancher setting `name` (`cacerts`, `agent-tls-mode`) as a finding's subject.
pub fn setting_subject(name: &str) -> crate::check::Subject {
    crate::check::Subject::object("settings.management.cattle.io", None, name)
}

/// A Rancher setting (`settings.management.cattle.io`) as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Its name (`cacerts`, `agent-tls-mode`).
    pub name: String,
    /// Its `value` (None: the setting is absent, unset or empty).
    pub value: Option<String>,
}

/// Read a Rancher setting.
pub async fn setting(client: &Client, name: &str) -> Result<Setting, RemoteError> {
    let settings: Api<DynamicObject> =
        Api::all_with(client.clone(), &management("Setting", "settings"));
    let found = settings
        .get_opt(name)
        .await
        .map_err(|err| api_error(err, "get", &format!("settings.management.cattle.io/{name}")))?;
    let value = found
        .and_then(|object| object.data["value"].as_str().map(str::to_string))
        .filter(|value| !value.is_empty());
    Ok(Setting {
        name: name.to_string(),
        value,
    })
}

/// The downstream secret rancher-system-agent's connection info is rewritten from (by the
/// `cattle-system/system-agent-upgrader` plan); cattle-cluster-agent writes it at start.
pub const STV_AGGREGATION_SECRET: &str = "stv-aggregation";

/// What `stv-aggregation` tells the nodes' rancher-system-agent about Rancher's CA.
#[derive(Debug, Clone, Default)]
pub struct SystemAgentCa {
    /// Its `CATTLE_CA_CHECKSUM` key.
    pub checksum: Option<String>,
    /// Its `ca.crt` key.
    pub ca: Option<Vec<u8>>,
}

/// Read `stv-aggregation` in `namespace`; None where the cluster has none (not provisioned
/// by Rancher, or its agent has not started yet).
pub async fn system_agent_ca(
    client: &Client,
    namespace: &str,
) -> Result<Option<SystemAgentCa>, RemoteError> {
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), namespace);
    let what = format!("secret {namespace}/{STV_AGGREGATION_SECRET}");
    let found = api
        .get_opt(STV_AGGREGATION_SECRET)
        .await
        .map_err(|err| api_error(err, "get", &what))?;
    Ok(found.map(|secret| {
        let data = secret.data.unwrap_or_default();
        SystemAgentCa {
            checksum: data
                .get("CATTLE_CA_CHECKSUM")
                .map(|bytes| String::from_utf8_lossy(&bytes.0).trim().to_string()),
            ca: data.get("ca.crt").map(|bytes| bytes.0.clone()),
        }
    }))
}

/// The Deployments of `namespace` and how `deployment NAMESPACE/rancher` is named in errors.
fn rancher_deployment_api(client: &Client, namespace: &str) -> (Api<DynamicObject>, String) {
    let api = Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    (api, format!("deployment {namespace}/rancher"))
}

/// Whether `deployment/rancher` exists in `namespace` (what `--restart-rancher` restarts).
pub async fn rancher_deployment_exists(
    client: &Client,
    namespace: &str,
) -> Result<bool, RemoteError> {
    let (api, what) = rancher_deployment_api(client, namespace);
    api.get_opt("rancher")
        .await
        .map(|found| found.is_some())
        .map_err(|err| api_error(err, "get", &what))
}

/// `kubectl rollout restart deploy/rancher`: the same annotation on the pod template
/// (`kubectl.kubernetes.io/restartedAt`), sent as a merge patch; returns the Deployment as
/// it was, for its backup.
pub async fn restart_rancher(
    client: &Client,
    namespace: &str,
    at: &str,
) -> Result<DynamicObject, RemoteError> {
    let (api, what) = rancher_deployment_api(client, namespace);
    let before = api
        .get("rancher")
        .await
        .map_err(|err| api_error(err, "get", &what))?;
    let patch = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": at}}}}});
    merge_patch(&api, "rancher", &patch, &what).await?;
    Ok(before)
}

/// The annotation that makes Rancher redeploy a cluster's agent (Rancher docs, method 1).
pub const FORCE_DEPLOY_ANNOTATION: &str = "io.cattle.agent.force.deploy";

/// The annotation rcert leaves on each cluster it redeployed, holding the CA checksum it
/// redeployed for (`none` for a publicly trusted certificate): a rerun for the same CA
/// finds it and leaves the cluster unchanged.
pub const ROTATED_FOR_ANNOTATION: &str = "rcert/ca-checksum";

/// An annotation of an object as read (None: absent).
pub fn annotation(object: &DynamicObject, key: &str) -> Option<String> {
    object.metadata.annotations.as_ref()?.get(key).cloned()
}

/// Send a JSON merge patch to a management cluster.
pub async fn patch_cluster(
    client: &Client,
    name: &str,
    patch: &serde_json::Value,
) -> Result<(), RemoteError> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &management("Cluster", "clusters"));
    merge_patch(
        &api,
        name,
        patch,
        &format!("clusters.management.cattle.io/{name}"),
    )
    .await
}

/// Send a JSON merge patch to a fleet cluster.
pub async fn patch_fleet_cluster(
    client: &Client,
    cluster: &FleetCluster,
    patch: &serde_json::Value,
) -> Result<(), RemoteError> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &cluster.namespace, &fleet_resource());
    let what = format!(
        "clusters.fleet.cattle.io {}/{}",
        cluster.namespace, cluster.name
    );
    merge_patch(&api, &cluster.name, patch, &what).await
}

/// One JSON merge patch, its failure in one line naming `what`.
async fn merge_patch(
    api: &Api<DynamicObject>,
    name: &str,
    patch: &serde_json::Value,
    what: &str,
) -> Result<(), RemoteError> {
    api.patch(
        name,
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(patch),
    )
    .await
    .map(|_| ())
    .map_err(|err| api_error(err, "patch", what))
}

/// The Rancher helm release's values that decide how Rancher reads its certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmValues {
    /// The release revision read (`sh.helm.release.v1.rancher.vN`).
    pub revision: u32,
    /// `privateCA`.
    pub private_ca: Option<bool>,
    /// `ingress.tls.source` (`rancher`, `letsEncrypt`, `secret`).
    pub tls_source: Option<String>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `additionalTrustedCAs`.
    pub additional_trusted_cas: Option<bool>,
}

/// The values of the latest deployed `rancher` helm release in `namespace` (Secret
/// `sh.helm.release.v1.rancher.vN`, `data.release` = base64 of gzipped JSON); `None` when
/// there is none.
pub async fn helm_values(
    client: &Client,
    namespace: &str,
) -> Result<Option<HelmValues>, RemoteError> {
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels("owner=helm,name=rancher");
    let list = secrets
        .list(&params)
        .await
        .map_err(|err| api_error(err, "list", "helm release secrets of rancher"))?;
    let latest = list
        .items
        .iter()
        .filter(|secret| {
            secret
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("status"))
                .map(String::as_str)
                == Some("deployed")
        })
        .filter_map(|secret| {
            let version: u32 = secret
                .metadata
                .labels
                .as_ref()?
                .get("version")?
                .parse()
                .ok()?;
            Some((version, secret))
        })
        .max_by_key(|(version, _)| *version);
    let Some((revision, secret)) = latest else {
        return Ok(None);
    };
    let encoded = secret
        .data
        .as_ref()
        .and_then(|data| data.get("release"))
        .ok_or_else(|| {
            RemoteError::Data(format!("helm release v{revision} holds no data.release"))
        })?;
    let release = decode_release(&encoded.0).map_err(|why| {
        RemoteError::Data(format!(
            "helm release sh.helm.release.v1.rancher.v{revision}: {why}"
        ))
    })?;
    let config = &release["config"];
    Ok(Some(HelmValues {
        revision,
        private_ca: config["privateCA"].as_bool(),
        tls_source: config["ingress"]["tls"]["source"]
            .as_str()
            .map(str::to_string),
        hostname: config["hostname"].as_str().map(str::to_string),
        additional_trusted_cas: config["additionalTrustedCAs"].as_bool(),
    }))
}

/// Why a helm release Secret could not be read.
#[derive(Debug, thiserror::Error)]
enum ReleaseError {
    #[error("data.release is not base64")]
    Base64,
    #[error("cannot gunzip the release: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("the release is not JSON: {0}")]
    Json(#[source] serde_json::Error),
}

/// Helm's encoding: base64 (again) of the gzipped release JSON.
fn decode_release(bytes: &[u8]) -> Result<serde_json::Value, ReleaseError> {
    use std::io::Read;
    let text = String::from_utf8_lossy(bytes).trim().to_string();
    let gzipped =
        serde_json::from_value::<k8s_openapi::ByteString>(serde_json::Value::String(text))
            .map_err(|_| ReleaseError::Base64)?
            .0;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .take(16 * 1024 * 1024)
        .read_to_end(&mut json)
        .map_err(ReleaseError::Gzip)?;
    serde_json::from_slice(&json).map_err(ReleaseError::Json)
}
