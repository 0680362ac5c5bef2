//! The simulated API server driven by the real `kubectl` with the kubeconfig it writes.
//!
//! Needs `kubectl` on the PATH; each test says so and passes without running where it is
//! missing. Install manifests come from `../shared/fixtures/linkerd/` when that folder exists.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn kubectl_present() -> bool {
    let found = std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok();
    if !found {
        eprintln!("skipping: this test needs kubectl on the PATH");
    }
    found
}

fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/linkerd");
    dir.is_dir().then_some(dir)
}

struct Kubectl {
    sim: SimHandle,
    cache: tempfile::TempDir,
}

impl Kubectl {
    async fn start(manifests: Vec<PathBuf>) -> Self {
        let sim = SimServer::start(SimOptions {
            manifests,
            ..Default::default()
        })
        .await
        .unwrap();
        Self {
            sim,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", self.sim.kubeconfig_path())
            // A discovery cache per server: ports are reused between tests.
            .env("KUBECACHEDIR", self.cache.path())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// Runs kubectl, asserts success and returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?} failed: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn rt(&self, group: &str, plural: &str) -> std::sync::Arc<runner::sim::kinds::ResourceType> {
        let version = "v1";
        self.sim
            .store()
            .registry()
            .lookup(group, version, plural)
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_install_manifest_applies_and_reads_back() {
    if !kubectl_present() {
        return;
    }
    let Some(dir) = fixtures() else {
        eprintln!("skipping: ../shared/fixtures/linkerd is missing");
        return;
    };
    let mut installs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("install-")
        })
        .collect();
    installs.sort();
    assert!(!installs.is_empty());
    for install in installs {
        let k = Kubectl::start(Vec::new()).await;
        let docs = runner::sim::load::parse_documents(&std::fs::read_to_string(&install).unwrap());
        let out = k.ok(&["apply", "-f", install.to_str().unwrap()]).await;
        assert_eq!(
            out.lines().filter(|l| l.ends_with(" created")).count(),
            docs.unwrap().len()
        );
        assert!(
            out.contains("namespace/linkerd created"),
            "{install:?}: {out}"
        );

        let deploys = k.ok(&["get", "deploy", "-A"]).await;
        assert!(deploys.starts_with("NAMESPACE"), "{deploys}");
        assert!(
            deploys
                .lines()
                .any(|l| l.starts_with("linkerd ") && l.contains("linkerd-identity"))
        );

        // The identity configuration is where each layout keeps it.
        let values = k
            .ok(&[
                "get",
                "cm",
                "linkerd-config",
                "-n",
                "linkerd",
                "-o",
                "jsonpath={.data.values}{.data.global}",
            ])
            .await;
        assert!(
            values.contains("-----BEGIN CERTIFICATE-----"),
            "{install:?}: {values}"
        );

        // A second apply changes nothing. kubectl still sends a patch ("configured") for
        // objects whose manifest holds a null field, as against a real server.
        let version = k.sim.store().resource_version();
        let again = k.ok(&["apply", "-f", install.to_str().unwrap()]).await;
        assert!(!again.contains(" created"), "{install:?}: {again}");
        assert_eq!(
            k.sim.store().resource_version(),
            version,
            "{install:?}: {again}"
        );
    }
}

async fn emojivoto() -> Option<Kubectl> {
    let dir = fixtures()?;
    let k = Kubectl::start(vec![dir.join("install-stable-2.12.0.yaml")]).await;
    k.ok(&["create", "namespace", "emojivoto"]).await;
    let out = k
        .ok(&[
            "apply",
            "-n",
            "emojivoto",
            "-f",
            dir.join("emojivoto.yaml").to_str()?,
        ])
        .await;
    assert!(out.contains("deployment.apps/web created"), "{out}");
    Some(k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emojivoto_lists_restarts_and_rolls_out() {
    if !kubectl_present() {
        return;
    }
    let Some(k) = emojivoto().await else { return };
    let all = k.ok(&["get", "deploy", "-A", "-o", "name"]).await;
    assert_eq!(
        all.lines()
            .filter(|l| l.starts_with("deployment.apps/"))
            .count(),
        7
    );
    let everything = k.ok(&["get", "all", "-n", "emojivoto", "-o", "name"]).await;
    assert!(everything.contains("service/web-svc\n"), "{everything}");
    assert!(
        everything.contains("deployment.apps/vote-bot\n"),
        "{everything}"
    );

    // Pods are made by the test here; the simulated controllers come with the next issue.
    let pods = k.rt("", "pods");
    for (name, app) in [
        ("web-1", "web-svc"),
        ("web-2", "web-svc"),
        ("emoji-1", "emoji-svc"),
    ] {
        let pod = json!({"metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        k.sim
            .store()
            .create(&pods, Some("emojivoto"), pod, false)
            .unwrap();
    }
    let names = k
        .ok(&[
            "get",
            "pods",
            "-n",
            "emojivoto",
            "-l",
            "app=web-svc",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(names, "pod/web-1\npod/web-2\n");

    let deploys = k.rt("apps", "deployments");
    let before = k
        .sim
        .store()
        .get(&deploys, Some("emojivoto"), "web")
        .unwrap();
    let out = k
        .ok(&["-n", "emojivoto", "rollout", "restart", "deploy"])
        .await;
    assert_eq!(out.lines().count(), 4, "{out}");
    // One write per restarted workload.
    let writes = k
        .sim
        .counts()
        .object_writes("deployments.apps", Some("emojivoto"), "web");
    assert_eq!(writes, 1);
    let after = k
        .sim
        .store()
        .get(&deploys, Some("emojivoto"), "web")
        .unwrap();
    let restarted =
        &after["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"];
    assert!(
        restarted.as_str().is_some_and(|t| t.ends_with('Z')),
        "{after}"
    );
    let generation = |d: &Value| d["metadata"]["generation"].as_i64().unwrap();
    assert_eq!(generation(&after), generation(&before) + 1);

    // rollout status waits until the status reports the new generation complete.
    let status = k.command(&[
        "rollout",
        "status",
        "deploy/web",
        "-n",
        "emojivoto",
        "--timeout=30s",
    ]);
    let waiting = tokio::spawn(async move {
        let mut status = status;
        status.output().await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "rollout status returned before the rollout finished"
    );
    let g = generation(&after);
    let done = json!({"status": {"observedGeneration": g, "replicas": 1, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1,
        "conditions": [{"type": "Available", "status": "True"}]}});
    let patch = runner::sim::store::Patch::Merge(done);
    k.sim
        .store()
        .patch(&deploys, Some("emojivoto"), "web", &patch, true, false)
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("deployment \"web\" successfully rolled out")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_patches_dry_runs_deletes_and_secrets() {
    if !kubectl_present() {
        return;
    }
    let Some(k) = emojivoto().await else { return };
    let events = k.rt("", "events");
    for (name, reason) in [("a.1", "IssuerUpdated"), ("b.2", "Scheduled")] {
        let ev = json!({"metadata": {"name": name}, "reason": reason, "type": "Normal",
            "message": format!("{reason} happened"),
            "involvedObject": {"kind": "Deployment", "name": "linkerd-identity", "namespace": "linkerd"}});
        k.sim
            .store()
            .create(&events, Some("linkerd"), ev, false)
            .unwrap();
    }
    let out = k
        .ok(&[
            "get",
            "events",
            "-n",
            "linkerd",
            "--field-selector",
            "reason=IssuerUpdated",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.message}{\"\\n\"}{end}",
        ])
        .await;
    assert_eq!(out, "a.1 IssuerUpdated happened\n");
    let bad = k
        .run(&[
            "get",
            "events",
            "-n",
            "linkerd",
            "--field-selector",
            "nope=1",
        ])
        .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("field label not supported: nope"));

    // The three patch types.
    k.ok(&[
        "create",
        "configmap",
        "p",
        "-n",
        "emojivoto",
        "--from-literal=a=1",
    ])
    .await;
    k.ok(&[
        "patch",
        "cm",
        "p",
        "-n",
        "emojivoto",
        "--type=merge",
        "-p",
        r#"{"data":{"b":"2"}}"#,
    ])
    .await;
    k.ok(&[
        "patch",
        "cm",
        "p",
        "-n",
        "emojivoto",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/data/a","value":"one"}]"#,
    ])
    .await;
    k.ok(&["patch", "deploy", "web", "-n", "emojivoto", "--type=strategic", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web-svc","env":[{"name":"EXTRA","value":"x"}]}]}}}}"#]).await;
    let data = k
        .ok(&[
            "get",
            "cm",
            "p",
            "-n",
            "emojivoto",
            "-o",
            "jsonpath={.data}",
        ])
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"a": "one", "b": "2"})
    );
    let env = k
        .ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            "emojivoto",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].env[*].name}",
        ])
        .await;
    assert_eq!(
        env,
        "WEB_PORT EMOJISVC_HOST VOTINGSVC_HOST INDEX_BUNDLE EXTRA"
    );

    // A server-side dry run answers and stores nothing.
    let manifest = k.cache.path().join("dry.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\n  namespace: emojivoto\ndata:\n  k: v\n").unwrap();
    let version = k.sim.store().resource_version();
    let out = k
        .ok(&[
            "apply",
            "--dry-run=server",
            "-f",
            manifest.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out, "configmap/dry created (server dry run)\n");
    assert_eq!(k.sim.store().resource_version(), version);

    // Server-side apply creates; a later apply by the same manager changes what it applies
    // and removes what it no longer applies, and leaves fields others set.
    // kubectl reads a bare `y` as a boolean, which a ConfigMap refuses: hence `z`.
    let with_x = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\n  namespace: emojivoto\ndata:\n  k: v\n  x: z\n";
    std::fs::write(&manifest, with_x).unwrap();
    k.ok(&["apply", "--server-side", "-f", manifest.to_str().unwrap()])
        .await;
    k.ok(&[
        "patch",
        "cm",
        "dry",
        "-n",
        "emojivoto",
        "--type=merge",
        "-p",
        r#"{"data":{"mine":"1"}}"#,
    ])
    .await;
    std::fs::write(&manifest, with_x.replace("  k: v\n  x: z\n", "  k: w\n")).unwrap();
    let out = k
        .ok(&["apply", "--server-side", "-f", manifest.to_str().unwrap()])
        .await;
    assert_eq!(out, "configmap/dry serverside-applied\n");
    let data = k
        .ok(&[
            "get",
            "cm",
            "dry",
            "-n",
            "emojivoto",
            "-o",
            "jsonpath={.data}",
        ])
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"k": "w", "mine": "1"})
    );

    assert_eq!(
        k.ok(&["delete", "cm", "dry", "-n", "emojivoto"]).await,
        "configmap \"dry\" deleted\n"
    );
    let gone = k.run(&["get", "cm", "dry", "-n", "emojivoto"]).await;
    assert_eq!(
        String::from_utf8_lossy(&gone.stderr),
        "Error from server (NotFound): configmaps \"dry\" not found\n"
    );

    let yaml = k
        .ok(&[
            "get",
            "secret",
            "linkerd-identity-issuer",
            "-n",
            "linkerd",
            "-o",
            "yaml",
        ])
        .await;
    let secret: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["name"], "linkerd-identity-issuer");
    assert!(
        secret["data"]["crt.pem"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_watch_receives_a_change_made_elsewhere() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(Vec::new()).await;
    k.ok(&["create", "namespace", "w"]).await;
    let mut watch = k.command(&["get", "pods", "-n", "w", "-w", "-o", "name"]);
    let mut child = watch.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    k.ok(&["run", "late", "-n", "w", "--image=nginx"]).await;
    let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await;
    assert_eq!(line.unwrap().unwrap().as_deref(), Some("pod/late"));
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_unauthorized() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(Vec::new()).await;
    let text = k.sim.kubeconfig().replace(k.sim.token(), "not-the-token");
    let path = k.cache.path().join("wrong-kubeconfig");
    std::fs::write(&path, text).unwrap();
    let out = k
        .command(&["get", "ns"])
        .env("KUBECONFIG", &path)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("You must be logged in to the server"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_send_protobuf_that_is_stored_as_json() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(Vec::new()).await;
    k.ok(&["create", "namespace", "typed"]).await;
    k.ok(&[
        "create",
        "deployment",
        "web",
        "-n",
        "typed",
        "--image=nginx:1",
        "--replicas=2",
    ])
    .await;
    k.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "typed",
        "--from-literal=k=v",
    ])
    .await;
    k.ok(&["create", "serviceaccount", "sa", "-n", "typed"])
        .await;
    k.ok(&["create", "job", "once", "-n", "typed", "--image=busybox"])
        .await;

    let store = k.sim.store();
    let d = store
        .get(&k.rt("apps", "deployments"), Some("typed"), "web")
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"], json!({"app": "web"}));
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1"
    );
    assert_eq!(d["metadata"]["generation"], 1);
    let s = store.get(&k.rt("", "secrets"), Some("typed"), "s").unwrap();
    assert_eq!(s["data"], json!({"k": "dg=="}));
    assert!(
        store
            .get(&k.rt("", "serviceaccounts"), Some("typed"), "sa")
            .is_ok()
    );
    let job = store
        .get(&k.rt("batch", "jobs"), Some("typed"), "once")
        .unwrap();
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(k.sim.counts().get("create", "deployments.apps"), 1);

