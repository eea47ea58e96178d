//! What makes a check a finding a script can act on: the [`Cause`] (a stable code, one
//! per situation, serialised snake_case) and the [`Fix`] (the commands that fix it as
//! argv, the words they do not say, the documentation that explains it). Text output
//! renders the fix as one shell line; JSON keeps it as data.

use serde::Serialize;

use super::shell_quote;

/// Why a check did not pass: a stable code a script switches on (`-o json`: `cause`).
/// The sentence in `message` says the same for a person, with the names filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    // --- the chain and who trusts it ---
    /// No certificate where one is needed (an empty file, a server that sent none).
    NoCertificate,
    /// No path from the leaf to a trusted root.
    Untrusted,
    /// Trusted only ignoring dates: a certificate on the path is outside its validity.
    OutsideValidity,
    /// Go counts a self-issued intermediate against pathLen.
    PathLenSelfIssued,
    /// OpenSSL needs a self-signed root at the top of the chain.
    RootMissing,
    /// OpenSSL's bound on name-constraint comparisons.
    NameCheckLimit,
    /// OpenSSL's single chain-building path stops short of a root another client finds.
    SinglePathRefused,
    /// Go reads a leading-period DNS constraint as subdomains only.
    LeadingPeriodConstraint,
    /// More intermediate CAs than `--max-depth` allows.
    ChainTooLong,
    /// A CA certificate (CA:TRUE) serves as the server certificate.
    CaAsLeaf,
    /// The leaf or an issuer lacks the serverAuth extended key usage.
    NoServerAuth,
    /// A CA deeper than a pathLen constraint above it allows.
    PathLenExceeded,
    /// A CA's nameConstraints do not permit the leaf's names.
    NameNotPermitted,
    /// A client of `--clients` rejects the chain.
    Rejected,
    /// Only clients outside `--clients` reject the chain.
    RejectedByOthers,
    // --- dates ---
    /// A certificate has expired.
    Expired,
    /// A certificate is not valid yet.
    NotYetValid,
    /// The leaf expires at the very second of the check (OpenSSL already refuses).
    ExpiresThisSecond,
    /// The leaf expires within `--warn-days`.
    ExpiresSoon,
    /// A server certificate valid for longer than browsers accept (825 days).
    LifetimeTooLong,
    // --- names and keys ---
    /// The leaf has no Subject Alternative Name.
    NoSan,
    /// A `--host` that is not a DNS name or IP address.
    BadHostName,
    /// The leaf is not valid for the host.
    NameMismatch,
    /// A host name with a trailing dot, which nginx and openssl compare as given (curl and
    /// Go strip it).
    TrailingDotName,
    /// The private key does not belong to the leaf.
    KeyMismatch,
    /// A private key in a file that is served or published.
    PrivateKeyPublished,
    // --- order of tls.crt ---
    /// The same certificate twice.
    DuplicateCertificate,
    /// The leaf is not the first certificate.
    LeafNotFirst,
    /// A certificate is not followed by its issuer.
    WrongOrder,
    /// A certificate that is not part of the chain.
    UnrelatedCertificate,
    /// The file lacks an intermediate the clients need.
    MissingIntermediate,
    // --- cacerts.pem ---
    /// The root comes before the intermediate(s).
    CaFileRootFirst,
    /// The CA certificates do not follow one another.
    CaFileUnordered,
    /// The file ends at an intermediate without its root.
    CaFileNoRoot,
    /// The CA file cannot be used (unreadable, no certificate).
    CaFileUnusable,
    /// A certificate that is not a CA in the CA file.
    CaFileHoldsLeaf,
    // --- one certificate against the profile (RFC 5280, CA/B Forum) and crypto rules ---
    /// The certificate does not parse as X.509.
    Unparseable,
    /// An extension appears twice.
    DuplicateExtension,
    /// A critical extension no client knows.
    UnknownCriticalExtension,
    /// An extension whose contents do not parse.
    MalformedExtension,
    /// An extension marked critical where it must not be, or the reverse.
    WrongCriticality,
    /// authorityKeyIdentifier missing, or without keyIdentifier.
    MissingAuthorityKeyId,
    /// A root's authorityKeyIdentifier with extra fields or another key id.
    BadRootAuthorityKeyId,
    /// A CA certificate without subjectKeyIdentifier.
    MissingSubjectKeyId,
    /// nameConstraints that are malformed or in a certificate that is not a CA.
    BadNameConstraints,
    /// A CA certificate without basicConstraints (or a v1 certificate used as CA).
    NotACa,
    /// A certificate with CA:FALSE that issued another.
    IssuedByNonCa,
    /// A CA certificate whose keyUsage lacks keyCertSign.
    NoKeyCertSign,
    /// keyCertSign on a certificate that is not a CA.
    KeyCertSignOnLeaf,
    /// A server certificate whose keyUsage cannot serve TLS.
    KeyUsageNotForTls,
    /// A server certificate without extendedKeyUsage.
    MissingExtendedKeyUsage,
    /// anyExtendedKeyUsage in a server certificate.
    AnyExtendedKeyUsage,
    /// A root with extendedKeyUsage.
    RootWithExtendedKeyUsage,
    /// An empty subject or issuer where one is required.
    EmptyName,
    /// A certificate that names nothing, or an iPAddress SAN of the wrong length.
    BadSubjectAltName,
    /// An underscore in a DNS name.
    UnderscoreInName,
    /// The CN is not one of the SANs.
    CommonNameNotInSan,
    /// An RSA key too small, or an ECDSA curve clients refuse.
    WeakKey,
    /// An RSA modulus that is not a multiple of 8 bits.
    OddRsaModulus,
    /// A DSA key.
    DsaKey,
    /// Signed with SHA-1 or MD5.
    WeakSignature,
    /// A negative serial number.
    NegativeSerial,
    /// Serial number zero.
    ZeroSerial,
    /// A serial number longer than 20 bytes.
    LongSerial,
    // --- what an endpoint serves ---
    /// The endpoint could not be reached.
    Unreachable,
    /// The server refused the handshake or the handshake failed.
    HandshakeFailed,
    /// `--servername` is an IP address: no SNI was sent.
    NoSni,
    /// Rancher's `/ping` did not answer `pong`.
    PingFailed,
    /// `/cacerts` could not be fetched.
    CacertsUnavailable,
    /// `/cacerts` differs from the CA it should serve.
    CacertsMismatch,
    /// `/cacerts` does not hold the CA of the served chain.
    CacertsWrongCa,
    /// `/cacerts` is empty although the chain needs a private CA.
    CacertsEmpty,
    /// A node serves another `/cacerts` than the others.
    CacertsNodeDiffers,
    /// Targets serve different chains.
    ChainsDiffer,
    /// The ingress controller serves its default fake certificate.
    IngressFakeCertificate,
    /// The endpoint serves another certificate than the secret holds.
    ServedDiffers,
    // --- the cluster ---
    /// The Kubernetes API answered with an error (403, 404, 500 …) or could not be asked.
    ApiError,
    /// Nothing to judge here (no Rancher objects, a resource that is absent).
    NotPresent,
    /// A Secret with the wrong type, key or contents.
    BadSecret,
    /// Local files differ from the Secret.
    LocalDiffers,
    /// The `tls-ca` Secret is absent: Rancher runs without a private CA.
    NoPrivateCa,
    /// `tls-ca-additional` lacks its key or holds what is not a public CA certificate.
    BadAdditionalCa,
    /// An additional CA dropped (expired, duplicate).
    AdditionalCaDropped,
    /// The helm release's values do not match the certificates (privateCA, tls source,
    /// additionalTrustedCAs), or no release was found.
    HelmValues,
    /// agent-tls-mode is strict but the agents would get no CA.
    StrictWithoutCa,
    /// Rancher's `cacerts` setting differs from `tls-ca` (Rancher not restarted).
    CacertsSettingStale,
    /// Agents carry another CATTLE_CA_CHECKSUM than `/cacerts` serves.
    AgentChecksumMismatch,
    /// A downstream cluster is not connected.
    ClusterDisconnected,
    /// A downstream cluster fails AgentTlsStrictCheck.
    StrictCheckFailed,
    /// A cert-manager Certificate that is not Ready, or a Secret it no longer manages.
    CertManager,
    /// rancher-webhook's caBundles do not verify what it serves.
    WebhookCaBundle,
    // --- kubeconfig ---
    /// A context without a cluster or server.
    ContextWithoutServer,
    /// The client certificate cannot be read.
    ClientCertUnreadable,
    /// certificate-authority(-data) cannot be read.
    CaDataUnreadable,
    /// insecure-skip-tls-verify is set.
    InsecureSkipTlsVerify,
    /// The kubeconfig's CA no longer matches what the server serves.
    KubeconfigCaOutdated,
    // --- a rotation ---
    /// The new set does not validate: nothing was changed.
    NewSetInvalid,
    /// cert-manager manages the Secret and would revert the change.
    ManagedByCertManager,
    /// Rancher has not handed out the new CA yet.
    WaitingForRancher,
    /// A step of the change is done, another is not (an interrupted change?).
    HalfDone,
    /// The Secrets do not hold the new set yet.
    NotApplied,
    /// The endpoint does not serve the new certificate yet.
    NotServedYet,
    /// A step that runs elsewhere (the agents of downstream clusters).
    RunsElsewhere,
}

