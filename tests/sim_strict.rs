//! The simulated API server refuses what a real one refuses: values of the wrong type,
//! unknown fields under `fieldValidation=Strict`, and the store stays as it was.

mod sim_strict_support;

use std::process::Stdio;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use sim_strict_support::{deployment, raw, start};

const CMS: &str = "/api/v1/namespaces/app/configmaps";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/app/deployments";
const JSON: &str = "application/json";

#[tokio::test]
async fn wrongly_typed_values_are_refused_and_typed_clients_keep_working() {
    let (_sim, client) = start().await;
    let cm = json!({"metadata": {"name": "bad"}, "data": {"a": 1}});
    let (code, _, status) = raw(&client, "POST", CMS, JSON, &cm).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("cannot be handled as a ConfigMap"),
        "{status}"
    );

    let secret = json!({"metadata": {"name": "s"}, "data": {"k": "not base64!"}});
    let (code, _, status) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/app/secrets",
        JSON,
        &secret,
    )
    .await;
    assert_eq!(code, 400, "{status}");

    let mut bad = deployment("three");
    bad["spec"]["replicas"] = json!("three");
    let (code, _, status) = raw(&client, "POST", DEPLOYS, JSON, &bad).await;
    assert_eq!(code, 400, "{status}");

    // Patches are checked on their result, whatever their type.
    let (code, _, _) = raw(&client, "POST", DEPLOYS, JSON, &deployment("web")).await;
    assert_eq!(code, 201);
    let path = format!("{DEPLOYS}/web");
    let merge = json!({"spec": {"replicas": "x"}});
    for ctype in [
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ] {
        let (code, _, status) = raw(&client, "PATCH", &path, ctype, &merge).await;
        assert_eq!(code, 400, "{ctype}: {status}");
    }
    let json_patch = json!([{"op": "replace", "path": "/spec/replicas", "value": "x"}]);
    let (code, _, _) = raw(
        &client,
        "PATCH",
        &path,
        "application/json-patch+json",
        &json_patch,
    )
    .await;
    assert_eq!(code, 400);
    let mut put = deployment("web");
    put["spec"]["replicas"] = json!([1]);
    let (code, _, _) = raw(&client, "PUT", &path, JSON, &put).await;
    assert_eq!(code, 400);

    // Nothing bad was stored: typed lists still decode.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    let names: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .expect("configmaps still decode")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert!(!names.contains(&"bad".to_string()), "{names:?}");
    let deploys: Api<Deployment> = Api::namespaced(client, "app");
    let web = deploys.get("web").await.expect("deployment still decodes");
    assert_eq!(web.spec.unwrap().replicas, Some(1));
}

