//! NSX's published Python client, `vmware-nsxlib` (PyPI), against the simulator.
//!
//! The test starts the simulator in-process (HTTPS and the adapter channel on ephemeral
//! ports), registers a cluster and plays its CCP adapter over the channel (every object NSX
//! sends is reported realized, so nsxlib's realization helpers have something to wait for),
//! then runs `tests/nsxlib/check_nsxlib.py` with a Python that has vmware-nsxlib. The script
//! drives nsxlib's own API (groups, services, security policies and rules, H-API
//! transactions, cursor paging, realized state) and exits non-zero when a check fails.
//!
//! Python: `NSXLIB_PYTHON` if set; otherwise a virtualenv `nsxlib-venv` in the target
//! directory, created and filled from `tests/nsxlib/requirements.txt` on first use (under a
//! lock file, so concurrent test processes install once). `NSXLIB_TEST=skip` skips the test.

mod adapter;
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use adapter::{CcpSession, Cluster, ccp_hello};
use anyhow::{Context, Result, bail};
use nsx_proto::v1::{
    NsxObject, ObjectKind, ObjectRealization, ObjectRef, RealizationError, RealizationReport,
    RealizationState, RealizedEntity, ccp_adapter_message, ccp_manager_message,
};
use nsx_sim::RunningSim;

const REQUIREMENTS: &str = "tests/nsxlib/requirements.txt";
const SCRIPT: &str = "tests/nsxlib/check_nsxlib.py";
/// Where a ready virtualenv records the requirements it was filled from.
const VENV_MARKER: &str = ".nsxlib-requirements";
const CLUSTER_ID: &str = "nsxlib-cluster";
/// Groups whose description starts with this are reported as failed by the fake adapter.
const UNREALIZABLE: &str = "unrealizable";
/// A safety net against a hung script, not a speed assertion.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(300);

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's target directory: `CARGO_TARGET_DIR` (relative to the workspace root when
/// relative) or `<workspace>/target`.
fn target_dir() -> PathBuf {
    let workspace = manifest_dir().join("../..");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

/// The Python to run the script with, or `None` when the test is to be skipped.
fn nsxlib_python() -> Result<Option<PathBuf>> {
    if std::env::var("NSXLIB_TEST").as_deref() == Ok("skip") {
        return Ok(None);
    }
    if let Some(python) = std::env::var_os("NSXLIB_PYTHON") {
        return Ok(Some(PathBuf::from(python)));
    }
    let venv = target_dir().join("nsxlib-venv");
    ensure_venv(&venv).with_context(|| {
        format!(
            "cannot prepare a Python with vmware-nsxlib in {} (is PyPI reachable?); set \
             NSXLIB_PYTHON to a Python that has it (pip install -r crates/nsx-sim/{REQUIREMENTS}), \
             or NSXLIB_TEST=skip to skip this test",
            venv.display()
        )
    })?;
    Ok(Some(venv.join("bin").join("python")))
}

/// Creates `venv` and installs the requirements into it, once: a marker holding the
/// requirements says it is ready; a lock file serializes concurrent installers.
fn ensure_venv(venv: &Path) -> Result<()> {
    let requirements_path = manifest_dir().join(REQUIREMENTS);
    let requirements = std::fs::read_to_string(&requirements_path)
        .with_context(|| format!("reading {}", requirements_path.display()))?;
    let marker = venv.join(VENV_MARKER);
    let ready = || std::fs::read_to_string(&marker).is_ok_and(|m| m == requirements);
    if ready() {
        return Ok(());
    }
    let parent = venv.parent().context("the venv has no parent directory")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let lock_path = venv.with_extension("lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if ready() {
        return Ok(());
    }
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run(std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(venv))?;
    }
    run(std::process::Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--timeout",
            "30",
            "--retries",
            "2",
            "-r",
        ])
        .arg(&requirements_path))?;
    std::fs::write(&marker, &requirements)
        .with_context(|| format!("writing {}", marker.display()))?;
    Ok(())
}

