//! Starting the simulated API server in-process: TLS with a generated CA, a bearer token,
//! a kubeconfig that kubectl and kube clients use, and the controls tests need.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::cluster::{Cluster, ClusterOptions};
use super::faults::{FaultConfig, Faults, RequestCounts};
use super::http::{AppState, router};
use super::store::{Store, StoreOptions};
use super::{SimError, load};

/// How to start the server.
#[derive(Clone)]
pub struct SimOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The bearer token clients must send; a random one when `None`.
    pub token: Option<String>,
    /// Serve HTTPS (the default) or plain HTTP.
    pub tls: bool,
    /// Multi-document YAML files loaded before serving.
    pub manifests: Vec<PathBuf>,
    pub faults: FaultConfig,
    pub store: StoreOptions,
    /// Where to write the kubeconfig; a file in a private temporary folder when `None`.
    pub kubeconfig_out: Option<PathBuf>,
    /// Run the simulated controllers (workloads, kubelet, Linkerd); `None` serves a bare
    /// API server whose objects change only when clients write them.
    pub cluster: Option<ClusterOptions>,
    /// A built-in scenario to load (see [`super::scenarios::NAMES`]); starts the
    /// controllers with default options when `cluster` is `None`.
    pub scenario: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            port: 0,
            token: None,
            tls: true,
            manifests: Vec::new(),
            faults: FaultConfig::default(),
            store: StoreOptions::default(),
            kubeconfig_out: None,
            cluster: None,
            scenario: None,
        }
    }
}

// The token stays out of logs.
impl std::fmt::Debug for SimOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("port", &self.port)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("manifests", &self.manifests)
            .field("faults", &self.faults)
            .field("store", &self.store)
            .field("kubeconfig_out", &self.kubeconfig_out)
            .field("cluster", &self.cluster)
            .field("scenario", &self.scenario)
            .finish()
    }
}

/// The simulated API server.
#[derive(Debug)]
pub struct SimServer;

/// A running server; dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    url: String,
    kubeconfig: String,
    kubeconfig_path: PathBuf,
    token: String,
    store: Store,
    faults: Faults,
    counts: RequestCounts,
    handle: axum_server::Handle<SocketAddr>,
    cluster: Option<Cluster>,
    scenario: Option<super::scenarios::Identity>,
    // Keeps the temporary kubeconfig folder alive as long as the server.
    _dir: Option<tempfile::TempDir>,
}

struct Tls {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn generate_tls() -> Result<Tls, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "runner-sim-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    leaf.distinguished_name
        .push(DnType::CommonName, "runner-sim-apiserver");
    leaf.use_authority_key_identifier_extension = true;
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok(Tls {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 24]>())
}

/// The kubeconfig text for a server at `url`.
pub fn kubeconfig_text(url: &str, ca_pem: Option<&str>, token: &str) -> String {
    let ca = ca_pem
        .map(|pem| format!("    certificate-authority-data: {}\n", STANDARD.encode(pem)))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: runner-sim\n  cluster:\n    server: {url}\n{ca}\
         users:\n- name: runner-sim\n  user:\n    token: {token}\n\
         contexts:\n- name: runner-sim\n  context:\n    cluster: runner-sim\n    user: runner-sim\n\
         current-context: runner-sim\npreferences: {{}}\n"
    )
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    // The kubeconfig holds the token: readable by its owner only.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

