//! The `antrea-nsx kube-emu` command run as a child process, for tests that drive the
//! real binary (kubectl tests, adapter processes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A running `antrea-nsx kube-emu` process on a free loopback port; killed on drop.
pub struct KubeEmuProcess {
    child: Child,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    url: String,
}

impl KubeEmuProcess {
    /// Starts the binary with `--listen 127.0.0.1:0` and waits until its kubeconfig exists
    /// and the server answers. `extra_args` are appended (e.g. `["--crds", DIR]`).
    pub fn start(extra_args: &[&str]) -> anyhow::Result<Self> {
        let binary = crate::antrea_nsx_binary()?;
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        let log = std::fs::File::create(dir.path().join("kube-emu.log"))?;
        let child = Command::new(&binary)
            .args(["kube-emu", "--listen", "127.0.0.1:0", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut process = KubeEmuProcess {
            child,
            dir,
            kubeconfig,
            url: String::new(),
        };
        process.url = process.wait_ready(Duration::from_secs(30))?;
        Ok(process)
    }

    fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("kube-emu exited early with {status}; log:\n{}", self.log());
            }
            if let Ok(text) = std::fs::read_to_string(&self.kubeconfig)
                && let Some(url) = server_url(&text)
                && healthy(&url)
            {
                return Ok(url);
            }
            if started.elapsed() > limit {
                anyhow::bail!(
                    "kube-emu was not ready after {limit:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kube-emu.log")).unwrap_or_default()
    }

    /// A kube-rs client for the process, through its kubeconfig.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        Ok(kube::Client::try_from(config)?)
    }
}

impl Drop for KubeEmuProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_url(kubeconfig: &str) -> Option<String> {
    kubeconfig
        .lines()
        .find_map(|line| line.trim().strip_prefix("server:"))
        .map(|url| url.trim().trim_matches('"').to_string())
}

/// A plain blocking HTTP/1.1 GET of `/healthz`, so readiness needs no client stack.
fn healthy(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(authority) = url.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(authority) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}
