//! Command-line definitions (clap derive), with examples in every `--help`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::{ColorChoice, OutputFormat};
use crate::rancher::Roots;
use crate::x509::issue::{KeyType, DEFAULT_CA_DAYS, DEFAULT_DAYS};
use crate::x509::pem::Input;

pub use super::rotate_args::{RotateApplyArgs, RotateArgs, RotateCommand, RotateStatusArgs};

const MAIN_EXAMPLES: &str = "\
Examples:
  rcert selfsign --host rancher.example.com --out ./certs
  rcert verify --ca certs/cacerts.pem --key certs/tls.key --host rancher.example.com certs/tls.crt
  rcert fullchain server.pem intermediate.pem root.pem --out tls.crt --cacerts cacerts.pem
  rcert inspect certs/tls.crt certs/tls.key
  rcert probe 10.0.0.11:443 10.0.0.12:443 --servername rancher.example.com --ca certs/cacerts.pem
  rcert push --namespace cattle-system --dir ./certs
  rcert doctor --host rancher.example.com --dir ./certs
  rcert expiry --within 60d

Exit codes: 0 all good, 1 a check failed, 2 bad usage or unreadable input, 3 remote side unreachable.";

/// Certificates for Rancher with your own TLS: generate, chain, inspect, verify, probe, push, doctor.
#[derive(Debug, Parser)]
#[command(name = "rcert", version, about, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// Output format: text, one JSON document on stdout, or (expiry) Prometheus exposition.
    #[arg(short = 'o', long, global = true, value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// Print every detail (all certificates of a chain, all key ids).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Color text output (NO_COLOR is respected with auto).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a CA and a server certificate: cacerts.pem, cakey.pem, tls.crt, tls.key.
    #[command(after_help = SELFSIGN_EXAMPLES)]
    Selfsign(SelfsignArgs),
    /// Order certificates into leaf → intermediates (→ root) and write tls.crt.
    #[command(after_help = FULLCHAIN_EXAMPLES)]
    Fullchain(FullchainArgs),
    /// Show what certificates and keys hold (PEM of any common label, or DER; '-' for stdin).
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// Verify chains, names, keys, expiry and cacerts.pem like openssl verify, and more.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Handshake with live endpoints (SNI) like openssl s_client, show and judge the served chain.
    #[command(after_help = PROBE_EXAMPLES)]
    Probe(ProbeArgs),
    /// Publish tls-rancher-ingress and tls-ca into a namespace, safely (validated, backed up).
    #[command(after_help = PUSH_EXAMPLES)]
    Push(PushArgs),
    /// Check a Rancher TLS setup end to end: cluster secrets, live endpoints, /cacerts, local files.
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor(DoctorArgs),
    /// List every certificate an install depends on, soonest expiry first, with the fix.
    #[command(after_help = EXPIRY_EXAMPLES)]
    Expiry(ExpiryArgs),
    /// Turn what a CA hands out (PKCS#12 .pfx/.p12, PKCS#7 .p7b, DER, PEM) into tls.crt, tls.key, cacerts.pem.
    #[command(after_help = IMPORT_EXAMPLES)]
    Import(ImportArgs),
    /// Kubeconfigs: `check` each context's client certificate, CA data and server.
    #[command(subcommand)]
    Kubeconfig(KubeconfigCommand),
    /// Rancher's private-CA update, automated: `plan`, `apply`, `status` --to DIR.
    #[command(subcommand)]
    Rotate(RotateCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  rcert completions bash > /etc/bash_completion.d/rcert\n  rcert completions zsh > \"${fpath[1]}/_rcert\""
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(
        after_help = "Examples:\n  rcert man > /usr/local/share/man/man1/rcert.1 && man rcert"
    )]
    Man,
}

/// Where a PKCS#12 password comes from (never the command line, where `ps` shows it).
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// File whose first line is the PKCS#12 password.
    #[arg(long, value_name = "FILE", conflicts_with = "password_env", value_parser = Input::parse)]
    pub password_file: Option<Input>,
    /// Environment variable holding the PKCS#12 password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