impl Cause {
    /// The fix in words, where no command of the finding's own says it better.
    pub fn advice(self) -> Option<&'static str> {
        use Cause::*;
        Some(match self {
            Expired | ExpiresSoon | ExpiresThisSecond => {
                "renew it from the CA that issued it (a server certificate from a private CA: rcert selfsign --host NAME --ca-cert cacerts.pem --ca-key cakey.pem), then replace the file or push the Secret (rcert push)"
            }
            NotYetValid => "check the clocks of the machine that issued it and of this one (timedatectl); reissue it if the issuer's clock was wrong",
            LifetimeTooLong => "reissue it valid for at most 825 days (rcert selfsign --days 825)",
            RootMissing | CaFileNoRoot => "append the root CA after the intermediate(s) in the CA file (Rancher's docs: intermediate then root)",
            MissingIntermediate => "put the intermediate after the leaf: rcert fullchain tls.crt intermediate.pem --out tls.crt --force",
            Untrusted => "pass the CA that issued it (--ca cacerts.pem) or send the missing intermediate after the leaf",
            CaAsLeaf => "issue a server certificate (CA:FALSE) from a CA: rcert selfsign --host NAME",
            NoSan | NameMismatch | CommonNameNotInSan => "reissue it with every host name (and IP) among its subjectAltNames",
            KeyMismatch => "use the key that belongs to the certificate: rcert inspect tls.crt KEYFILE… names it",
            PrivateKeyPublished => "take the private key out of the file: it must not be served or published",
            ChainTooLong => "raise the client's verify depth (nginx: proxy_ssl_verify_depth 2) or shorten the chain",
            WeakKey | DsaKey | OddRsaModulus => "reissue it with ECDSA P-256 or RSA-2048 (rcert selfsign --key-type)",
            WeakSignature => "reissue it signed with SHA-256",
            UnderscoreInName => "reissue it with host names that use '-' instead of '_'",
            MissingAuthorityKeyId => "reissue it with authorityKeyIdentifier=keyid",
            MissingSubjectKeyId => "reissue the CA with subjectKeyIdentifier=hash",
            MissingExtendedKeyUsage | NoServerAuth => "reissue it with extendedKeyUsage=serverAuth",
            KeyUsageNotForTls => "reissue it with keyUsage digitalSignature (RSA: and keyEncipherment)",
            NegativeSerial | ZeroSerial | LongSerial => "reissue it with a positive serial of at most 20 bytes",
            DuplicateCertificate | LeafNotFirst | WrongOrder | UnrelatedCertificate => {
                "order the file leaf first, each certificate followed by its issuer: rcert fullchain"
            }
            Rejected | RejectedByOthers => {
                "the checks of this chain name what each client refuses, each with its own fix"
            }
            Unreachable => "check the address, port, firewall and that the service listens (rcert probe)",
            ApiError => "check the kubeconfig context and the RBAC of your user or service account for the resource named",
            PingFailed => "check that the host is Rancher and that it is ready (kubectl -n cattle-system get pods -l app=rancher): its /ping answers pong",
            CacertsUnavailable | CacertsEmpty => "Rancher serves /cacerts from its cacerts setting: with a private CA, install it with privateCA=true and secret tls-ca (rcert push --ca cacerts.pem)",
            CacertsMismatch | CacertsNodeDiffers | CacertsSettingStale => "restart Rancher so it reads tls-ca again (kubectl -n cattle-system rollout restart deploy/rancher)",
            ChainsDiffer => "find the target that serves another chain and restart its ingress controller, or fix its load balancer's certificate",
            NoSni => "send the host name as SNI (rcert probe --servername NAME): an ingress answers a request without SNI with its default certificate",
            NotServedYet | ServedDiffers => "restart the ingress controller so it loads the Secret again, or update the certificate of the load balancer in front of Rancher",
            ClusterDisconnected => "on that cluster, kubectl -n cattle-system logs deploy/cattle-cluster-agent says why it is not connected",
            _ => return None,
        })
    }

    /// The documentation that explains the cause and its fix.
    pub fn doc(self) -> &'static str {
        use Cause::*;
        match self {
            Expired | ExpiresSoon | ExpiresThisSecond | NotYetValid | OutsideValidity
            | KeyMismatch | PrivateKeyPublished | DuplicateCertificate | LeafNotFirst
            | WrongOrder | UnrelatedCertificate | MissingIntermediate | CaFileRootFirst
            | CaFileUnordered | CaFileNoRoot | CaFileHoldsLeaf | CaFileUnusable | LocalDiffers
            | BadSecret | NoCertificate | ServedDiffers | NotServedYet | NotApplied | HalfDone
            | NewSetInvalid => DOC_UPDATE_CERTIFICATE,
            CacertsUnavailable
            | CacertsMismatch
            | CacertsWrongCa
            | CacertsEmpty
            | CacertsNodeDiffers
            | CacertsSettingStale
            | AgentChecksumMismatch
            | NoPrivateCa
            | HelmValues
            | WaitingForRancher
            | RunsElsewhere => DOC_UPDATE_CERTIFICATE,
            StrictWithoutCa | StrictCheckFailed | ClusterDisconnected => DOC_AGENT_TLS_MODE,
            BadAdditionalCa | AdditionalCaDropped => DOC_ADDITIONAL_CA,
            CertManager | ManagedByCertManager => DOC_CERT_MANAGER,
            IngressFakeCertificate
            | Unreachable
            | HandshakeFailed
            | NoSni
            | PingFailed
            | ChainsDiffer
            | ApiError
            | NotPresent
            | WebhookCaBundle => DOC_TROUBLESHOOTING,
            ContextWithoutServer
            | ClientCertUnreadable
            | CaDataUnreadable
            | InsecureSkipTlsVerify
            | KubeconfigCaOutdated => DOC_KUBECONFIG,
            LifetimeTooLong
            | MissingExtendedKeyUsage
            | AnyExtendedKeyUsage
            | RootWithExtendedKeyUsage
            | UnderscoreInName
            | CommonNameNotInSan
            | OddRsaModulus
            | RejectedByOthers
            | WeakKey
            | WeakSignature
            | DsaKey
            | NoSan
            | NameMismatch
            | CaAsLeaf
            | KeyUsageNotForTls
            | NoServerAuth => DOC_CA_BROWSER_FORUM,
            RootMissing | Untrusted | Rejected | ChainTooLong | SinglePathRefused => {
                DOC_UPDATE_CERTIFICATE
            }
            _ => DOC_RFC5280,
        }
    }
}

