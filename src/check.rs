//! The verdict vocabulary every command shares: a [`Check`] with its [`Status`].

use serde::Serialize;

mod finding;

pub use finding::{Cause, Evidence, Fix, Subject};

/// Process exit codes shared by every command (see ARCHITECTURE.md).
pub mod exit {
    /// All checks passed (warnings allowed).
    pub const OK: u8 = 0;
    /// A check failed: invalid chain, name or key mismatch, untrusted handshake.
    pub const CHECK_FAILED: u8 = 1;
    /// Bad usage or unreadable / malformed input.
    pub const BAD_INPUT: u8 = 2;
    /// The remote side was unreachable, timed out or answered with an error.
    pub const REMOTE: u8 = 3;
    /// Stopped by SIGINT/SIGTERM (128 + 2, as shells report it).
    pub const INTERRUPTED: u8 = 130;
}

/// Verdict of one check, or of a whole report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Could not run (no kubeconfig, endpoint unreachable); the reason is in the message.
    Skipped,
    /// Passed.
    Ok,
    /// Passed, but worth acting on.
    Warning,
    /// Failed: exit code 1.
    Failed,
}

impl Status {
    /// The worst status among the checks (ok when there are none; skipped counts as ok).
    pub fn worst<'a>(checks: impl IntoIterator<Item = &'a Check>) -> Status {
        checks
            .into_iter()
            .map(|check| check.status)
            .max()
            .unwrap_or(Status::Ok)
            .max(Status::Ok)
    }

    /// The label printed in text tables.
    pub fn label(self) -> &'static str {
        match self {
            Status::Skipped => "skipped",
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "FAILED",
        }
    }
}

/// What a check is about: a stable identifier, serialised in snake_case
/// (`chain`, `ca_checksum`, …) so JSON consumers and the golden transcripts see strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// A path from the leaf to a trust anchor.
    Chain,
    /// Leaf first, each certificate followed by its issuer.
    Order,
    /// Every certificate on the path within its validity period.
    Validity,
    /// RFC 5280 structure of every certificate on the path.
    Profile,
    /// Keys, signature algorithms and serial numbers.
    Crypto,
    /// The leaf has Subject Alternative Names.
    San,
    /// The leaf is valid for a requested host.
    Name,
    /// The private key belongs to the leaf.
    Key,
    /// `cacerts.pem` holds only CA certificates.
    CaFile,
    /// The `CATTLE_CA_CHECKSUM` agents compare.
    CaChecksum,
    /// The TLS handshake completed.
    Handshake,
    /// Rancher's `/ping` answered `pong`.
    Ping,
    /// What Rancher's `/cacerts` serves.
    Cacerts,
    /// `/cacerts` holds the CA of the served chain.
    CacertsChain,
    /// `/cacerts` equals the local CA file.
    CacertsLocal,
    /// Every node serves the same `/cacerts`.
    CacertsNode,
    /// Every target serves the same chain.
    SameChain,
    /// A Secret exists, with the right type and data.
    Secret,
    /// The Secrets could be read.
    Secrets,
    /// What an endpoint serves equals the Secret.
    Served,
    /// The `tls-ca` Secret.
    TlsCa,
    /// Local files equal the Secrets.
    Drift,
    /// The endpoint could be reached.
    Reachable,
    /// A kubeconfig entry that cannot be used (a context without a cluster or server).
    Kubeconfig,
    /// Rancher's `cacerts` setting against `tls-ca`.
    CacertsSetting,
    /// The agents' `CATTLE_CA_CHECKSUM` against what `/cacerts` serves.
    AgentChecksum,
    /// A downstream cluster's `Connected` / `AgentTlsStrictCheck` conditions.
    Cluster,
    /// The Rancher helm release's TLS values.
    HelmValues,
    /// The cert-manager Certificate that owns a secret.
    CertManager,
    /// A kubeconfig's client certificate.
    ClientCert,
    /// A kubeconfig's certificate-authority data.
    CaData,
    /// A private key in a file meant to be public (tls.crt, cacerts.pem).
    PrivateKey,
    /// Who accepts the chain: Go, OpenSSL, strict verifiers.
    Clients,
    /// Rancher's `agent-tls-mode` (strict or system-store) and what it requires.
    AgentTlsMode,
    /// rancher-webhook's caBundles against the certificate it serves.
    Webhook,
}