/// The cluster a command talks to, found as kubectl finds it.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// `rcert kubeconfig …`.
#[derive(Debug, Subcommand)]
pub enum KubeconfigCommand {
    /// Client certificate expiry, CA data against the chain the server serves, the server reachable.
    #[command(after_help = KUBECONFIG_EXAMPLES)]
    Check(KubeconfigArgs),
}

const KUBECONFIG_EXAMPLES: &str = "\
Examples:
  rcert kubeconfig check                       # the current context of the kubeconfig kubectl uses
  rcert kubeconfig check --all-contexts --kubeconfig ~/Downloads/downstream.yaml
  rcert kubeconfig check --kubeconfig /etc/rancher/rke2/rke2.yaml --within 60d";

/// Arguments of `rcert kubeconfig check`.
#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    /// Which cluster: --kubeconfig and --context.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Check every context, concurrently.
    #[arg(long, conflicts_with = "context")]
    pub all_contexts: bool,
    /// Warn when a client certificate expires within this (e.g. 30d, 2w).
    #[arg(long, default_value = "30d", value_name = "DUR", value_parser = crate::commands::expiry::parse_within)]
    pub within: std::time::Duration,
    /// Connect and handshake timeout (e.g. 5s).
    #[arg(long, default_value = "5s", value_name = "DUR", value_parser = crate::tls::parse_duration)]
    pub timeout: std::time::Duration,
}

const IMPORT_EXAMPLES: &str = "\
Examples:
  rcert import rancher.pfx --password-file pass.txt --out ./certs
  RCERT_PFX_PASSWORD=… rcert import rancher.p12 --password-env RCERT_PFX_PASSWORD --out ./certs
  rcert import server.cer ca-bundle.p7b server.key --out ./certs

The password is never given on the command line: the first line of a file (its LF or CRLF
is not part of it, as with openssl's file: source), or an environment variable.";

/// Arguments of `rcert import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// PKCS#12, PKCS#7 (PEM or DER), DER or PEM certificates and keys ('-' for stdin).
    #[arg(required = true, value_name = "FILE", value_parser = Input::parse)]
    pub files: Vec<Input>,
    /// Directory for tls.crt, tls.key and cacerts.pem.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The PKCS#12 password.
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

const EXPIRY_EXAMPLES: &str = "\
Examples:
  rcert expiry                     # the cluster (kubeconfig as kubectl finds it) and this node
  rcert expiry --all-contexts --no-node -o json  # every downstream cluster of a Rancher kubeconfig
  rcert expiry --no-cluster --root / --within 90d   # on an RKE2/k3s node
  rcert expiry --target rancher.example.com --path ./certs
  rcert expiry --serve :9793       # exporter: /metrics, /healthz, /readyz and a page at /
  rcert expiry --serve 127.0.0.1:0 --all-contexts --concurrency 8 --log-format json
  rcert expiry -o prometheus > /var/lib/node_exporter/textfile/rcert.prom

Exit codes: 0 nothing expired, expiring or unreadable; 1 otherwise; 2 bad input; 3 a source unreachable.";

/// Arguments of `rcert expiry`.
#[derive(Debug, Args)]
pub struct ExpiryArgs {
    /// Which cluster: --kubeconfig and --context.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Every context of the kubeconfig, concurrently (Rancher's downstream clusters).
    #[arg(long, conflicts_with = "context")]
    pub all_contexts: bool,
    /// Namespace to list (repeatable). Default: all namespaces.
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// Do not read the cluster.
    #[arg(long)]
    pub no_cluster: bool,
    /// Where the node's file system starts (RKE2, k3s and RKE1 paths below it); default /.
    /// A --root given and missing is an error (a mistyped hostPath must not look green).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Do not read the node's files.
    #[arg(long)]
    pub no_node: bool,
    /// Extra file or directory to read, recursively (repeatable); kubeconfigs are recognised.
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Endpoint whose served chain is listed (repeatable).
    #[arg(long = "target", value_name = "HOST[:PORT]", value_parser = crate::tls::Target::parse)]
    pub targets: Vec<crate::tls::Target>,
    /// What expires within this is "expiring" (e.g. 30d, 2w, 720h).
    #[arg(long, default_value = "30d", value_name = "DUR", value_parser = crate::commands::expiry::parse_within)]
    pub within: std::time::Duration,
    /// Timeout of each API request and handshake (e.g. 10s).
    #[arg(long, default_value = "10s", value_name = "DUR", value_parser = crate::tls::parse_duration)]
    pub timeout: std::time::Duration,
    /// Contexts read at once under --all-contexts (their first lists, with --serve).
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Run as an exporter listening on ADDR (:9793, 127.0.0.1:0 for a free port): the
    /// cluster by LIST+WATCH, files and endpoints every --interval; serves /metrics,
    /// /healthz, /readyz and a page at /. Prints its URL, runs until SIGTERM (exit 0).
    #[arg(long, value_name = "ADDR", value_parser = crate::commands::expiry::serve::parse_listen)]
    pub serve: Option<std::net::SocketAddr>,
    /// With --serve: how often files, endpoints and caBundles are read again (files also
    /// when one changes).
    #[arg(long, default_value = "60s", value_name = "DUR", value_parser = crate::commands::expiry::serve::parse_interval, requires = "serve")]
    pub interval: std::time::Duration,
    /// With --serve: watch every Secret (as one-shot expiry reads them), not only the
    /// kubernetes.io/tls ones and the Opaque ones of cattle-system the API server filters
    /// (more memory and API load: Helm release secrets are read too).
    #[arg(long, requires = "serve")]
    pub all_secrets: bool,
    /// With --serve: the log's format, one line per event on stderr.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        value_name = "FORMAT",
        requires = "serve"
    )]
    pub log_format: crate::commands::expiry::serve::LogFormat,
}

