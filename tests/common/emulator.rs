//! The Kubernetes API emulator (kmock behind tests/emulator/kmock_launcher.py) for tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::time::Duration;

/// One emulator process; it exits when its stdin closes (on drop).
pub struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    /// Base URL of the API.
    pub url: String,
    /// Scratch directory for kubeconfigs.
    pub dir: tempfile::TempDir,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> PathBuf {
    let path = std::env::var_os("RCERT_KMOCK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kmock-venv/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which installs kmock",
        path.display()
    );
    path
}

impl Emulator {
    pub fn start() -> Emulator {
        let mut child = Process::new(python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emulator/kmock_launcher.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let url = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the emulator prints its URL within 30 s")
            .trim()
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "emulator said: {url}");
        let dir = tempfile::tempdir().unwrap();
        let emulator = Emulator {
            child,
            _stdin: stdin,
            url,
            dir,
        };
        emulator.write_kubeconfig("kubeconfig", &[("emu", &emulator.url.clone())], "emu");
        emulator
    }

    /// Write a kubeconfig with the given (context, server) pairs; returns its path.
    pub fn write_kubeconfig(&self, name: &str, contexts: &[(&str, &str)], current: &str) -> String {
        let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for (context, server) in contexts {
            text.push_str(&format!(
                "- name: {context}\n  cluster:\n    server: {server}\n"
            ));
        }
        text.push_str("users:\n- name: admin\n  user:\n    token: test-token\ncontexts:\n");
        for (context, _) in contexts {
            text.push_str(&format!(
                "- name: {context}\n  context:\n    cluster: {context}\n    user: admin\n"
            ));
        }
        text.push_str(&format!("current-context: {current}\n"));
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    pub fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").display().to_string()
    }

    pub fn control(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or_default();
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }

    /// "METHOD path" of every API request the emulator saw.
    pub fn requests(&self) -> Vec<String> {
        self.control("GET", "/_rcert/requests", "")
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    }

    pub fn fault(&self, method: &str, path: &str, status: u16) {
        self.control(
            "POST",
            "/_rcert/faults",
            &format!(r#"{{"method": "{method}", "path": "{path}", "status": {status}, "message": "injected"}}"#),
        );
    }

    /// After answering the next matching request, the object counts as changed by someone
    /// else: its resourceVersion moves on (a concurrent writer right after rcert's read).
    pub fn touch_after(&self, method: &str, path: &str) {
        let body = serde_json::json!({"method": method, "path": path, "times": 1}).to_string();
        self.control("POST", "/_rcert/touches", &body);
    }

    /// Remove every injected fault.
    pub fn clear_faults(&self) {
        self.control("DELETE", "/_rcert/faults", "");
    }

    /// Seed one `(resource, object)` pair.
    pub fn seed_one(&self, (resource, object): (&str, serde_json::Value)) {
        self.seed(resource, &[object]);
    }

    /// Put objects of `resource` (e.g. `v1/secrets`) straight into the store.
    pub fn seed(&self, resource: &str, objects: &[serde_json::Value]) {
        let body = serde_json::json!({"resource": resource, "objects": objects}).to_string();
        let answer = self.control("POST", "/_rcert/objects", &body);
        assert_eq!(answer["objects"], objects.len(), "seeding failed: {answer}");
    }

    /// Register a custom resource (e.g. `cert-manager.io/v1/certificates`).
    pub fn register(&self, resource: &str, kind: &str, singular: &str) {
        let body = serde_json::json!({"resource": resource, "kind": kind, "singular": singular})
            .to_string();
        let answer = self.control("POST", "/_rcert/resources", &body);
        assert_eq!(answer["registered"], resource, "{answer}");
    }

    /// Register a cluster-scoped custom resource.
    pub fn register_cluster_scoped(&self, resource: &str, kind: &str, singular: &str) {
        let body = serde_json::json!({"resource": resource, "kind": kind, "singular": singular,
            "namespaced": false})
        .to_string();
        let answer = self.control("POST", "/_rcert/resources", &body);
        assert_eq!(answer["registered"], resource, "{answer}");
    }

    /// A secret's key, decoded, as kubectl (an independent reader) gets it.
    pub fn kubectl_get(&self, namespace: &str, secret: &str, key: &str) -> Option<Vec<u8>> {
        let output = Process::new("kubectl")
            .args([
                "--kubeconfig",
                &self.kubeconfig(),
                "-n",
                namespace,
                "get",
                "secret",
                secret,
            ])
            .arg(format!("-o=jsonpath={{.data.{}}}", key.replace('.', "\\.")))
            .output()
            .expect("kubectl runs");
        if !output.status.success() {
            return None;
        }
        let encoded = String::from_utf8_lossy(&output.stdout).to_string();
        let mut child = Process::new("base64")
            .arg("-d")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(encoded.as_bytes())
            .unwrap();
        Some(child.wait_with_output().unwrap().stdout)
    }
}

/// A Secret as the API holds it: type `kind`, each value base64-encoded.
pub fn secret_json(
    namespace: &str,
    name: &str,
    kind: &str,
    data: &[(&str, Vec<u8>)],
) -> serde_json::Value {
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(key, bytes)| (key.to_string(), super::base64(bytes).into()))
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": kind,
        "metadata": {"namespace": namespace, "name": name}, "data": data})
}

/// A Deployment or DaemonSet (`kind`) in cattle-system with one container and its `env`,
/// and the resource it is seeded as.
pub fn workload_json(
    kind: &str,
    name: &str,
    image: &str,
    env: serde_json::Value,
) -> (&'static str, serde_json::Value) {
    let resource = if kind == "DaemonSet" {
        "apps/v1/daemonsets"
    } else {
        "apps/v1/deployments"
    };
    let object = serde_json::json!({"apiVersion": "apps/v1", "kind": kind,
        "metadata": {"namespace": "cattle-system", "name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "agent", "image": image, "env": env}]}}}});
    (resource, object)
}

/// The object with these annotations added.
pub fn annotated(mut object: serde_json::Value, annotations: &[(&str, &str)]) -> serde_json::Value {
    for (key, value) in annotations {
        object["metadata"]["annotations"][*key] = (*value).into();
    }
    object
}

/// A helm release Secret as helm 3 stores it: `sh.helm.release.v1.NAME.vN`, type
/// `helm.sh/release.v1`, labels owner/name/status/version, `data.release` = base64 of
/// (base64 of the gzipped release JSON) — gzip and base64 from coreutils.
pub fn helm_release_secret(
    namespace: &str,
    name: &str,
    version: u32,
    status: &str,
    config: serde_json::Value,
) -> serde_json::Value {
    use std::io::Write;
    let release = serde_json::json!({"name": name, "version": version, "namespace": namespace,
        "info": {"status": status}, "config": config});
    let mut gzip = Process::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip runs");
    gzip.stdin
        .take()
        .expect("stdin")
        .write_all(release.to_string().as_bytes())
        .expect("write");
    let gzipped = gzip.wait_with_output().expect("gzip ends").stdout;
    let helm_encoded = super::base64(&gzipped);
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"namespace": namespace, "name": format!("sh.helm.release.v1.{name}.v{version}"),
            "labels": {"owner": "helm", "name": name, "status": status, "version": version.to_string()}},
        "data": {"release": super::base64(helm_encoded.as_bytes())}})
}