    // kubectl scale goes through the scale subresource.
    let out = k
        .ok(&["scale", "deploy", "web", "-n", "typed", "--replicas=5"])
        .await;
    assert_eq!(out, "deployment.apps/web scaled\n");
    let d = store
        .get(&k.rt("apps", "deployments"), Some("typed"), "web")
        .unwrap();
    assert_eq!(
        (
            d["spec"]["replicas"].as_i64(),
            d["metadata"]["generation"].as_i64()
        ),
        (Some(5), Some(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_of_an_installed_crd_are_served() {
    if !kubectl_present() {
        return;
    }
    let Some(dir) = fixtures() else { return };
    let k = Kubectl::start(vec![dir.join("install-stable-2.11.0.yaml")]).await;
    let sp = k.cache.path().join("sp.yaml");
    let text = "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata:\n  name: web.emojivoto.svc.cluster.local\n  namespace: linkerd\nspec:\n  routes:\n  - name: GET /\n    condition:\n      method: GET\n";
    std::fs::write(&sp, text).unwrap();
    let out = k.ok(&["apply", "-f", sp.to_str().unwrap()]).await;
    assert_eq!(
        out,
        "serviceprofile.linkerd.io/web.emojivoto.svc.cluster.local created\n"
    );
    let names = k.ok(&["get", "sp", "-n", "linkerd", "-o", "name"]).await;
    assert_eq!(
        names,
        "serviceprofile.linkerd.io/web.emojivoto.svc.cluster.local\n"
    );
    std::fs::write(&sp, text.replace("GET /", "GET /web")).unwrap();
    k.ok(&["apply", "-f", sp.to_str().unwrap()]).await;
    let route = k
        .ok(&[
            "get",
            "sp",
            "-n",
            "linkerd",
            "-o",
            "jsonpath={.items[0].spec.routes[0].name}",
        ])
        .await;
    assert_eq!(route, "GET /web");
    // Strategic merge needs a schema the server has only for its own kinds.
    let patch = k
        .run(&[
            "patch",
            "sp",
            "web.emojivoto.svc.cluster.local",
            "-n",
            "linkerd",
            "--type=strategic",
            "-p",
            r#"{"spec":{"retryBudget":null}}"#,
        ])
        .await;
    assert!(!patch.status.success());
    assert!(
        String::from_utf8_lossy(&patch.stderr).contains("strategic merge patch is not supported")
    );
}

/// The words of each line of kubectl's table output.
fn table(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_readable_gets_print_the_real_columns() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(Vec::new()).await;
    k.ok(&["create", "namespace", "t"]).await;
    let store = k.sim.store();
    let deploy = json!({"metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}});
    let deploys = k.rt("apps", "deployments");
    store.create(&deploys, Some("t"), deploy, false).unwrap();
    let status = runner::sim::store::Patch::Merge(json!({"status": {
        "replicas": 2, "readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}}));
    store
        .patch(&deploys, Some("t"), "web", &status, true, false)
        .unwrap();
    let pods = k.rt("", "pods");
    for (name, status) in [
        (
            "ok",
            json!({"phase": "Running", "podIP": "10.1.0.7", "containerStatuses": [
                {"name": "c", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
        ),
        (
            "crash",
            json!({"phase": "Running", "containerStatuses": [
                {"name": "c", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:00:00Z"}}}]}),
        ),
    ] {
        let pod = json!({"metadata": {"name": name},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "i"}]}});
        store.create(&pods, Some("t"), pod, false).unwrap();
        let status = runner::sim::store::Patch::Merge(json!({ "status": status }));
        store
            .patch(&pods, Some("t"), name, &status, true, false)
            .unwrap();
    }
    let event = json!({"metadata": {"name": "web.1"}, "type": "Normal", "reason": "IssuerUpdated",
        "message": "Updated identity issuer ", "count": 2,
        "involvedObject": {"kind": "Deployment", "name": "web", "namespace": "t"},
        "source": {"component": "linkerd-identity"}});
    store
        .create(&k.rt("", "events"), Some("t"), event, false)
        .unwrap();

    let deploys = table(&k.ok(&["get", "deploy", "-A"]).await);
    assert_eq!(
        deploys[0],
        [
            "NAMESPACE",
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE"
        ]
    );
    assert_eq!(deploys[1][..5], ["t", "web", "1/2", "2", "1"]);

    let pods = table(&k.ok(&["get", "pods", "-n", "t"]).await);
    assert_eq!(pods[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    // Rows in name order; the restarts say when the last one was.
    assert_eq!(pods[1][..4], ["crash", "0/1", "CrashLoopBackOff", "3"]);
    assert!(
        pods[1][4].starts_with('(') && pods[1][5] == "ago)",
        "{pods:?}"
    );
    assert_eq!(pods[2][..4], ["ok", "1/1", "Running", "0"]);

    let wide = k.ok(&["get", "pod", "ok", "-n", "t", "-o", "wide"]).await;
    assert!(
        wide.starts_with("NAME ") && wide.contains(" NOMINATED NODE   READINESS GATES\n"),
        "{wide}"
    );
    assert_eq!(
        table(&wide)[1][5..],
        ["10.1.0.7", "node-1", "<none>", "<none>"]
    );

    let events = table(&k.ok(&["get", "events", "-n", "t"]).await);
    assert_eq!(
        events[0],
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    let row = events[1].join(" ");
    assert!(
        row.ends_with("Normal IssuerUpdated deployment/web Updated identity issuer"),
        "{row}"
    );

    let ns = table(&k.ok(&["get", "ns", "t"]).await);
    assert_eq!(ns[0], ["NAME", "STATUS", "AGE"]);
    assert_eq!(ns[1][..2], ["t", "Active"]);
    let cms = table(&k.ok(&["get", "cm", "-n", "t"]).await);
    assert_eq!(cms[0], ["NAME", "DATA", "AGE"]);
    assert_eq!(cms[1][..2], ["kube-root-ca.crt", "1"]);

    // A watch prints the header once, then one row per change.
    let mut watch = k.command(&["get", "pods", "-n", "t", "-w"]);
    let mut child = watch.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || {
        let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line()).await;
        line.unwrap().unwrap().unwrap()
    };
    assert!(next().await.starts_with("NAME "));
    assert!(next().await.starts_with("crash "));
    assert!(next().await.starts_with("ok "));
    k.ok(&["run", "late", "-n", "t", "--image=nginx"]).await;
    assert_eq!(table(&next().await)[0][..3], ["late", "0/1", "Pending"]);
    child.kill().await.unwrap();
}
