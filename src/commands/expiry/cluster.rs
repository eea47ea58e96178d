//! expiry's cluster and endpoint sources: every Secret holding PEM certificates and every
//! cert-manager Certificate, through one context or all of them; live endpoints' chains.

use k8s_openapi::api::core::v1::Secret;

use super::{ExpiryRequest, Item, ItemStatus, Place, Source, SourceState};
use crate::check::{Cause, Fix};
use crate::checks::served;
use crate::cluster::inventory::{certificates, each_secret, ManagedCertificate};
use crate::cluster::ClusterTarget;
use crate::tls::ProbeRequest;
use crate::x509::pem;
use crate::x509::Cert;

/// Items, source states and API requests of the cluster part.
type Collected = (Vec<Item>, Vec<SourceState>, u32);

/// The cluster part: one context (or every context, concurrently).
pub(super) async fn collect(request: &ExpiryRequest) -> Result<Collected, crate::Error> {
    if request.no_cluster {
        return Ok((Vec::new(), Vec::new(), 0));
    }
    if !request.cluster.available() {
        let state = SourceState {
            context: None,
            source: "cluster".to_string(),
            state: "unavailable".to_string(),
            message: "no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a cluster: skipped"
                .to_string(),
        };
        return Ok((Vec::new(), vec![state], 0));
    }
    let contexts = contexts_to_read(request).await?;
    use futures::StreamExt as _;
    let runs = futures::stream::iter(contexts.iter().map(|target| one_context(request, target)))
        .buffered(request.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut collected: Collected = (Vec::new(), Vec::new(), 0);
    for (items, state, requests) in runs {
        collected.0.extend(items);
        collected.1.push(state);
        collected.2 += requests;
    }
    Ok(collected)
}

/// The clusters the request reads (one per context with `--all-contexts`); an explicit
/// kubeconfig or context that cannot be used is bad input (exit 2), found before anything
/// is read.
pub(super) async fn contexts_to_read(
    request: &ExpiryRequest,
) -> Result<Vec<ClusterTarget>, crate::Error> {
    let cluster = &request.cluster;
    let targets = if request.all_contexts {
        cluster.every_context()?
    } else {
        vec![cluster.clone()]
    };
    if request.all_contexts || cluster.kubeconfig.is_some() || cluster.context.is_some() {
        for target in &targets {
            target.connect().await?;
        }
    }
    Ok(targets)
}

async fn one_context(
    request: &ExpiryRequest,
    target: &ClusterTarget,
) -> (Vec<Item>, SourceState, u32) {
    let context = target.context.as_deref();
    let label = match (context, request.all_contexts) {
        (Some(context), true) => format!("cluster {context}"),
        _ => "cluster".to_string(),
    };
    let source_context = context.filter(|_| request.all_contexts).map(str::to_string);
    let unreachable = |message: String| SourceState {
        context: source_context.clone(),
        source: label.clone(),
        state: "unreachable".to_string(),
        message,
    };
    let connected = match target.connect().await {
        Ok(connected) => connected,
        Err(err) => return (Vec::new(), unreachable(err.to_string()), 0),
    };
    let (client, url, requests) = (connected.client, connected.url, connected.requests);
    let namespaces: Vec<Option<&str>> = if request.namespaces.is_empty() {
        vec![None]
    } else {
        request
            .namespaces
            .iter()
            .map(|ns| Some(ns.as_str()))
            .collect()
    };
    let mut items = Vec::new();
    let mut secrets = 0;
    let mut managed = Vec::new();
    for namespace in &namespaces {
        let listed = each_secret(&client, *namespace, |secret| {
            secrets += 1;
            items.extend(secret_items(secret, request));
        })
        .await;
        if let Err(message) = listed {
            return (items, unreachable(message.to_string()), requests.count());
        }
        match certificates(&client, *namespace).await {
            Ok(Some(found)) => managed.extend(found),
            Ok(None) => {}
            Err(message) => return (items, unreachable(message.to_string()), requests.count()),
        }
    }
    let managed_count = managed.len();
    items.extend(
        managed
            .iter()
            .map(|certificate| certificate_item(certificate, request)),
    );
    // Cluster-wide objects: read only when no --namespace narrows the inventory.
    let (mut bundles, mut events) = (0, 0);
    if request.namespaces.is_empty() {
        match crate::cluster::webhooks::ca_bundles(&client).await {
            Ok(found) => {
                bundles = found.len();
                items.extend(
                    found
                        .iter()
                        .flat_map(|bundle| ca_bundle_items(bundle, request)),
                );
            }
            // Not allowed to read them (RBAC): said as an item, never skipped silently.
            Err(message) => items.push(not_listed(
                "webhook configurations and APIServices",
                &message,
            )),
        }
        match crate::cluster::webhooks::certificate_events(&client).await {
            Ok(found) => {
                events = found.len();
                items.extend(found.iter().map(|event| event_item(event, request)));
            }
            Err(message) => items.push(not_listed("node certificate Events", &message)),
        }
    }
    if request.all_contexts {
        in_context(&mut items, context);
    }
    let state = SourceState {
        context: source_context,
        source: label,
        state: "read".to_string(),
        message: format!(
            "{secrets} secret(s), {managed_count} cert-manager Certificate(s), {bundles} webhook/APIService caBundle(s) and {events} node certificate Event(s) read from {url}"
        ),
    };
    (items, state, requests.count())
}

/// Items read through one of several contexts: the context prefixes the location and
/// labels every series (`None`: one context, nothing added).
pub(super) fn in_context(items: &mut [Item], context: Option<&str>) {
    let Some(context) = context else { return };
    for item in items {
        item.location = format!("{context}: {}", item.location);
        item.context = Some(context.to_string());
    }
}

/// What could not be listed (typically RBAC), as an unreadable item with the fix.
fn not_listed(what: &str, error: &crate::cluster::RemoteError) -> Item {
    let mut item = Item::unreadable(
        format!("cluster {what}"),
        Source::CaBundle,
        Place::default(),
        format!("cannot list {what}: {error}"),
    );
    item.fix = Some(Fix::words(Cause::ApiError, "allow get/list on validatingwebhookconfigurations, mutatingwebhookconfigurations (admissionregistration.k8s.io), apiservices (apiregistration.k8s.io) and list on events (see deploy/base/rbac.yaml)"));
    item
}

/// A node's certificate Event as an item, dated by the time its message names (k3s and
/// RKE2 write "… will expire within N days at TIME" / "… expired at TIME"), else expiring.
pub(super) fn event_item(
    event: &crate::cluster::webhooks::CertificateEvent,
    request: &ExpiryRequest,
) -> Item {
    let place = Place {
        embedded_kind: Some("node".to_string()),
        embedded_key: Some(event.node.clone()),
        ..Place::default()
    };
    let location = format!("event node/{} {}", event.node, event.reason);
    let named_time = event.message.split_whitespace().find_map(|word| {
        let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        time::OffsetDateTime::parse(word, &time::format_description::well_known::Rfc3339).ok()
    });
    let mut item = match named_time {
        Some(at) => Item::dated(location, Source::Event, place, at, request),
        None => {
            let mut item = Item::unreadable(location, Source::Event, place, String::new());
            item.status = super::ItemStatus::Expiring;
            item
        }
    };
    item.error = Some(event.message.clone());
    item.fix = Some(Fix::words(
        Cause::ExpiresSoon,
        if event.reason.starts_with("CA") {
            format!("a CA certificate of node {} expires within a year: k3s|rke2 certificate rotate-ca --path=DIR_WITH_NEW_CA on a server, then restart every node", event.node)
        } else {
            format!("restart k3s or rke2 on node {} (the unit its message names: k3s, k3s-agent, rke2-server or rke2-agent): certificates inside the renewal window are renewed at start", event.node)
        },
    ));
    item
}

/// The certificates of one webhook or APIService caBundle.
pub(super) fn ca_bundle_items(
    bundle: &crate::cluster::webhooks::CaBundleRef,
    request: &ExpiryRequest,
) -> Vec<Item> {
    let place = Place {
        embedded_kind: Some(bundle.kind.to_string()),
        embedded_key: Some(match &bundle.webhook {
            Some(webhook) => format!("{}/{webhook}", bundle.object),
            None => bundle.object.clone(),
        }),
        ..Place::default()
    };
    let location = format!("cabundle {}", bundle.describe());
    blob_items(
        &location,
        &bundle.bytes,
        &location,
        Source::CaBundle,
        &place,
        request,
        true,
    )
}

/// Every certificate a Secret holds, one item each (`KEY#n` when a key holds several).
pub(super) fn secret_items(secret: &Secret, request: &ExpiryRequest) -> Vec<Item> {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let is_tls = secret.type_.as_deref() == Some("kubernetes.io/tls");
    let mut items = Vec::new();
    let Some(data) = &secret.data else {
        return items;
    };
    for (key, bytes) in data {
        let place = Place {
            secret_namespace: Some(namespace.clone()),
            secret_name: Some(name.clone()),
            secret_key: Some(key.clone()),
            ..Place::default()
        };
        let location = format!("secret {namespace}/{name} {key}");
        let expected = certificate_name(key) || (is_tls && key == "tls.crt");
        items.extend(blob_items(
            &location,
            &bytes.0,
            &location,
            Source::Secret,
            &place,
            request,
            expected,
        ));
    }
    // A secret cert-manager manages is renewed through its Certificate, never by hand.
    if let Some(owner) = crate::cluster::secrets::cert_manager_owner(secret) {
        for item in &mut items {
            item.managed_by = Some(owner.clone());
            item.fix = super::fix_for(item, false);
        }
    }
    items
}

/// What bytes from outside hold for the inventory: one item per certificate (PEM, DER or
/// PKCS#7; private key blocks ignored). `expected`: the bytes were named as a certificate
/// (a file given with `--path`, a `*.crt` file, a secret key such as `ca.crt`), so holding
/// none is an unreadable item with the reason; otherwise bytes that are not certificates
/// are not part of the inventory, unless they look like a broken one.
pub(super) fn blob_items(
    source_name: &str,
    bytes: &[u8],
    location: &str,
    source: Source,
    place: &Place,
    request: &ExpiryRequest,
    expected: bool,
) -> Vec<Item> {
    let unreadable = |why: String| {
        vec![Item::unreadable(
            location.to_string(),
            source,
            place.clone(),
            why,
        )]
    };
    let parsed = match pem::parse_bytes(source_name, &pem::without_private_keys(bytes)) {
        Ok(parsed) => parsed,
        Err(err) if expected || looks_like_certificates(bytes) => {
            return unreadable(err.to_string())
        }
        Err(_) => return Vec::new(),
    };
    let certs = parsed
        .into_iter()
        .filter_map(|item| match item {
            pem::Item::Certificate(der) => Some(Cert::from_der(der)),
            _ => None,
        })
        .collect::<Result<Vec<Cert>, _>>();
    match certs {
        Err(err) => unreadable(format!("{source_name}: {err}")),
        Ok(certs) if certs.is_empty() && expected => {
            unreadable(format!("{source_name}: holds no certificate"))
        }
        Ok(certs) => certs_items(&certs, location, source, place, request),
    }
}

/// PEM text that announces certificates (a broken one is worth reporting).
fn looks_like_certificates(bytes: &[u8]) -> bool {
    [&b"-----BEGIN CERTIFICATE"[..], b"-----BEGIN PKCS7"]
        .iter()
        .any(|marker| bytes.windows(marker.len()).any(|window| window == *marker))
}

/// Whether a file or secret key name says it holds certificates (`*.crt`, `*.pem`,
/// `*.cer`, `*.der`, `*.p7b`, `*.p7c`, not a key).
pub(super) fn certificate_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [".crt", ".pem", ".cer", ".der", ".p7b", ".p7c"]
        .iter()
        .any(|ext| name.ends_with(ext))
        && !name.contains("key")
}

