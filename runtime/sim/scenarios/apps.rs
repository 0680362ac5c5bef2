//! The applications of every scenario: meshed Deployments in two namespaces, a meshed
//! StatefulSet, a DaemonSet meshed by its template annotation, and an unmeshed namespace.

use serde_json::{Value, json};

fn namespace(name: &str, meshed: bool) -> Value {
    let annotations = if meshed {
        json!({ "linkerd.io/inject": "enabled" })
    } else {
        json!({})
    };
    json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": name, "annotations": annotations },
    })
}

fn template(app: &str, annotations: Value) -> Value {
    json!({
        "metadata": { "labels": { "app": app }, "annotations": annotations },
        "spec": {
            "serviceAccountName": app,
            "containers": [{ "name": app, "image": format!("example/{app}:1"), "ports": [{ "containerPort": 8080 }] }],
        },
    })
}

fn deployment(ns: &str, app: &str, replicas: u32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": app, "namespace": ns, "labels": { "app": app } },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": app } },
            "template": template(app, json!({})),
        },
    })
}

/// Every application object, namespaces first.
pub fn objects() -> Vec<Value> {
    vec![
        namespace("emojivoto", true),
        namespace("books", true),
        namespace("monitoring", false),
        namespace("legacy", false),
        deployment("emojivoto", "web", 2),
        deployment("emojivoto", "emoji", 1),
        deployment("emojivoto", "voting", 1),
        deployment("books", "webapp", 2),
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "name": "db", "namespace": "books", "labels": { "app": "db" } },
            "spec": {
                "replicas": 2,
                "serviceName": "db",
                "selector": { "matchLabels": { "app": "db" } },
                "updateStrategy": { "type": "RollingUpdate" },
                "template": template("db", json!({})),
            },
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": { "name": "node-agent", "namespace": "monitoring", "labels": { "app": "node-agent" } },
            "spec": {
                "selector": { "matchLabels": { "app": "node-agent" } },
                "template": template("node-agent", json!({ "linkerd.io/inject": "enabled" })),
            },
        }),
        deployment("legacy", "old-app", 1),
    ]
}
