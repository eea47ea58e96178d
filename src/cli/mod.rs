//! The command line: clap definitions ([`args`]) and [`run`], which parses the
//! arguments, runs one command and returns the process exit code. `main` only calls
//! it, so the whole CLI can be exercised in-process.

pub mod args;
pub mod rotate_args;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::{CommandFactory, Parser};

use crate::checks::{self, served};
use crate::commands::{
    doctor, expiry, fullchain, import, inspect, kubeconfig, push, rotate, selfsign, verify,
};
use crate::output::{self, ColorChoice, OutputFormat, Report, Style, Terminal};
use crate::rancher::CaBundle;
use crate::tls;
use crate::x509::{cert as x509_cert, issue};
use crate::{exit, Error};

pub use args::{Cli, Command};
use args::{
    DoctorArgs, ExpiryArgs, FullchainArgs, ImportArgs, ProbeArgs, PushArgs, SelfsignArgs,
    VerifyArgs,
};

/// Parse `args` (the program name first), run the command, print its report on the
/// process's standard streams, and return the exit code (0 ok, 1 a check failed, 2 bad
/// input, 3 remote side).
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let (stdout_tty, stderr_tty) = (stdout.is_terminal(), stderr.is_terminal());
    let mut terminal = Terminal::new(&mut stdout, &mut stderr, stdout_tty, stderr_tty)
        .interactive(std::io::stdin().is_terminal());
    run_with(args, &mut terminal)
}

/// Whether the arguments ask for JSON output (read before clap, whose error stops parsing).
fn asks_for_json(args: &[OsString]) -> bool {
    let words: Vec<&str> = args.iter().filter_map(|arg| arg.to_str()).collect();
    words
        .windows(2)
        .any(|pair| matches!(pair[0], "-o" | "--output") && pair[1] == "json")
        || words
            .iter()
            .any(|word| matches!(*word, "-ojson" | "--output=json" | "-o=json"))
}

/// [`run`] writing to `term` instead of the process's streams (in-process tests).
pub fn run_with<I, T>(args: I, term: &mut Terminal<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version print to stdout, usage errors to stderr (exit 2).
            let text = err.render().to_string();
            if err.use_stderr() {
                if asks_for_json(&args) {
                    let first = text.lines().next().unwrap_or_default();
                    let message = first.strip_prefix("error: ").unwrap_or(first);
                    let document =
                        serde_json::json!({"error": message, "exit_code": exit::BAD_INPUT});
                    let _ = term.out(&format!("{}\n", output::json(&document)));
                }
                let _ = term.err(&text);
                return exit::BAD_INPUT;
            }
            let _ = term.out(&text);
            return exit::OK;
        }
    };
    let style = Style::new(cli.color, cli.verbose, term);
    if cli.output == OutputFormat::Prometheus && !matches!(cli.command, Command::Expiry(_)) {
        let _ = term.err("rcert: error: -o prometheus is only for rcert expiry\n");
        return exit::BAD_INPUT;
    }
    // The one time of judgement of this run: every check, probe and inventory uses it.
    let now = time::OffsetDateTime::now_utc();
    let result = match &cli.command {
        Command::Selfsign(args) => run_selfsign(term, args, cli.output, &style),
        Command::Fullchain(args) => run_fullchain(term, args, cli.output, &style, cli.color),
        Command::Inspect(args) => run_inspect(term, args, cli.output, &style),
        Command::Verify(args) => run_verify(term, args, cli.output, &style, now),
        Command::Probe(args) => run_async(|| run_probe(term, args, cli.output, &style, now)),
        Command::Push(args) => {
            run_async(|| run_push(term, args, cli.output, &style, cli.color, now))
        }
        Command::Doctor(args) => run_async(|| run_doctor(term, args, cli.output, &style, now)),
        Command::Expiry(args) => run_async(|| run_expiry(term, args, cli.output, &style, now)),
        Command::Import(args) => run_import(term, args, cli.output, &style, now),
        Command::Rotate(command) => {
            run_async(|| run_rotate(term, command, cli.output, &style, now))
        }
        Command::Kubeconfig(args::KubeconfigCommand::Check(args)) => {
            run_async(|| run_kubeconfig_check(term, args, cli.output, &style, now))
        }
        Command::Completions { shell } => completions(term, *shell),
        Command::Man => man_page(term),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if cli.output == OutputFormat::Json {
                let document = serde_json::json!({
                    "error": err.to_string(),
                    "exit_code": err.exit_code(),
                });
                let _ = term.out(&format!("{}\n", output::json(&document)));
            }
            let _ = term.err(&format!("rcert: error: {err}\n"));
            err.exit_code()
        }
    }
}