const DOCTOR_EXAMPLES: &str = "\
Examples:
  rcert doctor --host rancher.example.com --dir ./certs
  rcert doctor --host rancher.example.com --node 10.0.0.11 --node 10.0.0.12 --context prod";

/// Arguments of `rcert doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Whose rejection fails a check (`--clients`).
    #[command(flatten)]
    pub judge: ClientsArgs,
    /// The Rancher host name, optionally with :PORT (default 443).
    #[arg(long, value_name = "NAME[:PORT]", value_parser = crate::tls::Target::parse)]
    pub host: crate::tls::Target,
    /// Namespace of the secrets.
    #[arg(long, short = 'n', default_value = "cattle-system", value_name = "NS")]
    pub namespace: String,
    /// A node or load-balancer backend to probe with the host name as SNI. Repeatable.
    #[arg(long = "node", value_name = "ADDR[:PORT]", value_parser = crate::tls::Target::parse)]
    pub nodes: Vec<crate::tls::Target>,
    /// Local directory with tls.crt, tls.key and cacerts.pem to compare with the cluster.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Local CA file to compare with what Rancher serves at /cacerts.
    #[arg(long, value_name = "CAFILE", value_parser = Input::parse)]
    pub ca: Option<Input>,
    /// Which cluster: --kubeconfig and --context.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Timeout of each network step (e.g. 5s).
    #[arg(long, default_value = "5s", value_name = "DUR", value_parser = crate::tls::parse_duration)]
    pub timeout: std::time::Duration,
    /// Name of the certificate secret.
    #[arg(long, default_value = crate::rancher::TLS_SECRET, value_name = "NAME")]
    pub secret_name: String,
    /// Name of the CA secret.
    #[arg(long, default_value = crate::rancher::CA_SECRET, value_name = "NAME")]
    pub ca_secret_name: String,
}

