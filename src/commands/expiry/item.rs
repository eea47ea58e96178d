//! expiry's model: one item per certificate (or per thing that could not be read), where
//! it lives, how it stands at the time of judgement, and the step that renews it.

use serde::Serialize;
use time::OffsetDateTime;

use super::{fixes, ExpiryRequest};
use crate::check::{Cause, Fix, Status};
use crate::x509::cert::rfc3339;
use crate::x509::Cert;

/// Where a certificate was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A Secret in the cluster.
    Secret,
    /// A cert-manager Certificate's status.
    CertManager,
    /// A file of the node (RKE2, k3s, RKE1 paths).
    Node,
    /// A file given with `--path`.
    File,
    /// A kubeconfig's client certificate or CA.
    Kubeconfig,
    /// A live endpoint's served chain.
    Endpoint,
    /// A webhook configuration's or APIService's caBundle.
    CaBundle,
    /// A k3s/RKE2 Node Event about certificates.
    Event,
}

/// How an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Past its notAfter.
    Expired,
    /// Before its notBefore: clients refuse it as they refuse an expired one.
    NotYetValid,
    /// Could not be read: the error says why.
    Unreadable,
    /// A node's copy of Rancher's CA that Rancher no longer serves at `/cacerts`.
    Stale,
    /// Expires within `--within`.
    Expiring,
    /// Fine.
    Ok,
}

impl ItemStatus {
    pub(super) fn label(self) -> &'static str {
        match self {
            ItemStatus::Expired => "EXPIRED",
            ItemStatus::NotYetValid => "NOT VALID",
            ItemStatus::Unreadable => "UNREADABLE",
            ItemStatus::Stale => "STALE",
            ItemStatus::Expiring => "expiring",
            ItemStatus::Ok => "ok",
        }
    }

    /// The name in JSON and metrics labels (`not_yet_valid`).
    pub(super) fn name(self) -> &'static str {
        match self {
            ItemStatus::Expired => "expired",
            ItemStatus::NotYetValid => "not_yet_valid",
            ItemStatus::Unreadable => "unreadable",
            ItemStatus::Stale => "stale",
            ItemStatus::Expiring => "expiring",
            ItemStatus::Ok => "ok",
        }
    }

    pub(super) fn verdict(self) -> Status {
        match self {
            ItemStatus::Expired
            | ItemStatus::NotYetValid
            | ItemStatus::Unreadable
            | ItemStatus::Stale => Status::Failed,
            ItemStatus::Expiring => Status::Warning,
            ItemStatus::Ok => Status::Ok,
        }
    }
}

/// Labels that say where an item lives, in x509-certificate-exporter's names.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Place {
    /// Secret namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_namespace: Option<String>,
    /// Secret name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Secret key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// File path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filepath: Option<String>,
    /// In a kubeconfig: `user` or `cluster` (x509-certificate-exporter's `embedded_kind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_kind: Option<String>,
    /// In a kubeconfig: the user's or cluster's name (`embedded_key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_key: Option<String>,
    /// An endpoint's `HOST:PORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Position in a bundle or served chain that holds several certificates (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// One certificate (a bundle of three is three items), or one thing that could not be read.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `secret NS/NAME KEY[#n]`, `file PATH`, `kubeconfig PATH user NAME`,
    /// `endpoint HOST:PORT`, `certificate NS/NAME`, prefixed with `CONTEXT: ` under
    /// `--all-contexts`.
    pub location: String,
    /// What kind of place.
    pub source: Source,
    /// The kubeconfig context it was read through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Subject DN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Issuer DN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Start of validity (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// End of validity (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// Whole days left (negative once expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// expired, expiring, ok or unreadable.
    pub status: ItemStatus,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The command or step that renews it (for expired and expiring items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// When cert-manager plans to renew it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewal_time: Option<String>,
    /// Where it lives, as labels.
    #[serde(flatten)]
    pub place: Place,
    /// What renews it instead of a person (`Certificate NAME` of cert-manager).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
    /// A copy of Rancher's CA on a node: the Rancher URL whose `/cacerts` it must match.
    #[serde(skip)]
    pub(super) rancher_server: Option<String>,
    /// The certificate's sha256 fingerprint.
    #[serde(skip)]
    pub(super) fingerprint: Option<String>,
    #[serde(skip)]
    pub(super) not_after_time: Option<OffsetDateTime>,
    #[serde(skip)]
    pub(super) not_before_time: Option<OffsetDateTime>,
    /// A CA certificate (its renewal is a CA change).
    #[serde(skip)]
    pub(super) is_ca: bool,
}