impl CheckId {
    /// The identifier as printed in text tables.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::Chain => "chain",
            CheckId::Order => "order",
            CheckId::Validity => "validity",
            CheckId::Profile => "profile",
            CheckId::Crypto => "crypto",
            CheckId::San => "san",
            CheckId::Name => "name",
            CheckId::Key => "key",
            CheckId::CaFile => "ca_file",
            CheckId::CaChecksum => "ca_checksum",
            CheckId::Handshake => "handshake",
            CheckId::Ping => "ping",
            CheckId::Cacerts => "cacerts",
            CheckId::CacertsChain => "cacerts_chain",
            CheckId::CacertsLocal => "cacerts_local",
            CheckId::CacertsNode => "cacerts_node",
            CheckId::SameChain => "same_chain",
            CheckId::Secret => "secret",
            CheckId::Secrets => "secrets",
            CheckId::Served => "served",
            CheckId::TlsCa => "tls_ca",
            CheckId::Drift => "drift",
            CheckId::Reachable => "reachable",
            CheckId::Kubeconfig => "kubeconfig",
            CheckId::CacertsSetting => "cacerts_setting",
            CheckId::AgentChecksum => "agent_checksum",
            CheckId::Cluster => "cluster",
            CheckId::HelmValues => "helm_values",
            CheckId::CertManager => "cert_manager",
            CheckId::ClientCert => "client_cert",
            CheckId::CaData => "ca_data",
            CheckId::PrivateKey => "private_key",
            CheckId::Clients => "clients",
            CheckId::AgentTlsMode => "agent_tls_mode",
            CheckId::Webhook => "webhook",
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One check and its evidence: a finding when it did not pass.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What the check is about (`-o json`: `id`).
    #[serde(rename = "id")]
    pub name: CheckId,
    /// The verdict.
    pub status: Status,
    /// Why it did not pass: a stable code (absent when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// What it is about, typed (absent when the check is about the whole chain or run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    /// The values its cause is about (two checksums, a validity window), typed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// One line an operator understands.
    pub message: String,
    /// How to fix it (absent when it passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// On the `clients` line: the verdict of each client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Verdicts>,
}

impl Check {
    /// A passed check.
    pub fn ok(name: CheckId, message: String) -> Check {
        Check {
            name,
            status: Status::Ok,
            cause: None,
            subject: None,
            evidence: None,
            message,
            fix: None,
            clients: None,
        }
    }

    /// A check that passed with a warning.
    pub fn warning(name: CheckId, cause: Cause, message: String) -> Check {
        Check::finding(name, Status::Warning, cause, message)
    }

    /// A failed check.
    pub fn failed(name: CheckId, cause: Cause, message: String) -> Check {
        Check::finding(name, Status::Failed, cause, message)
    }

    /// A check that could not run, with the reason.
    pub fn skipped(name: CheckId, cause: Cause, message: String) -> Check {
        Check::finding(name, Status::Skipped, cause, message)
    }

    /// A finding whose fix, until one is given, is the documentation of its cause
    /// (none when there is nothing to fix: [`Cause::NotPresent`]).
    pub fn finding(name: CheckId, status: Status, cause: Cause, message: String) -> Check {
        Check {
            name,
            status,
            cause: Some(cause),
            subject: None,
            evidence: None,
            message,
            fix: (cause != Cause::NotPresent).then(|| Fix::doc(cause)),
            clients: None,
        }
    }

    /// The same check about `subject`.
    pub fn about(mut self, subject: Subject) -> Check {
        self.subject = Some(subject);
        self
    }

    /// The same check about `subject`, unless it already names what it is about.
    pub fn about_by_default(mut self, subject: &Subject) -> Check {
        if self.subject.is_none() {
            self.subject = Some(subject.clone());
        }
        self
    }

    /// The same finding with the values its cause is about.
    pub fn with_evidence(mut self, evidence: Evidence) -> Check {
        self.evidence = Some(evidence);
        self
    }

    /// The same finding with its fix.
    pub fn with_fix(mut self, fix: Fix) -> Check {
        self.fix = Some(fix);
        self
    }

    /// The same finding (cause, fix, clients kept) with another status and message.
    pub fn restated(mut self, status: Status, message: String) -> Check {
        self.status = status;
        self.message = message;
        self
    }
}

/// A word as a POSIX shell reads it: as is when it needs no quoting, else in single quotes.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Text from outside (a certificate's names, a server's answer) with every control
/// character written as `\XX`, as openssl prints `\1B`: it can neither move the cursor
/// nor erase a line, and (with `lines: false`) never breaks a table row.
pub fn escape_control(text: &str, lines: bool) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if lines && (c == '\n' || c == '\t') || !c.is_control() {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:02X}", u32::from(c)));
        }
    }
    out
}

/// The clients whose verdict rcert models: who reads a certificate in a Rancher install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Clients {
    /// Go's crypto/x509: Rancher agents, Rancher, kubectl, helm, fleet.
    pub go: bool,
    /// OpenSSL 3's default verification: curl, wget, nginx `proxy_ssl_verify`, s_client.
    pub openssl: bool,
    /// RFC 5280 + CA/Browser Forum as the strictest verifiers (rustls/webpki, browsers)
    /// and certificate linters read them.
    pub strict: bool,
}

