//! The defaults the real API server fills into workloads on every write, which clients read
//! back: `kubectl rollout status` refuses a DaemonSet or StatefulSet whose update strategy
//! is not `RollingUpdate`, and the controllers here read the same fields.

use serde_json::{Value, json};

use crate::sim::kinds::ResourceType;
use crate::sim::store::{Admission, Operation};

/// The defaulting admission hook.
pub struct Defaults;

fn fill(target: &mut Value, key: &str, value: Value) {
    if let Some(map) = target.as_object_mut() {
        map.entry(key.to_owned()).or_insert(value);
    }
}

impl Admission for Defaults {
    fn admit(&self, _op: Operation, rt: &ResourceType, obj: &mut Value) -> Result<(), String> {
        if rt.group != "apps" {
            return Ok(());
        }
        let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) else {
            return Ok(());
        };
        match rt.kind.as_str() {
            "Deployment" => {
                fill(spec, "replicas", json!(1));
                fill(spec, "revisionHistoryLimit", json!(10));
                fill(spec, "progressDeadlineSeconds", json!(600));
                fill(spec, "strategy", json!({ "type": "RollingUpdate" }));
                if spec["strategy"]["type"] == "RollingUpdate" {
                    fill(
                        &mut spec["strategy"],
                        "rollingUpdate",
                        json!({ "maxSurge": "25%", "maxUnavailable": "25%" }),
                    );
                }
            }
            "StatefulSet" => {
                fill(spec, "replicas", json!(1));
                fill(spec, "podManagementPolicy", json!("OrderedReady"));
                fill(spec, "revisionHistoryLimit", json!(10));
                fill(spec, "updateStrategy", json!({ "type": "RollingUpdate" }));
                if spec["updateStrategy"]["type"] == "RollingUpdate" {
                    fill(
                        &mut spec["updateStrategy"],
                        "rollingUpdate",
                        json!({ "partition": 0 }),
                    );
                }
            }
            "DaemonSet" => {
                fill(spec, "revisionHistoryLimit", json!(10));
                fill(spec, "updateStrategy", json!({ "type": "RollingUpdate" }));
                if spec["updateStrategy"]["type"] == "RollingUpdate" {
                    fill(
                        &mut spec["updateStrategy"],
                        "rollingUpdate",
                        json!({ "maxSurge": 0, "maxUnavailable": 1 }),
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daemon_set_gets_a_rolling_update_strategy_and_on_delete_is_kept() {
        let registry = crate::sim::kinds::Registry::default();
        let ds = registry.by_kind("apps/v1", "DaemonSet").unwrap();
        let mut obj = json!({ "spec": { "template": {} } });
        Defaults.admit(Operation::Create, &ds, &mut obj).unwrap();
        assert_eq!(obj["spec"]["updateStrategy"]["type"], "RollingUpdate");
        assert_eq!(
            obj["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"],
            1
        );
        let mut obj = json!({ "spec": { "updateStrategy": { "type": "OnDelete" } } });
        Defaults.admit(Operation::Update, &ds, &mut obj).unwrap();
        assert_eq!(obj["spec"]["updateStrategy"], json!({ "type": "OnDelete" }));
    }
}
