//! `rcert rotate plan|apply|status` against the Kubernetes API emulator holding a Rancher
//! install's objects: the two secrets, management Settings and Clusters with conditions,
//! fleet Clusters, the cattle-cluster-agent Deployment. Everything read back with kubectl.

mod common;

use std::path::Path;

use common::emulator::Emulator;
use common::*;

fn selfsign(dir: &Path) {
    let (code, _, stderr) = run(&[
        "selfsign",
        "--host",
        "rancher.example.com",
        "--out",
        &dir.display().to_string(),
    ]);
    assert_eq!(code, 0, "{stderr}");
}

/// A fresh CA and certificate for rancher.example.com in a temporary directory.
fn selfsigned() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    selfsign(dir.path());
    dir
}

/// A Rancher install whose secrets hold `old`, with two downstream clusters, fleet and an agent.
fn rancher_install(old: &Path) -> Emulator {
    let emulator = Emulator::start();
    let backups = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&[
        "push",
        "--dir",
        &old.display().to_string(),
        "--kubeconfig",
        &emulator.kubeconfig(),
        "--backup-dir",
        &backups.path().display().to_string(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    emulator.register_cluster_scoped("management.cattle.io/v3/settings", "Setting", "setting");
    emulator.register_cluster_scoped("management.cattle.io/v3/clusters", "Cluster", "cluster");
    emulator.register("fleet.cattle.io/v1alpha1/clusters", "Cluster", "cluster");
    let old_ca = std::fs::read_to_string(old.join("cacerts.pem")).unwrap();
    emulator.seed(
        "management.cattle.io/v3/settings",
        &[
            serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
            "metadata": {"name": "cacerts"}, "value": old_ca}),
        ],
    );
    let cluster = |name: &str| {
        serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Cluster",
            "metadata": {"name": name}, "status": {"conditions": [{"type": "Connected", "status": "True"}]}})
    };
    emulator.seed(
        "management.cattle.io/v3/clusters",
        &[cluster("local"), cluster("c-m-one"), cluster("c-m-two")],
    );
    emulator.seed(
        "fleet.cattle.io/v1alpha1/clusters",
        &[serde_json::json!({"apiVersion": "fleet.cattle.io/v1alpha1", "kind": "Cluster",
            "metadata": {"namespace": "fleet-default", "name": "one"}, "spec": {"redeployAgentGeneration": 2}})],
    );
    set_agent_checksum(&emulator, &sha256sum(old_ca.as_bytes()));
    emulator.seed(
        "v1/secrets",
        &[common::emulator::helm_release_secret(
            "cattle-system",
            "rancher",
            3,
            "deployed",
            serde_json::json!({"hostname": "rancher.example.com", "privateCA": true,
                "ingress": {"tls": {"source": "secret"}}}),
        )],
    );
    emulator
}

fn set_agent_checksum(emulator: &Emulator, checksum: &str) {
    emulator.seed_one(common::emulator::workload_json(
        "Deployment",
        "cattle-cluster-agent",
        "rancher/rancher-agent",
        serde_json::json!([{"name": "CATTLE_CA_CHECKSUM", "value": checksum}]),
    ));
}

/// The file names in DIR/backups.
fn backup_names(dir: &Path) -> Vec<String> {
    dir.join("backups")
        .read_dir()
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .collect()
}

fn kubectl(emulator: &Emulator, args: &[&str]) -> String {
    let output = std::process::Command::new("kubectl")
        .args(["--kubeconfig", &emulator.kubeconfig()])
        .args(args)
        .output()
        .expect("kubectl runs");
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// Run `rcert rotate ARGS` as JSON; every run's `api_requests` must be what the API
/// server saw (one counting layer around the client, no hand counts).
fn rotate(emulator: &Emulator, args: &[&str]) -> (i32, serde_json::Value) {
    let kubeconfig = emulator.kubeconfig();
    let mut all = vec!["rotate"];
    all.extend(args);
    all.extend(["--kubeconfig", kubeconfig.as_str()]);
    let before = emulator.requests().len();
    let (code, json) = run_json(&all);
    let seen = emulator.requests().len() - before;
    if let Some(reported) = json["api_requests"].as_u64() {
        assert_eq!(
            reported, seen as u64,
            "rotate {args:?}: reported vs seen by the API server"
        );
    }
    (code, json)
}

fn steps(json: &serde_json::Value) -> String {
    json["steps"].to_string()
}

/// `rcert rotate status --to DIR --kubeconfig K`, as a fix names it.
fn status_argv(to: &str, emulator: &Emulator) -> serde_json::Value {
    serde_json::json!([
        "rcert",
        "rotate",
        "status",
        "--to",
        to,
        "--kubeconfig",
        emulator.kubeconfig()
    ])
}

/// Whether a step line read in `context` (`--all-contexts`) says `text`.
fn has_line(json: &serde_json::Value, context: &str, text: &str) -> bool {
    json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|line| line["context"] == context && line["message"].as_str().unwrap().contains(text))
}

/// The `(step, number)` of the first step line whose message says `text`.
fn step_of(json: &serde_json::Value, text: &str) -> (String, u64) {
    let line = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["message"].as_str().unwrap().contains(text))
        .unwrap_or_else(|| panic!("no line says {text:?}: {json:#}"));
    (
        line["step"].as_str().unwrap().to_string(),
        line["number"].as_u64().unwrap(),
    )
}