impl Item {
    /// An item for a certificate, judged at `at` against `within`.
    pub(super) fn of_cert(
        cert: &Cert,
        location: String,
        source: Source,
        place: Place,
        request: &ExpiryRequest,
    ) -> Item {
        let mut item = Item::dated(location, source, place, cert.not_after_time(), request);
        if request.at < cert.not_before_time() {
            item.status = ItemStatus::NotYetValid;
            item.error = Some(format!(
                "not valid before {} (in {} day(s)): clients refuse it until then; check the clock of the machine that issued it",
                cert.not_before,
                (cert.not_before_time() - request.at).whole_days()
            ));
        }
        item.subject = Some(cert.subject.clone());
        item.issuer = Some(cert.issuer.clone());
        item.serial = Some(cert.serial.clone());
        item.not_before = Some(cert.not_before.clone());
        item.not_before_time = Some(cert.not_before_time());
        item.fingerprint = Some(cert.sha256_fingerprint.clone());
        item.is_ca = cert.is_ca;
        item.fix = fix_for(&item, cert.is_ca);
        item
    }

    /// The item judged again at `at` (the exporter keeps items for days): status, days
    /// left and fix follow the clock; what could not be read, what is stale and what
    /// cert-manager reports as not ready keep their status.
    pub(super) fn rejudge(&mut self, at: OffsetDateTime, within: std::time::Duration) {
        if !self.judged_by_date() {
            return;
        }
        let status = self.status_at(at, within);
        if let Some(not_after) = self.not_after_time {
            self.days_left = Some((not_after - at).whole_days());
        }
        if self.status == ItemStatus::NotYetValid && status != ItemStatus::NotYetValid {
            self.error = None;
        }
        self.status = status;
        if self.source != Source::Event {
            self.fix = fix_for(self, self.is_ca);
        }
    }

    /// The status at `at`: by the dates for an item judged by them; what could not be
    /// read, what is stale and what cert-manager reports as not ready keep theirs.
    pub(super) fn status_at(&self, at: OffsetDateTime, within: std::time::Duration) -> ItemStatus {
        let Some(not_after) = self.not_after_time.filter(|_| self.judged_by_date()) else {
            return self.status;
        };
        if self
            .not_before_time
            .is_some_and(|not_before| at < not_before)
        {
            ItemStatus::NotYetValid
        } else if at > not_after {
            ItemStatus::Expired
        } else if not_after - at <= within {
            ItemStatus::Expiring
        } else {
            ItemStatus::Ok
        }
    }

    fn judged_by_date(&self) -> bool {
        matches!(
            self.status,
            ItemStatus::Ok | ItemStatus::Expiring | ItemStatus::Expired | ItemStatus::NotYetValid
        )
    }

    /// Drop a fix that follows from the status at the time of reading (the exporter
    /// renders it again for the time of each request); a k3s/RKE2 Event's fix, and the
    /// fix of what could not be read, stay.
    pub(super) fn forget_fix(&mut self) {
        if self.judged_by_date() && self.source != Source::Event {
            self.fix = None;
        }
    }

    /// An item known only by its end of validity (a cert-manager Certificate's status).
    pub(super) fn dated(
        location: String,
        source: Source,
        place: Place,
        not_after: OffsetDateTime,
        request: &ExpiryRequest,
    ) -> Item {
        let status = if request.at > not_after {
            ItemStatus::Expired
        } else if not_after - request.at <= request.within {
            ItemStatus::Expiring
        } else {
            ItemStatus::Ok
        };
        let mut item = Item::unreadable(location, source, place, String::new());
        item.error = None;
        item.status = status;
        item.not_after = Some(rfc3339(not_after));
        item.not_after_time = Some(not_after);
        item.days_left = Some((not_after - request.at).whole_days());
        item.fix = fix_for(&item, false);
        item
    }

    /// An item for something that could not be read.
    pub(super) fn unreadable(
        location: String,
        source: Source,
        place: Place,
        error: String,
    ) -> Item {
        Item {
            location,
            source,
            context: None,
            subject: None,
            issuer: None,
            serial: None,
            not_before: None,
            not_after: None,
            days_left: None,
            status: ItemStatus::Unreadable,
            error: Some(error),
            fix: Some(Fix::words(
                Cause::Unparseable,
                "see what it holds (rcert inspect on a copy of it), then put the certificate back in PEM, or remove what is not one",
            )),
            renewal_time: None,
            managed_by: None,
            rancher_server: None,
            fingerprint: None,
            place,
            not_after_time: None,
            not_before_time: None,
            is_ca: false,
        }
    }

    /// The subject's CN (or the whole subject), for labels and tables.
    pub(super) fn subject_cn(&self) -> String {
        common_name(self.subject.as_deref().unwrap_or_default())
    }
}

/// The CN of a DN as rcert prints it (`O=x, CN=y` → `y`), else the DN.
pub(crate) fn common_name(dn: &str) -> String {
    dn.split(", ")
        .find_map(|part| part.strip_prefix("CN="))
        .unwrap_or(dn)
        .to_string()
}

