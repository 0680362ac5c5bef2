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
    for function in &mut functions {
        if let Some(property) = property_signature(function) {
            function.signature = property;
        }
    }
    // Functions by name, then properties by type.
    functions.sort_by(|a, b| {
        let key = |f: &Function| (f.name.starts_with("get$"), f.signature.clone());
        key(a).cmp(&key(b))
    });

    let mut text = String::from("Functions a runbook can call (runner doc)\n");
    // Overloads (`bundle` with 1 to 6 arguments) share one doc: their signatures, then it.
    let same_doc =
        |a: &Function, b: &Function| a.name == b.name && a.doc_comments == b.doc_comments;
    for group in functions.chunk_by(same_doc) {
        text.push('\n');
        for function in group {
            text.push_str(&function.signature);
            text.push('\n');
        }
        text.push_str(&doc_lines(&group[0].doc_comments));
    }
    text.push_str(&modules(engine));
    text
}

/// The public functions of the embedded modules, as a runbook calls them after `import
/// "NAME" as NAME;`, with their doc comments.
fn modules(engine: &Engine) -> String {
    let mut text = String::new();
    for (name, source) in super::modules::ModuleLoader::embedded_sources() {
        // The embedded modules are compiled by every run; one that does not compile fails
        // its tests, so here it is only left out.
        let Ok(ast) = engine.compile(source) else {
            continue;
        };
        // The alias the shipped runbooks and docs use, so that examples read the same.
        let alias = if *name == "linkerd" { "l5d" } else { name };
        text.push_str(&format!(
            "\nModule \"{name}\", after `import \"{name}\" as {alias};`\n"
        ));
        let mut functions: Vec<_> = ast
            .iter_functions()
            // Rhai compiles each closure to a public function named `anon$` and a hash that
            // changes with the module's text: not something a runbook can call by name.
            .filter(|f| f.access == rhai::FnAccess::Public && !f.name.starts_with("anon$"))
            .collect();
        // Overloads by their number of parameters: the AST keeps no stable order.
        functions.sort_by_key(|f| (f.name, f.params.len()));
        for function in functions {
            text.push('\n');
            text.push_str(&format!(
                "{alias}::{}({})\n",
                function.name,
                function.params.join(", ")
            ));
            let comments: Vec<String> = function.comments.iter().map(|c| c.to_string()).collect();
            text.push_str(&doc_lines(&comments));
        }
    }
    text
}

/// `get$cert(value: CertifiedKey) -> Certificate` reads as `CertifiedKey.cert -> Certificate`.
fn property_signature(function: &Function) -> Option<String> {
    let property = function.name.strip_prefix("get$")?;
    let (_, rest) = function.signature.split_once(": ")?;
    let (type_name, returns) = rest.split_once(')')?;
    Some(format!("{type_name}.{property}{returns}"))
}

fn doc_lines(comments: &[String]) -> String {
    let mut text = String::new();
    for comment in comments {
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
    text
}