#[test]
fn plan_apply_and_status_carry_the_agents_through_a_ca_change() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    let to = new.path().display().to_string();
    let new_sum = sha256sum(&std::fs::read(new.path().join("cacerts.pem")).unwrap());
    let old_sum = sha256sum(&std::fs::read(old.path().join("cacerts.pem")).unwrap());

    let (code, json) = rotate(&emulator, &["plan", "--to", &to]);
    assert_eq!(code, 0, "{json:#}");
    let plan = steps(&json);
    assert!(
        plan.contains(&format!("CATTLE_CA_CHECKSUM {old_sum} → {new_sum}")),
        "{plan}"
    );
    assert!(
        plan.contains("cluster c-m-one (Connected=True) gets io.cattle.agent.force.deploy=true"),
        "{plan}"
    );
    assert!(
        !plan.contains("cluster local"),
        "the local cluster is not annotated: {plan}"
    );
    assert!(
        plan.contains("fleet-default/one redeployAgentGeneration 2 → 3"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "helm release rancher v3 already has ingress.tls.source=secret, privateCA=true"
        ),
        "{plan}"
    );
    assert!(
        json["validation"]
            .to_string()
            .contains("valid for rancher.example.com"),
        "the host from the helm release is checked"
    );

    // The plan is data, its steps numbered once: plan, apply and status agree.
    assert_eq!(json["plan"]["fleet"][0]["generation_now"], 2, "{json:#}");
    assert_eq!(json["plan"]["fleet"][0]["generation_new"], 3, "{json:#}");
    assert_eq!(json["plan"]["agents"]["clusters"][0]["name"], "c-m-one");
    assert_eq!(json["plan"]["secrets"]["tls_ca"], "replace");
    assert_eq!(
        step_of(&json, "redeployAgentGeneration 2 → 3"),
        ("fleet".to_string(), 4)
    );
    assert_eq!(
        step_of(&json, "tls-rancher-ingress"),
        ("secrets".to_string(), 1)
    );
    assert_eq!(
        step_of(&json, "helm release rancher v3"),
        ("rancher".to_string(), 2)
    );
    assert_eq!(step_of(&json, "cluster c-m-one"), ("agents".to_string(), 3));

    let (code, json) = rotate(&emulator, &["apply", "--to", &to, "--dry-run"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(
        step_of(&json, "would apply secret cattle-system/tls-ca"),
        ("secrets".to_string(), 1)
    );
    assert_eq!(
        emulator
            .kubectl_get("cattle-system", "tls-ca", "cacerts.pem")
            .unwrap(),
        std::fs::read(old.path().join("cacerts.pem")).unwrap(),
        "a dry run changes nothing"
    );

    // The secrets change; the agents and fleet wait until Rancher hands out the new CA.
    let (code, json) = rotate(&emulator, &["apply", "--to", &to]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(
        emulator
            .kubectl_get("cattle-system", "tls-ca", "cacerts.pem")
            .unwrap(),
        std::fs::read(new.path().join("cacerts.pem")).unwrap()
    );
    let waiting = json["steps"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(waiting["status"], "warning", "{json:#}");
    assert!(
        waiting["message"].as_str().unwrap().starts_with(&format!("agents and fleet not changed yet: Rancher's cacerts setting does not hold the new CA yet (it follows tls-ca when Rancher restarts). Next: kubectl --kubeconfig {} -n cattle-system rollout restart deploy/rancher", emulator.kubeconfig())),
        "{waiting:#}"
    );
    assert_eq!(
        waiting["fix"]["commands"],
        serde_json::json!([
            [
                "kubectl",
                "--kubeconfig",
                emulator.kubeconfig(),
                "-n",
                "cattle-system",
                "rollout",
                "restart",
                "deploy/rancher"
            ],
            status_argv(&to, &emulator)
        ]),
        "the commands reach the cluster the run read: {waiting:#}"
    );
    assert_eq!(
        force_deploy(&emulator, "c-m-one"),
        "",
        "not redeployed with the old CA"
    );
    assert!(
        new.path().join("backups").read_dir().unwrap().count() >= 2,
        "both secrets backed up"
    );
    // Asked alone, the agents step is refused while Rancher lags.
    let (code, json) = rotate(&emulator, &["apply", "--to", &to, "--step", "agents"]);
    assert_eq!(code, 1, "{json:#}");

    // Before Rancher restarts, the cacerts setting and the agents lag.
    let (code, json) = rotate(&emulator, &["status", "--to", &to]);
    assert_eq!(code, 1, "{json:#}");
    let status = steps(&json);
    assert!(
        status.contains("it follows tls-ca only when Rancher restarts"),
        "{status}"
    );
    assert_eq!(
        step_of(&json, "it follows tls-ca only when Rancher restarts"),
        ("rancher".to_string(), 2)
    );
    // A connected cluster is not proof: its agent keeps the old checksum until redeployed.
    assert_eq!(
        step_of(
            &json,
            "cluster c-m-one is connected, but rcert has not redeployed its agent"
        ),
        ("agents".to_string(), 3)
    );
    // Step 4 is there too: fleet lags until apply redeploys it.
    assert_eq!(
        step_of(&json, "fleet-default/one was not redeployed for the new CA"),
        ("fleet".to_string(), 4)
    );
    assert!(
        status.contains(&format!("CATTLE_CA_CHECKSUM={old_sum} (new: {new_sum})")),
        "{status}"
    );
    let lagging = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["cause"] == "agent_checksum_mismatch")
        .unwrap();
    assert_eq!(
        lagging["evidence"],
        serde_json::json!({"kind": "checksums", "found": old_sum, "expected": new_sum})
    );

    // Rancher restarted (the setting follows): the agents and fleet are carried through.
    rancher_restarted(&emulator, new.path());
    let (code, json) = rotate(&emulator, &["apply", "--to", &to]);
    assert_eq!(code, 0, "{json:#}");
    assert!(
        steps(&json).contains("secret tls-ca: unchanged"),
        "{json:#}"
    );
    for name in ["c-m-one", "c-m-two"] {
        assert_eq!(force_deploy(&emulator, name), "true", "{name}");
    }
    assert_eq!(fleet_generation(&emulator), "3");
    assert_eq!(
        step_of(&json, "fleet-default/one: redeployAgentGeneration 2 → 3"),
        ("fleet".to_string(), 4)
    );
    assert_eq!(
        json["next"]["commands"][0],
        status_argv(&to, &emulator),
        "{json:#}"
    );
    // A plan now says what is already done.
    let (code, json) = rotate(&emulator, &["plan", "--to", &to]);
    assert_eq!(code, 0, "{json:#}");
    assert!(
        steps(&json).contains("fleet-default/one: unchanged (already redeployed for this CA)"),
        "{json:#}"
    );
    assert_eq!(json["plan"]["fleet"][0]["done"], true);

    // The agents came back with the new checksum.
    set_agent_checksum(&emulator, &new_sum);
    let (code, json) = rotate(&emulator, &["status", "--to", &to]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["status"], "ok", "nothing lags: {json:#}");
    assert_eq!(
        step_of(
            &json,
            "fleet-default/one redeployed its agent for the new CA"
        ),
        ("fleet".to_string(), 4)
    );
}

/// Rancher restarted: its cacerts setting holds `dir`'s cacerts.pem (empty without one).
fn rancher_restarted(emulator: &Emulator, dir: &Path) {
    let ca = std::fs::read_to_string(dir.join("cacerts.pem")).unwrap_or_default();
    emulator.seed(
        "management.cattle.io/v3/settings",
        &[
            serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
            "metadata": {"name": "cacerts"}, "value": ca}),
        ],
    );
}

