//! Real servers on loopback for tests: openssl s_server and nginx, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use super::fixture;

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on now, for a server to bind (or to stay dead).
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768+), so no client connection of a parallel
    // test can take a port between our check and the server's bind; a per-process block
    // and a counter keep the tests of this binary apart from each other.
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 10_000 + (std::process::id() % 200) as u16 * 100;
    for _ in 0..1000 {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % 2000;
        let port = base + offset;
        let port = if port >= 32_000 {
            10_000 + port % 22_000
        } else {
            port
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below 32000");
}

/// Wait (at most 10 s) until something listens on the address; a server that exits
/// first (a port taken, a bad option) fails the test at once with `log`'s contents.
pub fn wait_listening(address: &str, child: &mut Child, log: Option<&Path>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let said = log
                .and_then(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default();
            panic!("the server for {address} exited ({status}) before listening: {said}");
        }
        if TcpStream::connect(address).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    panic!("nothing listens on {address}");
}

/// `openssl s_server -www` on a loopback port the kernel picks (port 0, read back from
/// its `ACCEPT` line: no window for another process to take it), with the given options.
pub fn s_server(options: &[&str]) -> (Server, String) {
    s_server_on("127.0.0.1", options)
}

/// `s_server` serving the corpus leaf (rancher.example.com, 127.0.0.1, ::1) with its
/// intermediate, plus `extra` options.
pub fn leaf_server(extra: &[&str]) -> (Server, String) {
    let (leaf, key, inter) = (
        fixture("leaf.pem"),
        fixture("leaf.key"),
        fixture("inter.pem"),
    );
    let mut options = vec!["-cert", &leaf, "-key", &key, "-cert_chain", &inter];
    options.extend(extra);
    s_server(&options)
}

pub fn s_server_on(host: &str, options: &[&str]) -> (Server, String) {
    let accept = if host.contains(':') {
        format!("[{host}]:0")
    } else {
        format!("{host}:0")
    };
    let mut child = Process::new("openssl")
        .args(["s_server", "-www", "-accept", &accept])
        .args(options)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("ACCEPT ") {
                let _ = sender.send(address.trim().to_string());
                break;
            }
        }
        // Keep draining, so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let address = match receiver.recv_timeout(Duration::from_secs(10)) {
        Ok(address) => address,
        Err(_) => {
            let status = child.try_wait().ok().flatten();
            let _ = child.kill();
            panic!("openssl s_server {options:?} printed no ACCEPT line (exit: {status:?})");
        }
    };
    wait_listening(&address, &mut child, None);
    (Server { child, _dir: None }, address)
}

pub fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// Start nginx (no daemon, no master) with `body` inside a config that keeps every
/// path under a temporary prefix; waits for each port in `ports`.
pub fn nginx(body: &str, ports: &[u16]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().display();
    let stream_module = "/usr/lib/nginx/modules/ngx_stream_module.so";
    let load = if body.contains("stream {") && Path::new(stream_module).exists() {
        format!("load_module {stream_module};")
    } else {
        String::new()
    };
    let config = format!(
        "{load}\ndaemon off;\nmaster_process off;\nworker_processes 1;\npid {prefix}/nginx.pid;\n\
         error_log {prefix}/error.log warn;\nevents {{ worker_connections 512; }}\n{body}\n"
    );
    let http_paths = format!(
        "client_body_temp_path {prefix}/body; proxy_temp_path {prefix}/proxy; fastcgi_temp_path {prefix}/fastcgi; \
         uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi; access_log off;"
    );
    let config = config.replace("http {", &format!("http {{ {http_paths}"));
    std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
    let child = Process::new(nginx_binary())
        .args([
            "-p",
            &prefix.to_string(),
            "-c",
            &format!("{prefix}/nginx.conf"),
            "-e",
            &format!("{prefix}/error.log"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let mut child = child;
    let log = dir.path().join("error.log");
    for port in ports {
        wait_listening(&format!("127.0.0.1:{port}"), &mut child, Some(&log));
    }
    Server {
        child,
        _dir: Some(dir),
    }
}

/// An nginx TLS server block (fixture names or absolute paths); server name `_` makes it
/// the port's default server.
pub fn tls_server_block(port: u16, name: &str, chain: &str, key: &str, extra: &str) -> String {
    let default = if name == "_" { " default_server" } else { "" };
    format!(
        "server {{ listen 127.0.0.1:{port} ssl http2{default}; server_name {name}; \
         ssl_certificate {}; ssl_certificate_key {}; {extra} }}\n",
        fixture_or_path(chain),
        fixture_or_path(key)
    )
}

/// An absolute path as is, else the named fixture.
pub fn fixture_or_path(name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        fixture(name)
    }
}

/// Rancher's `/ping` (answers pong) and `/cacerts` (serves the given file) as nginx locations.
pub fn rancher_locations(cacerts: &str) -> String {
    format!(
        "location = /ping {{ default_type text/plain; return 200 'pong'; }} \
         location = /cacerts {{ default_type text/plain; alias {}; }}",
        fixture_or_path(cacerts)
    )
}
