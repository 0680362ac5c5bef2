//! Waiting for an object to reach a state, through a watch that survives the connection
//! dropping, the server failing, and the watch's history expiring.
//!
//! kube-runtime's watcher re-lists and re-watches after each failure with its own backoff; a
//! plain `await_condition` would give up at the first cut connection, which a wait of
//! minutes for a rollout is sure to meet.

use std::pin::pin;
use std::time::Duration;

use futures::StreamExt as _;
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};

use super::api::{Cluster, api};
use super::error::ClusterError;
use super::kinds::Kind;

impl Cluster {
    /// Waits until `condition` holds for the object: it is called with the object after each
    /// change, and with `None` while the object does not exist. Returns the object in the
    /// state that satisfied the condition (`None` when its absence did).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Timeout`] after `timeout`; `condition` names what was awaited in it.
    ///
    /// # Caveats
    ///
    /// Failed watches are retried until the timeout, so an unreachable cluster shows up as a
    /// timeout (each failure is logged at debug). Ctrl-C is the caller's: race this future
    /// against the run's cancellation.
    pub async fn wait_for<F>(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        name: &str,
        what: &str,
        timeout: Duration,
        condition: F,
    ) -> Result<Option<DynamicObject>, ClusterError>
    where
        F: Fn(Option<&DynamicObject>) -> bool,
    {
        let object = kind.object(namespace, name);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let stream =
            watcher::watcher(api(self.client(), kind, namespace), config).default_backoff();
        let mut stream = pin!(stream);
        let watch = async {
            // While a (re-)list runs, remember whether the object was in it.
            let mut listed = false;
            while let Some(event) = stream.next().await {
                let seen = match event {
                    Ok(Event::Init) => {
                        listed = false;
                        continue;
                    }
                    Ok(Event::InitApply(obj)) => {
                        listed = true;
                        Some(Some(obj))
                    }
                    Ok(Event::InitDone) => (!listed).then_some(None),
                    Ok(Event::Apply(obj)) => Some(Some(obj)),
                    Ok(Event::Delete(_)) => Some(None),
                    Err(error) => {
                        tracing::debug!(
                            kind = kind.name(),
                            namespace,
                            name,
                            %error,
                            "watch failed; re-establishing"
                        );
                        None
                    }
                };
                if let Some(state) = seen
                    && condition(state.as_ref())
                {
                    return Some(state);
                }
            }
            None
        };
        match tokio::time::timeout(timeout, watch).await {
            Ok(Some(state)) => Ok(state),
            // The watcher's stream never ends; treat an end like the deadline.
            Ok(None) | Err(_) => Err(ClusterError::Timeout {
                object,
                what: what.to_owned(),
                timeout,
            }),
        }
    }
}