/// A management cluster's force-deploy annotation, as kubectl reads it.
fn force_deploy(emulator: &Emulator, cluster: &str) -> String {
    kubectl(
        emulator,
        &[
            "get",
            "clusters.management.cattle.io",
            cluster,
            "-o=jsonpath={.metadata.annotations.io\\.cattle\\.agent\\.force\\.deploy}",
        ],
    )
}

/// fleet-default/one's redeployAgentGeneration, as kubectl reads it.
fn fleet_generation(emulator: &Emulator) -> String {
    kubectl(
        emulator,
        &[
            "-n",
            "fleet-default",
            "get",
            "clusters.fleet.cattle.io",
            "one",
            "-o=jsonpath={.spec.redeployAgentGeneration}",
        ],
    )
}

#[test]
fn a_bad_set_is_refused_and_a_failure_half_way_is_rolled_back() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    // A key that does not belong: refused, nothing changed.
    let bad = tempfile::tempdir().unwrap();
    for file in ["tls.crt", "cacerts.pem"] {
        std::fs::copy(new.path().join(file), bad.path().join(file)).unwrap();
    }
    std::fs::copy(old.path().join("tls.key"), bad.path().join("tls.key")).unwrap();
    let before = emulator.requests().len();
    let (code, json) = rotate(
        &emulator,
        &["apply", "--to", &bad.path().display().to_string()],
    );
    assert_eq!(code, 1, "{json:#}");
    assert!(steps(&json).contains("does not validate; nothing was changed"));
    assert_eq!(
        emulator.requests().len(),
        before,
        "refused before any request"
    );

    // A set for another name: refused once the helm release names Rancher's host.
    let other = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&[
        "selfsign",
        "--host",
        "other.example.com",
        "--out",
        &other.path().display().to_string(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let before = emulator.requests().len();
    let (code, json) = rotate(
        &emulator,
        &["apply", "--to", &other.path().display().to_string()],
    );
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains("does not validate for rancher.example.com, the hostname of the rancher helm release; nothing was changed"),
        "{json:#}"
    );
    assert!(
        emulator.requests()[before..]
            .iter()
            .all(|r| r.starts_with("GET")),
        "only reads"
    );

    // The second cluster's patch fails: the first one's annotation and both secrets are
    // taken back. (Rancher already hands out the new CA, so apply reaches the agents.)
    rancher_restarted(&emulator, new.path());
    emulator.fault("PATCH", "/clusters/c-m-two", 500);
    let to = new.path().display().to_string();
    let (code, json) = rotate(&emulator, &["apply", "--to", &to]);
    assert_eq!(code, 1, "{json:#}");
    let failure = json["steps"].as_array().unwrap().last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        failure.starts_with("cannot patch clusters.management.cattle.io/c-m-two: API server error 500 (injected); rolled back cluster c-m-one; secrets: rolled back"),
        "{failure}"
    );
    assert!(
        failure.contains("rolled back cluster c-m-one; secrets: rolled back: secret cattle-system/tls-rancher-ingress restored from"),
        "{failure}"
    );
    assert_eq!(force_deploy(&emulator, "c-m-one"), "", "rolled back");
    for (secret, key, file) in [
        ("tls-ca", "cacerts.pem", "cacerts.pem"),
        ("tls-rancher-ingress", "tls.crt", "tls.crt"),
    ] {
        assert_eq!(
            emulator.kubectl_get("cattle-system", secret, key).unwrap(),
            std::fs::read(old.path().join(file)).unwrap(),
            "{secret} restored"
        );
    }
}

/// CATTLE_CA_CHECKSUM of an agent workload, as kubectl reads it.
fn agent_checksum(emulator: &Emulator, kind: &str, name: &str) -> String {
    kubectl(
        emulator,
        &[
            "-n",
            "cattle-system",
            "get",
            kind,
            name,
            "-o=jsonpath={.spec.template.spec.containers[0].env[?(@.name==\"CATTLE_CA_CHECKSUM\")].value}",
        ],
    )
}

