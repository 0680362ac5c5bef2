//! What a real cluster adds to what clients write (issue 3): the defaults of workloads and
//! pods, the objects of a new namespace, and CustomResourceDefinitions that are established,
//! discoverable, and take their objects with them.

mod sim_strict_support;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use runner::sim::SimOptions;
use serde_json::json;
use sim_strict_support::{Kubectl, kubectl_present, raw, start};

#[tokio::test]
async fn a_new_namespace_gets_its_service_account_and_root_ca() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(SimOptions::default()).await;
    k.ok(&["create", "namespace", "team"]).await;
    let sa = k
        .ok(&["get", "serviceaccount", "-n", "team", "-o", "name"])
        .await;
    assert_eq!(sa, "serviceaccount/default\n");
    let ca = k
        .ok(&[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ])
        .await;
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
}

#[tokio::test]
async fn workloads_and_pods_get_the_api_server_defaults() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}
      - {name: side, image: busybox}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: "postgres:16"}]}
"#;
    std::fs::write(&file, manifest).unwrap();
    k.ok(&["apply", "-f", file.to_str().unwrap()]).await;

    let web = k.json(&["get", "deployment", "web"]).await;
    let spec = &web["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["securityContext"], json!({}));
    let web_c = &pod["containers"][0];
    assert_eq!(web_c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(web_c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(web_c["terminationMessagePolicy"], "File");
    assert_eq!(web_c["ports"][0]["protocol"], "TCP");
    assert_eq!(pod["containers"][1]["imagePullPolicy"], "Always");

    let db = k.json(&["get", "statefulset", "db"]).await;
    assert_eq!(db["spec"]["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        db["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    // A second apply of the same file changes nothing, defaults included.
    let out = k.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, shortNames: [wd]}
  versions:
  - {name: v1beta1, served: true, storage: false, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {size: 3}
"#;

#[tokio::test]
async fn a_crd_is_established_served_and_takes_its_objects_along() {
    if !kubectl_present() {
        return;
    }
    let k = Kubectl::start(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // The definition first, then its objects, as against a real server: kubectl maps and
    // validates every object of a file with the discovery it read before applying the first,
    // so a kind created by the same file is not known yet.
    let (definition, widget) = CRD.split_once("---").unwrap();
    let file = dir.path().join("crd.yaml");
    std::fs::write(&file, definition).unwrap();
    k.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    // kubectl waits for exactly this condition before it uses a new kind.
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=5s",
        "crd/widgets.example.com",
    ])
    .await;
    let file = dir.path().join("widget.yaml");
    std::fs::write(&file, widget).unwrap();
    k.ok(&["apply", "-f", file.to_str().unwrap()]).await;
    let crd = k.json(&["get", "crd", "widgets.example.com"]).await;
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(crd["status"]["acceptedNames"]["listKind"], "WidgetList");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    let names = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect::<Vec<_>>();
    assert_eq!(names, [("NamesAccepted", "True"), ("Established", "True")]);

    let resources = k
        .ok(&["api-resources", "--api-group=example.com", "-o", "name"])
        .await;
    assert_eq!(resources, "widgets.example.com\n");
    assert_eq!(
        k.ok(&["get", "wd", "-o", "name"]).await,
        "widget.example.com/w1\n"
    );

    k.ok(&["delete", "crd", "widgets.example.com"]).await;
    let rt = k.sim.store().registry();
    assert!(rt.lookup("example.com", "v1", "widgets").is_none());
    // kubectl words it by its discovery cache: a fresh one no longer lists the kind, a cached
    // one still does and the list gets the server's 404.
    let err = k.fails(&["get", "widgets"]).await;
    assert!(
        err.contains("the server doesn't have a resource type")
            || err.contains("(NotFound): Unable to list \"example.com/v1, Resource=widgets\": the server could not find the requested resource"),
        "{err}"
    );
}

#[tokio::test]
async fn discovery_prefers_the_highest_stable_version() {
    let (_sim, client) = start().await;
    let crd: serde_json::Value = serde_saphyr::from_str(CRD.split("---").next().unwrap()).unwrap();
    let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    assert_eq!(raw(&client, "POST", path, "", &crd).await.0, 201);
    let (_, _, group) = raw(&client, "GET", "/apis/example.com", "", &json!(null)).await;
    assert_eq!(group["preferredVersion"]["version"], "v1");
    let versions: Vec<&str> = group["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v1", "v1beta1"]);
}

#[tokio::test]
async fn namespaces_secrets_and_services_get_the_real_defaults() {
    let (_sim, client) = start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let app = nss.get("app").await.unwrap();
    assert_eq!(
        app.metadata.labels.unwrap()["kubernetes.io/metadata.name"],
        "app"
    );
    let (_, _, secret) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/app/secrets",
        "",
        &json!({"metadata": {"name": "s"}}),
    )
    .await;
    assert_eq!(secret["type"], "Opaque", "{secret}");
    let svc = json!({"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}});
    let (_, _, svc) = raw(&client, "POST", "/api/v1/namespaces/app/services", "", &svc).await;
    assert_eq!(svc["spec"]["type"], "ClusterIP", "{svc}");
}