/// The one tokio runtime of the process, for the commands that talk to the network.
fn run_async<F, Fut>(command: F) -> Result<u8, Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<u8, Error>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| Error::Usage(format!("cannot start the async runtime: {err}")))?;
    runtime.block_on(command())
}

fn run_selfsign(
    term: &mut Terminal<'_>,
    args: &SelfsignArgs,
    format: OutputFormat,
    style: &Style,
) -> Result<u8, Error> {
    let request = selfsign::SelfsignRequest {
        server: issue::ServerSpec {
            hosts: args.hosts.clone(),
            ips: args.ips.clone(),
            common_name: args.cn.clone(),
            organization: args.org.clone(),
            days: args.days,
            key_type: args.key_type,
        },
        ca_days: args.ca_days,
        existing_ca: args.ca_cert.clone().zip(args.ca_key.clone()),
        new_ca: args.new_ca,
        out_dir: args.out.clone(),
        force: args.force,
    };
    let report = selfsign::selfsign(&request)?;
    Ok(term.emit(&report, format, style)?)
}

fn run_fullchain(
    term: &mut Terminal<'_>,
    args: &FullchainArgs,
    format: OutputFormat,
    style: &Style,
    color: ColorChoice,
) -> Result<u8, Error> {
    let request = fullchain::FullchainRequest {
        inputs: args.files.clone(),
        out: args.out.clone(),
        cacerts: args.cacerts.clone(),
        include_root: args.include_root,
        force: args.force,
    };
    let report = fullchain::fullchain(&request)?;
    match (format, &report.pem) {
        (OutputFormat::Text, Some(pem)) => {
            term.data(pem)?;
            term.err(&report.text(&style.for_stderr(color, term)))?;
            Ok(report.exit_code())
        }
        // Standard output is for the chain: a failed run without --out says why on stderr,
        // so `rcert fullchain - < bundle > tls.crt` never fills tls.crt with the report.
        (OutputFormat::Text, None) if args.out.is_none() => {
            term.err(&report.text(&style.for_stderr(color, term)))?;
            Ok(report.exit_code())
        }
        _ => Ok(term.emit(&report, format, style)?),
    }
}

fn run_inspect(
    term: &mut Terminal<'_>,
    args: &args::InspectArgs,
    format: OutputFormat,
    style: &Style,
) -> Result<u8, Error> {
    let password = read_password(&args.password)?;
    let report = inspect::inspect(&args.files, password.as_ref(), term.interactive)?;
    let code = term.emit(&report, format, style)?;
    for error in report.unreadable() {
        term.err(&format!("rcert: error: {error}\n"))?;
    }
    Ok(code)
}

fn run_verify(
    term: &mut Terminal<'_>,
    args: &VerifyArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let context = verify_context(args, now)?;
    let mut reports = Vec::new();
    for file in &args.files {
        reports.push(match verify::verify_file(file, &context) {
            Ok(report) => report,
            Err(err) => verify::VerifyReport::unreadable(file, &err),
        });
    }
    let reports = verify::VerifyReports(reports);
    let code = term.emit(&reports, format, style)?;
    for error in reports.0.iter().filter_map(|report| report.error.as_ref()) {
        term.err(&format!("rcert: error: {error}\n"))?;
    }
    Ok(code)
}

