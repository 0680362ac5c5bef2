//! The simulated API server through the kube client and raw HTTP: pagination, watches,
//! optimistic concurrency, compaction, bad input and injected faults.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use runner::sim::{FaultConfig, SimHandle, SimOptions, SimServer};
use serde_json::{Value, json};

async fn start() -> (SimHandle, kube::Client) {
    let sim = SimServer::start(SimOptions::default())
        .await
        .expect("sim starts");
    let client = sim.client().await.expect("kube client");
    let ns: Api<Namespace> = Api::all(client.clone());
    let obj = serde_json::from_value(json!({"metadata": {"name": "app"}})).unwrap();
    ns.create(&PostParams::default(), &obj)
        .await
        .expect("namespace app");
    (sim, client)
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "t"}},
        "data": {"k": name}}))
    .unwrap()
}

/// Sends a raw request and returns the status code and the JSON body.
async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    ctype: &str,
    body: &str,
) -> (u16, Value) {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ctype)
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .unwrap();
    let resp = client.send(req).await.expect("request sent");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn pages_hold_every_object_exactly_once() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "app");
    for i in 0..53 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:03}")))
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(10);
    let mut pages = 0;
    loop {
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(pages, 6);
    // Every namespace also holds the cluster's `kube-root-ca.crt`.
    let mut expected: Vec<String> = (0..53).map(|i| format!("cm-{i:03}")).collect();
    expected.push("kube-root-ca.crt".into());
    assert_eq!(names, expected);
}

#[tokio::test]
async fn a_watch_from_a_list_version_sees_later_changes_once_in_order() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "app");
    api.create(&PostParams::default(), &cm("before"))
        .await
        .unwrap();
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();

    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut changed = api.get("a").await.unwrap();
    changed
        .data
        .as_mut()
        .unwrap()
        .insert("k".into(), "changed".into());
    api.replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    api.delete("a", &Default::default()).await.unwrap();

    let mut seen = Vec::new();
    while seen.len() < 3 {
        match stream.try_next().await.unwrap().expect("stream open") {
            WatchEvent::Added(c) => seen.push(format!("ADDED {}", c.metadata.name.unwrap())),
            WatchEvent::Modified(c) => seen.push(format!("MODIFIED {}", c.data.unwrap()["k"])),
            WatchEvent::Deleted(c) => seen.push(format!("DELETED {}", c.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(seen, ["ADDED a", "MODIFIED changed", "DELETED a"]);
}

#[tokio::test]
async fn a_stale_update_gets_409_and_changes_nothing() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "app");
    let first = api.create(&PostParams::default(), &cm("c")).await.unwrap();
    let mut winner = first.clone();
    winner
        .data
        .as_mut()
        .unwrap()
        .insert("k".into(), "winner".into());
    api.replace("c", &PostParams::default(), &winner)
        .await
        .unwrap();
    let mut loser = first;
    loser
        .data
        .as_mut()
        .unwrap()
        .insert("k".into(), "loser".into());
    let err = api
        .replace("c", &PostParams::default(), &loser)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(api.get("c").await.unwrap().data.unwrap()["k"], "winner");
}

#[tokio::test]
async fn a_compacted_version_gets_410_and_a_relist_recovers() {
    let (sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "app");
    api.create(&PostParams::default(), &cm("old"))
        .await
        .unwrap();
    let old_rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.create(&PostParams::default(), &cm("new"))
        .await
        .unwrap();
    sim.store().compact();

    // As the real server's watch cache: the request is accepted and the stream holds one
    // ERROR event with the 410 `Expired` Status, then ends.
    let mut expired = api
        .watch(&WatchParams::default(), &old_rv)
        .await
        .expect("the watch request itself is accepted")
        .boxed();
    match expired.try_next().await.unwrap() {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
            assert!(
                status.message.starts_with("too old resource version: "),
                "{status:?}"
            );
        }
        other => panic!("expected an ERROR event, got {other:?}"),
    }
    assert!(
        expired.try_next().await.unwrap().is_none(),
        "the stream ends"
    );

    let relist = api.list(&ListParams::default()).await.unwrap();
    // The two written, and the namespace's `kube-root-ca.crt`.
    assert_eq!(relist.items.len(), 3);
    let rv = relist.metadata.resource_version.unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    api.delete("old", &Default::default()).await.unwrap();
    let event = stream.try_next().await.unwrap().unwrap();
    assert!(matches!(event, WatchEvent::Deleted(c) if c.metadata.name.as_deref() == Some("old")));
}

