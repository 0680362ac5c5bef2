//! Writes a real API server refuses (issue 3): changes to immutable fields, requests to the
//! all-namespaces path, malformed applies, `force` outside apply, and bodies of another
//! group version. Each leaves the stored object as it was.

mod sim_strict_support;

use runner::sim::SimOptions;
use serde_json::json;
use sim_strict_support::{Kubectl, deployment, kubectl_present, raw, start};

const MERGE: &str = "application/merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/app/deployments";

#[tokio::test]
async fn kubectl_cannot_change_a_selector_or_an_immutable_config_map() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(SimOptions::default()).await;
    k.ok(&["create", "deployment", "web", "--image=nginx:1.27"])
        .await;
    let err = k
        .fails(&[
            "patch",
            "deployment",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"selector":{"matchLabels":{"app":"api"}}}}"#,
        ])
        .await;
    assert!(
        err.contains("The Deployment \"web\" is invalid: spec.selector: Invalid value: ")
            && err.contains("field is immutable"),
        "{err}"
    );
    let web = k.json(&["get", "deployment", "web"]).await;
    assert_eq!(
        web["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );

    k.ok(&["create", "configmap", "cfg", "--from-literal=a=1"])
        .await;
    k.ok(&["patch", "configmap", "cfg", "-p", r#"{"immutable":true}"#])
        .await;
    let err = k
        .fails(&["patch", "configmap", "cfg", "-p", r#"{"data":{"a":"2"}}"#])
        .await;
    assert!(
        err.contains("data: Forbidden: field is immutable when `immutable` is set"),
        "{err}"
    );
    let err = k
        .fails(&["patch", "configmap", "cfg", "-p", r#"{"immutable":false}"#])
        .await;
    assert!(err.contains("immutable: Forbidden"), "{err}");
    // Labels may still change.
    k.ok(&["label", "configmap", "cfg", "team=a"]).await;
    let cfg = k.json(&["get", "configmap", "cfg"]).await;
    assert_eq!(cfg["data"], json!({"a": "1"}));
    assert_eq!(cfg["immutable"], true);
}

#[tokio::test]
async fn object_identity_cannot_change_and_creation_time_is_kept() {
    let (_sim, client) = start().await;
    let (code, _, created) = raw(&client, "POST", DEPLOYS, "", &deployment("web")).await;
    assert_eq!(code, 201);
    let path = format!("{DEPLOYS}/web");

    let (code, _, status) = raw(
        &client,
        "PATCH",
        &path,
        MERGE,
        &json!({"metadata": {"uid": "8a0d3d56-0000-4000-8000-000000000000"}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.uid");
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "Invalid value: \"8a0d3d56-0000-4000-8000-000000000000\": field is immutable"
    );

    let (code, _, status) = raw(
        &client,
        "PATCH",
        &path,
        MERGE,
        &json!({"metadata": {"name": "other"}}),
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "the name of the object (other) does not match the name on the URL (web)"
    );

    let (code, _, status) = raw(
        &client,
        "PATCH",
        &path,
        MERGE,
        &json!({"metadata": {"namespace": "kube-system"}}),
    )
    .await;
    assert_eq!(code, 400, "{status}");

    // As on a real server, a new creation time is ignored rather than refused.
    let (code, _, patched) = raw(
        &client,
        "PATCH",
        &path,
        MERGE,
        &json!({"metadata": {"creationTimestamp": "2001-01-01T00:00:00Z"}}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        patched["metadata"]["creationTimestamp"],
        created["metadata"]["creationTimestamp"]
    );
    assert_eq!(
        patched["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn a_service_keeps_its_cluster_ip_and_a_job_its_template() {
    let (_sim, client) = start().await;
    let services = "/api/v1/namespaces/app/services";
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let (code, _, created) = raw(&client, "POST", services, "", &svc).await;
    assert_eq!(code, 201, "{created}");
    let ip = created["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(created["spec"]["ports"][0]["targetPort"], 80);

    // A replacement that names no cluster IP keeps the allocated one.
    let (code, _, replaced) = raw(&client, "PUT", &format!("{services}/web"), "", &svc).await;
    assert_eq!(code, 200, "{replaced}");
    assert_eq!(replaced["spec"]["clusterIP"], ip.as_str());
    let (code, _, status) = raw(
        &client,
        "PATCH",
        &format!("{services}/web"),
        MERGE,
        &json!({"spec": {"clusterIP": "10.96.200.200", "clusterIPs": ["10.96.200.200"]}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.clusterIP");

    let jobs = "/apis/batch/v1/namespaces/app/jobs";
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox:1.36"}]}}}});
    assert_eq!(raw(&client, "POST", jobs, "", &job).await.0, 201);
    let (code, _, status) = raw(
        &client,
        "PATCH",
        &format!("{jobs}/once"),
        "application/strategic-merge-patch+json",
        &json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.template");
}

#[tokio::test]
async fn requests_a_real_server_routes_or_decodes_differently_are_refused() {
    let (sim, client) = start().await;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "app"}, "data": {"k": "v"}});
    // A namespaced kind's all-namespaces path serves list and watch only.
    let (code, _, status) = raw(&client, "POST", "/api/v1/configmaps", "", &cm).await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    let (code, _, _) = raw(&client, "DELETE", "/api/v1/configmaps", "", &json!(null)).await;
    assert_eq!(code, 405);

    let (code, _, _) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/app/configmaps",
        "",
        &cm,
    )
    .await;
    assert_eq!(code, 201);
    let path = "/api/v1/namespaces/app/configmaps/c";
    let (code, _, status) = raw(
        &client,
        "PATCH",
        &format!("{path}?force=true"),
        MERGE,
        &json!({"data": {"k": "w"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );

    let apply = |body: serde_json::Value| {
        let client = client.clone();
        async move {
            raw(
                &client,
                "PATCH",
                &format!("{path}?fieldManager=t"),
                APPLY,
                &body,
            )
            .await
        }
    };
    let (code, _, status) = apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "d"}, "data": {"k": "w"}}))
    .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "the name of the object (d) does not match the name on the URL (c)"
    );
    let (code, _, status) = apply(json!({"kind": "ConfigMap", "metadata": {"name": "c"}})).await;
    assert_eq!(code, 400);
    assert_eq!(
        status["message"],
        "Incorrect version specified in apply patch. Specified patch version: , expected: v1"
    );
    let (code, _, _) = apply(json!({"apiVersion": "v1", "metadata": {"name": "c"}})).await;
    assert_eq!(code, 400);

    // The group version of the body must be the URL's, not another one of the same group.
    let mut old = deployment("web");
    old["apiVersion"] = json!("apps/v1beta2");
    let (code, _, status) = raw(&client, "POST", DEPLOYS, "", &old).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "the API version in the data (apps/v1beta2) does not match the expected API version (apps/v1)"
    );

    let stored = sim.store().get(
        &sim.store()
            .registry()
            .lookup("", "v1", "configmaps")
            .unwrap(),
        Some("app"),
        "c",
    );
    assert_eq!(stored.unwrap()["data"], json!({"k": "v"}));
}

#[tokio::test]
async fn invalid_objects_are_refused_with_every_cause_and_nothing_is_stored() {
    let (sim, client) = start().await;
    let (code, _, _) = raw(&client, "POST", DEPLOYS, "", &deployment("web")).await;
    assert_eq!(code, 201);
    let before = sim.store().resource_version();

    // A Deployment without selector or template.
    let empty = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "empty"}, "spec": {}});
    let (code, _, status) = raw(&client, "POST", DEPLOYS, "", &empty).await;
    assert_eq!(
        (code, &status["reason"]),
        (422, &json!("Invalid")),
        "{status}"
    );
    assert_eq!(
        status["message"],
        "Deployment.apps \"empty\" is invalid: [spec.selector: Required value, spec.template: Required value]"
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueRequired"
    );

    // A patch that makes the template's labels miss the selector, and a bad label key.
    let patch = json!({"metadata": {"labels": {"bad key": "x"}},
        "spec": {"template": {"metadata": {"labels": {"app": "other"}}}}});
    let (code, _, status) = raw(&client, "PATCH", &format!("{DEPLOYS}/web"), MERGE, &patch).await;
    assert_eq!(code, 422, "{status}");
    let fields: Vec<&str> = status["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["metadata.labels", "spec.template.metadata.labels"]);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("`selector` does not match template `labels`"),
        "{status}"
    );

    // A pod without an image, and a ConfigMap key that is no config key.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]}});
    let (code, _, status) = raw(&client, "POST", "/api/v1/namespaces/app/pods", "", &pod).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.containers[0].image"
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"no spaces": "v"}});
    let (code, _, status) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/app/configmaps",
        "",
        &cm,
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["details"]["causes"][0]["field"], "data[no spaces]");

    assert_eq!(sim.store().resource_version(), before, "nothing was stored");
}