impl SimServer {
    /// Starts the server on 127.0.0.1, loads the manifests and writes the kubeconfig.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound, a manifest cannot be loaded, the certificates cannot
    /// be made or the kubeconfig cannot be written.
    pub async fn start(options: SimOptions) -> Result<SimHandle, SimError> {
        // Both ring and aws-lc may be compiled in through dependencies; pick ring once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = Store::new(options.store.clone());
        load::ensure_system_namespaces(&store)
            .map_err(|source| SimError::SystemNamespaces { source })?;
        // Controllers start before manifests load, so that loaded workloads get pods.
        let cluster_options = match (&options.cluster, &options.scenario) {
            (Some(c), _) => Some(c.clone()),
            (None, Some(_)) => Some(ClusterOptions::default()),
            (None, None) => None,
        };
        let cluster = match &cluster_options {
            Some(c) => {
                Some(Cluster::start(&store, c).map_err(|source| SimError::Cluster { source })?)
            }
            None => None,
        };
        let scenario = match &options.scenario {
            Some(name) => Some(
                super::scenarios::load(&store, name)
                    .map_err(|source| SimError::Scenario { source })?,
            ),
            None => None,
        };
        for path in &options.manifests {
            load::load_file(&store, path)?;
        }
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
        let listener = std::net::TcpListener::bind(bind)
            .map_err(|source| SimError::Bind { addr: bind, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr: bind, source })?;
        let token = options.token.clone().unwrap_or_else(random_token);
        let faults = Faults::new(options.faults.clone());
        let counts = RequestCounts::default();
        let state = AppState {
            store: store.clone(),
            faults: faults.clone(),
            counts: counts.clone(),
            // kubectl sends no bearer token over plain HTTP, so a plain server asks for none;
            // it listens on loopback only, for tools that cannot do TLS.
            token: options.tls.then(|| Arc::from(token.as_str())),
            address: Arc::from(addr.to_string().as_str()),
        };
        let mut app = router(state);
        // The failure record of the mTLS model, for operators and tests (not behind the token:
        // it holds no secret).
        if let Some(cluster) = &cluster {
            app = app.merge(super::mesh::routes(cluster.linkerd().record.clone()));
        }
        let app = app.into_make_service();
        let handle = axum_server::Handle::new();
        let serve_err = |source| SimError::Serve { source };
        let (url, ca_pem) = if options.tls {
            let tls = generate_tls().map_err(|source| SimError::Certificates { source })?;
            let config = axum_server::tls_rustls::RustlsConfig::from_pem(
                tls.cert_pem.into_bytes(),
                tls.key_pem.into_bytes(),
            )
            .await
            .map_err(|source| SimError::Tls { source })?;
            let server = axum_server::from_tcp_rustls(listener, config).map_err(serve_err)?;
            tokio::spawn(server.handle(handle.clone()).serve(app));
            (format!("https://{addr}"), Some(tls.ca_pem))
        } else {
            let server = axum_server::from_tcp(listener).map_err(serve_err)?;
            tokio::spawn(server.handle(handle.clone()).serve(app));
            (format!("http://{addr}"), None)
        };

        let kubeconfig = kubeconfig_text(&url, ca_pem.as_deref(), &token);
        let (kubeconfig_path, dir) = match &options.kubeconfig_out {
            Some(p) => (p.clone(), None),
            None => {
                let dir = tempfile::tempdir().map_err(|source| SimError::WriteKubeconfig {
                    path: std::env::temp_dir(),
                    source,
                })?;
                (dir.path().join("kubeconfig"), Some(dir))
            }
        };
        write_private(&kubeconfig_path, &kubeconfig).map_err(|source| {
            SimError::WriteKubeconfig {
                path: kubeconfig_path.clone(),
                source,
            }
        })?;
        tracing::info!(%url, kubeconfig = %kubeconfig_path.display(), "simulated API server started");
        Ok(SimHandle {
            addr,
            url,
            kubeconfig,
            kubeconfig_path,
            token,
            store,
            faults,
            counts,
            handle,
            cluster,
            scenario,
            _dir: dir,
        })
    }
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig text (it holds the token).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// The written kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The bearer token clients must send.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The store, for controllers and tests that work without HTTP.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What keeps the cluster from being settled, as `Kind namespace/name` lines: workloads
    /// without all their replicas ready (a paused Deployment excepted) and pods not Ready. A
    /// scenario's pods are made by its controllers on the simulated clock after the server
    /// starts, so tests and rehearsals that need a healthy mesh wait until this is empty.
    pub fn unsettled(&self) -> Vec<String> {
        let registry = self.store.registry();
        let list = |group: &str, plural: &str| -> Vec<serde_json::Value> {
            let Some(rt) = registry.lookup(group, "v1", plural) else {
                return Vec::new();
            };
            self.store
                .list(&rt, None, &Default::default())
                .map(|page| page.items.iter().map(|item| (**item).clone()).collect())
                .unwrap_or_default()
        };
        let name = |kind: &str, object: &serde_json::Value| {
            let meta = &object["metadata"];
            format!(
                "{kind} {}/{}",
                meta["namespace"].as_str().unwrap_or_default(),
                meta["name"].as_str().unwrap_or_default()
            )
        };
        let mut waiting = Vec::new();
        for (plural, kind, wanted, ready) in [
            (
                "deployments",
                "Deployment",
                "/spec/replicas",
                "/status/readyReplicas",
            ),
            (
                "statefulsets",
                "StatefulSet",
                "/spec/replicas",
                "/status/readyReplicas",
            ),
            (
                "daemonsets",
                "DaemonSet",
                "/status/desiredNumberScheduled",
                "/status/numberReady",
            ),
        ] {
            for workload in list("apps", plural) {
                if workload["spec"]["paused"] == true {
                    continue;
                }
                let count = |pointer| {
                    workload
                        .pointer(pointer)
                        .and_then(serde_json::Value::as_i64)
                };
                // A DaemonSet whose controller has not counted its nodes yet wants pods too.
                let wanted = count(wanted).unwrap_or(1);
                if wanted > 0 && count(ready).unwrap_or(0) != wanted {
                    waiting.push(name(kind, &workload));
                }
            }
        }
        let ready = |pod: &serde_json::Value| {
            pod["status"]["conditions"]
                .as_array()
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
        };
        for pod in list("", "pods") {
            if !ready(&pod) {
                waiting.push(name("Pod", &pod));
            }
        }
        waiting
    }

