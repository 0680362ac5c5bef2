//! `runner doc`: the functions a runbook can call, with signatures and documentation, generated
//! from the engine's own metadata so that it cannot drift from what is registered.

use rhai::Engine;
use serde::Deserialize;

use super::host::MAIN;

#[derive(Debug, Deserialize)]
struct Metadata {
    #[serde(default)]
    functions: Vec<Function>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Function {
    name: String,
    signature: String,
    #[serde(default)]
    doc_comments: Vec<String>,
}

/// The text `runner doc` prints: every documented function of `engine` outside Rhai's
/// standard library, by name, each with its signature and its doc comment.
pub fn render(engine: &Engine) -> String {
    let metadata: Metadata = engine
        .gen_fn_metadata_to_json(false)
        .ok()
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or(Metadata {
            functions: Vec::new(),
        });
    let mut functions: Vec<Function> = metadata
        .functions
        .into_iter()
        .filter(|f| f.name != MAIN && !f.doc_comments.is_empty())
        .collect();
    functions.sort_by(|a, b| (&a.name, &a.signature).cmp(&(&b.name, &b.signature)));

    let mut text = String::from("Functions a runbook can call (runner doc)\n");
    for function in functions {
        text.push_str(&format!("\n{}\n", function.signature));
        for comment in &function.doc_comments {
            for line in comment.lines() {
                let line = line
                    .trim_start_matches("///")
                    .trim_start_matches("/**")
                    .trim_end_matches("*/");
                let line = line.strip_prefix(' ').unwrap_or(line);
                text.push_str(format!("    {line}").trim_end());
                text.push('\n');
            }
        }
    }
    text
}