const PUSH_EXAMPLES: &str = "\
Examples:
  rcert push --namespace cattle-system --dir ./certs
  rcert push --namespace cattle-system --cert tls.crt --key tls.key --ca cacerts.pem --context prod
  rcert push --namespace cattle-system --dir ./certs --dry-run    # the manifests, no cluster";

/// Arguments of `rcert push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Whose rejection fails a check (`--clients`).
    #[command(flatten)]
    pub judge: ClientsArgs,
    /// Namespace of the secrets (created when missing).
    #[arg(long, short = 'n', default_value = "cattle-system", value_name = "NS")]
    pub namespace: String,
    /// Directory holding tls.crt, tls.key and (optionally) cacerts.pem.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cert", "key", "ca"])]
    pub dir: Option<PathBuf>,
    /// Certificate chain (tls.crt: leaf first, then intermediates).
    #[arg(long, value_name = "FILE", requires = "key", value_parser = Input::parse)]
    pub cert: Option<Input>,
    /// Private key of the certificate (tls.key).
    #[arg(long, value_name = "FILE", requires = "cert", value_parser = Input::parse)]
    pub key: Option<Input>,
    /// Private CA certificate (cacerts.pem) for secret tls-ca.
    #[arg(long, value_name = "FILE", requires = "cert", value_parser = Input::parse)]
    pub ca: Option<Input>,
    /// Which cluster: --kubeconfig and --context.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Print the manifests as YAML; contact no cluster.
    #[arg(long)]
    pub dry_run: bool,
    /// Push even when the files fail validation.
    #[arg(long)]
    pub force: bool,
    /// Name of the certificate secret.
    #[arg(long, default_value = crate::rancher::TLS_SECRET, value_name = "NAME")]
    pub secret_name: String,
    /// Name of the CA secret.
    #[arg(long, default_value = crate::rancher::CA_SECRET, value_name = "NAME")]
    pub ca_secret_name: String,
    /// Directory for backups of secrets before they change.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub backup_dir: PathBuf,
    /// Delete and recreate a secret whose type must change (e.g. an Opaque
    /// tls-rancher-ingress); it is backed up first.
    #[arg(long)]
    pub replace: bool,
    /// Never read or create the namespace (for users without RBAC on namespaces).
    #[arg(long)]
    pub no_create_namespace: bool,
    /// CA files for Secret tls-ca-additional (several after one flag, or repeated): the
    /// extra CAs Rancher trusts for outgoing connections (registries, git, OIDC); CA
    /// certificates only. Alone (no --dir/--cert), only tls-ca-additional is pushed.
    #[arg(long = "additional-ca", value_name = "FILE", num_args = 1.., value_parser = Input::parse)]
    pub additional_ca: Vec<Input>,
    /// Timeout of each API request (e.g. 10s).
    #[arg(long, default_value = "10s", value_name = "DUR", value_parser = crate::tls::parse_duration)]
    pub timeout: std::time::Duration,
}

const PROBE_EXAMPLES: &str = "\
Examples:
  rcert probe rancher.example.com --ca certs/cacerts.pem
  # every HA node / load-balancer backend, with the Rancher host name as SNI:
  rcert probe 10.0.0.11 10.0.0.12 10.0.0.13 --servername rancher.example.com --ca cacerts.pem
  # also check /ping and /cacerts and print the CATTLE_CA_CHECKSUM agents will compare:
  rcert probe rancher.example.com --rancher --ca cacerts.pem
  rcert probe registry.internal:5000 --ca-additional ca-additional.pem   # as Rancher will trust it";

