//! Listing with selectors and `limit`/`continue` pagination.
//!
//! A continue token holds the list's resource version and the last key served. Later pages
//! show the objects as they are when the page is read, not as they were when the first page
//! was (the real server serves a snapshot): a watch from the list's version then delivers
//! any change in between, so nothing is missed, though a change may be seen twice.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::select::{FieldSelector, LabelSelector};
use super::{Store, StoreError, view, view_shared};
use crate::sim::kinds::ResourceType;

/// What a list selects and how much of it.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// At most this many items; 0 means all.
    pub limit: usize,
    pub continue_token: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The objects, shared with the store where their shape is the stored one.
    pub items: Vec<std::sync::Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    /// Objects after this page, when no selector filters them.
    pub remaining: Option<usize>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Token {
    rv: u64,
    ns: String,
    name: String,
    /// Items served by the earlier pages.
    served: usize,
}

fn bad_token() -> StoreError {
    StoreError::BadRequest {
        message: "invalid continue token: continue key is not valid".into(),
    }
}

impl Token {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(s: &str) -> Result<Self, StoreError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad_token())?;
        serde_json::from_slice(&bytes).map_err(|_| bad_token())
    }
}

impl Store {
    /// Lists objects of `rt` in namespace `ns` (all namespaces with `None`).
    ///
    /// # Errors
    ///
    /// `BadRequest` for a malformed continue token, `Expired` for one whose version is
    /// older than the history kept.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListPage, StoreError> {
        let inner = self.read();
        let (version, after, served) = match &opts.continue_token {
            Some(t) => {
                let t = Token::decode(t)?;
                // A token from a version not yet reached was not made here.
                if t.rv > inner.version {
                    return Err(bad_token());
                }
                if t.rv < inner.history.compacted() {
                    return Err(StoreError::Expired {
                        requested: t.rv,
                        oldest: inner.history.compacted(),
                    });
                }
                (t.rv, Some((t.ns, t.name)), t.served)
            }
            None => (inner.version, None, 0),
        };
        let limit = if opts.limit == 0 {
            usize::MAX
        } else {
            opts.limit
        };
        let selected = opts.labels.is_empty() && opts.fields.is_empty();
        let mut candidates = inner
            .scan_after(rt, ns, after)
            .filter(|o| opts.labels.matches(o))
            // Converting is only needed to match fields and for the items returned.
            .filter(|o| opts.fields.is_empty() || opts.fields.matches(&view(rt, o)));
        let items: Vec<_> = candidates
            .by_ref()
            .take(limit)
            .map(|o| view_shared(rt, o))
            .collect();
        let more = candidates.next().is_some();
        // Like the real server, say what is left only when nothing is filtered out; an
        // estimate when objects came or went between pages, as there.
        let served = served + items.len();
        let remaining =
            (more && selected).then(|| inner.count(rt, ns).saturating_sub(served).max(1));
        let continue_token = more.then(|| {
            let (ns, name) = items.last().map(|o| key_of(o)).unwrap_or_default();
            Token {
                rv: version,
                ns,
                name,
                served,
            }
            .encode()
        });
        Ok(ListPage {
            items,
            resource_version: version,
            remaining,
            continue_token,
        })
    }
}

fn key_of(obj: &Value) -> (String, String) {
    let m = &obj["metadata"];
    let s = |f: &str| m[f].as_str().unwrap_or_default().to_string();
    (s("namespace"), s("name"))
}