/// One item per certificate; with several, each location ends in `#n` and its place
/// carries the index, so no two items share a label set.
pub(super) fn certs_items(
    certs: &[Cert],
    location: &str,
    source: Source,
    place: &Place,
    request: &ExpiryRequest,
) -> Vec<Item> {
    let several = certs.len() > 1;
    certs
        .iter()
        .enumerate()
        .map(|(index, cert)| {
            let mut place = place.clone();
            let location = if several {
                place.index = Some(index + 1);
                format!("{location}#{}", index + 1)
            } else {
                location.to_string()
            };
            Item::of_cert(cert, location, source, place, request)
        })
        .collect()
}

/// A cert-manager Certificate as an item, from its status.
pub(super) fn certificate_item(certificate: &ManagedCertificate, request: &ExpiryRequest) -> Item {
    let location = format!("certificate {}/{}", certificate.namespace, certificate.name);
    let place = Place {
        secret_namespace: Some(certificate.namespace.clone()),
        secret_name: certificate.secret_name.clone(),
        secret_key: None,
        ..Place::default()
    };
    let parse = |text: &Option<String>| {
        text.as_deref().and_then(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        })
    };
    let Some(not_after) = parse(&certificate.not_after) else {
        let why = match &certificate.ready {
            Some((status, message)) => {
                format!("no status.notAfter yet (Ready={status}: {message})")
            }
            None => "no status.notAfter yet: cert-manager has not issued it".to_string(),
        };
        return Item::unreadable(location, Source::CertManager, place, why);
    };
    let mut item = Item::dated(location, Source::CertManager, place, not_after, request);
    item.renewal_time = certificate.renewal_time.clone();
    if let Some((status, message)) = &certificate.ready {
        if status != "True" {
            // The reason cert-manager gives stays on the item whatever its dates say.
            item.error = Some(format!("Ready={status}: {message}"));
            if item.status == ItemStatus::Ok {
                item.status = ItemStatus::Unreadable;
            }
        }
    }
    item
}