/// A cattle-node-agent DaemonSet beside the checksum, with another variable and an image.
fn add_node_agent(emulator: &Emulator, checksum: &str) {
    emulator.seed_one(common::emulator::workload_json(
        "DaemonSet",
        "cattle-node-agent",
        "rancher/rancher-agent:v2.12.1",
        serde_json::json!([{"name": "CATTLE_SERVER", "value": "https://rancher.example.com"},
            {"name": "CATTLE_CA_CHECKSUM", "value": checksum},
            {"name": "CATTLE_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]),
    ));
}

#[test]
fn the_env_method_sets_the_agents_checksum_and_takes_it_back_on_failure() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    let old_sum = sha256sum(&std::fs::read(old.path().join("cacerts.pem")).unwrap());
    let new_sum = sha256sum(&std::fs::read(new.path().join("cacerts.pem")).unwrap());
    add_node_agent(&emulator, &old_sum);
    let to = new.path().display().to_string();
    let env = ["--step", "agents", "--agents", "env"];

    let (code, json) = rotate(
        &emulator,
        &[&["apply", "--to", &to, "--dry-run"][..], &env].concat(),
    );
    assert_eq!(code, 0, "{json:#}");
    let dry = steps(&json);
    assert!(
        dry.contains("would PATCH deployment cattle-system/cattle-cluster-agent (merge)")
            && dry.contains("would PATCH daemonset cattle-system/cattle-node-agent (merge)"),
        "{dry}"
    );
    assert!(
        dry.contains(&new_sum),
        "the patch shows the new checksum: {dry}"
    );
    assert_eq!(
        agent_checksum(&emulator, "deployment", "cattle-cluster-agent"),
        old_sum
    );

    rancher_restarted(&emulator, new.path());
    // A run whose DaemonSet patch fails: exit 1, the failure named, the Deployment set back.
    let failing_run = |failure: &str| {
        let (code, json) = rotate(&emulator, &[&["apply", "--to", &to][..], &env].concat());
        assert_eq!(code, 1, "{json:#}");
        let lines = steps(&json);
        assert!(lines.contains(failure), "{failure}: {lines}");
        assert!(
            lines.contains("rolled back deployment cattle-system/cattle-cluster-agent"),
            "{lines}"
        );
        assert_eq!(
            agent_checksum(&emulator, "deployment", "cattle-cluster-agent"),
            old_sum
        );
    };
    // Someone edits the DaemonSet right after rcert read it: the API server refuses the
    // patch that carries the old resourceVersion (409).
    emulator.touch_after("GET", "/daemonsets/cattle-node-agent");
    failing_run("cannot patch daemonset cattle-system/cattle-node-agent: 409 Conflict — changed by someone else meanwhile; run again");
    assert_eq!(
        agent_checksum(&emulator, "daemonset", "cattle-node-agent"),
        old_sum,
        "the refused patch changed nothing"
    );
    // The API server fails the DaemonSet's patch.
    emulator.fault("PATCH", "/daemonsets/cattle-node-agent", 500);
    failing_run("cannot patch daemonset cattle-system/cattle-node-agent: API server error 500 (injected); rolled back deployment cattle-system/cattle-cluster-agent");
    emulator.clear_faults();

    let (code, json) = rotate(&emulator, &[&["apply", "--to", &to][..], &env].concat());
    assert_eq!(code, 0, "{json:#}");
    assert!(
        steps(&json).contains(&format!(
            "daemonset cattle-system/cattle-node-agent: CATTLE_CA_CHECKSUM {old_sum} → {new_sum}"
        )),
        "{json:#}"
    );
    assert_eq!(
        agent_checksum(&emulator, "deployment", "cattle-cluster-agent"),
        new_sum
    );
    assert_eq!(
        agent_checksum(&emulator, "daemonset", "cattle-node-agent"),
        new_sum
    );
    // Everything else of the container is kept, in order.
    let env_names = kubectl(
        &emulator,
        &["-n", "cattle-system", "get", "daemonset", "cattle-node-agent",
          "-o=jsonpath={.spec.template.spec.containers[0].env[*].name} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[2].valueFrom.fieldRef.fieldPath}"],
    );
    assert_eq!(
        env_names,
        "CATTLE_SERVER CATTLE_CA_CHECKSUM CATTLE_NODE_NAME rancher/rancher-agent:v2.12.1 spec.nodeName"
    );
    let backups = backup_names(new.path());
    assert!(
        backups
            .iter()
            .any(|name| name.starts_with("cattle-system-cattle-node-agent-daemonset-")),
        "{backups:?}"
    );

    // A rerun changes nothing.
    let before = emulator.requests().len();
    let (code, json) = rotate(&emulator, &[&["apply", "--to", &to][..], &env].concat());
    assert_eq!(code, 0, "{json:#}");
    assert!(
        steps(&json).contains(&format!(
            "deployment cattle-system/cattle-cluster-agent: unchanged (CATTLE_CA_CHECKSUM already {new_sum})"
        )),
        "{json:#}"
    );
    let patches = emulator.requests()[before..]
        .iter()
        .filter(|r| r.starts_with("PATCH"))
        .count();
    assert_eq!(patches, 0, "a rerun sends no patch");

    // status: every agent has the new checksum.
    let (_, json) = rotate(&emulator, &["status", "--to", &to]);
    assert!(
        steps(&json)
            .contains("daemonset cattle-system/cattle-node-agent has the new CATTLE_CA_CHECKSUM"),
        "{json:#}"
    );
}

#[test]
fn a_rerun_of_apply_leaves_done_clusters_unchanged() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    let to = new.path().display().to_string();
    rancher_restarted(&emulator, new.path());
    let (code, json) = rotate(&emulator, &["apply", "--to", &to]);
    assert_eq!(code, 0, "{json:#}");
    let (code, json) = rotate(&emulator, &["apply", "--to", &to]);
    assert_eq!(code, 0, "{json:#}");
    let again = steps(&json);
    for line in [
        "secret tls-ca: unchanged",
        "secret tls-rancher-ingress: unchanged",
        "cluster c-m-one: unchanged (already redeployed for this CA)",
        "fleet-default/one: unchanged (already redeployed for this CA)",
    ] {
        assert!(again.contains(line), "{line}: {again}");
    }
    assert_eq!(fleet_generation(&emulator), "3", "raised once, not twice");
}

#[test]
fn moving_to_a_publicly_trusted_certificate_deletes_tls_ca_and_empties_the_checksum() {
    let (old, public) = (selfsigned(), selfsigned());
    // The "public" root stands in for a public CA: clients are given it with --ca.
    let roots = tempfile::tempdir().unwrap();
    let root = roots.path().join("public-root.pem");
    std::fs::rename(public.path().join("cacerts.pem"), &root).unwrap();
    let emulator = rancher_install(old.path());
    add_node_agent(
        &emulator,
        &sha256sum(&std::fs::read(old.path().join("cacerts.pem")).unwrap()),
    );
    let to = public.path().display().to_string();
    let root = root.display().to_string();

    let (code, json) = rotate(&emulator, &["plan", "--to", &to]);
    assert_eq!(
        code, 1,
        "without --ca the self-made root is not public: {json:#}"
    );
    let (code, json) = rotate(&emulator, &["plan", "--to", &to, "--ca", &root]);
    assert_eq!(code, 0, "{json:#}");
    let plan = steps(&json);
    assert!(
        plan.contains("tls-ca is deleted and the agents' checksum emptied"),
        "{plan}"
    );
    assert!(plan.contains("--set privateCA=false"), "{plan}");

    let apply = ["apply", "--to", &to, "--ca", &root, "--agents", "env"];
    let (code, json) = rotate(&emulator, &apply);
    assert_eq!(code, 0, "{json:#}");
    assert!(
        steps(&json).contains("secret tls-ca: deleted (previous version in"),
        "{json:#}"
    );
    assert!(
        steps(&json).contains("agents and fleet not changed yet"),
        "{json:#}"
    );
    let (code, json) = rotate(&emulator, &["status", "--to", &to, "--ca", &root]);
    assert_eq!(code, 1, "{json:#}");
    let status = steps(&json);
    assert!(
        status.contains("tls-rancher-ingress holds the new certificate and tls-ca is gone"),
        "{status}"
    );
    assert!(status.contains("cacerts setting still holds a private CA: it is emptied when Rancher restarts with privateCA=false"), "{status}");
    // Rancher restarted with privateCA=false: its cacerts setting is empty.
    rancher_restarted(&emulator, public.path());
    let (code, json) = rotate(&emulator, &apply);
    assert_eq!(code, 0, "{json:#}");
    assert!(
        steps(&json).contains("secret tls-ca: unchanged"),
        "{json:#}"
    );
    assert_eq!(
        emulator.kubectl_get("cattle-system", "tls-ca", "cacerts.pem"),
        None
    );
    assert_eq!(
        emulator
            .kubectl_get("cattle-system", "tls-rancher-ingress", "tls.crt")
            .unwrap(),
        std::fs::read(public.path().join("tls.crt")).unwrap()
    );
    assert_eq!(
        agent_checksum(&emulator, "deployment", "cattle-cluster-agent"),
        ""
    );
    assert_eq!(
        agent_checksum(&emulator, "daemonset", "cattle-node-agent"),
        ""
    );

    let (code, json) = rotate(&emulator, &["status", "--to", &to, "--ca", &root]);
    assert_eq!(code, 0, "{json:#}");
}

#[test]
fn status_with_host_reads_what_the_endpoint_serves() {
    use common::servers::{free_port, nginx, rancher_locations, tls_server_block};
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    let to = new.path().display().to_string();
    let (code, json) = rotate(&emulator, &["apply", "--to", &to, "--step", "secrets"]);
    assert_eq!(code, 0, "{json:#}");
    // The ingress still serves the old set.
    let port = free_port();
    let path = |dir: &Path, name: &str| dir.join(name).display().to_string();
    let block = tls_server_block(
        port,
        "_",
        &path(old.path(), "tls.crt"),
        &path(old.path(), "tls.key"),
        &rancher_locations(&path(old.path(), "cacerts.pem")),
    );
    let server = nginx(&format!("http {{\n{block}}}\n"), &[port]);
    let node = format!("127.0.0.1:{port}");
    let args = [
        "status",
        "--to",
        &to,
        "--host",
        "rancher.example.com",
        "--node",
        &node,
    ];
    let (code, json) = rotate(&emulator, &args);
    assert_eq!(code, 1, "{json:#}");
    let status = steps(&json);
    assert!(
        status.contains(&format!("{node} still serves 'CN=rancher.example.com")),
        "{status}"
    );
    let old_sum = sha256sum(&std::fs::read(old.path().join("cacerts.pem")).unwrap());
    assert!(
        status.contains(&format!("/cacerts serves sha256 {old_sum} (new: ")),
        "{status}"
    );
    drop(server);
    // The ingress and Rancher follow.
    let block = tls_server_block(
        port,
        "_",
        &path(new.path(), "tls.crt"),
        &path(new.path(), "tls.key"),
        &rancher_locations(&path(new.path(), "cacerts.pem")),
    );
    let _server = nginx(&format!("http {{\n{block}}}\n"), &[port]);
    let (_, json) = rotate(&emulator, &args);
    let status = steps(&json);
    assert!(
        status.contains(&format!("{node} serves the new certificate")),
        "{status}"
    );
    assert!(
        status.contains("/cacerts serves the new CA (CATTLE_CA_CHECKSUM"),
        "{status}"
    );
}

#[test]
fn plan_warns_where_the_plan_cannot_work() {
    let (old, new, other) = (selfsigned(), selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    // Strict mode, one cluster failing the strict check.
    emulator.seed(
        "management.cattle.io/v3/settings",
        &[
            serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
            "metadata": {"name": "agent-tls-mode"}, "value": "strict"}),
        ],
    );
    emulator.seed(
        "management.cattle.io/v3/clusters",
        &[serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Cluster",
            "metadata": {"name": "c-m-two"}, "status": {"conditions": [
                {"type": "Connected", "status": "True"},
                {"type": "AgentTlsStrictCheck", "status": "False", "message": "CA not in bundle"}]}})],
    );
    // cert-manager owns tls-rancher-ingress.
    let read = |name: &str| std::fs::read(old.path().join(name)).unwrap();
    let managed = common::emulator::secret_json(
        "cattle-system",
        "tls-rancher-ingress",
        "kubernetes.io/tls",
        &[("tls.crt", read("tls.crt")), ("tls.key", read("tls.key"))],
    );
    emulator.seed(
        "v1/secrets",
        &[common::emulator::annotated(
            managed,
            &[("cert-manager.io/certificate-name", "tls-rancher-ingress")],
        )],
    );
    // The new certificate comes from another CA than the new cacerts.pem.
    std::fs::copy(
        other.path().join("cacerts.pem"),
        new.path().join("cacerts.pem"),
    )
    .unwrap();
    let (code, json) = rotate(
        &emulator,
        &["plan", "--to", &new.path().display().to_string()],
    );
    assert_eq!(code, 1, "{json:#}");
    let plan = steps(&json);
    for expected in [
        "cluster c-m-two (Connected=True) gets io.cattle.agent.force.deploy=true: agent-tls-mode is strict and it fails AgentTlsStrictCheck",
        "tls-rancher-ingress is managed by Certificate tls-rancher-ingress: cert-manager would revert step 1",
        "the new certificate 'CN=rancher.example.com' is not issued by the new CA in cacerts.pem",
    ] {
        assert!(plan.contains(expected), "{expected}: {plan}");
    }
}