/// Rancher: updating the Rancher certificate (tls-rancher-ingress, tls-ca, the agents).
pub const DOC_UPDATE_CERTIFICATE: &str = "https://ranchermanager.docs.rancher.com/getting-started/installation-and-upgrade/resources/update-rancher-certificate";
/// Rancher: agent-tls-mode and what strict requires.
pub const DOC_AGENT_TLS_MODE: &str = "https://ranchermanager.docs.rancher.com/getting-started/installation-and-upgrade/installation-references/tls-settings#agent-tls-mode";
/// Rancher: additional trusted CAs (tls-ca-additional).
pub const DOC_ADDITIONAL_CA: &str = "https://ranchermanager.docs.rancher.com/getting-started/installation-and-upgrade/resources/custom-ca-root-certificates";
/// cert-manager: troubleshooting a Certificate.
pub const DOC_CERT_MANAGER: &str = "https://cert-manager.io/docs/troubleshooting/";
/// Rancher: troubleshooting the Rancher server and its endpoints.
pub const DOC_TROUBLESHOOTING: &str =
    "https://ranchermanager.docs.rancher.com/troubleshooting/other-troubleshooting-tips/rancher-ha";
/// Rancher: kubeconfig files.
pub const DOC_KUBECONFIG: &str = "https://ranchermanager.docs.rancher.com/how-to-guides/new-user-guides/manage-clusters/access-clusters/use-kubectl-and-kubeconfig";
/// The CA/Browser Forum Baseline Requirements (the certificate profile browsers enforce).
pub const DOC_CA_BROWSER_FORUM: &str =
    "https://cabforum.org/working-groups/server/baseline-requirements/requirements/";