/// Arguments of `rcert probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Endpoints: host, host:port, ip:port or [v6]:port (default port 443).
    #[arg(required = true, value_name = "TARGET", value_parser = crate::tls::Target::parse)]
    pub targets: Vec<crate::tls::Target>,
    /// SNI name to send (and to check the certificate against). Default: each target's host.
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// Trusted CA certificates (cacerts.pem), or `system` for the operating system's
    /// trust store (as agents with agent-tls-mode=system-store). Default: the Mozilla roots.
    #[arg(long, value_name = "CAFILE|system", value_parser = Roots::parse)]
    pub ca: Option<Roots>,
    /// Trust these CAs on top of --ca (default: the Mozilla roots), as Rancher does for
    /// outgoing connections with tls-ca-additional and additionalTrustedCAs=true: is a
    /// private registry, git server or OIDC provider trusted?
    #[arg(long, value_name = "CAFILE", value_parser = Input::parse)]
    pub ca_additional: Option<Input>,
    /// ALPN protocols to offer, comma-separated.
    #[arg(long, default_value = "h2,http/1.1", value_name = "LIST")]
    pub alpn: String,
    /// Connect timeout and handshake timeout, each (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_name = "DUR", value_parser = crate::tls::parse_duration)]
    pub timeout: std::time::Duration,
    /// How many targets to probe at once.
    #[arg(long, default_value = "32", value_name = "N")]
    pub concurrency: std::num::NonZeroUsize,
    /// Also GET /ping and /cacerts, compare /cacerts with --ca and the served chain.
    #[arg(long)]
    pub rancher: bool,
    /// Warn when a certificate expires within this many days.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub warn_days: u32,
    /// Whose rejection fails a check (`--clients`).
    #[command(flatten)]
    pub judge: ClientsArgs,
    /// The most intermediate CAs a client allows between the server certificate and
    /// the trusted root, as OpenSSL's -verify_depth and nginx's proxy_ssl_verify_depth
    /// (nginx's default is 1); Go clients have no such limit.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
}

const SELFSIGN_EXAMPLES: &str = "\
Examples:
  rcert selfsign --host rancher.example.com --out ./certs
  rcert selfsign --host rancher.example.com --host '*.rancher.example.com' --key-type rsa-2048
  # renew the server certificate with the existing CA (agents keep their CATTLE_CA_CHECKSUM):
  rcert selfsign --host rancher.example.com --ca-cert cacerts.pem --ca-key cakey.pem --out ./new";

const FULLCHAIN_EXAMPLES: &str = "\
Examples:
  rcert fullchain server.crt intermediate.crt root.crt --out tls.crt --cacerts cacerts.pem
  cat bundle.pem | rcert fullchain - > tls.crt";

const INSPECT_EXAMPLES: &str = "\
Examples:
  rcert inspect tls.crt tls.key
  kubectl -n cattle-system get secret tls-ca -o jsonpath='{.data.cacerts\\.pem}' | base64 -d | rcert inspect -";

const VERIFY_EXAMPLES: &str = "\
Examples:
  rcert verify --ca cacerts.pem --key tls.key --host rancher.example.com tls.crt
  rcert verify --ca cacerts.pem --at 2027-01-01T00:00:00Z --warn-days 60 node1/tls.crt node2/tls.crt
  rcert verify --host rancher.example.com fullchain.pem   # public CA: Mozilla roots";

