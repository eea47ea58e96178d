//! The agents' own copy of the CA checksum: `CATTLE_CA_CHECKSUM` in the
//! `cattle-cluster-agent` Deployment and the `cattle-node-agent` DaemonSet (Rancher's
//! "Updating a Private CA Certificate", method 2) — read, and set with a JSON merge patch
//! guarded by the object's `resourceVersion`.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value;

use super::{api_error, RemoteError};

/// The variable the agents compare with the sha256 of what `/cacerts` serves.
pub const CHECKSUM_VARIABLE: &str = "CATTLE_CA_CHECKSUM";

/// Which agent workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    /// `deployment/cattle-cluster-agent` (one per downstream cluster).
    ClusterAgent,
    /// `daemonset/cattle-node-agent` (RKE1 clusters; absent elsewhere).
    NodeAgent,
}

impl AgentKind {
    /// Both, in the order Rancher's documentation edits them.
    pub const ALL: [AgentKind; 2] = [AgentKind::ClusterAgent, AgentKind::NodeAgent];

    /// The object's name.
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::ClusterAgent => "cattle-cluster-agent",
            AgentKind::NodeAgent => "cattle-node-agent",
        }
    }

    /// `deployment` or `daemonset`, as kubectl names the kind.
    pub fn kind(self) -> &'static str {
        match self {
            AgentKind::ClusterAgent => "deployment",
            AgentKind::NodeAgent => "daemonset",
        }
    }

    fn resource(self) -> ApiResource {
        match self {
            AgentKind::ClusterAgent => ApiResource::erase::<Deployment>(&()),
            AgentKind::NodeAgent => ApiResource::erase::<DaemonSet>(&()),
        }
    }
}

/// One agent workload as the cluster holds it.
#[derive(Debug, Clone)]
pub struct AgentWorkload {
    /// Which one.
    pub agent: AgentKind,
    /// Its namespace.
    pub namespace: String,
    /// `CATTLE_CA_CHECKSUM` of its containers (None: unset or empty).
    pub checksum: Option<String>,
    /// The object, for its backup and the patch.
    pub object: DynamicObject,
}

impl AgentWorkload {
    /// The workload as a finding's subject (`deployments.apps` / `daemonsets.apps`).
    pub fn subject(&self) -> crate::check::Subject {
        let resource = match self.agent {
            AgentKind::ClusterAgent => "deployments.apps",
            AgentKind::NodeAgent => "daemonsets.apps",
        };
        crate::check::Subject::object(resource, Some(&self.namespace), self.agent.name())
    }

    /// `deployment cattle-system/cattle-cluster-agent`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}/{}",
            self.agent.kind(),
            self.namespace,
            self.agent.name()
        )
    }
}

fn api(client: &Client, namespace: &str, agent: AgentKind) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &agent.resource())
}

/// Read one agent workload; `None` when it does not exist.
pub async fn get(
    client: &Client,
    namespace: &str,
    agent: AgentKind,
) -> Result<Option<AgentWorkload>, RemoteError> {
    let what = format!("{} {namespace}/{}", agent.kind(), agent.name());
    let found = api(client, namespace, agent)
        .get_opt(agent.name())
        .await
        .map_err(|err| api_error(err, "get", &what))?;
    Ok(found.map(|object| AgentWorkload {
        agent,
        namespace: namespace.to_string(),
        checksum: checksum_of(&object.data),
        object,
    }))
}

/// Both agent workloads that exist in `namespace` (two requests).
pub async fn all(client: &Client, namespace: &str) -> Result<Vec<AgentWorkload>, RemoteError> {
    let mut found = Vec::new();
    for agent in AgentKind::ALL {
        found.extend(get(client, namespace, agent).await?);
    }
    Ok(found)
}

fn containers(data: &Value) -> Option<&Vec<Value>> {
    data["spec"]["template"]["spec"]["containers"].as_array()
}

/// `CATTLE_CA_CHECKSUM` from any container.
fn checksum_of(data: &Value) -> Option<String> {
    env_value(data, CHECKSUM_VARIABLE)
}

/// A non-empty environment variable of any container (`CATTLE_SERVER`: the Rancher URL
/// the agent connects to).
pub fn env_value(data: &Value, name: &str) -> Option<String> {
    containers(data)?
        .iter()
        .filter_map(|container| container["env"].as_array())
        .flatten()
        .find(|env| env["name"] == name)
        .and_then(|env| env["value"].as_str())
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}

/// The merge patch that sets `CATTLE_CA_CHECKSUM` to `value` ("" when Rancher serves no
/// private CA) in every container that has it — in the first container when none has —
/// sending the whole container list (a JSON merge patch replaces lists) and the
/// `resourceVersion` read, so a concurrent change makes the API server refuse (409)
/// instead of being overwritten.
pub fn checksum_patch(workload: &AgentWorkload, value: &str) -> Result<Value, RemoteError> {
    let mut list = containers(&workload.object.data)
        .filter(|list| !list.is_empty())
        .cloned()
        .ok_or_else(|| RemoteError::Data(format!("{} has no containers", workload.describe())))?;
    let has_variable = |container: &Value| {
        container["env"]
            .as_array()
            .is_some_and(|env| env.iter().any(|e| e["name"] == CHECKSUM_VARIABLE))
    };
    let any = list.iter().any(has_variable);
    for (index, container) in list.iter_mut().enumerate() {
        if !(has_variable(container) || (!any && index == 0)) {
            continue;
        }
        let setting = serde_json::json!({"name": CHECKSUM_VARIABLE, "value": value});
        match container["env"].as_array_mut() {
            Some(env) => match env.iter_mut().find(|e| e["name"] == CHECKSUM_VARIABLE) {
                Some(existing) => *existing = setting,
                None => env.push(setting),
            },
            None => container["env"] = Value::Array(vec![setting]),
        }
    }
    Ok(serde_json::json!({
        "metadata": {"resourceVersion": workload.object.metadata.resource_version},
        "spec": {"template": {"spec": {"containers": list}}}
    }))
}

/// Send `checksum_patch(workload, value)`.
pub async fn set_checksum(
    client: &Client,
    workload: &AgentWorkload,
    value: &str,
) -> Result<(), RemoteError> {
    let patch = checksum_patch(workload, value)?;
    api(client, &workload.namespace, workload.agent)
        .patch(
            workload.agent.name(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
        .map_err(|err| api_error(err, "patch", &workload.describe()))
}