#[test]
fn the_env_method_on_a_downstream_cluster_waits_for_rancher_to_serve_the_new_ca() {
    use common::servers::{free_port, nginx, rancher_locations, tls_server_block};
    let (old, new) = (selfsigned(), selfsigned());
    // A downstream cluster: the agents, no Rancher objects.
    let downstream = Emulator::start();
    let old_sum = sha256sum(&std::fs::read(old.path().join("cacerts.pem")).unwrap());
    let new_sum = sha256sum(&std::fs::read(new.path().join("cacerts.pem")).unwrap());
    set_agent_checksum(&downstream, &old_sum);
    let to = new.path().display().to_string();
    let agents = ["apply", "--to", &to, "--step", "agents", "--agents", "env"];

    let (code, json) = rotate(&downstream, &agents);
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains("this cluster holds no Rancher settings, so rcert cannot see what Rancher hands out: pass --host RANCHER"),
        "{json:#}"
    );
    // No Rancher here to restart: the fix and `next` say where to restart it and how
    // to rerun, never a kubectl restart of this cluster.
    let waiting = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["cause"] == "waiting_for_rancher")
        .unwrap();
    assert!(waiting["fix"]["commands"].is_null(), "{waiting:#}");
    assert!(
        waiting["fix"]["note"]
            .as_str()
            .unwrap()
            .starts_with("this is a downstream cluster: restart Rancher in its own cluster"),
        "{waiting:#}"
    );
    assert_eq!(json["next"], waiting["fix"], "{json:#}");

    // Rancher (nginx here) still serves the old CA at /cacerts.
    let serve = |dir: &Path, port: u16| {
        let path = |name: &str| dir.join(name).display().to_string();
        let block = tls_server_block(
            port,
            "_",
            &path("tls.crt"),
            &path("tls.key"),
            &rancher_locations(&path("cacerts.pem")),
        );
        nginx(&format!("http {{\n{block}}}\n"), &[port])
    };
    let port = free_port();
    let node = format!("127.0.0.1:{port}");
    let with_host = [
        &agents[..],
        &["--host", "rancher.example.com", "--node", &node],
    ]
    .concat();
    let server = serve(old.path(), port);
    let (code, json) = rotate(&downstream, &with_host);
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains(&format!("rancher.example.com/cacerts serves sha256 {old_sum} (new: {new_sum}): Rancher has not restarted with the new tls-ca yet")),
        "{json:#}"
    );
    assert_eq!(
        agent_checksum(&downstream, "deployment", "cattle-cluster-agent"),
        old_sum
    );
    drop(server);

    // Rancher serves the new CA: the checksum follows.
    let _server = serve(new.path(), port);
    let (code, json) = rotate(&downstream, &with_host);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(
        agent_checksum(&downstream, "deployment", "cattle-cluster-agent"),
        new_sum
    );
}

