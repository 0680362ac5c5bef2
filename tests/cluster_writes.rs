//! Writes against the simulated cluster: a patch racing another writer, a dry-run that
//! stores nothing and shows no key, and a refusal that names what RBAC would have to allow.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use runner::cluster::{Cluster, ClusterError, WriteMode, kinds};
use runner::sim::kinds::ResourceType;
use runner::sim::store::{Admission, Operation, Patch};
use runner::sim::{SimHandle, SimOptions, SimServer};
use serde_json::{Value, json};

const KEY_BODY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSECRETSECRET";

fn objects() -> String {
    let key = format!("-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n-----END PRIVATE KEY-----\n");
    let key_b64 = base64_encode(key.as_bytes());
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: linkerd\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: linkerd-identity-trust-roots\n  \
         namespace: linkerd\ndata:\n  ca-bundle.crt: old\n  owner: linkerd\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata:\n  name: linkerd-identity-issuer\n  \
         namespace: linkerd\ntype: kubernetes.io/tls\ndata:\n  tls.key: {key_b64}\n  \
         tls.crt: {}\n",
        base64_encode(b"not a certificate")
    )
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn start() -> (SimHandle, Cluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("linkerd.yaml");
    std::fs::write(&manifest, objects()).unwrap();
    let options = SimOptions {
        manifests: vec![manifest],
        ..SimOptions::default()
    };
    let sim = SimServer::start(options).await.unwrap();
    let cluster = Cluster::new(runner_client(&sim).await, "sim");
    (sim, cluster, dir)
}

fn configmap_type(sim: &SimHandle) -> Arc<ResourceType> {
    sim.store()
        .registry()
        .lookup("", "v1", "configmaps")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_racing_another_writer_is_recomputed_on_the_newer_object() {
    let (sim, cluster, _dir) = start().await;
    let kind = kinds::lookup("ConfigMap").unwrap();
    let calls = AtomicU32::new(0);
    let rt = configmap_type(&sim);

    let patched = cluster
        .patch(
            &kind,
            Some("linkerd"),
            "linkerd-identity-trust-roots",
            WriteMode::Apply,
            |current| {
                // The first time, another writer changes the object after we read it.
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    let other = Patch::Merge(json!({"data": {"owner": "helm"}}));
                    sim.store()
                        .patch(
                            &rt,
                            Some("linkerd"),
                            "linkerd-identity-trust-roots",
                            &other,
                            false,
                            false,
                        )
                        .unwrap();
                }
                // The change depends on the current object, so a stale read would lose the
                // other writer's value.
                let owner = current.data["data"]["owner"].as_str().unwrap_or_default();
                Ok(Some(
                    json!({"data": {"ca-bundle.crt": format!("new (owner {owner})")}}),
                ))
            },
        )
        .await
        .unwrap();

    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(patched.attempts, 2);
    assert_eq!(patched.object.data["data"]["owner"], "helm");
    assert_eq!(
        patched.object.data["data"]["ca-bundle.crt"],
        "new (owner helm)"
    );
    // One write answered 409, the second applied.
    assert_eq!(sim.counts().get("patch", "configmaps"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_patch_stores_nothing_and_shows_no_key() {
    let (sim, cluster, _dir) = start().await;
    let kind = kinds::lookup("Secret").unwrap();
    let name = "linkerd-identity-issuer";
    let before = cluster
        .get(&kind, Some("linkerd"), name)
        .await
        .unwrap()
        .unwrap();
    let new_key = "-----BEGIN PRIVATE KEY-----\nNEWKEYNEWKEY\n-----END PRIVATE KEY-----\n";
    let patch = json!({"data": {"tls.key": base64_encode(new_key.as_bytes())}});

    let patched = cluster
        .patch(&kind, Some("linkerd"), name, WriteMode::DryRun, |_| {
            Ok(Some(patch.clone()))
        })
        .await
        .unwrap();

    // The server's dry-run answer holds the change; the stored object does not.
    assert_eq!(
        patched.object.data["data"]["tls.key"],
        patch["data"]["tls.key"]
    );
    let after = cluster
        .get(&kind, Some("linkerd"), name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(
        after.data["data"]["tls.key"],
        before.data["data"]["tls.key"]
    );
    assert_eq!(sim.counts().writes(), 0, "{:?}", sim.counts().snapshot());
    assert_eq!(sim.counts().get("patch:dryRun", "secrets"), 1);

    // The diff names the field and shows both values as fingerprints only.
    assert_eq!(patched.changes.len(), 1);
    let change = &patched.changes[0];
    assert_eq!(change.path, "data.tls.key");
    let shown = serde_json::to_string(&patched.changes).unwrap();
    for secret in [KEY_BODY, "NEWKEYNEWKEY", "PRIVATE KEY"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    let old = change.old.as_deref().unwrap();
    assert!(old.starts_with('<') && old.contains("sha256:"), "{old}");
    assert_ne!(change.old, change.new);
}

/// Refuses every write to ConfigMaps in one namespace, as a missing RBAC rule would.
struct Locked;

impl Admission for Locked {
    fn admit(&self, _: Operation, rt: &ResourceType, object: &mut Value) -> Result<(), String> {
        let ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
        if rt.plural == "configmaps" && ns == "linkerd" {
            return Err("the runner's service account may not change it".into());
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_patch_names_the_verb_resource_and_namespace() {
    let (sim, cluster, _dir) = start().await;
    sim.store().add_admission(Arc::new(Locked));
    let kind = kinds::lookup("ConfigMap").unwrap();

    let error = cluster
        .patch(
            &kind,
            Some("linkerd"),
            "linkerd-identity-trust-roots",
            WriteMode::Apply,
            |_| Ok(Some(json!({"data": {"ca-bundle.crt": "new"}}))),
        )
        .await
        .unwrap_err();

    assert!(matches!(error, ClusterError::Forbidden { .. }));
    assert_eq!(
        error.to_string(),
        "patching ConfigMap linkerd/linkerd-identity-trust-roots: 403 Forbidden: not allowed \
         to patch configmaps in namespace linkerd: admission denied the request for configmaps \
         \"linkerd-identity-trust-roots\": the runner's service account may not change it"
    );
    // A refusal is final: no retry.
    assert_eq!(sim.counts().get("patch", "configmaps"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_of_a_missing_object_names_it() {
    let (_sim, cluster, _dir) = start().await;
    let kind = kinds::lookup("ConfigMap").unwrap();
    let error = cluster
        .patch(&kind, Some("linkerd"), "nope", WriteMode::Apply, |_| {
            Ok(Some(json!({})))
        })
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "patching ConfigMap linkerd/nope: 404 NotFound: the object does not exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_is_not_a_map_is_refused_before_any_write() {
    let (sim, cluster, _dir) = start().await;
    let kind = kinds::lookup("ConfigMap").unwrap();
    let error = cluster
        .patch(
            &kind,
            Some("linkerd"),
            "linkerd-identity-trust-roots",
            WriteMode::Apply,
            |_| Ok(Some(json!(["not", "a", "map"]))),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "computing the change to ConfigMap linkerd/linkerd-identity-trust-roots: a merge patch \
         is a map, not [\"not\",\"a\",\"map\"]"
    );
    assert_eq!(sim.counts().writes(), 0);
}

/// The client the runner builds for a `--kubeconfig` (one retry loop, ours), for the sim.
async fn runner_client(sim: &runner::sim::SimHandle) -> kube::Client {
    let args = runner::cluster::ClientArgs {
        kubeconfig: Some(sim.kubeconfig_path().to_owned()),
        context: None,
    };
    runner::cluster::connect(&args).await.unwrap().client
}
