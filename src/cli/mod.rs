//! The command line: clap definitions ([`args`]) and [`run`], which parses the
//! arguments, runs one command and returns the process exit code. `main` only calls
//! it, so the whole CLI can be exercised in-process.

pub mod args;
mod cluster;
pub mod rotate_args;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::{CommandFactory, Parser};

use crate::checks::{self, served};
use crate::commands::{fullchain, import, inspect, selfsign, verify};
use crate::output::{self, ColorChoice, OutputFormat, Report, Style, Terminal};
use crate::rancher::{CaBundle, Roots};
use crate::tls;
use crate::x509::{cert as x509_cert, issue};
use crate::{exit, Error};

pub use args::{Cli, Command};
use args::{FullchainArgs, ImportArgs, ProbeArgs, SelfsignArgs, VerifyArgs};
use cluster::{run_doctor, run_expiry, run_kubeconfig_check, run_push, run_rotate};

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
        Command::Selfsign(args) => run_selfsign(term, args, cli.output, &style, now),
        Command::Fullchain(args) => run_fullchain(term, args, cli.output, &style, cli.color, now),
        Command::Inspect(args) => run_inspect(term, args, cli.output, &style, now),
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
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    if args.out.as_os_str() == crate::x509::pem::STDIN_NAME {
        return Err(Error::Usage(
            "--out takes a directory: selfsign writes four files (cacerts.pem, cakey.pem, tls.crt, tls.key), not standard output".to_string(),
        ));
    }
    let request = selfsign::SelfsignRequest {
        server: issue::ServerSpec {
            hosts: args.hosts.clone(),
            ips: args.ips.clone(),
            common_name: args.cn.clone(),
            organization: args.org.clone(),
            days: args.days,
            key_type: args.key_type,
            issued_at: now,
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
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let request = fullchain::FullchainRequest {
        inputs: args.files.clone(),
        out: args.out.clone(),
        cacerts: args.cacerts.clone(),
        include_root: args.include_root,
        force: args.force,
        at: now,
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
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let password = read_password(&args.password)?;
    let report = inspect::inspect(&args.files, password.as_ref(), term.interactive, now)?;
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
            Err(err) => verify::VerifyReport::unreadable(file, &err, now),
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
        .filter_map(Roots::file)
        .chain(&args.key)
        .chain(&args.untrusted)
        .chain(&args.files);
    if stdin_uses.filter(|input| input.is_stdin()).count() > 1 {
        return Err(Error::Usage(
            "standard input ('-') can be read once: give at most one of --ca, --key, --untrusted and the files as '-'".to_string(),
        ));
    }
    checks::validate_hosts(&args.hosts)?;
    let at = args.at.unwrap_or(now);
    let ca = args.ca.as_ref().unwrap_or(&Roots::Mozilla).load()?;
    let (mut untrusted, mut untrusted_files) = (Vec::new(), Vec::new());
    for file in &args.untrusted {
        for cert in x509_cert::load_certs(file)? {
            untrusted.push(cert);
            untrusted_files.push(file.name());
        }
    }
    let key = match &args.key {
        Some(input) => Some((input.name(), x509_cert::load_key(input)?)),
        None => None,
    };
    Ok(checks::Context {
        ca,
        untrusted,
        untrusted_files,
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
    let base = args.ca.as_ref().unwrap_or(&Roots::Mozilla).load()?;
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
        alpn: tls::Alpn::parse(&args.alpn)?,
        timeout: args.timeout,
        concurrency: args.concurrency.get(),
        rancher: args.rancher,
        warn_days: args.warn_days,
        clients: args.judge.clients,
        max_depth: args.max_depth,
    };
    let show = format == OutputFormat::Text && request.targets.len() > 3 && term.stderr_is_terminal;
    // Drawn on stderr while the targets are probed, erased when the last one is done.
    let draw = |done: usize, total: usize| {
        use std::io::Write as _;
        let mut stderr = std::io::stderr();
        let _ = match done < total {
            true => write!(stderr, "\rprobed {done}/{total}"),
            false => write!(stderr, "\r{}\r", " ".repeat(24)),
        };
    };
    let report = served::probe(
        &request,
        show.then_some(&draw as &(dyn Fn(usize, usize) + Sync)),
    )
    .await;
    Ok(term.emit(&report, format, style)?)
}

/// The PKCS#12 password and where it came from (`--password-file` or `--password-env`).
fn read_password(args: &args::PasswordArgs) -> Result<Option<(String, String)>, Error> {
    match (&args.password_file, &args.password_env) {
        (Some(input), _) => Ok(Some((import::password_from_file(input)?, input.name()))),
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