#[test]
fn all_contexts_sets_the_checksum_in_every_downstream_cluster() {
    use common::servers::{free_port, nginx, rancher_locations, tls_server_block};
    let (old, new) = (selfsigned(), selfsigned());
    let old_sum = sha256sum(&std::fs::read(old.path().join("cacerts.pem")).unwrap());
    let new_sum = sha256sum(&std::fs::read(new.path().join("cacerts.pem")).unwrap());
    let (prod, staging) = (Emulator::start(), Emulator::start());
    set_agent_checksum(&prod, &old_sum);
    set_agent_checksum(&staging, &old_sum);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let kubeconfig = prod.write_kubeconfig(
        "downstream",
        &[
            ("prod", &prod.url),
            ("staging", &staging.url),
            ("gone", &dead),
        ],
        "prod",
    );
    // Rancher already serves the new CA.
    let port = free_port();
    let path = |name: &str| new.path().join(name).display().to_string();
    let block = tls_server_block(
        port,
        "_",
        &path("tls.crt"),
        &path("tls.key"),
        &rancher_locations(&path("cacerts.pem")),
    );
    let _rancher = nginx(&format!("http {{\n{block}}}\n"), &[port]);
    let node = format!("127.0.0.1:{port}");
    let to = new.path().display().to_string();
    let (code, json) = run_json(&[
        "rotate",
        "apply",
        "--to",
        &to,
        "--step",
        "agents",
        "--agents",
        "env",
        "--all-contexts",
        "--host",
        "rancher.example.com",
        "--node",
        &node,
        "--kubeconfig",
        &kubeconfig,
        "--timeout",
        "3s",
    ]);
    assert_eq!(code, 1, "the unreachable context fails: {json:#}");
    let lines = steps(&json);
    for context in ["prod", "staging"] {
        assert!(
            has_line(&json, context, &format!("deployment cattle-system/cattle-cluster-agent: CATTLE_CA_CHECKSUM {old_sum} → {new_sum}")),
            "{context}: {lines}"
        );
    }
    assert!(
        has_line(
            &json,
            "gone",
            "cannot get settings.management.cattle.io/cacerts: API server unreachable"
        ),
        "{lines}"
    );
    assert_eq!(
        agent_checksum(&prod, "deployment", "cattle-cluster-agent"),
        new_sum
    );
    assert_eq!(
        agent_checksum(&staging, "deployment", "cattle-cluster-agent"),
        new_sum
    );
}