#[tokio::test]
async fn bad_input_gets_the_real_status_and_changes_nothing() {
    let (sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    api.create(&PostParams::default(), &cm("keep"))
        .await
        .unwrap();
    let before = sim.store().resource_version();
    let cms = "/api/v1/namespaces/app/configmaps";
    let cases = [
        (
            "POST",
            cms.to_string(),
            "application/json",
            "{not json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.to_string(),
            "application/yaml",
            "a: [b",
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.to_string(),
            "text/plain",
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            format!("{cms}/keep"),
            "application/json",
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        (
            "POST",
            cms.to_string(),
            "application/json",
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.to_string(),
            "application/json",
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","namespace":"other"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            cms.to_string(),
            "application/json",
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"Not_Valid"}}"#,
            422,
            "Invalid",
        ),
        (
            "PUT",
            format!("{cms}/keep"),
            "application/json",
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"other"}}"#,
            400,
            "BadRequest",
        ),
        (
            "PATCH",
            format!("{cms}/keep"),
            "application/json-patch+json",
            r#"[{"op":"test","path":"/data/k","value":"nope"}]"#,
            422,
            "Invalid",
        ),
        (
            "GET",
            format!("{cms}?fieldSelector=spec.foo%3Dbar"),
            "application/json",
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            format!("{cms}/missing"),
            "application/json",
            "",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/app/widgets".into(),
            "application/json",
            "",
            404,
            "NotFound",
        ),
        (
            "POST",
            cms.to_string(),
            "application/json",
            &serde_json::to_string(&cm("keep")).unwrap(),
            409,
            "AlreadyExists",
        ),
    ];
    for (method, path, ctype, body, code, reason) in cases {
        let (got, status) = raw(&client, method, &path, ctype, body).await;
        assert_eq!(
            (got, status["reason"].as_str()),
            (code, Some(reason)),
            "{method} {path} {body}"
        );
        assert_eq!(status["kind"], "Status");
    }
    let big = format!(
        r#"{{"metadata":{{"name":"big"}},"data":{{"k":"{}"}}}}"#,
        "x".repeat(4 << 20)
    );
    let (code, status) = raw(&client, "POST", cms, "application/json", &big).await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (413, Some("RequestEntityTooLarge"))
    );
    let (code, apps) = raw(&client, "GET", "/apis/apps", "", "").await;
    assert_eq!((code, apps["kind"].as_str()), (200, Some("APIGroup")));
    let (_, missing) = raw(
        &client,
        "GET",
        &format!("{cms}/missing"),
        "application/json",
        "",
    )
    .await;
    assert_eq!(
        missing["details"],
        json!({"name": "missing", "group": "", "kind": "configmaps"})
    );
    assert_eq!(sim.store().resource_version(), before, "the store changed");
}

#[tokio::test]
async fn requests_without_the_token_get_401() {
    let (sim, _) = start().await;
    let wrong = sim.kubeconfig().replace(sim.token(), "wrong-token");
    let kc = kube::config::Kubeconfig::from_yaml(&wrong).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let (code, status) = raw(&client, "GET", "/api/v1/namespaces", "application/json", "").await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (401, Some("Unauthorized"))
    );
    // As on a real server, the version is public.
    let (code, version) = raw(&client, "GET", "/version", "", "").await;
    assert_eq!((code, version["minor"].as_str()), (200, Some("33")));
}

