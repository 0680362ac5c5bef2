//! kubectl's typed `create` commands send protobuf (issue 3): every kind they create is
//! accepted, and fields kubectl sent only because Go encodes them by value are not stored.

mod sim_strict_support;

use runner::sim::SimOptions;
use serde_json::{Value, json};
use sim_strict_support::{Kubectl, kubectl_present};

// Empty strings, zeros and `false` anywhere in an object: what a decoder that does not treat
// unset as absent leaves behind.
fn zero_fields(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                zero_fields(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                zero_fields(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) if s.is_empty() => out.push(path.into()),
        Value::Bool(false) => out.push(path.into()),
        Value::Number(n) if n.as_i64() == Some(0) => out.push(path.into()),
        _ => {}
    }
}

#[tokio::test]
async fn typed_creates_store_no_zero_values() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(SimOptions::default()).await;
    k.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--port=80",
    ])
    .await;
    k.ok(&["create", "configmap", "cfg", "--from-literal=a=1"])
        .await;
    k.ok(&[
        "run",
        "one",
        "--image=busybox:1.36",
        "--restart=Never",
        "--env=A=1",
    ])
    .await;
    for (kind, name) in [("deployment", "web"), ("configmap", "cfg"), ("pod", "one")] {
        let obj = k.json(&["get", kind, name]).await;
        let mut zeros = Vec::new();
        zero_fields(&obj, kind, &mut zeros);
        // Zeros the real server itself writes (defaults and status) are expected.
        zeros.retain(|p| {
            !p.contains(".status.")
                && !p.ends_with("rollingUpdate.partition")
                && !p.ends_with(".securityContext")
        });
        assert!(zeros.is_empty(), "{kind} {name} stores {zeros:?}: {obj}");
    }
    let web = k.json(&["get", "deployment", "web"]).await;
    let port = &web["spec"]["template"]["spec"]["containers"][0]["ports"][0];
    assert_eq!(port, &json!({"containerPort": 80, "protocol": "TCP"}));
}

#[tokio::test]
async fn every_typed_create_is_accepted() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(SimOptions::default()).await;
    let creates: &[&[&str]] = &[
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        &[
            "create",
            "role",
            "reader",
            "--verb=get,list",
            "--resource=pods",
        ],
        &[
            "create",
            "rolebinding",
            "reader",
            "--role=reader",
            "--user=ann",
        ],
        &[
            "create",
            "clusterrole",
            "watcher",
            "--verb=watch",
            "--resource=deployments.apps",
        ],
        &[
            "create",
            "clusterrolebinding",
            "watcher",
            "--clusterrole=watcher",
            "--group=ops",
        ],
        &[
            "create",
            "quota",
            "small",
            "--hard=pods=4,requests.cpu=500m",
        ],
        &[
            "create",
            "pdb",
            "web",
            "--selector=app=web",
            "--min-available=50%",
        ],
        &[
            "create",
            "priorityclass",
            "low",
            "--value=0",
            "--description=batch",
        ],
        &[
            "create",
            "ingress",
            "web",
            "--rule=example.com/*=web:80,tls=web-tls",
        ],
        &[
            "create",
            "cronjob",
            "tick",
            "--image=busybox:1.36",
            "--schedule=*/5 * * * *",
        ],
        &["create", "job", "once", "--image=busybox:1.36"],
        &["create", "serviceaccount", "bot"],
    ];
    for args in creates {
        k.ok(args).await;
    }

    let svc = k.json(&["get", "service", "web"]).await;
    assert_eq!(
        svc["spec"]["ports"][0],
        json!({"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080})
    );
    assert_eq!(svc["spec"]["selector"], json!({"app": "web"}));
    let rb = k.json(&["get", "rolebinding", "reader"]).await;
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"})
    );
    assert_eq!(
        rb["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ann"}])
    );
    let quota = k.json(&["get", "quota", "small"]).await;
    assert_eq!(
        quota["spec"]["hard"],
        json!({"pods": "4", "requests.cpu": "500m"})
    );
    let pdb = k.json(&["get", "pdb", "web"]).await;
    assert_eq!(pdb["spec"]["minAvailable"], "50%");
    // A priority of 0 is a value kubectl set, not an unset field.
    let low = k.json(&["get", "priorityclass", "low"]).await;
    assert_eq!(low["value"], 0);
    assert_eq!(low["description"], "batch");
    let ingress = k.json(&["get", "ingress", "web"]).await;
    let rule = &ingress["spec"]["rules"][0];
    assert_eq!(rule["host"], "example.com");
    assert_eq!(
        rule["http"]["paths"][0]["backend"],
        json!({"service": {"name": "web", "port": {"number": 80}}})
    );
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"hosts": ["example.com"], "secretName": "web-tls"}])
    );
    let tick = k.json(&["get", "cronjob", "tick"]).await;
    assert_eq!(tick["spec"]["schedule"], "*/5 * * * *");
    let job_pod = &tick["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(job_pod["containers"][0]["image"], "busybox:1.36");
}