/// Rancher's own Deployment (what --restart-rancher restarts).
fn add_rancher_deployment(emulator: &Emulator) {
    emulator.seed_one(common::emulator::workload_json(
        "Deployment",
        "rancher",
        "rancher/rancher:v2.12.3",
        serde_json::json!([]),
    ));
}

/// How many times the API was asked to restart deployment/rancher.
fn restarts(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|request| request.starts_with("PATCH") && request.ends_with("/deployments/rancher"))
        .count()
}

fn restarted_at(emulator: &Emulator) -> String {
    kubectl(
        emulator,
        &[
            "-n",
            "cattle-system",
            "get",
            "deployment",
            "rancher",
            "-o=jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
        ],
    )
}

#[test]
fn restart_rancher_carries_the_whole_change_in_one_run() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    add_rancher_deployment(&emulator);
    let to = new.path().display().to_string();

    // The setting never follows: the run waits, then stops before the agents.
    let (code, json) = rotate(
        &emulator,
        &["apply", "--to", &to, "--restart-rancher", "--wait", "2s"],
    );
    // Asked for, and it did not bring the new CA: a failure, not a warning.
    assert_eq!(code, 1, "{json:#}");
    let lines = steps(&json);
    assert!(!restarted_at(&emulator).is_empty(), "restarted: {lines}");
    assert!(
        lines.contains("--restart-rancher did not bring the new CA: Rancher was restarted, but its cacerts setting did not follow within 2s"),
        "{lines}"
    );
    assert_eq!(force_deploy(&emulator, "c-m-one"), "");

    // The setting follows once the restart has been sent (as Rancher's start does): the
    // helper waits for the PATCH of deployment/rancher, whatever the timing of apply.
    let restarts_before = restarts(&emulator);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..200 {
                if restarts(&emulator) > restarts_before {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            rancher_restarted(&emulator, new.path());
        });
        let (code, json) = rotate(
            &emulator,
            &["apply", "--to", &to, "--restart-rancher", "--wait", "20s"],
        );
        assert_eq!(code, 0, "{json:#}");
        let lines = steps(&json);
        assert!(
            lines.contains("Rancher's cacerts setting holds the new CA"),
            "{lines}"
        );
        assert!(
            lines.contains("cluster c-m-one: annotated io.cattle.agent.force.deploy=true"),
            "{lines}"
        );
    });
    assert_eq!(force_deploy(&emulator, "c-m-one"), "true");
    assert_eq!(fleet_generation(&emulator), "3");
    let backups = backup_names(new.path());
    assert!(
        backups
            .iter()
            .any(|name| name.starts_with("cattle-system-rancher-deployment-")),
        "{backups:?}"
    );
}

#[test]
fn restart_rancher_without_a_rancher_deployment_fails_and_the_dry_run_says_so() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    let to = new.path().display().to_string();
    let (code, json) = rotate(
        &emulator,
        &["apply", "--to", &to, "--restart-rancher", "--dry-run"],
    );
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains("there is no deployment cattle-system/rancher to restart"),
        "{json:#}"
    );
    let (code, json) = rotate(
        &emulator,
        &["apply", "--to", &to, "--restart-rancher", "--wait", "2s"],
    );
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains("--restart-rancher did not bring the new CA: cannot restart Rancher"),
        "{json:#}"
    );
    assert_eq!(force_deploy(&emulator, "c-m-one"), "");
}

