//! Store behaviour without HTTP.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use super::*;

fn store_with_ns(ns: &str) -> (Store, Registry) {
    let store = Store::default();
    let reg = store.registry();
    let nss = reg.lookup("", "v1", "namespaces").unwrap();
    store
        .create(&nss, None, json!({"metadata": {"name": ns}}), false)
        .unwrap();
    // A new namespace gets its `kube-root-ca.crt` ConfigMap; these tests count their own.
    let cms = reg.lookup("", "v1", "configmaps").unwrap();
    store
        .delete(&cms, Some(ns), "kube-root-ca.crt", false)
        .unwrap();
    (store, reg)
}

fn cm(name: &str, label: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": label}}, "data": {"k": name}})
}

#[test]
fn optimistic_concurrency_and_dry_run() {
    let (store, reg) = store_with_ns("a");
    let cms = reg.lookup("", "v1", "configmaps").unwrap();
    let created = store
        .create(&cms, Some("a"), cm("one", "x"), false)
        .unwrap();
    assert!(
        store
            .create(&cms, Some("a"), cm("one", "x"), false)
            .is_err()
    );
    let dry = store.create(&cms, Some("a"), cm("two", "x"), true).unwrap();
    assert_eq!(dry["metadata"]["name"], "two");
    assert!(matches!(
        store.get(&cms, Some("a"), "two"),
        Err(StoreError::NotFound { .. })
    ));

    let mut stale = created.clone();
    stale["data"]["k"] = json!("first");
    store
        .update(&cms, Some("a"), "one", stale.clone(), false, false)
        .unwrap();
    stale["data"]["k"] = json!("second");
    let err = store
        .update(&cms, Some("a"), "one", stale, false, false)
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(
        store.get(&cms, Some("a"), "one").unwrap()["data"]["k"],
        "first"
    );
}