#[tokio::test]
async fn unknown_fields_follow_field_validation() {
    let (sim, client) = start().await;
    let mut typo = deployment("typo");
    typo["spec"]["selectr"] = json!({"matchLabels": {"app": "typo"}});
    typo["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("y");

    let strict = format!("{DEPLOYS}?fieldValidation=Strict");
    let (code, _, status) = raw(&client, "POST", &strict, JSON, &typo).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "strict decoding error: unknown field \"spec.selectr\", unknown field \"spec.template.spec.containers[0].imagee\""
    );
    let rt = sim
        .store()
        .registry()
        .lookup("apps", "v1", "deployments")
        .unwrap();
    assert!(sim.store().get(&rt, Some("app"), "typo").is_err());

    let (code, warnings, created) = raw(&client, "POST", DEPLOYS, JSON, &typo).await;
    assert_eq!(code, 201, "{created}");
    assert!(created["spec"].get("selectr").is_none(), "{created}");
    assert_eq!(
        warnings.len(),
        2,
        "the default, Warn, reports each dropped field: {warnings:?}"
    );
    assert!(warnings[0].contains("spec.selectr"), "{warnings:?}");

    // A strict patch that adds an unknown field is refused too.
    let path = format!("{DEPLOYS}/typo?fieldValidation=Strict");
    let patch = json!({"spec": {"paused": true, "pauzed": true}});
    let (code, _, status) = raw(
        &client,
        "PATCH",
        &path,
        "application/merge-patch+json",
        &patch,
    )
    .await;
    assert_eq!(code, 400, "{status}");
    let stored = sim.store().get(&rt, Some("app"), "typo").unwrap();
    assert!(stored["spec"].get("paused").is_none(), "{stored}");

    let ignore = format!("{DEPLOYS}/typo?fieldValidation=Ignore");
    let (code, warnings, out) = raw(
        &client,
        "PATCH",
        &ignore,
        "application/merge-patch+json",
        &patch,
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(out["spec"]["paused"], true);
    assert!(out["spec"].get("pauzed").is_none(), "{out}");

    let bad = format!("{DEPLOYS}?fieldValidation=Loose");
    let (code, _, _) = raw(&client, "POST", &bad, JSON, &deployment("x")).await;
    assert_eq!(code, 400);
}

/// Needs `kubectl` on the PATH; passes without running where it is missing.
#[tokio::test]
async fn kubectl_apply_refuses_a_typo() {
    let found = std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipping: this test needs kubectl on the PATH");
        return;
    }
    let (sim, _client) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut typo = deployment("typo");
    typo["metadata"]["namespace"] = json!("app");
    typo["spec"]["selectr"] = json!({"matchLabels": {"app": "typo"}});
    let file = dir.path().join("typo.json");
    std::fs::write(&file, serde_json::to_vec(&typo).unwrap()).unwrap();
    let out = tokio::process::Command::new("kubectl")
        .args(["apply", "-f", file.to_str().unwrap()])
        .env("KUBECONFIG", sim.kubeconfig_path())
        .env("KUBECACHEDIR", dir.path().join("cache"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "kubectl apply accepted a typo");
    assert!(
        stderr.contains("unknown field \"spec.selectr\""),
        "{stderr}"
    );
    let rt = sim
        .store()
        .registry()
        .lookup("apps", "v1", "deployments")
        .unwrap();
    assert!(sim.store().get(&rt, Some("app"), "typo").is_err());
}

#[tokio::test]
async fn invalid_label_selectors_are_refused() {
    let (_sim, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    let cm =
        serde_json::from_value(json!({"metadata": {"name": "one", "labels": {"a": "v"}}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    for bad in ["=v", "a=b=c", "bad!!", "a=b!", "a in ()", "!!a"] {
        let err = cms
            .list(&ListParams::default().labels(bad))
            .await
            .expect_err(bad);
        match err {
            kube::Error::Api(status) => {
                assert_eq!(status.code, 400, "{bad}");
                assert!(
                    status.message.starts_with("unable to parse requirement"),
                    "{bad}: {}",
                    status.message
                );
            }
            other => panic!("{bad}: {other}"),
        }
    }
    let found = cms
        .list(&ListParams::default().labels("a in (v, w),!b"))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
}

#[tokio::test]
async fn protected_namespaces_stay() {
    let (sim, client) = start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    for name in ["default", "kube-system", "kube-public"] {
        // The sim may not create all of them itself; make sure each exists first.
        let obj = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        let _ = nss.create(&PostParams::default(), &obj).await;
        let err = nss.delete(name, &Default::default()).await.expect_err(name);
        match err {
            kube::Error::Api(status) => {
                assert_eq!(status.code, 403, "{name}");
                assert!(
                    status
                        .message
                        .ends_with("this namespace may not be deleted"),
                    "{}",
                    status.message
                );
            }
            other => panic!("{name}: {other}"),
        }
    }
    let (code, _, _) = raw(&client, "DELETE", "/api/v1/namespaces", JSON, &json!({})).await;
    assert_eq!(code, 405);
    let rt = sim
        .store()
        .registry()
        .lookup("", "v1", "namespaces")
        .unwrap();
    for name in ["default", "kube-system", "app"] {
        assert!(sim.store().get(&rt, None, name).is_ok(), "{name} is gone");
    }
    nss.delete("app", &Default::default())
        .await
        .expect("app deletes");
}

#[tokio::test]
async fn strategic_items_without_their_merge_key_and_unknown_directives_are_refused() {
    let (sim, client) = start().await;
    let mut two = deployment("two");
    two["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]);
    let (code, _, _) = raw(&client, "POST", DEPLOYS, JSON, &two).await;
    assert_eq!(code, 201);
    let path = format!("{DEPLOYS}/two");
    let smp = "application/strategic-merge-patch+json";
    let keyless = json!({"spec": {"template": {"spec": {"containers": [{"image": "z"}]}}}});
    let (code, _, status) = raw(&client, "PATCH", &path, smp, &keyless).await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("does not contain declared merge key: name"),
        "{status}"
    );
    let frob = json!({"spec": {"template": {"$patch": "frob"}}});
    let (code, _, status) = raw(&client, "PATCH", &path, smp, &frob).await;
    assert_eq!(code, 400, "{status}");

    let rt = sim
        .store()
        .registry()
        .lookup("apps", "v1", "deployments")
        .unwrap();
    let stored = sim.store().get(&rt, Some("app"), "two").unwrap();
    // Names and images as written (the server added its container defaults).
    let containers: Vec<(&str, &str)> = stored["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["image"].as_str().unwrap()))
        .collect();
    assert_eq!(containers, [("a", "x"), ("b", "y")]);
    // With its key, the item merges into its own container only.
    let keyed =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "z"}]}}}});
    let (code, _, out) = raw(&client, "PATCH", &path, smp, &keyed).await;
    assert_eq!(code, 200, "{out}");
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][1]["image"],
        "z"
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["image"],
        "x"
    );
}

#[tokio::test]
async fn secret_string_data_is_folded_into_data() {
    let (sim, client) = start().await;
    let path = "/api/v1/namespaces/app/secrets";
    let secret = json!({"metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eQ=="},
        "stringData": {"b": "new", "c": "plain"}});
    let (code, _, out) = raw(&client, "POST", path, JSON, &secret).await;
    assert_eq!(code, 201, "{out}");
    let rt = sim.store().registry().lookup("", "v1", "secrets").unwrap();
    let stored = sim.store().get(&rt, Some("app"), "s").unwrap();
    assert!(stored.get("stringData").is_none(), "{stored}");
    assert_eq!(
        stored["data"],
        json!({"a": "eA==", "b": "bmV3", "c": "cGxhaW4="})
    );
    // A patch's stringData lands in data as well.
    let patch = json!({"stringData": {"a": "z"}});
    let (code, _, out) = raw(
        &client,
        "PATCH",
        &format!("{path}/s"),
        "application/merge-patch+json",
        &patch,
    )
    .await;
    assert_eq!(code, 200, "{out}");
    assert_eq!(out["data"]["a"], "eg==");
    assert!(out.get("stringData").is_none(), "{out}");
}