#[tokio::test]
async fn injected_faults_answer_as_configured() {
    let (sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    api.create(&PostParams::default(), &cm("f")).await.unwrap();
    let path = "/api/v1/namespaces/app/configmaps/f";

    sim.faults().set(FaultConfig {
        error_rate: 1.0,
        ..Default::default()
    });
    assert_eq!(
        raw(&client, "GET", path, "application/json", "").await.0,
        500
    );

    // kube retries 429s by itself, honouring Retry-After; look at the first answer.
    let kc = kube::config::Kubeconfig::from_yaml(sim.kubeconfig()).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    config.default_retry = false;
    let no_retry = kube::Client::try_from(config).unwrap();
    sim.faults().set(FaultConfig {
        throttle_rate: 1.0,
        retry_after_secs: 7,
        ..Default::default()
    });
    let req = axum::http::Request::get(path)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = no_retry.send(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");

    sim.faults().set(FaultConfig {
        conflict_rate: 1.0,
        ..Default::default()
    });
    assert_eq!(
        raw(&client, "GET", path, "application/json", "").await.0,
        200
    );
    let (code, _) = raw(
        &client,
        "PATCH",
        path,
        "application/merge-patch+json",
        r#"{"data":{"k":"x"}}"#,
    )
    .await;
    assert_eq!(code, 409);

    sim.faults().set(FaultConfig {
        watch_cut_after: Some(Duration::from_millis(300)),
        latency: Duration::from_millis(50),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let stream = api
        .watch(&WatchParams::default().timeout(30), "0")
        .await
        .unwrap();
    let events: Vec<_> = stream.collect().await;
    assert_eq!(
        events.len(),
        2,
        "the initial ADDED events (`f` and `kube-root-ca.crt`), then the cut"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(api.get("f").await.unwrap().data.unwrap()["k"], "f");
}

#[tokio::test]
async fn events_share_one_store_across_both_apis_and_counts_are_kept() {
    let (sim, client) = start().await;
    let core = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "issuer.1", "namespace": "app"}, "reason": "IssuerUpdated",
        "message": "Updated identity issuer", "type": "Normal",
        "involvedObject": {"kind": "Deployment", "name": "linkerd-identity", "namespace": "app"}});
    let (code, _) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/app/events",
        "application/json",
        &core.to_string(),
    )
    .await;
    assert_eq!(code, 201);
    let path = "/apis/events.k8s.io/v1/namespaces/app/events?fieldSelector=regarding.name%3Dlinkerd-identity";
    let (code, list) = raw(&client, "GET", path, "application/json", "").await;
    assert_eq!(code, 200);
    assert_eq!(list["items"][0]["note"], "Updated identity issuer");
    assert_eq!(list["items"][0]["apiVersion"], "events.k8s.io/v1");
    let (_, core) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/app/events/issuer.1",
        "",
        "",
    )
    .await;
    assert_eq!(
        (core["apiVersion"].as_str(), core["message"].as_str()),
        (Some("v1"), Some("Updated identity issuer"))
    );
    let v1 = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "issuer.2"}, "reason": "IssuerUpdated", "note": "again",
        "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "identity",
        "reportingInstance": "identity-1", "action": "Update", "type": "Normal",
        "regarding": {"kind": "Deployment", "name": "linkerd-identity", "namespace": "app"}});
    let (code, _) = raw(
        &client,
        "POST",
        "/apis/events.k8s.io/v1/namespaces/app/events",
        "application/json",
        &v1.to_string(),
    )
    .await;
    assert_eq!(code, 201);
    let (_, core) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/app/events/issuer.2",
        "",
        "",
    )
    .await;
    assert_eq!(core["involvedObject"]["name"], "linkerd-identity");
    assert_eq!(core["message"], "again");
    assert_eq!(sim.counts().get("create", "events"), 1);
    assert_eq!(sim.counts().get("list", "events.events.k8s.io"), 1);
}

