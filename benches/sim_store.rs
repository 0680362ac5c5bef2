//! How fast the simulated API server serves 10,000 pods, against serialising the same pods
//! with serde_json alone (the least any server must do). Run with
//! `cargo bench --bench sim_store`; it prints one line per figure.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use runner::sim::store::{FieldSelector, LabelSelector, ListOptions, Store, WatchFilter};
use runner::sim::{SimOptions, SimServer};
use serde_json::{Value, json};

const PODS: usize = 10_000;
const PAGE: usize = 500;

fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("web-{i:05}"), "namespace": "bench",
            "labels": {"app": "web", "shard": (i % 10).to_string()},
            "annotations": {"linkerd.io/inject": "enabled"}},
        "spec": {"serviceAccountName": "web", "containers": [
            {"name": "web", "image": "buoyantio/emojivoto-web:v11",
             "env": [{"name": "WEB_PORT", "value": "8080"}, {"name": "INDEX_BUNDLE", "value": "dist/index_bundle.js"}],
             "ports": [{"containerPort": 8080, "name": "http"}]},
            {"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-26.8.3",
             "env": [{"name": "LINKERD2_PROXY_IDENTITY_DIR", "value": "/var/run/linkerd/identity/end-entity"}],
             "ports": [{"containerPort": 4143, "name": "linkerd-proxy"}]}
        ]},
        "status": {"phase": "Running", "podIP": format!("10.0.{}.{}", i / 250, i % 250)}
    })
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn report(what: &str, took: Duration, baseline: Duration) {
    let ratio = took.as_secs_f64() / baseline.as_secs_f64();
    println!(
        "{what:<58} {:>9.1} ms  {ratio:>6.2}x baseline",
        took.as_secs_f64() * 1e3
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(run());
}

async fn run() {
    let pods: Vec<Value> = (0..PODS).map(pod).collect();
    let (all_json, baseline) = time(|| serde_json::to_vec(&pods).expect("serialise"));
    println!("{PODS} pods, {:.1} MB as JSON", all_json.len() as f64 / 1e6);
    println!(
        "{:<58} {:>9.1} ms  {:>6.2}x baseline",
        "baseline: serde_json::to_vec of all pods",
        baseline.as_secs_f64() * 1e3,
        1.0
    );

    let sim = SimServer::start(SimOptions {
        tls: true,
        ..Default::default()
    })
    .await
    .expect("sim");
    let store: &Store = sim.store();
    runner::sim::load::ensure_namespace(store, "bench").expect("namespace");
    let pods_rt = store.registry().lookup("", "v1", "pods").expect("pods");
    let from = store.resource_version();
    let ((), took) = time(|| {
        for p in &pods {
            store
                .create(&pods_rt, Some("bench"), p.clone(), false)
                .expect("create");
        }
    });
    report("store: create 10,000 pods", took, baseline);

    let (n, took) = time(|| {
        let mut opts = ListOptions {
            limit: PAGE,
            ..Default::default()
        };
        let mut n = 0;
        loop {
            let page = store.list(&pods_rt, Some("bench"), &opts).expect("list");
            let items: Vec<&Value> = page.items.iter().map(|i| i.as_ref()).collect();
            n += serde_json::to_vec(&items).expect("serialise").len();
            match page.continue_token {
                Some(t) => opts.continue_token = Some(t),
                None => break n,
            }
        }
    });
    assert!(n > 0);
    report(
        "store: paginated list (limit 500) + serialise",
        took,
        baseline,
    );

    let (_, took) = time(|| {
        let opts = ListOptions {
            labels: LabelSelector::parse("shard=3").expect("selector"),
            ..Default::default()
        };
        store.list(&pods_rt, None, &opts).expect("list")
    });
    report(
        "store: label-selected list of 1,000 across namespaces",
        took,
        baseline,
    );

    let filter = WatchFilter {
        resource: pods_rt.clone(),
        namespace: Some("bench".into()),
        labels: LabelSelector::default(),
        fields: FieldSelector::default(),
    };
    let start = Instant::now();
    let mut watch = store.watch(filter, Some(from)).expect("watch");
    let mut bytes = 0;
    for _ in 0..PODS {
        let e = watch.next().await.expect("event");
        bytes += e.to_line().len();
    }
    assert!(bytes > 0);
    report(
        "store: watch replay of 10,000 ADDED + serialise",
        start.elapsed(),
        baseline,
    );

    // What a client spends on decoding the same bytes into typed pods, without any server:
    // the HTTP figures below are compared with it to show where the time goes.
    let (typed, took) = time(|| serde_json::from_slice::<Vec<Pod>>(&all_json).expect("decode"));
    assert_eq!(typed.len(), PODS);
    report(
        "client alone: decode all pods into typed Pods",
        took,
        baseline,
    );

    let client = sim.client().await.expect("client");
    let api: Api<Pod> = Api::namespaced(client, "bench");
    let start = Instant::now();
    let mut lp = ListParams::default().limit(PAGE as u32);
    let mut seen = 0;
    loop {
        let page = api.list(&lp).await.expect("list");
        seen += page.items.len();
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(t) => lp = lp.continue_token(&t),
            None => break,
        }
    }
    assert_eq!(seen, PODS);
    report(
        "https + kube client: paginated list into typed Pods",
        start.elapsed(),
        baseline,
    );

    let start = Instant::now();
    let stream = api
        .watch(&WatchParams::default().timeout(60), &from.to_string())
        .await
        .expect("watch");
    let added = stream
        .take(PODS)
        .try_fold(0usize, |n, e| async move {
            Ok(n + usize::from(matches!(e, WatchEvent::Added(_))))
        })
        .await
        .expect("watch stream");
    assert_eq!(added, PODS);
    report(
        "https + kube client: watch stream of 10,000 events",
        start.elapsed(),
        baseline,
    );
}