/// RFC 5280: the X.509 certificate profile and path validation.
pub const DOC_RFC5280: &str = "https://www.rfc-editor.org/rfc/rfc5280";

/// The values a finding's cause is about, typed, so a script need not read them out of
/// the message (`-o json`: `evidence`, tagged by `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// Two `CATTLE_CA_CHECKSUM` values (sha256 of a CA file as Rancher serves it) that
    /// should be equal: what was found, and what it should be.
    Checksums {
        /// What the object holds or the endpoint serves (absent: nothing).
        #[serde(skip_serializing_if = "Option::is_none")]
        found: Option<String>,
        /// What it should be (absent: nothing, e.g. no private CA).
        #[serde(skip_serializing_if = "Option::is_none")]
        expected: Option<String>,
    },
    /// The host name a `name` check is about, and the names the certificate holds (its
    /// DNS and IP SANs).
    Name {
        /// The host checked (`--host`, the SNI name).
        host: String,
        /// The certificate's SANs.
        sans: Vec<String>,
    },
    /// A certificate's validity window against the time of judgement.
    Dates {
        /// notBefore (RFC 3339).
        not_before: String,
        /// notAfter (RFC 3339).
        not_after: String,
        /// The time of judgement (RFC 3339).
        at: String,
        /// Whole days from `at` to notAfter (negative once expired).
        days_left: i64,
    },
}

