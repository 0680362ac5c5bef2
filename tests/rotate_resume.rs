//! Resuming rotate.rhai: the runner is killed (SIGKILL) inside every step and at every step
//! boundary of one rotation, and each new run continues it; in the end exactly one new root
//! was generated and no meshed connection failed. And `keep_overlap`: a run that stops with
//! both roots trusted, a later run that refuses to go on when the cluster changed under it,
//! and one that finishes once it is put back.

mod rotate_support;

use rotate_support::{Rehearsal, Setup, finish, rotate_rhai};
use runner::pki::Bundle;
use runner::sim::faults::FaultConfig;
use runner::sim::store::Patch;
use serde_json::{Value, json};

const STEPS: [&str; 10] = [
    "preflight",
    "generate",
    "bundle",
    "deploy-bundle",
    "restart-control-plane",
    "restart-workloads",
    "rotate-issuer",
    "restart-for-issuer",
    "remove-old-root",
    "restart-final",
];

/// Where the next run is killed: inside a step (at its first event between its start and its
/// end), or at the boundary after it (once it is recorded).
#[derive(Debug, Clone, Copy)]
enum Point {
    Inside(usize),
    After(usize),
}

/// Whether the run reached `point`. A kill can land a little later than planned (the step
/// finished before the signal arrived), so the step a point names may already be in the
/// journal: then the point is the same place in the first step this run still works in.
fn reached(point: Point, events: &[Value]) -> bool {
    let last = events.last().unwrap();
    let Some(at) = last["step"]
        .as_str()
        .and_then(|step| STEPS.iter().position(|name| *name == step))
    else {
        return false;
    };
    let event = last["event"].as_str().unwrap_or_default();
    match point {
        Point::Inside(i) => {
            at >= i && !matches!(event, "step_started" | "step_skipped" | "step_finished")
        }
        Point::After(i) => {
            (at == i && event == "step_finished") || (at > i && event == "step_started")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_inside_and_between_every_step_the_rotation_completes_once() {
    let r = Rehearsal::start(Setup::Scenario("edge"), FaultConfig::default()).await;
    let points: Vec<Point> = (0..STEPS.len())
        .flat_map(|i| [Point::Inside(i), Point::After(i)])
        .collect();
    let mut roots = Vec::new();
    let (mut inside, mut killed) = (0, 0);
    for point in points {
        let child = r.spawn(&rotate_rhai(), &[]);
        let mut killed_in = None;
        let run = finish(child, |events| {
            let hit = reached(point, events);
            if hit {
                killed_in = events.last().unwrap()["step"].as_str().map(str::to_owned);
            }
            hit
        })
        .await;
        if run.code == Some(0) {
            break;
        }
        assert_eq!(
            run.code,
            None,
            "run for {point:?} failed instead of being killed: {}",
            run.explain()
        );
        killed += 1;
        if let (Point::Inside(_), Some(step)) = (point, &killed_in) {
            let finished = run.of("step_finished").any(|e| e["step"] == *step);
            inside += usize::from(!finished);
        }
        if let Some(root) = run
            .outputs("generate")
            .map(|o| o["root"]["fingerprint"].clone())
        {
            roots.push(root);
        }
    }
    let last = r.run(&rotate_rhai(), &[]).await;
    last.ok("the last run");
    // Every point but the last boundary (after which the run may exit before the signal).
    assert!(
        killed >= 2 * STEPS.len() - 1,
        "only {killed} runs were killed"
    );
    assert!(
        inside >= STEPS.len() - 1,
        "only {inside} kills landed inside a step"
    );

    // One root: the journal's, the file's and the one every proxy trusts.
    let root = r.written("ca-new");
    roots.dedup();
    assert!(roots.len() <= 1, "more than one root generated: {roots:?}");
    if let Some(recorded) = roots.first() {
        assert_eq!(recorded, root.fingerprint());
    }
    let files: Vec<String> = std::fs::read_dir(r.workdir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".crt") || name.ends_with(".key"))
        .collect();
    let mut files = files;
    files.sort();
    assert_eq!(
        files,
        [
            "bundle.crt",
            "ca-new.crt",
            "ca-new.key",
            "issuer-new.crt",
            "issuer-new.key"
        ]
    );
    r.assert_rotated("killed and resumed");
}

fn trust_roots(r: &Rehearsal) -> String {
    r.list("", "configmaps")
        .into_iter()
        .find(|cm| cm["metadata"]["name"] == "linkerd-identity-trust-roots")
        .unwrap()["data"]["ca-bundle.crt"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn set_trust_roots(r: &Rehearsal, pem: &str) {
    let store = r.sim.store();
    let rt = store.registry().lookup("", "v1", "configmaps").unwrap();
    let patch = Patch::Merge(json!({"data": {"ca-bundle.crt": pem}}));
    store
        .patch(
            &rt,
            Some("linkerd"),
            "linkerd-identity-trust-roots",
            &patch,
            false,
            false,
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_overlap_stops_before_stage_7_and_a_later_run_finishes_it() {
    let r = Rehearsal::start(Setup::Scenario("stable-2.12"), FaultConfig::default()).await;
    let paused = r.run(&rotate_rhai(), &["--set", "keep_overlap=true"]).await;
    paused.ok("keep_overlap");
    assert!(paused.outputs("restart-for-issuer").is_some());
    assert!(paused.outputs("remove-old-root").is_none());
    let skipped: Vec<&str> = paused
        .of("step_skipped")
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(skipped, ["remove-old-root", "restart-final"]);
    let overlap = trust_roots(&r);
    assert_eq!(Bundle::parse(&overlap, "bundle").unwrap().len(), 2);

    // Someone puts the old root back alone: the next run must not remove it blindly.
    let root = r.written("ca-new");
    let old: Vec<_> = Bundle::parse(&overlap, "bundle")
        .unwrap()
        .certs()
        .iter()
        .filter(|c| c.fingerprint() != root.fingerprint())
        .cloned()
        .collect();
    set_trust_roots(&r, &old[0].to_pem());
    let refused = r
        .run(&rotate_rhai(), &["--set", "keep_overlap=false"])
        .await;
    assert_eq!(refused.code, Some(1), "{}", refused.explain());
    let error = refused.of("step_failed").next().unwrap()["error"].to_string();
    assert!(
        error.contains("remove-old-root") || error.contains("no longer hold the new root"),
        "{error}"
    );
    assert!(error.contains(root.fingerprint()), "{error}");

    set_trust_roots(&r, &overlap);
    let finished = r
        .run(&rotate_rhai(), &["--set", "keep_overlap=false"])
        .await;
    finished.ok("finishing after the overlap");
    let ran: Vec<&str> = finished
        .of("step_finished")
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert_eq!(ran, ["remove-old-root", "restart-final"]);
    r.assert_rotated("keep_overlap then finish");
}

/// The same kills against `runner sim serve`, a cluster in a process of its own as an operator
/// rehearses with it: killed inside every step, the rotation completes with one root, the
/// served cluster counts no failed meshed connection and `runner check --proxy` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_inside_every_step_against_runner_sim_serve() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let workdir = dir.path().join("work");
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["sim", "serve", "--scenario", "edge", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // It writes the kubeconfig, then says where it listens.
    let stderr = server.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.starts_with("kubeconfig: ") {
            break;
        }
    }
    assert!(kubeconfig.is_file(), "runner sim serve wrote no kubeconfig");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // Let its controllers bring every pod up before the first preflight check.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
            .arg(rotate_rhai())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--workdir")
            .arg(&workdir)
            .args(["--yes", "--output", "json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let mut roots = Vec::new();
    let mut killed = 0;
    for i in 0..STEPS.len() {
        let run = finish(spawn(), |events| reached(Point::Inside(i), events)).await;
        if run.code == Some(0) {
            break;
        }
        assert_eq!(run.code, None, "run {i}: {}", run.explain());
        killed += 1;
        roots.extend(
            run.outputs("generate")
                .map(|o| o["root"]["fingerprint"].clone()),
        );
    }
    assert!(killed >= STEPS.len() - 1, "only {killed} runs were killed");
    let last = finish(spawn(), |_| false).await;
    last.ok("the last run against runner sim serve");

    let root_pem = std::fs::read_to_string(workdir.join("ca-new.crt")).unwrap();
    let root = runner::pki::Certificate::from_pem(&root_pem, "ca-new.crt").unwrap();
    roots.dedup();
    assert!(roots.len() <= 1, "more than one root generated: {roots:?}");
    if let Some(recorded) = roots.first() {
        assert_eq!(recorded, root.fingerprint());
    }
    let kubectl = |args: &[&str]| {
        std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .unwrap()
    };
    let failures = kubectl(&["get", "--raw", "/sim/failures"]);
    assert!(failures.status.success(), "{failures:?}");
    let record: Value = serde_json::from_slice(&failures.stdout).unwrap();
    assert_eq!(record["failed"], 0, "{record}");
    assert!(record["connections"].as_u64().unwrap() > 50, "{record}");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["check", "--proxy", "--kubeconfig"])
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let bundle = kubectl(&[
        "-n",
        "linkerd",
        "get",
        "configmap",
        "linkerd-identity-trust-roots",
        "-o",
        "jsonpath={.data.ca-bundle\\.crt}",
    ]);
    let anchors = Bundle::parse(&String::from_utf8_lossy(&bundle.stdout), "bundle").unwrap();
    let fingerprints: Vec<&str> = anchors.certs().iter().map(|c| c.fingerprint()).collect();
    assert_eq!(fingerprints, [root.fingerprint()]);
}
