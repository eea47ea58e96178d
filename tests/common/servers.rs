//! Real servers on loopback for tests: openssl s_server and nginx, killed on drop.

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

/// Wait (at most 10 s) until something listens on the address.
pub fn wait_listening(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(address).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    panic!("nothing listens on {address}");
}

/// `openssl s_server -www` on a free loopback port, with the given options.
pub fn s_server(options: &[&str]) -> (Server, String) {
    s_server_on("127.0.0.1", options)
}

pub fn s_server_on(host: &str, options: &[&str]) -> (Server, String) {
    let port = free_port();
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let child = Process::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &address])
        .args(options)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = Server { child, _dir: None };
    wait_listening(&address);
    (server, address)
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
    let server = Server {
        child,
        _dir: Some(dir),
    };
    for port in ports {
        wait_listening(&format!("127.0.0.1:{port}"));
    }
    server
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
