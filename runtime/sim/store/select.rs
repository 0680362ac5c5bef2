//! Label and field selectors, parsed once and matched against stored objects.

use serde_json::Value;

use super::StoreError;
use crate::sim::kinds::ResourceType;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A parsed label selector: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<LabelReq>);

// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>1` with the real server's grammar.
    ///
    /// # Errors
    ///
    /// `BadRequest` for anything else, and for keys and values that are not label keys and
    /// values.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        super::label_grammar::parse(s).map(Self)
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the labels of `obj` satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.get("metadata").and_then(|m| m.get("labels"));
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
            LabelReq::Gt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            LabelReq::Lt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        })
    }
}

/// A parsed field selector over the fields the real server indexes for the resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

// The fields each resource supports beyond `metadata.name` and `metadata.namespace`.
fn supported(rt: &ResourceType) -> &'static [&'static str] {
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "events") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("apps", "replicasets") => &["status.replicas"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses `a=b,c!=d`, refusing fields the resource does not support.
    pub fn parse(rt: &ResourceType, s: &str) -> Result<Self, StoreError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let (field, eq, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (k, true, v)
            } else {
                return Err(StoreError::BadRequest {
                    message: format!("invalid selector: '{s}'; can't understand '{part}'"),
                });
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace")
                && !supported(rt).contains(&field)
            {
                return Err(StoreError::BadRequest {
                    message: format!("field label not supported: {field}"),
                });
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `obj` (in the resource's own shape) satisfies every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, want)| {
            let found = field_value(obj, field);
            (found.as_deref().unwrap_or("") == want) == *eq
        })
    }
}

fn field_value(obj: &Value, field: &str) -> Option<String> {
    // `source` on core events is the component that reported it.
    let path = if field == "source" {
        "source.component"
    } else {
        field
    };
    let mut v = obj;
    for seg in path.split('.') {
        v = v.get(seg)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kinds::Registry;
    use serde_json::json;

    #[test]
    fn label_operators() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (api, web)", true),
            ("tier notin (front)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&obj),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("app in web").is_err());
        for bad in [
            "=v", "a=b=c", "bad!!", "a=b!", "a in ()", "!!a", "a b", "-a=b", "a=-b",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad}");
        }
        for good in ["a=", "a = b", "example.com/a in (x, y)", "a>1", "a,!b"] {
            assert!(LabelSelector::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn field_selectors_per_resource() {
        let reg = Registry::default();
        let events = reg.lookup("", "v1", "events").unwrap();
        let ev = json!({"metadata": {"name": "e"}, "reason": "IssuerUpdated",
            "involvedObject": {"kind": "Deployment", "name": "linkerd-identity"}});
        let sel = FieldSelector::parse(
            &events,
            "reason=IssuerUpdated,involvedObject.kind=Deployment",
        );
        assert!(sel.unwrap().matches(&ev));
        assert!(
            !FieldSelector::parse(&events, "type!=")
                .unwrap()
                .matches(&ev)
        );
        let cms = reg.lookup("", "v1", "configmaps").unwrap();
        assert!(matches!(
            FieldSelector::parse(&cms, "reason=x"),
            Err(StoreError::BadRequest { .. })
        ));
        assert!(
            FieldSelector::parse(&cms, "metadata.name=e")
                .unwrap()
                .matches(&ev)
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sim::kinds::Registry;
    use proptest::prelude::*;

    proptest! {
        // Query strings come from clients: any text is answered, never a panic.
        #[test]
        fn any_selector_text_parses_or_is_refused(text in ".{0,40}") {
            let _ = LabelSelector::parse(&text);
            let pods = Registry::default().lookup("", "v1", "pods").unwrap();
            let _ = FieldSelector::parse(&pods, &text);
        }

        #[test]
        fn an_equality_selector_selects_exactly_its_value(
            key in "[a-z]{1,8}", want in "[a-z0-9]{0,8}", have in "[a-z0-9]{0,8}",
        ) {
            let sel = LabelSelector::parse(&format!("{key}={want}")).unwrap();
            let obj = serde_json::json!({"metadata": {"labels": {key.clone(): have.clone()}}});
            prop_assert_eq!(sel.matches(&obj), want == have);
            let not = LabelSelector::parse(&format!("{key}!={want}")).unwrap();
            prop_assert_eq!(not.matches(&obj), want != have);
        }
    }
}
