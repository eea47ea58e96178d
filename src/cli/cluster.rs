//! The runners of the commands that talk to a cluster (push, doctor, expiry, rotate,
//! kubeconfig check): arguments → request → report, as in [`super`].

use crate::cluster::{ClusterTarget, Namespace};
use crate::commands::{doctor, expiry, kubeconfig, push, rotate};
use crate::output::{ColorChoice, OutputFormat, Report, Style, Terminal};
use crate::{exit, Error};

use super::args::{self, DoctorArgs, ExpiryArgs, PushArgs};

pub(super) async fn run_push(
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
    let stdin_uses = [&cert, &key, &ca]
        .into_iter()
        .flatten()
        .chain(&args.additional_ca)
        .filter(|input| input.is_stdin())
        .count();
    if stdin_uses > 1 {
        return Err(Error::Usage(
            "standard input ('-') can be read once: give at most one of --cert, --key, --ca and --additional-ca as '-'".to_string(),
        ));
    }
    let request = push::PushRequest {
        at: now,
        clients: args.judge.clients,
        namespace: Namespace::parse(&args.namespace)?,
        cert,
        key,
        ca,
        cluster: cluster_target(&args.cluster, args.timeout),
        dry_run: args.dry_run,
        force: args.force,
        secret_name: args.secret_name.clone(),
        ca_secret_name: args.ca_secret_name.clone(),
        backup_dir: args.backup_dir.clone(),
        replace: args.replace,
        create_namespace: !args.no_create_namespace,
        additional_ca: args.additional_ca.clone(),
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

pub(super) async fn run_doctor(
    term: &mut Terminal<'_>,
    args: &DoctorArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    if let Some(dir) = args.dir.as_ref().filter(|dir| !dir.is_dir()) {
        return Err(Error::Usage(format!(
            "--dir {}: no such directory (the local tls.crt, tls.key and cacerts.pem to compare with the cluster)",
            dir.display()
        )));
    }
    let request = doctor::DoctorRequest {
        at: now,
        clients: args.judge.clients,
        host: args.host.clone(),
        nodes: args.nodes.clone(),
        namespace: Namespace::parse(&args.namespace)?,
        dir: args.dir.clone(),
        ca: args.ca.clone(),
        cluster: cluster_target(&args.cluster, args.timeout),
        secret_name: args.secret_name.clone(),
        ca_secret_name: args.ca_secret_name.clone(),
    };
    let report = doctor::doctor(&request).await?;
    Ok(term.emit(&report, format, style)?)
}

pub(super) async fn run_expiry(
    term: &mut Terminal<'_>,
    args: &ExpiryArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let namespaces = args
        .namespaces
        .iter()
        .map(|namespace| Namespace::parse(namespace))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(root) = args.root.as_ref().filter(|root| !root.is_dir()) {
        return Err(Error::Usage(format!(
            "--root {}: no such directory (the node's file system, e.g. the host mounted at /host)",
            root.display()
        )));
    }
    // One run reads what is there now: a --path that is not there is a typo (the
    // exporter keeps looking, as a file may appear).
    if let Some(missing) = args
        .paths
        .iter()
        .find(|path| args.serve.is_none() && !path.exists())
    {
        return Err(Error::Usage(format!(
            "--path {}: no such file or directory",
            missing.display()
        )));
    }
    let request = expiry::ExpiryRequest {
        cluster: cluster_target(&args.cluster, args.timeout),
        all_contexts: args.all_contexts,
        namespaces,
        no_cluster: args.no_cluster,
        root: args
            .root
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("/")),
        no_node: args.no_node,
        paths: args.paths.clone(),
        targets: args.targets.clone(),
        within: args.within,
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

pub(super) async fn run_rotate(
    term: &mut Terminal<'_>,
    command: &args::RotateCommand,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let common = match command {
        args::RotateCommand::Plan(common) => common,
        args::RotateCommand::Status(status) => &status.common,
        args::RotateCommand::Apply(apply) => &apply.common,
    };
    let request = rotate::RotateRequest {
        at: now,
        dir: common.dir.clone(),
        namespace: Namespace::parse(&common.namespace)?,
        cluster: cluster_target(&common.cluster, common.timeout),
        host: common.host.clone(),
        roots: common.ca.clone(),
    };
    let report = match command {
        args::RotateCommand::Plan(_) => rotate::plan(&request).await?,
        args::RotateCommand::Apply(apply) => {
            let request = rotate::ApplyRequest {
                node: apply.node.clone(),
                all_contexts: apply.all_contexts,
                backup_dir: apply
                    .backup_dir
                    .clone()
                    .unwrap_or_else(|| rotate::default_backup_dir(&common.dir)),
                dry_run: apply.dry_run,
                step: apply.step,
                agents: apply.agents,
                restart_rancher: apply.restart_rancher.then_some(apply.wait),
                common: request,
            };
            // Ctrl-C during the change: rolled back and reported, then exit 130.
            let _guard = (!request.dry_run).then(crate::interrupt::Guard::watch);
            let report = rotate::apply(&request).await?;
            let code = term.emit(&report, format, style)?;
            return Ok(interrupted_or(code));
        }
        args::RotateCommand::Status(status) => {
            let request = rotate::StatusRequest {
                node: status.node.clone(),
                all_contexts: status.all_contexts,
                common: request,
            };
            rotate::status(&request).await?
        }
    };
    Ok(term.emit(&report, format, style)?)
}

/// `--kubeconfig`, `--context` and `--timeout` as the cluster a command talks to.
fn cluster_target(args: &args::ClusterArgs, timeout: std::time::Duration) -> ClusterTarget {
    ClusterTarget {
        kubeconfig: args.kubeconfig.clone(),
        context: args.context.clone(),
        timeout,
    }
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

pub(super) async fn run_kubeconfig_check(
    term: &mut Terminal<'_>,
    args: &args::KubeconfigArgs,
    format: OutputFormat,
    style: &Style,
    now: time::OffsetDateTime,
) -> Result<u8, Error> {
    let request = kubeconfig::KubeconfigRequest {
        at: now,
        cluster: cluster_target(&args.cluster, args.timeout),
        all_contexts: args.all_contexts,
        within: args.within,
    };
    let report = kubeconfig::check(&request).await?;
    Ok(term.emit(&report, format, style)?)
}
