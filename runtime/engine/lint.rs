//! Checks a compiled runbook before anything runs: Rhai resolves function calls only when they
//! execute, so without this a typo in the last step would surface after the first steps had
//! changed the cluster.
//!
//! It finds calls to functions that exist nowhere (nor with that number of arguments), calls
//! into imported modules that lack the function, and primitives called at the top level,
//! which only declares.

use std::collections::{HashMap, HashSet};

use rhai::{AST, ASTFlags, ASTNode, Engine, Expr, FnAccess, FnCallExpr, Position, Stmt};

use super::host::DECLARATIONS;
use super::modules::ModuleLoader;

/// Functions Rhai handles itself, which the metadata does not list.
const KEYWORDS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "eval",
];

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub position: Position,
    pub message: String,
}

/// Names and arities of every function callable without a namespace.
fn known_functions(
    engine: &Engine,
    ast: &AST,
) -> (HashMap<String, HashSet<usize>>, HashSet<String>) {
    fn collect(value: &serde_json::Value, into: &mut HashMap<String, HashSet<usize>>) {
        match value {
            serde_json::Value::Object(map) => {
                if let (Some(name), Some(n)) = (
                    map.get("name").and_then(|v| v.as_str()),
                    map.get("numParams").and_then(|v| v.as_u64()),
                ) {
                    into.entry(name.to_owned()).or_default().insert(n as usize);
                }
                map.values().for_each(|v| collect(v, into));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, into)),
            _ => {}
        }
    }
    let parse = |json: serde_json::Result<String>| -> serde_json::Value {
        json.ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    };
    let mut all = HashMap::new();
    collect(
        &parse(engine.gen_fn_metadata_with_ast_to_json(ast, true)),
        &mut all,
    );
    let mut host = HashMap::new();
    collect(&parse(engine.gen_fn_metadata_to_json(false)), &mut host);
    let primitives = host
        .into_keys()
        .filter(|name| {
            !DECLARATIONS.contains(&name.as_str())
                && !name.starts_with("to_")
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
        .collect();
    (all, primitives)
}

/// Checks `ast`, whose imports `modules` has already loaded.
pub fn check(engine: &Engine, ast: &AST, modules: &ModuleLoader) -> Vec<Problem> {
    let (known, primitives) = known_functions(engine, ast);
    let mut problems = Vec::new();

    // Names bound to values may hold closures, which `name(args)` calls.
    let mut variables: HashSet<String> = ast
        .iter_functions()
        .flat_map(|f| f.params)
        .map(str::to_owned)
        .collect();
    let mut imports: HashMap<String, String> = HashMap::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(x, ..))) => {
                variables.insert(x.0.name.to_string());
            }
            Some(ASTNode::Stmt(Stmt::Import(x, _))) => {
                if let Expr::StringConstant(module, _) = &x.0 {
                    imports.insert(x.1.name.to_string(), module.to_string());
                }
            }
            _ => {}
        }
        true
    });

    ast.walk(&mut |path: &[ASTNode]| {
        let (call, pos, is_method) = match path.last() {
            Some(
                ASTNode::Expr(Expr::FnCall(call, pos)) | ASTNode::Stmt(Stmt::FnCall(call, pos)),
            ) => (call, *pos, false),
            Some(ASTNode::Expr(Expr::MethodCall(call, pos))) => (call, *pos, true),
            _ => return true,
        };
        let name = call.name.as_str();
        let args = call.args.len();
        let is_identifier = name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if !is_identifier || KEYWORDS.contains(&name) || variables.contains(name) {
            return true;
        }
        if !call.namespace.is_empty() {
            let alias = call.namespace.root();
            let Some(path) = imports.get(alias) else {
                // No static modules are registered: an alias exists only through `import`.
                problems.push(Problem {
                    position: pos,
                    message: format!(
                        "unknown module `{alias}` in `{alias}::{name}` (no `import \"...\" as {alias};`)"
                    ),
                });
                return true;
            };
            let found = modules.get(path).is_none_or(|(_, module)| {
                    module.iter_functions().any(|f| {
                        f.name == name && f.params.len() == args && f.access == FnAccess::Public
                    })
                });
            if !found {
                problems.push(Problem {
                    position: pos,
                    message: format!(
                        "module `{alias}` has no function `{name}` with {args} argument(s)"
                    ),
                });
            }
            return true;
        }
        let arities = known.get(name);
        let message = match arities {
            // `m.g(1)` also calls a closure stored in map `m` under `g`, which only the run
            // can know: an unknown method name is not an error here.
            None if is_method => None,
            None => Some(format!("unknown function `{name}`")),
            // A method call passes the object as the first argument, or as `this` to a script
            // function.
            Some(arities) if is_method => (!arities.contains(&(args + 1))
                && !arities.contains(&args))
            .then(|| format!("`{name}` cannot be called as a method with {args} argument(s)")),
            Some(arities) if !arities.contains(&args) => {
                let mut counts: Vec<_> = arities.iter().map(usize::to_string).collect();
                counts.sort();
                Some(format!(
                    "`{name}` takes {} argument(s), not {args}",
                    counts.join(" or ")
                ))
            }
            Some(_) => None,
        };
        if let Some(message) = message {
            problems.push(Problem {
                position: pos,
                message,
            });
        }
        true
    });

    // The top level only declares: walk its statements without the functions' bodies, and
    // follow calls into the runbook's own functions.
    let callees = calls_by_function(ast);
    let mut path = Vec::new();
    for stmt in ast.statements() {
        stmt.walk(&mut path, &mut |nodes: &[ASTNode]| {
            let Some((call, pos)) = plain_call(nodes) else {
                return true;
            };
            let name = call.name.as_str();
            let reached = if primitives.contains(name) {
                Some(format!("`{name}`"))
            } else {
                reaches_primitive(name, &callees, &primitives, &mut HashSet::new())
                    .map(|primitive| format!("`{name}` calls `{primitive}`, which"))
            };
            if let Some(what) = reached {
                problems.push(Problem {
                    position: pos,
                    message: format!(
                        "{what} can only be called inside a step, not at the top level of a runbook"
                    ),
                });
            }
            true
        });
        path.clear();
    }

    problems.sort_by_key(|p| (p.position.line(), p.position.position()));
    problems.dedup();
    problems
}