/// Arguments of `rcert selfsign`.
#[derive(Debug, Args)]
pub struct SelfsignArgs {
    /// DNS name (wildcards allowed) or IP address for a SAN; the first one is the CN. Repeatable.
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,
    /// IP address for an IP SAN. Repeatable.
    #[arg(long = "ip", value_name = "ADDR")]
    pub ips: Vec<IpAddr>,
    /// Directory to write the files to (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Key algorithm for the CA and the server key.
    #[arg(long, value_enum, default_value = "ecdsa-p256")]
    pub key_type: KeyType,
    /// Validity of the server certificate in days (clients refuse more than 825).
    #[arg(long, default_value_t = DEFAULT_DAYS)]
    pub days: u32,
    /// Validity of a generated CA in days.
    #[arg(long, default_value_t = DEFAULT_CA_DAYS)]
    pub ca_days: u32,
    /// Existing CA certificate to sign with (requires --ca-key).
    #[arg(long, requires = "ca_key", value_name = "FILE", value_parser = Input::parse)]
    pub ca_cert: Option<Input>,
    /// Private key of the existing CA (requires --ca-cert).
    #[arg(long, requires = "ca_cert", value_name = "FILE", value_parser = Input::parse)]
    pub ca_key: Option<Input>,
    /// Generate a new CA even when --out already holds cacerts.pem + cakey.pem (by default
    /// selfsign renews with that CA, so CATTLE_CA_CHECKSUM does not move).
    #[arg(long, conflicts_with_all = ["ca_cert", "ca_key"])]
    pub new_ca: bool,
    /// Subject CN of the server certificate (default: the first --host).
    #[arg(long, value_name = "NAME")]
    pub cn: Option<String>,
    /// Subject O of the certificates.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `rcert fullchain`.
#[derive(Debug, Args)]
pub struct FullchainArgs {
    /// Files holding the certificates, in any order ('-' for stdin).
    #[arg(required = true, value_name = "FILE", value_parser = Input::parse)]
    pub files: Vec<Input>,
    /// Write leaf + intermediates here (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write cacerts.pem here (for the tls-ca secret): the intermediate(s) then the
    /// root, as Rancher's docs ask (the root alone when it issued the leaf).
    #[arg(long, value_name = "FILE")]
    pub cacerts: Option<PathBuf>,
    /// Append the root to the chain as well.
    #[arg(long)]
    pub include_root: bool,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// Arguments of `rcert inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Certificate, key, PKCS#7 or PKCS#12 files ('-' for stdin).
    #[arg(required = true, value_name = "FILE", value_parser = Input::parse)]
    pub files: Vec<Input>,
    /// The password of PKCS#12 inputs.
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// Arguments of `rcert verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trusted CA certificates (cacerts.pem), or `system` for the operating system's
    /// trust store (as agents with agent-tls-mode=system-store). Default: the Mozilla roots.
    #[arg(long, value_name = "CAFILE|system", value_parser = Roots::parse)]
    pub ca: Option<Roots>,
    /// Extra intermediates that are not trusted by themselves. Repeatable.
    #[arg(long, value_name = "FILE", value_parser = Input::parse)]
    pub untrusted: Vec<Input>,
    /// Private key that must belong to the leaf (tls.key).
    #[arg(long, value_name = "FILE", value_parser = Input::parse)]
    pub key: Option<Input>,
    /// Name or IP the certificate must be valid for. Repeatable.
    #[arg(long = "host", value_name = "NAME|IP")]
    pub hosts: Vec<String>,
    /// Verify at this time: RFC 3339 or unix seconds (default: now).
    #[arg(long, value_name = "TIME", value_parser = crate::checks::parse_time)]
    pub at: Option<time::OffsetDateTime>,
    /// Warn when a certificate expires within this many days.
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub warn_days: u32,
    /// Whose rejection fails a check (`--clients`).
    #[command(flatten)]
    pub judge: ClientsArgs,
    /// The most intermediate CAs a client allows between the server certificate and
    /// the trusted root, as OpenSSL's -verify_depth and nginx's proxy_ssl_verify_depth
    /// (nginx's default is 1); Go clients have no such limit.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// Certificate files; each may hold a full chain, leaf first ('-' for stdin).
    #[arg(required = true, value_name = "CERTFILE", value_parser = Input::parse)]
    pub files: Vec<Input>,
}

/// `--clients`: whose rejection fails a check.
#[derive(Debug, Args)]
pub struct ClientsArgs {
    /// Whose rejection fails a check: go (Rancher agents, kubectl, helm, fleet), openssl
    /// (curl, nginx), strict (RFC 5280 + CA/Browser Forum: linters, the strictest
    /// verifiers), comma-separated, or all. A rejection by the others alone is a warning
    /// that names them.
    #[arg(long, default_value = "go,openssl", value_name = "LIST", value_parser = crate::check::Clients::parse)]
    pub clients: crate::check::Clients,
}
