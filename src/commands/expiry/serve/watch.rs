//! The exporter's cluster sources, by LIST + WATCH (kube-rs's `runtime::watcher`: paged
//! lists, watches from the list's resourceVersion, bookmarks, a fresh list on
//! `410 Gone`, exponential backoff with jitter): TLS Secrets of every namespace and the
//! Opaque ones of `cattle-system` (filtered by the API server), cert-manager
//! Certificates; webhook caBundles and node Events re-read every `--interval`. Each
//! object is parsed as it arrives and only its items are kept.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams};
use kube::runtime::utils::ResetTimerBackoff;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{oneshot, Semaphore};

use super::super::cluster::{
    ca_bundle_items, certificate_item, event_item, in_context, secret_items,
};
use super::super::Item;
use super::rancher::rancher_gauges;
use super::Shared;
use crate::cluster::describe_api_error;
use crate::cluster::inventory::{certificate_resource, managed_certificate};
use crate::cluster::ClusterTarget;

/// How often a source that is down is tried again (a cheap one-object list) while the
/// watcher backs off, so `up` comes back as soon as the API answers.
const RECHECK: Duration = Duration::from_secs(2);

/// Exponential backoff with jitter between failed watch requests, from 0.5 s to at most
/// 5 s: once the API answers again the watch resumes within seconds (kube's default
/// waits up to 30 s), and `up` is not 1 long before the inventory follows again.
struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff {
            next: Duration::from_millis(500),
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(5));
        // Jitter from the clock's nanoseconds: 50 % to 100 % of the delay, so a fleet of
        // exporters does not retry in step.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        Some(delay.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0))
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        *self = WatchBackoff::default();
    }
}

/// The namespace whose Opaque Secrets Rancher uses (`tls-ca`).
const RANCHER_NAMESPACE: &str = "cattle-system";

/// One context: connect (retrying), then watch every resource until the process ends.
/// `permits` bounds how many contexts do their first lists at once (`--concurrency`).
pub(super) async fn watch_context(
    shared: Arc<Shared>,
    target: ClusterTarget,
    permits: Arc<Semaphore>,
) {
    let label = target
        .context
        .as_deref()
        .filter(|_| shared.request.all_contexts)
        .map(str::to_string);
    let prefix = match &label {
        Some(context) => format!("cluster {context}"),
        None => "cluster".to_string(),
    };
    let watched = Watched::all(&shared, &prefix);
    for (key, _) in &watched {
        shared.inventory.register(key, label.clone());
    }
    let permit = permits.acquire_owned().await;
    let client = connect(&shared, &target, &watched).await;
    let mut firsts = Vec::new();
    for (key, what) in watched {
        let (first, listed) = oneshot::channel();
        firsts.push(listed);
        let source = Source {
            shared: shared.clone(),
            key,
            context: label.clone(),
        };
        tokio::spawn(what.run(client.clone(), source, first));
    }
    for listed in firsts {
        let _ = listed.await;
    }
    drop(permit);
}