fn run(command: &mut std::process::Command) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// What the fake adapter reports for `object`: SUCCESS with the Antrea object it would have
/// created, or ERROR for groups marked unrealizable.
fn realization_of(object: &NsxObject) -> ObjectRealization {
    let document = object.parse_document().unwrap_or_default();
    let unrealizable = document
        .get("description")
        .and_then(|d| d.as_str())
        .is_some_and(|d| d.starts_with(UNREALIZABLE));
    let kind = match ObjectKind::try_from(object.kind) {
        Ok(ObjectKind::SecurityPolicy) => Some("ClusterNetworkPolicy"),
        Ok(ObjectKind::Group) => Some("ClusterGroup"),
        _ => None,
    };
    ObjectRealization {
        object: Some(object.object_ref()),
        state: if unrealizable {
            RealizationState::Error
        } else {
            RealizationState::Success
        }
        .into(),
        errors: if unrealizable {
            vec![RealizationError {
                reason: "UnsupportedGroupExpression".into(),
                message: format!("group {}: cannot be expressed in Antrea", object.path),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        realized_entities: kind
            .filter(|_| !unrealizable)
            .map(|kind| RealizedEntity {
                api_version: "crd.antrea.io/v1beta1".into(),
                kind: kind.into(),
                name: object.unique_id.clone(),
            })
            .into_iter()
            .collect(),
        ..Default::default()
    }
}

/// Plays the cluster's CCP adapter until the session ends: realizes the snapshot and every
/// update (acknowledging each generation), and reports again what NSX asks to refresh.
async fn play_adapter(mut session: CcpSession) -> Result<()> {
    let snapshot = session.snapshot().await;
    let mut objects: HashMap<String, NsxObject> = snapshot
        .objects
        .into_iter()
        .map(|o| (o.path.clone(), o))
        .collect();
    let report = |generation: u64, objects: Vec<ObjectRealization>, gone: Vec<ObjectRef>| {
        ccp_adapter_message::Body::Realization(RealizationReport {
            generation,
            objects,
            gone,
            complete: false,
        })
    };
    session
        .send(ccp_adapter_message::Body::Realization(RealizationReport {
            generation: snapshot.generation,
            objects: objects.values().map(realization_of).collect(),
            gone: Vec::new(),
            complete: true,
        }))
        .await;
    session.ack(snapshot.generation).await;
    let mut generation = snapshot.generation;
    loop {
        match session.next().await {
            Ok(Some(ccp_manager_message::Body::Update(update))) => {
                generation = update.generation;
                for gone in &update.deletes {
                    objects.remove(&gone.path);
                }
                let realized = update.upserts.iter().map(realization_of).collect();
                for object in update.upserts {
                    objects.insert(object.path.clone(), object);
                }
                session
                    .send(report(generation, realized, update.deletes))
                    .await;
                session.ack(generation).await;
            }
            Ok(Some(ccp_manager_message::Body::Refresh(refresh))) => {
                let realized = refresh
                    .objects
                    .iter()
                    .filter_map(|r| objects.get(&r.path))
                    .map(realization_of)
                    .collect();
                session.send(report(generation, realized, Vec::new())).await;
            }
            Ok(Some(ccp_manager_message::Body::Goodbye(_)) | None) | Err(_) => return Ok(()),
            Ok(Some(other)) => bail!("unexpected message from NSX: {other:?}"),
        }
    }
}

/// Starts the simulator with a registered cluster whose CCP adapter is played in the
/// background.
async fn start_with_adapter() -> (RunningSim, Cluster, tokio::task::JoinHandle<Result<()>>) {
    let mut options = adapter::test_options();
    // NSX pings a silent session this often, so the fake adapter never waits long for a
    // message while the script works on objects outside the cluster's span.
    options.keepalive_interval = Duration::from_secs(2);
    let sim = adapter::start_with(options, None).await;
    let cluster = adapter::register(&sim, CLUSTER_ID).await;
    let (session, _welcome) = CcpSession::welcome(&sim, &cluster, ccp_hello(CLUSTER_ID)).await;
    let task = tokio::spawn(play_adapter(session));
    (sim, cluster, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsxlib_drives_the_simulator() -> Result<()> {
    let Some(python) = tokio::task::spawn_blocking(nsxlib_python).await?? else {
        println!("skipped: NSXLIB_TEST=skip");
        return Ok(());
    };
    let (sim, cluster, adapter_task) = start_with_adapter().await;
    let ca = tempfile::NamedTempFile::new()?;
    std::fs::write(ca.path(), sim.ca_cert_pem())?;
    let manager = sim.base_url().trim_start_matches("https://").to_owned();

    let child = tokio::process::Command::new(&python)
        .arg(manifest_dir().join(SCRIPT))
        .args(["--manager", &manager, "--username", "admin"])
        .args(["--password", common::PASSWORD])
        .arg("--ca-file")
        .arg(ca.path())
        .args(["--cluster-path", &cluster.path()])
        .env("PYTHONUNBUFFERED", "1")
        // requests lets these override a session's `verify` (nsxlib's `ca_file`).
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let output = tokio::time::timeout(SCRIPT_DEADLINE, child.wait_with_output())
        .await
        .context("check_nsxlib.py did not finish in time")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");

    if adapter_task.is_finished() {
        let ended = adapter_task.await;
        bail!("the fake CCP adapter stopped early: {ended:?}");
    }
    adapter_task.abort();
    sim.shutdown().await?;
    if !output.status.success() {
        bail!(
            "check_nsxlib.py failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            output.status
        );
    }
    assert!(
        stdout.contains(" passed, 0 failed"),
        "the script did not report its checks:\n{stdout}"
    );
    Ok(())
}