impl Clients {
    /// Every client.
    pub const ALL: Clients = Clients {
        go: true,
        openssl: true,
        strict: true,
    };
    /// The strict reading alone (a rule only RFC 5280 / CA/B Forum state).
    pub const STRICT: Clients = Clients {
        go: false,
        openssl: false,
        strict: true,
    };
    /// Go and the strict reading (e.g. a CN-only certificate: OpenSSL falls back to the CN).
    pub const GO_STRICT: Clients = Clients {
        go: true,
        openssl: false,
        strict: true,
    };
    /// Go alone.
    pub const GO_ONLY: Clients = Clients {
        go: true,
        openssl: false,
        strict: false,
    };
    /// OpenSSL alone.
    pub const OPENSSL_ONLY: Clients = Clients {
        go: false,
        openssl: true,
        strict: false,
    };
    /// OpenSSL and the strict reading (e.g. a CA key without keyCertSign: Go ignores keyUsage).
    pub const OPENSSL_STRICT: Clients = Clients {
        go: false,
        openssl: true,
        strict: true,
    };
    /// The default selection whose rejection fails a check: what breaks a Rancher install.
    pub const DEFAULT_SELECTION: Clients = Clients {
        go: true,
        openssl: true,
        strict: false,
    };

    /// Parse `--clients go,openssl` or `all`.
    pub fn parse(list: &str) -> Result<Clients, ClientsError> {
        let mut chosen = Clients::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "all" => chosen = Clients::ALL,
                "go" => chosen.go = true,
                "openssl" => chosen.openssl = true,
                "strict" => chosen.strict = true,
                other => return Err(ClientsError::Unknown(other.to_string())),
            }
        }
        if chosen == Clients::default() {
            return Err(ClientsError::Empty);
        }
        Ok(chosen)
    }

    /// Whether any client is in both sets.
    pub fn meets(self, other: Clients) -> bool {
        (self.go && other.go) || (self.openssl && other.openssl) || (self.strict && other.strict)
    }

    /// The union of two sets.
    pub fn with(self, other: Clients) -> Clients {
        Clients {
            go: self.go || other.go,
            openssl: self.openssl || other.openssl,
            strict: self.strict || other.strict,
        }
    }

    /// Whether no client is in the set.
    pub fn is_empty(self) -> bool {
        self == Clients::default()
    }

    /// The clients of the set by name, in a fixed order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (self.go, "go"),
            (self.openssl, "openssl"),
            (self.strict, "strict"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// Who a rejection by this set breaks, in an operator's words.
    pub fn who(self) -> String {
        let mut names = Vec::new();
        if self.go {
            names.push("Go clients (Rancher agents, kubectl, helm)");
        }
        if self.openssl {
            names.push("OpenSSL clients (curl, nginx)");
        }
        if self.strict {
            names.push(
                "the strict RFC 5280 / CA/Browser Forum reading (linters, the strictest verifiers)",
            );
        }
        names.join(", ")
    }
}

/// A `--clients` value that names no known client.
#[derive(Debug, thiserror::Error)]
pub enum ClientsError {
    /// A name that is not a client.
    #[error("unknown client '{0}': choose from go, openssl, strict, all")]
    Unknown(String),
    /// Nothing named.
    #[error("name at least one client: go, openssl, strict or all")]
    Empty,
}

/// One client's verdict on a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientVerdict {
    /// Whether the client accepts the chain for the name(s) checked.
    pub accept: bool,
    /// Why it rejects (the first reason, in that client's words where rcert knows them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The verdict of each client rcert models, for one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdicts {
    /// Go's crypto/x509 (Rancher agents, Rancher, kubectl, helm, fleet).
    pub go: ClientVerdict,
    /// OpenSSL 3's default chain verification (curl, nginx).
    pub openssl: ClientVerdict,
    /// RFC 5280 + CA/Browser Forum (browsers, rustls, linters).
    pub strict: ClientVerdict,
    /// curl, where it differs from the other OpenSSL clients: it accepts a partial chain
    /// (since 7.68) and has no verify depth. Absent when curl reads the chain as nginx does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curl: Option<ClientVerdict>,
}

impl Verdicts {
    /// The one line that says who accepts and who rejects.
    pub fn summary(&self) -> String {
        let part = |name: &str, verdict: &ClientVerdict| {
            if verdict.accept {
                format!("{name} accept")
            } else {
                format!("{name} REJECT")
            }
        };
        let openssl = match &self.curl {
            Some(curl) => format!(
                "{} · {}",
                part("openssl (nginx)", &self.openssl),
                part("curl", curl)
            ),
            None => part("openssl (nginx, curl)", &self.openssl),
        };
        format!(
            "{} · {openssl} · {}",
            part("go (agents, kubectl)", &self.go),
            part("strict (RFC 5280, CA/B)", &self.strict)
        )
    }

    /// The clients that reject.
    pub fn rejecting(&self) -> Clients {
        Clients {
            go: !self.go.accept,
            openssl: !self.openssl.accept,
            strict: !self.strict.accept,
        }
    }
}