/// Connect to the context, retrying with backoff; every source of it is unreachable
/// meanwhile.
async fn connect(
    shared: &Arc<Shared>,
    target: &ClusterTarget,
    watched: &[(String, Watched)],
) -> Client {
    let context = target.context.as_deref();
    let mut delay = Duration::from_millis(500);
    loop {
        match target.connect_watching().await {
            Ok(connected) => return connected.client,
            Err(err) => {
                for (key, _) in watched {
                    let source = Source {
                        shared: shared.clone(),
                        key: key.clone(),
                        context: context
                            .map(str::to_string)
                            .filter(|_| shared.request.all_contexts),
                    };
                    source.failed(err.to_string(), false);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// What a context's sources read.
enum Watched {
    /// Secrets of all namespaces (or each `--namespace`), with a field selector unless
    /// `--all-secrets`.
    Secrets {
        namespace: Option<String>,
        fields: Option<&'static str>,
    },
    /// cert-manager Certificates.
    Certificates { namespace: Option<String> },
    /// Webhook and APIService caBundles, k3s/RKE2 node certificate Events and Rancher's
    /// agents against `/cacerts`, re-read every `--interval` (few objects, no Secret
    /// bytes but `tls-ca`'s).
    ClusterWide,
}

impl Watched {
    /// Every source of one context, keyed by its name in `rcert_source_up`.
    fn all(shared: &Shared, prefix: &str) -> Vec<(String, Watched)> {
        let namespaces: Vec<Option<String>> = if shared.request.namespaces.is_empty() {
            vec![None]
        } else {
            shared
                .request
                .namespaces
                .iter()
                .map(|namespace| Some(namespace.to_string()))
                .collect()
        };
        let mut watched = Vec::new();
        for namespace in &namespaces {
            let scope = namespace
                .as_deref()
                .map_or(String::new(), |ns| format!(" in {ns}"));
            let (what, fields) = if shared.all_secrets {
                ("secrets", None)
            } else {
                (
                    "secrets type=kubernetes.io/tls",
                    Some("type=kubernetes.io/tls"),
                )
            };
            watched.push((
                format!("{prefix} {what}{scope}"),
                Watched::Secrets {
                    namespace: namespace.clone(),
                    fields,
                },
            ));
            watched.push((
                format!("{prefix} certificates.cert-manager.io{scope}"),
                Watched::Certificates {
                    namespace: namespace.clone(),
                },
            ));
        }
        if !shared.all_secrets
            && namespaces
                .iter()
                .any(|ns| ns.as_deref().is_none_or(|ns| ns == RANCHER_NAMESPACE))
        {
            watched.push((
                format!("{prefix} secrets type=Opaque in {RANCHER_NAMESPACE}"),
                Watched::Secrets {
                    namespace: Some(RANCHER_NAMESPACE.to_string()),
                    fields: Some("type=Opaque"),
                },
            ));
        }
        if shared.request.namespaces.is_empty() {
            watched.push((
                format!("{prefix} caBundles, node Events and agents"),
                Watched::ClusterWide,
            ));
        }
        watched
    }

    async fn run(self, client: Client, source: Source, first: oneshot::Sender<()>) {
        match self {
            Watched::Secrets { namespace, fields } => {
                let api: Api<Secret> = match &namespace {
                    Some(ns) => Api::namespaced(client, ns),
                    None => Api::all(client),
                };
                let request = source.shared.request.clone();
                let items = move |secret: &Secret| secret_items(secret, &request);
                watch(api, fields, source, items, first).await;
            }
            Watched::Certificates { namespace } => {
                let resource = certificate_resource();
                let api: Api<DynamicObject> = match &namespace {
                    Some(ns) => Api::namespaced_with(client, ns, &resource),
                    None => Api::all_with(client, &resource),
                };
                let request = source.shared.request.clone();
                let items = move |object: &DynamicObject| {
                    vec![certificate_item(&managed_certificate(object), &request)]
                };
                watch(api, None, source, items, first).await;
            }
            Watched::ClusterWide => cluster_wide(client, source, first).await,
        }
    }
}

/// One source's handle on the shared inventory.
struct Source {
    shared: Arc<Shared>,
    key: String,
    context: Option<String>,
}

impl Source {
    /// What the source reads, without the cluster and context it reads it from.
    fn what(&self) -> &str {
        let prefix = match &self.context {
            Some(context) => format!("cluster {context} "),
            None => "cluster ".to_string(),
        };
        self.key.strip_prefix(&prefix).unwrap_or(&self.key)
    }
}

impl Source {
    /// The source answered: `read`, logged when it was not up before.
    fn read(&self, message: String) {
        let was_up = self.shared.inventory.with(&self.key, |slot| {
            let was_up = slot.is_up();
            slot.set_state("read", message.clone());
            was_up
        });
        if was_up == Some(false) {
            self.shared.log.event("source up", &self.key, &message);
        }
    }

    /// A request failed; `absent`: the resource does not exist (cert-manager not
    /// installed), which is no alarm.
    fn failed(&self, message: String, absent: bool) {
        let state = if absent { "unavailable" } else { "unreachable" };
        let changed = self.shared.inventory.with(&self.key, |slot| {
            slot.errors += u64::from(!absent);
            let changed = slot.states.first().is_none_or(|s| s.state != state);
            slot.set_state(state, message.clone());
            // Its state is known: `/readyz` does not wait for a source that cannot be
            // read (it shows as `rcert_source_up 0`, which is what alerts need).
            slot.ready = true;
            changed
        });
        if changed == Some(true) {
            let event = if absent {
                "source absent"
            } else {
                "source down"
            };
            self.shared.log.event(event, &self.key, &message);
        }
    }

    /// The items of one object, labelled with the context under `--all-contexts`.
    fn labelled(&self, mut items: Vec<Item>) -> Vec<Item> {
        in_context(&mut items, self.context.as_deref());
        items
    }
}

/// LIST + WATCH one resource until the process ends.
async fn watch<K>(
    api: Api<K>,
    fields: Option<&'static str>,
    source: Source,
    items: impl Fn(&K) -> Vec<Item>,
    first: oneshot::Sender<()>,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut config = watcher::Config::default().page_size(crate::cluster::inventory::PAGE_SIZE);
    let mut params = ListParams::default().limit(1);
    if let Some(fields) = fields {
        config = config.fields(fields);
        params = params.fields(fields);
    }
    let mut first = Some(first);
    // Reset only after a minute without failures: a watcher that lists again after each
    // failure reports a success in between, which must not reset the backoff.
    let backoff = ResetTimerBackoff::new(WatchBackoff::default(), Duration::from_secs(60));
    let mut stream = watcher(api.clone(), config).backoff(backoff).boxed();
    loop {
        let down = source.is_down();
        tokio::select! {
            event = stream.next() => match event {
                Some(Ok(event)) => {
                    let listed = on_event(&source, event, &items);
                    if listed {
                        first.take().map(|first| first.send(()));
                    }
                }
                // 410 Gone: the watcher lists again (the Init event logs it); the
                // source did not fail.
                Some(Err(watcher::Error::WatchError(status))) if status.code == 410 => {}
                Some(Err(err)) => {
                    let (message, absent) = describe(&err, source.what());
                    source.failed(message, absent);
                    first.take().map(|first| first.send(()));
                    // A resource the cluster does not have (cert-manager not installed) is
                    // looked for again every --interval, not every few seconds.
                    if absent {
                        tokio::time::sleep(source.shared.interval).await;
                    }
                }
                None => return,
            },
            () = tokio::time::sleep(RECHECK), if down => {
                // The watcher resumes on its own; this only tells `up` the API answers.
                if api.list_metadata(&params).await.is_ok() {
                    source.read("the API server answers again".to_string());
                }
            }
        }
    }
}

/// Apply one watch event to the inventory; true when a list completed.
fn on_event<K: Resource>(
    source: &Source,
    event: Event<K>,
    items: &impl Fn(&K) -> Vec<Item>,
) -> bool {
    let key = |object: &K| {
        format!(
            "{}/{}",
            object.meta().namespace.as_deref().unwrap_or_default(),
            object.meta().name.as_deref().unwrap_or_default()
        )
    };
    let inventory = &source.shared.inventory;
    match event {
        Event::Init => {
            let relist = inventory.with(&source.key, |slot| {
                slot.list_started();
                slot.lists > 0
            });
            if relist == Some(true) {
                source.shared.log.event(
                    "relist",
                    &source.key,
                    "listing again (watch expired: 410 Gone)",
                );
            }
            false
        }
        Event::InitApply(object) | Event::Apply(object) => {
            let found = source.labelled(items(&object));
            inventory.with(&source.key, |slot| slot.apply(key(&object), found));
            source.read_if_down();
            false
        }
        Event::Delete(object) => {
            inventory.with(&source.key, |slot| slot.delete(&key(&object)));
            false
        }
        Event::InitDone => {
            let count = inventory
                .with(&source.key, |slot| {
                    slot.list_done();
                    slot.object_count()
                })
                .unwrap_or_default();
            source.read(format!("{count} object(s) listed, watching"));
            true
        }
    }
}

impl Source {
    /// Read once, and its last request failed.
    fn is_down(&self) -> bool {
        self.shared
            .inventory
            .with(&self.key, |slot| !slot.is_up() && slot.lists > 0)
            .unwrap_or(false)
    }

    /// An event arrived: a source marked down is up again.
    fn read_if_down(&self) {
        if self.is_down() {
            self.read("watching again".to_string());
        }
    }
}

/// A watcher error in one line, and whether it says the resource does not exist.
fn describe(err: &watcher::Error, what: &str) -> (String, bool) {
    match err {
        watcher::Error::InitialListFailed(err) => (
            describe_api_error(err, "list", what),
            matches!(err, kube::Error::Api(status) if status.code == 404),
        ),
        watcher::Error::WatchStartFailed(err) | watcher::Error::WatchFailed(err) => {
            (describe_api_error(err, "watch", what), false)
        }
        watcher::Error::WatchError(status) => (
            format!("watch {what}: {} {}", status.code, status.message),
            false,
        ),
        watcher::Error::NoResourceVersion => (
            format!("watch {what}: the API server sent no resourceVersion"),
            false,
        ),
    }
}

/// The cluster-wide objects (caBundles, node Events): read every `--interval`.
async fn cluster_wide(client: Client, source: Source, first: oneshot::Sender<()>) {
    let mut first = Some(first);
    loop {
        let request = source.shared.request.clone();
        let bundles = crate::cluster::webhooks::ca_bundles(&client).await;
        let events = crate::cluster::webhooks::certificate_events(&client).await;
        match (bundles, events) {
            (Ok(bundles), Ok(events)) => {
                let mut items: Vec<Item> = bundles
                    .iter()
                    .flat_map(|bundle| ca_bundle_items(bundle, &request))
                    .collect();
                items.extend(events.iter().map(|event| event_item(event, &request)));
                let items = source.labelled(items);
                let (gauges, problems) =
                    rancher_gauges(&client, &request, source.context.as_deref()).await;
                let message = format!(
                    "{} caBundle(s), {} node certificate Event(s) and {} Rancher agent fact(s) read",
                    bundles.len(),
                    events.len(),
                    gauges.len()
                );
                source.shared.inventory.with(&source.key, |slot| {
                    slot.list_started();
                    slot.apply(String::new(), items);
                    slot.list_done();
                    slot.gauges = gauges;
                });
                // What RBAC (or the network) kept from rcert is the source's failure.
                if problems.is_empty() {
                    source.read(message);
                } else {
                    source.failed(problems.join("; "), false);
                }
            }
            (Err(err), _) | (_, Err(err)) => source.failed(err.to_string(), false),
        }
        first.take().map(|first| first.send(()));
        tokio::time::sleep(source.shared.interval).await;
    }
}
