//! Lists, watches and deletes as a real API server answers them (issue 3): `continue` with a
//! version, forged tokens, versions from the future, `sendInitialEvents`, malformed watch
//! parameters, and the propagation policy of a delete and a deletecollection.

mod sim_strict_support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::{Value, json};
use sim_strict_support::{deployment, raw, start};

const CMS: &str = "/api/v1/namespaces/app/configmaps";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/app/deployments";

async fn config_maps(client: &kube::Client, n: usize) {
    for i in 0..n {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("c{i}")}, "data": {"i": i.to_string()}});
        assert_eq!(raw(client, "POST", CMS, "", &cm).await.0, 201);
    }
}

#[tokio::test]
async fn continue_tokens_are_checked_as_a_real_server_does() {
    let (_sim, client) = start().await;
    config_maps(&client, 3).await;
    let (_, _, page) = raw(&client, "GET", &format!("{CMS}?limit=1"), "", &json!(null)).await;
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    let version = page["metadata"]["resourceVersion"].as_str().unwrap();

    let with_version = format!("{CMS}?limit=1&continue={token}&resourceVersion={version}");
    let (code, _, status) = raw(&client, "GET", &with_version, "", &json!(null)).await;
    assert_eq!(code, 400);
    assert_eq!(
        status["message"],
        "specifying resource version is not allowed when using continue"
    );
    // `0` means "any version" and is allowed, as there.
    let any = format!("{CMS}?limit=1&continue={token}&resourceVersion=0");
    assert_eq!(raw(&client, "GET", &any, "", &json!(null)).await.0, 200);

    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"rv":999999,"ns":"app","name":"c0","served":1}"#);
    for token in ["not-a-token", forged.as_str()] {
        let path = format!("{CMS}?limit=1&continue={token}");
        let (code, _, status) = raw(&client, "GET", &path, "", &json!(null)).await;
        assert_eq!(code, 400, "{token}");
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .contains("continue key is not valid"),
            "{status}"
        );
    }
}

#[tokio::test]
async fn a_watch_from_a_version_not_reached_times_out_as_too_large() {
    let (sim, client) = start().await;
    let future = sim.store().resource_version() + 1000;
    let started = Instant::now();
    let path = format!("{CMS}?watch=true&resourceVersion={future}");
    let (code, _, event) = raw(&client, "GET", &path, "", &json!(null)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "answered at once"
    );
    // The real watch cache accepts the watch and sends the failure as its one ERROR event.
    assert_eq!(code, 200, "{event}");
    assert_eq!(event["type"], "ERROR");
    let status = &event["object"];
    assert_eq!(status["code"], 504);
    assert_eq!(status["reason"], "Timeout");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
    assert_eq!(status["details"]["retryAfterSeconds"], 1);
}

#[tokio::test]
async fn send_initial_events_needs_its_settings_and_ends_with_the_bookmark() {
    let (_sim, client) = start().await;
    config_maps(&client, 2).await;
    let (code, _, status) = raw(
        &client,
        "GET",
        &format!("{CMS}?watch=true&sendInitialEvents=true"),
        "",
        &json!(null),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        status["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden: \
         sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, \
         allowWatchBookmarks: Forbidden: sendInitialEvents requires setting \
         allowWatchBookmarks to true]"
    );

    let path = format!(
        "{CMS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan\
         &allowWatchBookmarks=true&timeoutSeconds=1"
    );
    let req = axum::http::Request::get(path)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let events: Vec<Value> = String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    // The two written and the namespace's `kube-root-ca.crt`, then the bookmark.
    assert_eq!(
        &types[..4],
        ["ADDED", "ADDED", "ADDED", "BOOKMARK"],
        "{events:?}"
    );
    let mut names: Vec<&str> = events[..3]
        .iter()
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["c0", "c1", "kube-root-ca.crt"]);
    assert_eq!(
        events[3]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}

#[tokio::test]
async fn deletecollection_honours_the_propagation_policy() {
    let (sim, client) = start().await;
    let rs_path = "/apis/apps/v1/namespaces/app/replicasets";
    let mut rs = deployment("web");
    rs["kind"] = json!("ReplicaSet");
    let (code, _, created) = raw(&client, "POST", rs_path, "", &rs).await;
    assert_eq!(code, 201);
    let owner = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
        "uid": created["metadata"]["uid"], "controller": true}]);
    for name in ["web-a", "web-b"] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"}, "ownerReferences": owner},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}});
        let (code, _, _) = raw(&client, "POST", "/api/v1/namespaces/app/pods", "", &pod).await;
        assert_eq!(code, 201);
    }

    let (code, _, _) = raw(
        &client,
        "DELETE",
        &format!("{rs_path}?propagationPolicy=Orphan"),
        "",
        &json!(null),
    )
    .await;
    assert_eq!(code, 200);
    let pods = sim.store().registry().lookup("", "v1", "pods").unwrap();
    let left = sim
        .store()
        .list(&pods, Some("app"), &Default::default())
        .unwrap();
    assert_eq!(left.items.len(), 2, "orphaned pods stay");
    assert!(
        left.items
            .iter()
            .all(|p| p["metadata"].get("ownerReferences").is_none())
    );

    let (code, _, _) = raw(
        &client,
        "DELETE",
        &format!("{rs_path}?propagationPolicy=Sideways"),
        "",
        &json!(null),
    )
    .await;
    assert_eq!(code, 422);
}

