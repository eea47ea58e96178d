//! The `rcert` binary: parse the command line, dispatch, print, map to exit codes.

use std::process::ExitCode;

use clap::Parser;
use rcert::cli::{
    Cli, Command, DoctorArgs, FullchainArgs, ProbeArgs, PushArgs, SelfsignArgs, VerifyArgs,
};
use rcert::report::{self, OutputFormat, Status, Style};
use rcert::{chain, doctor, exit, inspect, issue, probe, push, verify, Error};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = Style::new(cli.color, cli.verbose);
    let result = match &cli.command {
        Command::Selfsign(args) => selfsign(args, cli.output, &style),
        Command::Fullchain(args) => fullchain(args, cli.output, &style),
        Command::Inspect(args) => inspect_files(&args.files, cli.output, &style),
        Command::Verify(args) => verify_files(args, cli.output, &style),
        Command::Probe(args) => probe_targets(args, cli.output, &style),
        Command::Push(args) => push_secrets(args, cli.output, &style),
        Command::Doctor(args) => run_doctor(args, cli.output, &style),
        Command::Completions { shell } => completions(*shell),
        Command::Man => man_page(),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if cli.output == OutputFormat::Json {
                let document = serde_json::json!({
                    "error": err.to_string(),
                    "exit_code": err.exit_code(),
                });
                println!("{}", report::json(&document));
            }
            eprintln!("rcert: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Print a result as JSON or as text.
fn emit<T: serde::Serialize>(value: &T, output: OutputFormat, text: impl FnOnce() -> String) {
    match output {
        OutputFormat::Json => println!("{}", report::json(value)),
        OutputFormat::Text => print!("{}", text()),
    }
}

fn exit_for(status: Status) -> u8 {
    match status {
        Status::Failed => exit::CHECK_FAILED,
        Status::Skipped | Status::Ok | Status::Warning => exit::OK,
    }
}

fn selfsign(args: &SelfsignArgs, output: OutputFormat, style: &Style) -> Result<u8, Error> {
    let request = issue::SelfsignRequest {
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
        out_dir: args.out.clone(),
        force: args.force,
    };
    let result = issue::selfsign(&request)?;
    emit(&result, output, || report::selfsign_text(&result, style));
    Ok(exit::OK)
}

fn fullchain(args: &FullchainArgs, output: OutputFormat, style: &Style) -> Result<u8, Error> {
    let request = chain::FullchainRequest {
        inputs: args.files.clone(),
        out: args.out.clone(),
        cacerts: args.cacerts.clone(),
        include_root: args.include_root,
        force: args.force,
    };
    let result = chain::fullchain(&request)?;
    match output {
        OutputFormat::Json => println!("{}", report::json(&result)),
        OutputFormat::Text => {
            if let Some(pem) = &result.pem {
                print!("{pem}");
                eprint!("{}", report::fullchain_text(&result, style));
            } else {
                print!("{}", report::fullchain_text(&result, style));
            }
        }
    }
    Ok(if result.errors.is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}

fn inspect_files(files: &[String], output: OutputFormat, style: &Style) -> Result<u8, Error> {
    let items = inspect::inspect(files)?;
    emit(&items, output, || report::inspect_text(&items, style));
    Ok(exit::OK)
}

fn verify_files(args: &VerifyArgs, output: OutputFormat, style: &Style) -> Result<u8, Error> {
    let context = verify_context(args)?;
    let mut reports = Vec::new();
    for file in &args.files {
        reports.push(verify::verify_file(file, &context)?);
    }
    emit(&reports, output, || report::verify_text(&reports, style));
    let worst = reports.iter().map(|r| r.status).max().unwrap_or(Status::Ok);
    Ok(exit_for(worst))
}

fn verify_context(args: &VerifyArgs) -> Result<verify::Context, Error> {
    verify::validate_hosts(&args.hosts)?;
    let at = match &args.at {
        Some(text) => verify::parse_time(text)?,
        None => time::OffsetDateTime::now_utc(),
    };
    let ca = args.ca.as_deref().map(verify::CaBundle::load).transpose()?;
    let mut untrusted = Vec::new();
    for file in &args.untrusted {
        untrusted.extend(inspect::load_certs(file)?);
    }
    let key = match &args.key {
        Some(path) => Some((path.clone(), inspect::load_key(path)?)),
        None => None,
    };
    Ok(verify::Context {
        ca,
        untrusted,
        key,
        hosts: args.hosts.clone(),
        at,
        warn_days: args.warn_days,
    })
}

fn probe_targets(args: &ProbeArgs, output: OutputFormat, style: &Style) -> Result<u8, Error> {
    use std::io::IsTerminal;
    let targets = probe::Target::parse_all(&args.targets)?;
    if let Some(name) = &args.servername {
        probe::validate_servername(name)?;
    }
    if args.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".to_string()));
    }
    let request = probe::ProbeRequest {
        targets,
        servername: args.servername.clone(),
        ca: args.ca.as_deref().map(verify::CaBundle::load).transpose()?,
        alpn: probe::parse_alpn(&args.alpn)?,
        timeout: probe::parse_duration(&args.timeout)?,
        concurrency: args.concurrency,
        rancher: args.rancher,
        warn_days: args.warn_days,
    };
    let progress = output == OutputFormat::Text
        && request.targets.len() > 3
        && std::io::stderr().is_terminal();
    let result = probe::probe(&request, progress);
    emit(&result, output, || report::probe_text(&result, style));
    Ok(result.exit_code())
}

fn push_secrets(args: &PushArgs, output: OutputFormat, style: &Style) -> Result<u8, Error> {
    let (cert, key, ca) = match (&args.dir, &args.cert, &args.key) {
        (Some(dir), _, _) => push::PushRequest::files_from_dir(dir),
        (None, Some(cert), Some(key)) => (cert.clone(), key.clone(), args.ca.clone()),
        _ => return Err(push::PushError::NoInput.into()),
    };
    let request = push::PushRequest {
        namespace: args.namespace.clone(),
        cert,
        key,
        ca,
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        dry_run: args.dry_run,
        force: args.force,
        secret_name: args.secret_name.clone(),
        ca_secret_name: args.ca_secret_name.clone(),
        backup_dir: args.backup_dir.clone(),
        timeout: probe::parse_duration(&args.timeout)?,
    };
    let result = push::push(&request)?;
    match (output, &result.manifests) {
        (OutputFormat::Json, _) => println!("{}", report::json(&result)),
        (OutputFormat::Text, Some(manifests)) => {
            print!("{manifests}");
            eprint!("{}", report::push_text(&result, style));
        }
        (OutputFormat::Text, None) => print!("{}", report::push_text(&result, style)),
    }
    Ok(result.exit_code())
}

fn completions(shell: clap_complete::Shell) -> Result<u8, Error> {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "rcert", &mut std::io::stdout());
    Ok(exit::OK)
}

fn man_page() -> Result<u8, Error> {
    use clap::CommandFactory;
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|err| Error::Usage(format!("cannot render the man page: {err}")))?;
    use std::io::Write;
    std::io::stdout()
        .write_all(&page)
        .map_err(|err| Error::Usage(format!("cannot write the man page: {err}")))?;
    Ok(exit::OK)
}

fn run_doctor(args: &DoctorArgs, output: OutputFormat, style: &Style) -> Result<u8, Error> {
    let nodes = probe::Target::parse_all(&args.nodes)?;
    let request = doctor::DoctorRequest {
        host: probe::Target::parse(&args.host)?,
        nodes,
        namespace: args.namespace.clone(),
        dir: args.dir.clone(),
        ca: args.ca.clone(),
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        timeout: probe::parse_duration(&args.timeout)?,
        secret_name: args.secret_name.clone(),
        ca_secret_name: args.ca_secret_name.clone(),
    };
    let result = doctor::doctor(&request)?;
    emit(&result, output, || report::doctor_text(&result, style));
    Ok(result.exit_code())
}