impl Evidence {
    /// Two checksums: `found` against `expected`.
    pub fn checksums(found: Option<&str>, expected: Option<&str>) -> Evidence {
        Evidence::Checksums {
            found: found.map(str::to_string),
            expected: expected.map(str::to_string),
        }
    }
}

/// What a finding is about, typed: the certificate, file, Secret or endpoint a script
/// acts on (`-o json`: `subject`, tagged by `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// A certificate of a chain: its subject name and SHA-256 fingerprint.
    Certificate {
        /// The subject distinguished name.
        name: String,
        /// SHA-256 of the DER, colon-separated hex.
        sha256: String,
    },
    /// A local file (tls.crt, tls.key, cacerts.pem, a kubeconfig).
    File {
        /// The path as given.
        path: String,
    },
    /// A Kubernetes Secret.
    Secret {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// An endpoint that was probed (`host:port`).
    Endpoint {
        /// The target as given.
        target: String,
    },
    /// Another Kubernetes object: a management or fleet cluster, an agent workload, a
    /// Rancher setting, a webhook configuration.
    Object {
        /// The resource, as kubectl names it (`clusters.management.cattle.io`,
        /// `deployments.apps`).
        resource: String,
        /// Its namespace (absent for a cluster-scoped object).
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// Its name.
        name: String,
    },
}

impl Subject {
    /// A Kubernetes object of `resource` (`clusters.management.cattle.io`).
    pub fn object(resource: &str, namespace: Option<&str>, name: &str) -> Subject {
        Subject::Object {
            resource: resource.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }
}

/// How to fix a finding, as data: the commands (each an argv, run in order), the words
/// they do not say, and the documentation. Text output renders it as one shell line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Commands to run in order, each as its argv.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<Vec<String>>,
    /// What the commands do not say (a choice, a caveat), or the fix in words when no
    /// command does it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The documentation that explains it.
    pub doc: &'static str,
}

impl Fix {
    /// The cause's advice in words and its documentation (no command of the finding's own).
    pub fn doc(cause: Cause) -> Fix {
        Fix {
            commands: Vec::new(),
            note: cause.advice().map(str::to_string),
            doc: cause.doc(),
        }
    }

    /// One command (its own note, if any, is added with [`Fix::note`]).
    pub fn command<I, S>(cause: Cause, argv: I) -> Fix
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Fix {
            commands: Vec::new(),
            note: None,
            doc: cause.doc(),
        }
        .then(argv)
    }

    /// Words only.
    pub fn words(cause: Cause, note: impl Into<String>) -> Fix {
        Fix::doc(cause).note(note)
    }

    /// Add a command to run after the others.
    pub fn then<I, S>(mut self, argv: I) -> Fix
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.commands
            .push(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Add the words the commands do not say.
    pub fn note(mut self, note: impl Into<String>) -> Fix {
        self.note = Some(note.into());
        self
    }

    /// One line for text output: the commands as a shell line (`&&` between them) with
    /// the note after `#`, the note alone, or the documentation.
    pub fn line(&self) -> String {
        let shell = self
            .commands
            .iter()
            .map(|argv| {
                argv.iter()
                    .map(|word| shell_quote(word))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" && ");
        match (shell.is_empty(), &self.note) {
            (false, Some(note)) => format!("{shell}   # {note}"),
            (false, None) => shell,
            (true, Some(note)) => note.clone(),
            (true, None) => format!("see {}", self.doc),
        }
    }
}