#[tokio::test]
async fn malformed_list_and_watch_parameters_are_refused() {
    let (_sim, client) = start().await;
    for query in [
        "watch=1&timeoutSeconds=abc",
        "watch=yes",
        "watch=1&resourceVersion=abc",
        "resourceVersion=abc",
        "resourceVersion=-3",
        "limit=abc",
        "limit=99999999999999999999",
        "includeObject=All",
    ] {
        let (code, _, status) =
            raw(&client, "GET", &format!("{CMS}?{query}"), "", &json!(null)).await;
        // `includeObject` is read only when a Table is asked for; here it is ignored.
        let expected = if query.starts_with("includeObject") {
            200
        } else {
            400
        };
        assert_eq!(code, expected, "{query}: {status}");
        if expected == 400 {
            assert_eq!(status["reason"], "BadRequest", "{query}: {status}");
        }
    }
    // A limit below 1 is no limit, as the real server reads it.
    config_maps(&client, 3).await;
    let (code, _, list) = raw(&client, "GET", &format!("{CMS}?limit=-1"), "", &json!(null)).await;
    assert_eq!(code, 200, "{list}");
    // The three written and the namespace's `kube-root-ca.crt`, on one page.
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
    assert!(list["metadata"].get("continue").is_none());
}

#[tokio::test]
async fn orphaning_deletes_keep_dependents_and_unknown_policies_are_refused() {
    let (sim, client) = start().await;
    let (_, _, web) = raw(&client, "POST", DEPLOYS, "", &deployment("web")).await;
    let uid = web["metadata"]["uid"].as_str().unwrap().to_string();
    let mut rs = deployment("web-1");
    rs["apiVersion"] = json!("apps/v1");
    rs["kind"] = json!("ReplicaSet");
    rs["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment",
        "name": "web", "uid": uid, "controller": true}]);
    let rss = "/apis/apps/v1/namespaces/app/replicasets";
    let (code, _, out) = raw(&client, "POST", rss, "", &rs).await;
    assert_eq!(code, 201, "{out}");

    let path = format!("{DEPLOYS}/web");
    let (code, _, _) = raw(
        &client,
        "DELETE",
        &path,
        "",
        &json!({"propagationPolicy": "Sideways"}),
    )
    .await;
    assert_eq!(code, 422);

    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "app");
    let orphan = kube::api::DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Orphan),
        ..Default::default()
    };
    deploys.delete("web", &orphan).await.expect("deleted");
    let rt = sim
        .store()
        .registry()
        .lookup("apps", "v1", "replicasets")
        .unwrap();
    let kept = sim
        .store()
        .get(&rt, Some("app"), "web-1")
        .expect("replicaset stays");
    assert!(kept["metadata"].get("ownerReferences").is_none(), "{kept}");
}