/// `return` statements at the top level of `text`. The runner runs the steps once the top
/// level has ended, so a `return` there would leave every later declaration out, silently.
/// The compiled runbook cannot show them: the optimizer drops a `return` and the dead code
/// after it. So this parses again without optimizing; text that does not parse here has
/// already failed with its syntax error.
pub fn top_level_returns(text: &str) -> Vec<Problem> {
    let mut engine = Engine::new_raw();
    engine.set_optimization_level(rhai::OptimizationLevel::None);
    engine.set_max_expr_depths(0, 0);
    let Ok(ast) = engine.compile(text) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let mut path = Vec::new();
    for stmt in ast.statements() {
        stmt.walk(&mut path, &mut |nodes: &[ASTNode]| {
            if let Some(ASTNode::Stmt(Stmt::Return(_, flags, pos))) = nodes.last()
                && !flags.intersects(ASTFlags::BREAK)
            {
                problems.push(Problem {
                    position: *pos,
                    message: "`return` at the top level of a runbook would skip the \
                              declarations after it; the top level only declares"
                        .to_owned(),
                });
            }
            true
        });
        path.clear();
    }
    problems
}

/// A source position as (line, column), ordered.
type LineColumn = (usize, usize);

/// A call without a namespace, with its position.
fn plain_call<'a>(nodes: &[ASTNode<'a>]) -> Option<(&'a FnCallExpr, Position)> {
    let (call, pos) = match nodes.last()? {
        ASTNode::Expr(Expr::FnCall(call, pos)) | ASTNode::Stmt(Stmt::FnCall(call, pos)) => {
            (call, *pos)
        }
        _ => return None,
    };
    call.namespace.is_empty().then_some((&**call, pos))
}

/// The plain calls made in the body of each function of `ast`, by function name. Rhai does
/// not expose a body's statements, so a call belongs to the innermost function whose source
/// range holds its position.
fn calls_by_function(ast: &AST) -> HashMap<String, HashSet<String>> {
    let key = |p: Position| (p.line().unwrap_or(0), p.position().unwrap_or(0));
    let ranges: Vec<(String, LineColumn, LineColumn)> = ast
        .iter_fn_def()
        .map(|def| {
            let range = (key(def.body.start_position()), key(def.body.end_position()));
            (def.name.to_string(), range.0, range.1)
        })
        .collect();
    let mut calls: HashMap<String, HashSet<String>> = HashMap::new();
    ast.walk(&mut |nodes: &[ASTNode]| {
        if let Some((call, pos)) = plain_call(nodes) {
            let at = key(pos);
            let owner = ranges
                .iter()
                .filter(|(_, start, end)| *start <= at && at <= *end)
                .min_by_key(|(_, start, end)| (end.0 - start.0, end.1.abs_diff(start.1)));
            if let Some((owner, ..)) = owner {
                calls
                    .entry(owner.clone())
                    .or_default()
                    .insert(call.name.to_string());
            }
        }
        true
    });
    calls
}

/// The first primitive that calling `function` reaches, through the runbook's own functions.
fn reaches_primitive(
    function: &str,
    callees: &HashMap<String, HashSet<String>>,
    primitives: &HashSet<String>,
    seen: &mut HashSet<String>,
) -> Option<String> {
    if !seen.insert(function.to_owned()) {
        return None;
    }
    let called = callees.get(function)?;
    let mut sorted: Vec<&String> = called.iter().collect();
    sorted.sort();
    sorted
        .iter()
        .find(|name| primitives.contains(name.as_str()))
        .map(|name| (*name).clone())
        .or_else(|| {
            sorted
                .iter()
                .find_map(|name| reaches_primitive(name, callees, primitives, seen))
        })
}