fn verify_context(args: &VerifyArgs, now: time::OffsetDateTime) -> Result<checks::Context, Error> {
    let stdin_uses = args
        .ca
        .iter()
        .chain(&args.key)
        .chain(&args.untrusted)
        .chain(&args.files);
    if stdin_uses.filter(|input| *input == "-").count() > 1 {
        return Err(Error::Usage(
            "standard input ('-') can be read once: give at most one of --ca, --key, --untrusted and the files as '-'".to_string(),
        ));
    }
    checks::validate_hosts(&args.hosts)?;
    let at = args.at.unwrap_or(now);
    let ca = args.ca.as_deref().map(CaBundle::load).transpose()?;
    let mut untrusted = Vec::new();
    for file in &args.untrusted {
        untrusted.extend(x509_cert::load_certs(file)?);
    }
    let key = match &args.key {
        Some(path) => Some((path.clone(), x509_cert::load_key(path)?)),
        None => None,
    };
    Ok(checks::Context {
        ca,
        untrusted,
        key,
        hosts: args.hosts.clone(),
        at,
        warn_days: args.warn_days,
        clients: args.judge.clients,
        max_depth: args.max_depth,
    })
}

/// `--ca`, with `--ca-additional`'s CAs on top (Rancher's outgoing trust).
fn trusted_for_probe(args: &ProbeArgs) -> Result<Option<CaBundle>, Error> {
    let base = args.ca.as_deref().map(CaBundle::load).transpose()?;
    match &args.ca_additional {
        Some(file) => Ok(Some(CaBundle::with_additional(base, CaBundle::load(file)?))),
        None => Ok(base),
    }
}

async fn run_probe(
    term: &mut Terminal<'_>,
    args: &ProbeArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let targets = args.targets.clone();
    if let Some(name) = &args.servername {
        tls::validate_servername(name)?;
    }
    let request = tls::ProbeRequest {
        at: now,
        targets,
        servername: args.servername.clone(),
        ca: trusted_for_probe(args)?,
        alpn: tls::parse_alpn(&args.alpn)?,
        timeout: args.timeout,
        concurrency: args.concurrency.get(),
        rancher: args.rancher,
        warn_days: args.warn_days,
        clients: args.judge.clients,
        max_depth: args.max_depth,
    };
    let progress =
        format == OutputFormat::Text && request.targets.len() > 3 && term.stderr_is_terminal;
    let report = served::probe(&request, progress).await;
    Ok(term.emit(&report, format, style)?)
}

async fn run_push(
    term: &mut Terminal<'_>,
    args: &PushArgs,
    format: OutputFormat,
    style: &Style,
    color: ColorChoice,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let (cert, key, ca) = match (&args.dir, &args.cert, &args.key) {
        (Some(dir), _, _) => push::PushRequest::files_from_dir(dir),
        (None, Some(cert), Some(key)) => (Some(cert.clone()), Some(key.clone()), args.ca.clone()),
        // Only the extra CAs Rancher trusts for outgoing connections: no re-push of the
        // ingress certificate.
        (None, None, None) if !args.additional_ca.is_empty() && args.ca.is_none() => {
            (None, None, None)
        }
        _ => {
            return Err(Error::Usage(
                "give --dir DIR (with tls.crt, tls.key and optionally cacerts.pem), --cert F --key F [--ca F], or --additional-ca F… alone".to_string(),
            ))
        }
    };
    let request = push::PushRequest {
        at: now,
        clients: args.judge.clients,
        namespace: args.namespace.clone(),
        cert,
        key,
        ca,
        kubeconfig: args.cluster.kubeconfig.clone(),
        context: args.cluster.context.clone(),
        dry_run: args.dry_run,
        force: args.force,
        secret_name: args.secret_name.clone(),
        ca_secret_name: args.ca_secret_name.clone(),
        backup_dir: args.backup_dir.clone(),
        replace: args.replace,
        create_namespace: !args.no_create_namespace,
        additional_ca: args.additional_ca.clone(),
        timeout: args.timeout,
    };
    // Ctrl-C during the change: rolled back and reported, then exit 130.
    let _guard = (!request.dry_run).then(crate::interrupt::Guard::watch);
    let report = push::push(&request).await?;
    match (format, &report.manifests) {
        (OutputFormat::Text, Some(manifests)) => {
            term.data(manifests)?;
            term.err(&report.text(&style.for_stderr(color, term)))?;
            Ok(report.exit_code())
        }
        _ => Ok(interrupted_or(term.emit(&report, format, style)?)),
    }
}