#[tokio::test]
async fn dry_run_writes_store_nothing() {
    let (sim, client) = start().await;
    let mut changes = sim.store().subscribe();
    let before = sim.store().resource_version();
    let api: Api<ConfigMap> = Api::namespaced(client, "app");
    let created = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cm("d"),
        )
        .await;
    assert_eq!(created.unwrap().metadata.name.as_deref(), Some("d"));
    assert!(api.get_opt("d").await.unwrap().is_none());
    assert_eq!(sim.store().resource_version(), before);
    assert!(
        changes.try_recv().is_err(),
        "a dry run produced a change event"
    );

    // Update, patch and delete of an existing object, each as a dry run.
    let real = api
        .create(&PostParams::default(), &cm("real"))
        .await
        .unwrap();
    let mut changes = sim.store().subscribe();
    let before = sim.store().resource_version();
    let mut replaced = real.clone();
    replaced
        .data
        .as_mut()
        .unwrap()
        .insert("k".into(), "replaced".into());
    let dry_post = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let answer = api.replace("real", &dry_post, &replaced).await.unwrap();
    assert_eq!(answer.data.unwrap()["k"], "replaced");
    let patch = kube::api::Patch::Merge(json!({"data": {"k": "patched"}}));
    let answer = api
        .patch("real", &kube::api::PatchParams::default().dry_run(), &patch)
        .await;
    assert_eq!(answer.unwrap().data.unwrap()["k"], "patched");
    let dry_delete = kube::api::DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    api.delete("real", &dry_delete).await.unwrap();
    assert_eq!(api.get("real").await.unwrap().data.unwrap()["k"], "real");
    assert_eq!(sim.store().resource_version(), before);
    assert!(
        changes.try_recv().is_err(),
        "a dry run produced a change event"
    );

    let stale = kube::api::DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some("another-uid".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let err = api.delete("real", &stale).await.unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err:?}")
    };
    assert_eq!(status.code, 409);
    let exact = kube::api::DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: real.metadata.uid,
            resource_version: None,
        }),
        ..Default::default()
    };
    api.delete("real", &exact).await.unwrap();
    assert!(api.get_opt("real").await.unwrap().is_none());
}

#[tokio::test]
async fn kube_runtime_watchers_work_with_lists_and_streaming_lists() {
    use kube::runtime::watcher::{self, Event};
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "app");
    api.create(&PostParams::default(), &cm("first"))
        .await
        .unwrap();
    for (i, config) in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut events = watcher::watcher(api.clone(), config).boxed();
        let mut seen = Vec::new();
        let name = format!("later-{i}");
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), events.try_next()).await;
            match next.expect("event in time").unwrap().unwrap() {
                Event::Init => seen.push("init".to_string()),
                Event::InitApply(c) => {
                    seen.push(format!("init-apply {}", c.metadata.name.unwrap()))
                }
                Event::InitDone => {
                    seen.push("init-done".into());
                    api.create(&PostParams::default(), &cm(&name))
                        .await
                        .unwrap();
                }
                Event::Apply(c) => {
                    seen.push(format!("apply {}", c.metadata.name.unwrap()));
                    break;
                }
                Event::Delete(c) => panic!("unexpected delete of {:?}", c.metadata.name),
            }
        }
        assert_eq!(seen[0], "init");
        assert!(seen.contains(&"init-apply first".to_string()), "{seen:?}");
        assert_eq!(seen.last().unwrap(), &format!("apply {name}"));
    }
}

/// A kube-runtime watcher whose watch is cut and resumes from a version that has left the
/// history lists again and carries on. It does so only because the 410 arrives as a watch
/// event: a refused watch request would leave it retrying the expired version forever.
#[tokio::test]
async fn a_kube_runtime_watcher_resuming_from_a_compacted_version_lists_again() {
    use kube::runtime::watcher::{self, Event};
    let sim = SimServer::start(SimOptions {
        faults: FaultConfig {
            watch_cut_after: Some(Duration::from_millis(300)),
            ..FaultConfig::default()
        },
        ..SimOptions::default()
    })
    .await
    .unwrap();
    let client = sim.client().await.unwrap();
    let ns: Api<Namespace> = Api::all(client.clone());
    let obj = serde_json::from_value(json!({"metadata": {"name": "app"}})).unwrap();
    ns.create(&PostParams::default(), &obj).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "app");
    api.create(&PostParams::default(), &cm("before"))
        .await
        .unwrap();

    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let mut inits = 0;
    let mut saw_expired = false;
    let mut compacted = false;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event in time")
            .expect("the watcher keeps going");
        match next {
            Ok(Event::Init) => inits += 1,
            Ok(Event::InitDone) if !compacted => {
                // While the first watch runs: a change it sees, and then everything up to
                // now leaves the history, so that the resumed watch is from an old version.
                api.create(&PostParams::default(), &cm("seen-live"))
                    .await
                    .unwrap();
            }
            Ok(Event::Apply(c)) if c.metadata.name.as_deref() == Some("seen-live") => {
                sim.store().compact();
                api.create(&PostParams::default(), &cm("after-compaction"))
                    .await
                    .unwrap();
                // A change the watch does not see moves the history past whatever version
                // the watcher holds, even one it was sent live before the cut.
                Api::<ConfigMap>::namespaced(api.clone().into_client(), "default")
                    .create(&PostParams::default(), &cm("elsewhere"))
                    .await
                    .unwrap();
                sim.store().compact();
                compacted = true;
            }
            Err(watcher::Error::WatchError(status)) => {
                assert_eq!(status.code, 410, "{status:?}");
                saw_expired = true;
            }
            Err(other) => panic!("the watcher failed otherwise: {other}"),
            Ok(Event::InitApply(c)) if compacted => {
                if c.metadata.name.as_deref() == Some("after-compaction") {
                    break;
                }
            }
            Ok(_) => {}
        }
    }
    assert!(
        saw_expired,
        "the resumed watch was told its version expired"
    );
    assert_eq!(inits, 2, "listed once at the start and once after the 410");
}