#[test]
fn host_never_replaces_the_release_hostname() {
    let old = selfsigned();
    let emulator = rancher_install(old.path());
    let other = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&[
        "selfsign",
        "--host",
        "other.example.com",
        "--out",
        &other.path().display().to_string(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let to = other.path().display().to_string();
    let (code, json) = rotate(
        &emulator,
        &["apply", "--to", &to, "--host", "other.example.com"],
    );
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains("does not validate for rancher.example.com, the hostname of the rancher helm release; nothing was changed"),
        "{json:#}"
    );
    assert_eq!(
        emulator
            .kubectl_get("cattle-system", "tls-rancher-ingress", "tls.crt")
            .unwrap(),
        std::fs::read(old.path().join("tls.crt")).unwrap()
    );
}

#[test]
fn status_names_the_method_that_fixes_the_agents_and_a_half_done_change() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    let to = new.path().display().to_string();
    // Only tls-ca changed, as when a change stopped between the two secrets.
    let new_ca = std::fs::read(new.path().join("cacerts.pem")).unwrap();
    emulator.seed(
        "v1/secrets",
        &[common::emulator::secret_json(
            "cattle-system",
            "tls-ca",
            "Opaque",
            &[("cacerts.pem", new_ca)],
        )],
    );
    let (code, json) = rotate(&emulator, &["status", "--to", &to]);
    assert_eq!(code, 1, "{json:#}");
    let first = json["steps"][0]["message"].as_str().unwrap();
    assert!(
        first.starts_with("HALF-DONE: tls-ca holds the new CA but tls-rancher-ingress still holds the old certificate"),
        "{json:#}"
    );
    let lines = steps(&json);
    assert!(!lines.contains("rollout restart deploy/rancher"), "{lines}");
    assert!(
        lines.contains(&format!(
            "rcert rotate apply --to {to} --kubeconfig {} --step agents --agents env",
            emulator.kubeconfig()
        )),
        "{lines}"
    );
}

#[test]
fn strict_agent_tls_mode_refuses_a_set_without_a_private_ca() {
    let (old, public) = (selfsigned(), selfsigned());
    let roots = tempfile::tempdir().unwrap();
    let root = roots.path().join("public-root.pem");
    std::fs::rename(public.path().join("cacerts.pem"), &root).unwrap();
    let emulator = rancher_install(old.path());
    // Fresh installs since v2.9.0: agent-tls-mode defaults to strict.
    emulator.seed(
        "management.cattle.io/v3/settings",
        &[
            serde_json::json!({"apiVersion": "management.cattle.io/v3", "kind": "Setting",
            "metadata": {"name": "agent-tls-mode"}, "value": "", "default": "strict"}),
        ],
    );
    let (to, root) = (
        public.path().display().to_string(),
        root.display().to_string(),
    );
    let (code, json) = rotate(&emulator, &["plan", "--to", &to, "--ca", &root]);
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains(
            "agent-tls-mode is strict: agents trust only the CA in Rancher's cacerts setting, and"
        ),
        "{json:#}"
    );
    let before = emulator.kubectl_get("cattle-system", "tls-ca", "cacerts.pem");
    let (code, json) = rotate(&emulator, &["apply", "--to", &to, "--ca", &root]);
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json).contains("refused: nothing was changed"),
        "{json:#}"
    );
    assert!(
        !public.path().join("backups").exists(),
        "a refused apply makes no backup directory"
    );
    assert_eq!(
        emulator.kubectl_get("cattle-system", "tls-ca", "cacerts.pem"),
        before
    );
    assert!(before.is_some());
    // With the public root kept in tls-ca (cacerts.pem), strict mode is satisfied.
    std::fs::copy(&root, public.path().join("cacerts.pem")).unwrap();
    let (_, json) = rotate(&emulator, &["plan", "--to", &to]);
    assert!(
        !steps(&json).contains("every downstream agent would disconnect"),
        "{json:#}"
    );
}

#[test]
fn status_names_a_stv_aggregation_that_still_holds_the_old_ca() {
    let (old, new) = (selfsigned(), selfsigned());
    let emulator = rancher_install(old.path());
    let to = new.path().display().to_string();
    let stv = |dir: &Path| {
        let ca = std::fs::read(dir.join("cacerts.pem")).unwrap();
        common::emulator::secret_json(
            "cattle-system",
            "stv-aggregation",
            "Opaque",
            &[
                ("CATTLE_CA_CHECKSUM", sha256sum(&ca).into_bytes()),
                ("ca.crt", ca),
            ],
        )
    };
    emulator.seed("v1/secrets", &[stv(old.path())]);
    let (code, json) = rotate(&emulator, &["status", "--to", &to]);
    assert_eq!(code, 1, "{json:#}");
    assert!(
        steps(&json)
            .contains("secret cattle-system/stv-aggregation still holds CATTLE_CA_CHECKSUM="),
        "{json:#}"
    );
    emulator.seed("v1/secrets", &[stv(new.path())]);
    let (_, json) = rotate(&emulator, &["status", "--to", &to]);
    assert!(
        steps(&json).contains("secret stv-aggregation holds the new CA"),
        "{json:#}"
    );
}

#[test]
fn status_all_contexts_reports_every_downstream_cluster() {
    let (old, new) = (selfsigned(), selfsigned());
    let prod = rancher_install(old.path());
    let dead = format!("http://127.0.0.1:{}", common::servers::free_port());
    let kubeconfig = prod.write_kubeconfig(
        "status-all",
        &[("prod", &prod.url), ("gone", &dead)],
        "prod",
    );
    let to = new.path().display().to_string();
    let (code, json) = run_json(&[
        "rotate",
        "status",
        "--to",
        &to,
        "--all-contexts",
        "--kubeconfig",
        &kubeconfig,
        "--timeout",
        "2s",
    ]);
    assert_eq!(code, 1, "{json:#}");
    let lines = steps(&json);
    assert!(
        has_line(&json, "prod", "the secrets do not hold the new set yet"),
        "{lines}"
    );
    assert!(has_line(&json, "gone", ""), "{lines}");
}
