//! Conversion between core v1 events (the stored form) and `events.k8s.io/v1` events.

use serde_json::{Map, Value, json};

// (core field, events.k8s.io field)
const RENAMES: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn rename(obj: &Value, to_v1: bool, api_version: &str) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let renamed = RENAMES.iter().find_map(|&(core, v1)| {
            let (from, to) = if to_v1 { (core, v1) } else { (v1, core) };
            (k == from).then_some(to)
        });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!("Event"));
    Value::Object(out)
}

/// A stored core event as `events.k8s.io/v1` shows it.
pub fn to_events_v1(core: &Value) -> Value {
    rename(core, true, "events.k8s.io/v1")
}

/// An `events.k8s.io/v1` event in the stored core form.
pub fn from_events_v1(v1: &Value) -> Value {
    rename(v1, false, "v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_field() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Deployment", "name": "linkerd-identity"},
            "reason": "IssuerUpdated", "message": "Updated identity issuer", "type": "Normal",
            "source": {"component": "identity"}, "count": 1});
        let v1 = to_events_v1(&core);
        assert_eq!(v1["regarding"]["name"], "linkerd-identity");
        assert_eq!(v1["note"], "Updated identity issuer");
        assert_eq!(v1["deprecatedSource"]["component"], "identity");
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(from_events_v1(&v1), core);
    }
}