/// The endpoints' served chains, probed concurrently with probe's client.
pub(super) async fn collect_endpoints(request: &ExpiryRequest) -> (Vec<Item>, Vec<SourceState>) {
    if request.targets.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let probe = ProbeRequest {
        at: request.at,
        targets: request.targets.clone(),
        servername: None,
        ca: None,
        alpn: crate::tls::Alpn::browser(),
        timeout: request.cluster.timeout,
        concurrency: 16,
        rancher: false,
        warn_days: 0,
        clients: crate::check::Clients::DEFAULT_SELECTION,
        max_depth: None,
    };
    let report = served::probe(&probe, None).await;
    let mut items = Vec::new();
    let mut states = Vec::new();
    for result in &report.results {
        let location = format!("endpoint {}", result.target);
        if let Some(error) = &result.error {
            states.push(SourceState {
                context: None,
                source: location,
                state: "unreachable".to_string(),
                message: error.clone(),
            });
            continue;
        }
        let place = Place {
            target: Some(result.target.to_string()),
            ..Place::default()
        };
        items.extend(certs_items(
            &result.chain,
            &location,
            Source::Endpoint,
            &place,
            request,
        ));
        states.push(SourceState {
            context: None,
            source: location,
            state: "read".to_string(),
            message: format!("{} certificate(s) served", result.chain.len()),
        });
    }
    (items, states)
}