#[test]
fn pages_cover_everything_once() {
    let (store, reg) = store_with_ns("a");
    let cms = reg.lookup("", "v1", "configmaps").unwrap();
    for i in 0..25 {
        store
            .create(&cms, Some("a"), cm(&format!("cm-{i:02}"), "x"), false)
            .unwrap();
    }
    let mut opts = ListOptions {
        limit: 10,
        ..Default::default()
    };
    let mut names = Vec::new();
    let mut remaining = Vec::new();
    loop {
        let page = store.list(&cms, Some("a"), &opts).unwrap();
        remaining.push(page.remaining);
        names.extend(
            page.items
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        match page.continue_token {
            Some(t) => opts.continue_token = Some(t),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected);
    assert_eq!(remaining, [Some(15), Some(5), None]);
}

#[tokio::test]
async fn watch_replays_in_order_and_expires_after_compaction() {
    let (store, reg) = store_with_ns("a");
    let cms = reg.lookup("", "v1", "configmaps").unwrap();
    let from = store.resource_version();
    store
        .create(&cms, Some("a"), cm("one", "x"), false)
        .unwrap();
    store
        .create(&cms, Some("a"), cm("two", "y"), false)
        .unwrap();
    store.delete(&cms, Some("a"), "one", false).unwrap();
    let filter = WatchFilter {
        resource: Arc::clone(&cms),
        namespace: Some("a".into()),
        labels: LabelSelector::parse("app=x").unwrap(),
        fields: FieldSelector::default(),
    };
    let mut w = store.watch(filter.clone(), Some(from)).unwrap();
    assert!(matches!(w.next().await, Some(WatchEvent::Added(o)) if o["metadata"]["name"] == "one"));
    assert!(
        matches!(w.next().await, Some(WatchEvent::Deleted(o)) if o["metadata"]["name"] == "one")
    );
    store.compact();
    assert!(matches!(
        store.watch(filter, Some(from)),
        Err(StoreError::Expired { .. })
    ));
}

#[test]
fn typed_access_and_admission_hooks() {
    struct Stamp;
    impl Admission for Stamp {
        fn admit(&self, op: Operation, _: &ResourceType, obj: &mut Value) -> Result<(), String> {
            if meta_str(obj, "name") == Some("refused") {
                return Err("not this one".into());
            }
            meta::meta_mut(obj).insert("annotations".into(), json!({"op": format!("{op:?}")}));
            Ok(())
        }
    }
    let (store, _) = store_with_ns("a");
    store.add_admission(Arc::new(Stamp));
    let mut cm: ConfigMap = serde_json::from_value(cm("typed", "x")).unwrap();
    cm.metadata.namespace = Some("a".into());
    let created = store.create_typed(&cm).unwrap();
    assert_eq!(created.metadata.annotations.unwrap()["op"], "Create");
    cm.metadata.name = Some("refused".into());
    assert!(matches!(
        store.create_typed(&cm),
        Err(StoreError::Denied { .. })
    ));
    assert_eq!(store.list_typed::<ConfigMap>(Some("a")).unwrap().len(), 1);
    let mut watch = store.watch_typed::<ConfigMap>(Some("a"), None).unwrap();
    let first = futures::executor::block_on(watch.next()).unwrap();
    let decoded: ConfigMap = first.decode().unwrap();
    assert_eq!(decoded.metadata.name.as_deref(), Some("typed"));
}

#[test]
fn deleting_a_namespace_deletes_its_objects() {
    let (store, reg) = store_with_ns("a");
    let cms = reg.lookup("", "v1", "configmaps").unwrap();
    let nss = reg.lookup("", "v1", "namespaces").unwrap();
    store
        .create(&cms, Some("a"), cm("one", "x"), false)
        .unwrap();
    assert!(matches!(
        store.create(&cms, Some("b"), cm("one", "x"), false),
        Err(StoreError::NamespaceNotFound { .. })
    ));
    store.delete(&nss, None, "a", false).unwrap();
    assert!(store.get(&cms, Some("a"), "one").is_err());
}

#[test]
fn deleting_an_owner_deletes_what_it_owns() {
    let (store, reg) = store_with_ns("a");
    let deploys = reg.lookup("apps", "v1", "deployments").unwrap();
    let rss = reg.lookup("apps", "v1", "replicasets").unwrap();
    let pods = reg.lookup("", "v1", "pods").unwrap();
    let owner = |o: &Value| json!([{"uid": o["metadata"]["uid"], "kind": "x", "name": "x", "apiVersion": "v1"}]);
    let d = store
        .create(
            &deploys,
            Some("a"),
            json!({"metadata": {"name": "web"}, "spec": {}}),
            false,
        )
        .unwrap();
    let rs = json!({"metadata": {"name": "web-1", "ownerReferences": owner(&d)}, "spec": {}});
    let rs = store.create(&rss, Some("a"), rs, false).unwrap();
    let pod = json!({"metadata": {"name": "web-1-x", "ownerReferences": owner(&rs)}, "spec": {}});
    store.create(&pods, Some("a"), pod, false).unwrap();
    let other = json!({"metadata": {"name": "lonely"}, "spec": {}});
    store.create(&pods, Some("a"), other, false).unwrap();

    store.delete(&deploys, Some("a"), "web", false).unwrap();
    assert!(store.get(&rss, Some("a"), "web-1").is_err());
    assert!(store.get(&pods, Some("a"), "web-1-x").is_err());
    assert!(store.get(&pods, Some("a"), "lonely").is_ok());
}

#[test]
fn concurrent_patches_lose_no_update() {
    let (store, reg) = store_with_ns("a");
    let cms = reg.lookup("", "v1", "configmaps").unwrap();
    store
        .create(&cms, Some("a"), cm("shared", "x"), false)
        .unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (store, cms) = (&store, &cms);
            s.spawn(move || {
                for i in 0..25 {
                    let p = Patch::Merge(json!({"data": {format!("t{t}-{i}"): "1"}}));
                    store
                        .patch(cms, Some("a"), "shared", &p, false, false)
                        .unwrap();
                }
            });
        }
    });
    let data = store.get(&cms, Some("a"), "shared").unwrap()["data"].clone();
    assert_eq!(
        data.as_object().unwrap().len(),
        101,
        "one initial key and 100 patched ones"
    );
}
