//! The manifests in deploy/ and examples/: rendered by `kubectl kustomize`, applied to the
//! API emulator with `kubectl apply --dry-run=client`, the alert rules checked and tested
//! by `promtool`, the Grafana dashboard's queries parsed by a real Prometheus (tests/serve.rs).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::emulator::Emulator;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn kubectl(args: &[&str]) -> (bool, String) {
    let output = Command::new("kubectl")
        .args(args)
        .output()
        .expect("kubectl runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

fn kinds(rendered: &str) -> Vec<String> {
    rendered
        .lines()
        .filter_map(|line| line.strip_prefix("kind: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_base_and_the_node_overlay_render_with_least_privilege() {
    let (ok, base) = kubectl(&["kustomize", &repo("deploy").display().to_string()]);
    assert!(ok, "{base}");
    assert_eq!(
        kinds(&base),
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment"
        ]
    );
    for expected in [
        "- --serve=:9793",
        "path: /readyz",
        "path: /healthz",
        "readOnlyRootFilesystem: true",
        "runAsNonRoot: true",
        "image: registry.example.com/rcert:0.1.0",
        "namespace: rcert",
    ] {
        assert!(base.contains(expected), "{expected} missing:\n{base}");
    }
    // Only get/list/watch: nothing that writes.
    for verb in ["create", "update", "patch", "delete"] {
        assert!(
            !base.contains(&format!("- {verb}")),
            "{verb} granted:\n{base}"
        );
    }
    let (ok, node) = kubectl(&["kustomize", &repo("deploy/node").display().to_string()]);
    assert!(ok, "{node}");
    assert!(kinds(&node).contains(&"DaemonSet".to_string()), "{node}");
    for expected in [
        "- --root=/host",
        "- --no-cluster",
        "mountPath: /host/var/lib/rancher",
        "readOnly: true",
        "pod-security.kubernetes.io/enforce: privileged",
    ] {
        assert!(node.contains(expected), "{expected} missing:\n{node}");
    }
    assert!(!node.contains("readOnly: false"));
    // Every container gets the built image, the DaemonSet's included.
    assert!(!node.contains("image: rcert\n"), "{node}");
    assert_eq!(
        node.matches("image: registry.example.com/rcert:0.1.0")
            .count(),
        2
    );
    // Rancher's agents and cacerts setting: readable by name only.
    for expected in ["- cattle-cluster-agent", "- cattle-node-agent", "- cacerts"] {
        assert!(base.contains(expected), "{expected} missing:\n{base}");
    }
}

#[test]
fn every_manifest_applies_to_the_api_emulator() {
    let emulator = Emulator::start();
    // The Prometheus operator's and Fleet's resources, as their CRDs register them.
    emulator.register(
        "monitoring.coreos.com/v1/servicemonitors",
        "ServiceMonitor",
        "servicemonitor",
    );
    emulator.register(
        "monitoring.coreos.com/v1/prometheusrules",
        "PrometheusRule",
        "prometheusrule",
    );
    emulator.register("fleet.cattle.io/v1alpha1/gitrepos", "GitRepo", "gitrepo");
    let kubeconfig = emulator.kubeconfig();
    for (flag, path, expected) in [
        (
            "-k",
            "deploy",
            &[
                "namespace/rcert",
                "clusterrole.rbac.authorization.k8s.io/rcert-exporter",
                "deployment.apps/rcert-exporter",
                "service/rcert-exporter",
            ][..],
        ),
        (
            "-k",
            "deploy/node",
            &[
                "daemonset.apps/rcert-node-exporter",
                "service/rcert-node-exporter",
            ][..],
        ),
        (
            "-k",
            "deploy/monitoring",
            &[
                "servicemonitor.monitoring.coreos.com/rcert",
                "prometheusrule.monitoring.coreos.com/rcert",
            ][..],
        ),
        (
            "-f",
            "examples/fleet/gitrepo.yaml",
            &["gitrepo.fleet.cattle.io/rcert-exporter"][..],
        ),
    ] {
        let (ok, text) = kubectl(&[
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "--dry-run=client",
            "--validate=false",
            flag,
            &repo(path).display().to_string(),
        ]);
        assert!(ok, "{path}: {text}");
        for object in expected {
            assert!(
                text.contains(&format!("{object} created (dry run)")),
                "{path}: {text}"
            );
        }
    }
}

/// The PrometheusRule's groups as a Prometheus rule file (JSON is YAML).
fn rule_file(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo("deploy/monitoring/prometheusrule.yaml")).unwrap();
    let rule: serde_json::Value =
        serde_saphyr::from_str(&text).expect("the PrometheusRule is YAML");
    let path = dir.join("rules.json");
    std::fs::write(&path, rule["spec"].to_string()).unwrap();
    path
}

fn promtool(args: &[&str]) -> (bool, String) {
    let output = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool (Debian prometheus) runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

#[test]
fn the_alerts_pass_promtool_and_fire_on_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rule_file(dir.path());
    let (ok, text) = promtool(&["check", "rules", &rules.display().to_string()]);
    assert!(ok, "{text}");
    assert!(text.contains("SUCCESS: 8 rules found"), "{text}");
    // Series at one-minute steps from time 0: a certificate 3 days from its end, one 20
    // days, an expired one, a source down, an agent with an old checksum.
    let tests = r#"
rule_files: [rules.json]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'x509_cert_not_after{subject_CN="soon"}'
        values: '259200x30'
      - series: 'x509_cert_expired{subject_CN="soon"}'
        values: '0x30'
      - series: 'x509_cert_not_after{subject_CN="later"}'
        values: '1728000x30'
      - series: 'x509_cert_expired{subject_CN="later"}'
        values: '0x30'
      - series: 'x509_cert_expired{subject_CN="gone"}'
        values: '1x30'
      - series: 'rcert_source_up{source="cluster secrets type=kubernetes.io/tls"}'
        values: '0x30'
      - series: 'rcert_agent_ca_checksum_match{agent="deployment cattle-system/cattle-cluster-agent"}'
        values: '0x30'
      - series: 'up{job="rcert-exporter", instance="10.42.0.7:9793"}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 1m
        alertname: CertificateExpiresWithin7Days
        exp_alerts:
          - exp_labels: {severity: critical, subject_CN: soon}
            exp_annotations:
              summary: Certificate soon expires within 7 days
              description: "soon expires in 2d 23h 59m 0s; its labels say where (secret, file or endpoint) and the exporter's page gives the command that renews it."
      - eval_time: 1m
        alertname: CertificateExpiresWithin30Days
        exp_alerts:
          - exp_labels: {severity: warning, subject_CN: later}
            exp_annotations:
              summary: Certificate later expires within 30 days
              description: "later expires in 19d 23h 59m 0s; its labels say where (secret, file or endpoint) and the exporter's page gives the command that renews it."
      - eval_time: 1m
        alertname: CertificateExpired
        exp_alerts:
          - exp_labels: {severity: critical, subject_CN: gone}
            exp_annotations:
              summary: Certificate gone has expired
              description: "gone has expired; its labels say where (secret, file or endpoint) and the exporter's page gives the command that renews it."
      - eval_time: 5m
        alertname: CertificateSourceDown
        exp_alerts: []
      - eval_time: 15m
        alertname: CertificateSourceDown
        exp_alerts:
          - exp_labels: {severity: warning, source: "cluster secrets type=kubernetes.io/tls"}
            exp_annotations:
              summary: rcert cannot read cluster secrets type=kubernetes.io/tls
              description: "The inventory of cluster secrets type=kubernetes.io/tls is not up to date: certificates there may expire unseen."
      - eval_time: 15m
        alertname: CertificateExporterDown
        exp_alerts:
          - exp_labels: {severity: warning, job: rcert-exporter, instance: "10.42.0.7:9793"}
            exp_annotations:
              summary: The rcert exporter 10.42.0.7:9793 cannot be scraped
              description: "Nothing watches these certificates while it is down: kubectl -n rcert get pods, and its log."
      - eval_time: 10m
        alertname: RancherAgentChecksumMismatch
        exp_alerts:
          - exp_labels: {severity: critical, agent: deployment cattle-system/cattle-cluster-agent}
            exp_annotations:
              summary: deployment cattle-system/cattle-cluster-agent carries a CATTLE_CA_CHECKSUM Rancher no longer serves
              description: "The agent will refuse to start (ca checksum mismatch) after its next restart. rcert rotate status shows what lags."
"#;
    let test_file = dir.path().join("tests.yaml");
    std::fs::write(&test_file, tests).unwrap();
    let (ok, text) = promtool(&["test", "rules", &test_file.display().to_string()]);
    assert!(ok, "{text}");
}

#[test]
fn the_grafana_dashboard_is_json_with_queries_on_rcert_metrics() {
    let text = std::fs::read_to_string(repo("deploy/grafana/rcert-expiry.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let exprs = dashboard_queries(&dashboard);
    assert_eq!(exprs.len(), 7);
    assert!(exprs
        .iter()
        .all(|expr| expr.contains("x509_cert_") || expr.contains("rcert_")));
}

/// Every panel's query.
pub fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<String> {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().clone())
        .map(|target| target["expr"].as_str().unwrap().to_string())
        .collect()
}