/// The step that renews an expired or expiring item, from what the item is: the commands
/// as argv where commands do it, the words where they do not.
pub(crate) fn fix_for(item: &Item, is_ca: bool) -> Option<Fix> {
    if item.status == ItemStatus::Ok {
        return None;
    }
    let cause = match item.status {
        ItemStatus::NotYetValid => Cause::NotYetValid,
        ItemStatus::Unreadable => Cause::Unparseable,
        ItemStatus::Stale => Cause::CacertsMismatch,
        ItemStatus::Expired => Cause::Expired,
        _ => Cause::ExpiresSoon,
    };
    let words = |text: String| Some(Fix::words(cause, text));
    let run = |argv: &[&str]| Fix::command(cause, argv.iter().map(|word| word.to_string()));
    if item.status == ItemStatus::NotYetValid {
        return Some(run(&["timedatectl"]).note("its notBefore is in the future: check the clocks of the machine that issued it and of this one; reissue it if the issuer's clock was wrong"));
    }
    let path = item.place.filepath.as_deref().unwrap_or_default();
    let distro = if path.contains("/k3s/") {
        "k3s"
    } else {
        "rke2"
    };
    let secret = item.place.secret_name.as_deref().unwrap_or_default();
    let namespace = item.place.secret_namespace.as_deref().unwrap_or_default();
    if let Some(certificate) = item
        .managed_by
        .as_deref()
        .and_then(|owner| owner.strip_prefix("Certificate "))
    {
        return Some(
            run(&["cmctl", "renew", "-n", namespace, certificate])
                .note(format!("cert-manager renews it (Certificate {namespace}/{certificate}); kubectl -n {namespace} describe certificate {certificate} shows issuer errors — do not edit the secret, cert-manager would overwrite it")),
        );
    }
    if matches!(item.source, Source::Node | Source::File) {
        if let Some(fix) = fixes::node_fix(path, is_ca, item.days_left, cause) {
            return Some(fix);
        }
    }
    match item.source {
        Source::Kubeconfig if path.ends_with("rke2.yaml") || path.ends_with("k3s.yaml") => Some(
            run(&["systemctl", "restart", if distro == "k3s" { "k3s" } else { "rke2-server" }])
                .note(format!("it rewrites {path} with a new client certificate; then copy it again")),
        ),
        Source::Kubeconfig => words(
            "get a new kubeconfig: Rancher UI → cluster → Download KubeConfig (or ask the cluster admin); a client certificate cannot be renewed in place".to_string(),
        ),
        Source::Secret if secret == "cattle-webhook-tls" => Some(
            run(&["kubectl", "-n", namespace, "delete", "secret", "cattle-webhook-tls"])
                .then(["kubectl", "-n", namespace, "delete", "pod", "-l", "app=rancher-webhook"])
                .note("the webhook issues a new one"),
        ),
        Source::Secret if is_ca && secret == crate::rancher::CA_SECRET => words(format!(
            "a new private CA for Rancher: rcert selfsign … --out ./new && rcert rotate plan --to ./new (secret {namespace}/{secret})"
        )),
        Source::Secret if is_ca => words(format!(
            "renew this CA where it was made and re-issue what it signed, then update secret {namespace}/{secret} (and whoever trusts it)"
        )),
        Source::Secret if secret == crate::rancher::TLS_SECRET => words(format!(
            "rcert selfsign --host <rancher host> --ca-cert cacerts.pem --ca-key cakey.pem --out ./renewed && rcert push --namespace {namespace} --dir ./renewed (or renew with your CA)"
        )),
        Source::Secret => words(format!("renew the certificate and update secret {namespace}/{secret}")),
        Source::CertManager => words(
            "cert-manager renews it at renewalTime; if overdue: kubectl describe certificate (issuer errors) or cmctl renew".to_string(),
        ),
        Source::Endpoint => words(
            "renew the certificate this endpoint serves (its secret, load balancer or ingress)".to_string(),
        ),
        // rancher-webhook: its CA (cattle-webhook-ca, 10 years) is never renewed; its
        // serving certificate (cattle-webhook-tls) is, 90 days before expiry.
        Source::CaBundle if item.place.embedded_key.as_deref().is_some_and(|key| key.starts_with("rancher.cattle.io")) => Some(
            run(&["kubectl", "-n", "cattle-system", "delete", "secret", "cattle-webhook-ca", "cattle-webhook-tls"])
                .then(["kubectl", "-n", "cattle-system", "rollout", "restart", "deploy/rancher-webhook"])
                .note("rancher-webhook's CA (secret cattle-webhook-ca, 10 years) is never renewed by itself: it issues a new CA at start and writes it into the caBundles"),
        ),
        Source::Event => item.fix.clone(),
        Source::CaBundle => words(
            "renew the CA of this webhook or APIService and put it in its caBundle (the component that owns it usually does at start)".to_string(),
        ),
        Source::Node | Source::File => words(format!("renew {path}")),
    }
}
