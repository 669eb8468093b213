//! A real load balancer in front of several gateways: Debian's HAProxy (installed by
//! scripts/setup.sh), run as a child process in the foreground (`-db`) with a generated
//! configuration, round-robin, health-checking every gateway at `GET /api/health` as
//! docs/operations.md recommends. Killed when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A running HAProxy on 127.0.0.1:`port`.
pub struct Balancer {
    pub port: u16,
    child: Child,
    _config: tempfile::NamedTempFile,
}

impl Balancer {
    /// Starts HAProxy in front of the gateways listening on `backends`, and waits until it
    /// answers a health check through a gateway.
    pub fn start(backends: &[u16]) -> Balancer {
        let port = free_port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, backend)| format!("    server gw{} 127.0.0.1:{backend} check\n", i + 1))
            .collect();
        // Checked every 300 ms and out after three failures, so a killed gateway (its port
        // refuses at once) leaves the rotation within a second; a busy one gets 10 s to answer
        // its check: its health query waits for a pool connection like any request, and with
        // every connection waiting for one dealer's lock on a loaded machine that can take
        // seconds — a slow instance is not a dead one. A request whose connection is refused is sent to
        // another gateway (`redispatch`): nothing reached the dead one, so that is safe for any
        // request.
        let config = format!(
            "global\n    maxconn 512\n\
             defaults\n    mode http\n    timeout connect 2s\n    timeout client 120s\n    \
             timeout server 120s\n    retries 3\n    option redispatch\n\
             frontend tolem\n    bind 127.0.0.1:{port}\n    default_backend gateways\n\
             backend gateways\n    balance roundrobin\n    option httpchk GET /api/health\n    \
             http-check expect status 200\n    option forwardfor\n    \
             timeout check 10s\n    default-server inter 300ms fall 3 rise 1\n{servers}"
        );
        let mut file = tempfile::Builder::new()
            .suffix(".cfg")
            .tempfile()
            .expect("a configuration file");
        file.write_all(config.as_bytes()).unwrap();
        let child = Command::new(haproxy())
            .arg("-db")
            .arg("-f")
            .arg(file.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("haproxy starts (scripts/setup.sh installs it)");
        let balancer = Balancer {
            port,
            child,
            _config: file,
        };
        balancer.wait_until_healthy();
        balancer
    }

    /// The app's address through the balancer.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if health(self.port) == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "HAProxy on port {} never answered /api/health with 200",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of `GET /api/health` on 127.0.0.1:`port`, or `None` without an answer.
fn health(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

fn haproxy() -> &'static str {
    if std::path::Path::new("/usr/sbin/haproxy").exists() {
        "/usr/sbin/haproxy"
    } else {
        "haproxy"
    }
}