async fn run_doctor(
    term: &mut Terminal<'_>,
    args: &DoctorArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let request = doctor::DoctorRequest {
        at: now,
        clients: args.judge.clients,
        host: args.host.clone(),
        nodes: args.nodes.clone(),
        namespace: args.namespace.clone(),
        dir: args.dir.clone(),
        ca: args.ca.clone(),
        kubeconfig: args.cluster.kubeconfig.clone(),
        context: args.cluster.context.clone(),
        timeout: args.timeout,
        secret_name: args.secret_name.clone(),
        ca_secret_name: args.ca_secret_name.clone(),
    };
    let report = doctor::doctor(&request).await?;
    Ok(term.emit(&report, format, style)?)
}

async fn run_expiry(
    term: &mut Terminal<'_>,
    args: &ExpiryArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    for namespace in &args.namespaces {
        crate::cluster::validate_namespace(namespace)?;
    }
    if let Some(root) = args.root.as_ref().filter(|root| !root.is_dir()) {
        return Err(Error::Usage(format!(
            "--root {}: no such directory (the node's file system, e.g. the host mounted at /host)",
            root.display()
        )));
    }
    let request = expiry::ExpiryRequest {
        kubeconfig: args.cluster.kubeconfig.clone(),
        context: args.cluster.context.clone(),
        all_contexts: args.all_contexts,
        namespaces: args.namespaces.clone(),
        no_cluster: args.no_cluster,
        root: args
            .root
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("/")),
        no_node: args.no_node,
        paths: args.paths.clone(),
        targets: args.targets.clone(),
        within: args.within,
        timeout: args.timeout,
        at: now,
        concurrency: usize::from(args.concurrency),
    };
    if args.serve.is_some() {
        return serve_expiry(term, args, format, request).await;
    }
    let report = expiry::expiry(&request).await?;
    if format == OutputFormat::Prometheus {
        term.data(&expiry::prometheus_text(&report))?;
        return Ok(report.exit_code());
    }
    Ok(term.emit(&report, format, style)?)
}

/// `rcert expiry --serve`: listen first (a taken port is an error at once), print the
/// URL, then serve until SIGTERM.
async fn serve_expiry(
    term: &mut Terminal<'_>,
    args: &ExpiryArgs,
    format: OutputFormat,
    request: expiry::ExpiryRequest,
) -> Result<u8, Error> {
    if format != OutputFormat::Text {
        return Err(Error::Usage(
            "--serve answers in every format at once (/metrics, /); -o does not apply: use --log-format json for the log".to_string(),
        ));
    }
    let Some(address) = args.serve else {
        return Ok(exit::OK);
    };
    let clusters = expiry::serve::preflight(&request).await?;
    let listener =
        expiry::serve::bind(address).map_err(|source| Error::Listen { address, source })?;
    term.data(&format!("{}\n", expiry::serve::url(&listener)))?;
    let request = expiry::serve::ServeRequest {
        expiry: request,
        interval: args.interval,
        concurrency: usize::from(args.concurrency),
        all_secrets: args.all_secrets,
        log_format: args.log_format,
        clock: time::OffsetDateTime::now_utc,
    };
    expiry::serve::serve(request, clusters, listener).await
}