#[tokio::test]
async fn plain_http_serves_the_same_api() {
    let sim = SimServer::start(SimOptions {
        tls: false,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(sim.url().starts_with("http://127.0.0.1:"));
    assert!(!sim.kubeconfig().contains("certificate-authority-data"));
    let client = sim.client().await.unwrap();
    let names: Vec<String> = Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.name.unwrap())
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
}

/// Sends a GET with an `Accept` header and returns the status code and the body's lines.
async fn get_accepting(client: &kube::Client, path: &str, accept: &str) -> (u16, Vec<Value>) {
    let req = axum::http::Request::get(path)
        .header("accept", accept)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.expect("request sent");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let lines = String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (code, lines)
}

const KUBECTL_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,\
    application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

#[tokio::test]
async fn tables_are_served_to_clients_that_ask_for_them() {
    let (_sim, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "app");
    api.create(&PostParams::default(), &cm("one"))
        .await
        .unwrap();
    let cms = "/api/v1/namespaces/app/configmaps";

    let (code, body) = get_accepting(&client, cms, KUBECTL_TABLE).await;
    assert_eq!(code, 200);
    let table = &body[0];
    assert_eq!(
        (&table["kind"], &table["apiVersion"]),
        (&json!("Table"), &json!("meta.k8s.io/v1"))
    );
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Data", "Age"]);
    assert!(table["metadata"]["resourceVersion"].is_string());
    let row = &table["rows"][1];
    assert_eq!(
        row["cells"].as_array().unwrap()[..2],
        [json!("one"), json!(1)]
    );
    // By default a row carries the object's metadata only.
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["name"], "one");
    assert!(row["object"].get("data").is_none());

    let (_, body) = get_accepting(
        &client,
        &format!("{cms}?includeObject=Object"),
        KUBECTL_TABLE,
    )
    .await;
    assert_eq!(body[0]["rows"][1]["object"]["data"], json!({"k": "one"}));
    let (code, body) =
        get_accepting(&client, &format!("{cms}?includeObject=All"), KUBECTL_TABLE).await;
    assert_eq!((code, &body[0]["reason"]), (400, &json!("BadRequest")));

    // The first Table the client names is served; plain JSON without one.
    let beta = "application/json;as=Table;v=v1beta1;g=meta.k8s.io";
    let (_, body) = get_accepting(&client, &format!("{cms}/one"), beta).await;
    assert_eq!(body[0]["apiVersion"], "meta.k8s.io/v1beta1");
    assert_eq!(body[0]["rows"].as_array().unwrap().len(), 1);
    let (_, body) = get_accepting(&client, &format!("{cms}/one"), "application/json").await;
    assert_eq!(body[0]["kind"], "ConfigMap");

    // A watch sends one-row Tables; only the first holds the column definitions.
    let (code, events) = get_accepting(
        &client,
        &format!("{cms}?watch=true&timeoutSeconds=1"),
        KUBECTL_TABLE,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "ADDED" && e["object"]["kind"] == "Table")
    );
    assert!(events[0]["object"]["columnDefinitions"].is_array());
    assert!(events[1]["object"].get("columnDefinitions").is_none());
    assert_eq!(events[1]["object"]["rows"][0]["cells"][0], "one");
}