    /// The live fault settings.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Requests answered per verb and resource.
    pub fn counts(&self) -> &RequestCounts {
        &self.counts
    }

    /// A kube client for this server, built from the kubeconfig.
    ///
    /// # Errors
    ///
    /// When kube refuses the kubeconfig.
    pub async fn client(&self) -> Result<kube::Client, kube::Error> {
        let kc = kube::config::Kubeconfig::from_yaml(&self.kubeconfig)
            .map_err(kube::Error::InferKubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(kube::Error::InferKubeconfig)?;
        kube::Client::try_from(config)
    }

    /// The simulated controllers, when started.
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// The certificates the loaded scenario started with (root and issuer, with keys).
    pub fn scenario_identity(&self) -> Option<&super::scenarios::Identity> {
        self.scenario.as_ref()
    }

    /// Stops accepting requests; open watches end within the grace period.
    pub fn shutdown(&self, grace: Duration) {
        self.handle.graceful_shutdown(Some(grace));
    }
}

// The token and the kubeconfig holding it stay out of logs.
impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("url", &self.url)
            .field("kubeconfig_path", &self.kubeconfig_path)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_kubeconfig_names_the_server_and_debug_hides_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc");
        let options = SimOptions {
            token: Some("s3cret-token".into()),
            kubeconfig_out: Some(path.clone()),
            ..Default::default()
        };
        let sim = SimServer::start(options).await.unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, sim.kubeconfig());
        assert!(written.contains(&format!("server: https://{}", sim.addr())));
        assert!(written.contains("token: s3cret-token"));
        assert!(written.contains("certificate-authority-data: "));
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!format!("{sim:?}").contains("s3cret-token"));
        let options = SimOptions {
            token: Some("s3cret-token".into()),
            ..Default::default()
        };
        assert!(!format!("{options:?}").contains("s3cret-token"));
    }
}