async fn run_rotate(
    term: &mut Terminal<'_>,
    command: &args::RotateCommand,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let (common, apply, status_everywhere) = match command {
        args::RotateCommand::Plan(common) => (common, None, false),
        args::RotateCommand::Status(status) => (&status.common, None, status.all_contexts),
        args::RotateCommand::Apply(apply) => (&apply.common, Some(apply), false),
    };
    crate::cluster::validate_namespace(&common.namespace)?;
    let request = rotate::RotateRequest {
        at: now,
        dir: common.dir.clone(),
        namespace: common.namespace.clone(),
        kubeconfig: common.cluster.kubeconfig.clone(),
        context: common.cluster.context.clone(),
        host: common.host.clone(),
        backup_dir: apply
            .and_then(|a| a.backup_dir.clone())
            .unwrap_or_else(|| rotate::default_backup_dir(&common.dir)),
        dry_run: apply.is_some_and(|a| a.dry_run),
        step: apply.map_or(rotate::Step::All, |a| a.step),
        agents: apply.map_or(rotate::AgentMethod::Annotate, |a| a.agents),
        all_contexts: apply.is_some_and(|a| a.all_contexts) || status_everywhere,
        restart_rancher: apply
            .is_some_and(|a| a.restart_rancher)
            .then(|| apply.map_or(std::time::Duration::ZERO, |a| a.wait)),
        node: common.node.clone(),
        roots: common.ca.clone(),
        timeout: common.timeout,
    };
    let report = match command {
        args::RotateCommand::Plan(_) => rotate::plan(&request).await?,
        args::RotateCommand::Apply(_) => {
            // Ctrl-C during the change: rolled back and reported, then exit 130.
            let _guard = (!request.dry_run).then(crate::interrupt::Guard::watch);
            let report = rotate::apply(&request).await?;
            let code = term.emit(&report, format, style)?;
            return Ok(interrupted_or(code));
        }
        args::RotateCommand::Status(_) => rotate::status(&request).await?,
    };
    Ok(term.emit(&report, format, style)?)
}

/// 130 when SIGINT/SIGTERM arrived during the change (it was rolled back and the report
/// says what state every object is in), else the report's own code.
fn interrupted_or(code: u8) -> u8 {
    if crate::interrupt::requested() {
        crate::exit::INTERRUPTED
    } else {
        code
    }
}

async fn run_kubeconfig_check(
    term: &mut Terminal<'_>,
    args: &args::KubeconfigArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let request = kubeconfig::KubeconfigRequest {
        at: now,
        kubeconfig: args.cluster.kubeconfig.clone(),
        context: args.cluster.context.clone(),
        all_contexts: args.all_contexts,
        within: args.within,
        timeout: args.timeout,
    };
    let report = kubeconfig::check(&request).await?;
    Ok(term.emit(&report, format, style)?)
}

/// The PKCS#12 password and where it came from (`--password-file` or `--password-env`).
fn read_password(args: &args::PasswordArgs) -> Result<Option<(String, String)>, Error> {
    match (&args.password_file, &args.password_env) {
        (Some(path), _) => Ok(Some((import::password_from_file(path)?, path.clone()))),
        (None, Some(var)) => match std::env::var(var) {
            Ok(value) => Ok(Some((value, format!("${var}")))),
            Err(_) => Err(Error::Usage(format!(
                "--password-env {var}: the variable is not set (or not UTF-8)"
            ))),
        },
        (None, None) => Ok(None),
    }
}

fn run_import(
    term: &mut Terminal<'_>,
    args: &ImportArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let (password, password_source) = read_password(&args.password)?.unzip();
    let request = import::ImportRequest {
        at: now,
        inputs: args.files.clone(),
        out_dir: args.out.clone(),
        password,
        password_source,
        prompt: term.interactive,
        force: args.force,
    };
    let report = import::import(&request)?;
    Ok(term.emit(&report, format, style)?)
}

fn completions(term: &mut Terminal<'_>, shell: clap_complete::Shell) -> Result<u8, Error> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "rcert", &mut script);
    term.data(&String::from_utf8_lossy(&script))?;
    Ok(exit::OK)
}

/// The man page: rcert(1), then one section per subcommand with all its options.
fn man_page(term: &mut Terminal<'_>) -> Result<u8, Error> {
    let mut page = Vec::new();
    let command = Cli::command();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(|err| Error::Output(crate::output::OutputError(err)))?;
    for sub in command.get_subcommands() {
        let name = format!("rcert-{}", sub.get_name());
        let sub = sub.clone().name(name.clone()).bin_name(name);
        clap_mangen::Man::new(sub)
            .render(&mut page)
            .map_err(|err| Error::Output(crate::output::OutputError(err)))?;
    }
    term.data(&String::from_utf8_lossy(&page))?;
    Ok(exit::OK)
}
