//! `import` resolution: `import "linkerd" as l5d;` loads `stdlib/linkerd.rhai`, which is
//! embedded in the binary. A fork overrides a module with a file of the same name in
//! `--stdlib DIR` or in a `stdlib/` folder next to the runbook; a path with a `/`
//! (`import "./helpers"`) is a file relative to the runbook.
//!
//! Every module is compiled (and its top level evaluated) once, when the runbook is loaded,
//! before any step runs; its AST is kept so that the runbook check can look into it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rhai::module_resolvers::ModuleResolver;
use rhai::{AST, Engine, EvalAltResult, Module, Position, Scope, Shared};

type SharedModule = Shared<Module>;

/// The modules shipped in the binary, by import name.
const EMBEDDED: &[(&str, &str)] = &[("linkerd", include_str!("../../stdlib/linkerd.rhai"))];

/// Finds, compiles and caches the modules a runbook imports.
#[derive(Debug)]
pub struct ModuleLoader {
    stdlib_dir: Option<PathBuf>,
    runbook_dir: PathBuf,
    loaded: Mutex<HashMap<String, (SharedModule, AST)>>,
}

/// The loader as the engine's resolver (the engine owns its resolver; the runner keeps a
/// second handle to read the compiled modules).
#[derive(Debug)]
pub(crate) struct SharedLoader(pub Arc<ModuleLoader>);

// === impl ModuleLoader ===

impl ModuleLoader {
    pub fn new(stdlib_dir: Option<PathBuf>, runbook_dir: PathBuf) -> Self {
        Self {
            stdlib_dir,
            runbook_dir,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The folder given by `--stdlib`, if any.
    pub fn stdlib_dir(&self) -> Option<&std::path::Path> {
        self.stdlib_dir.as_deref()
    }

    /// The embedded modules: name and source text.
    pub(crate) fn embedded_sources() -> &'static [(&'static str, &'static str)] {
        EMBEDDED
    }

    /// The names of the embedded modules.
    pub fn embedded() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(name, _)| *name)
    }

    /// The module loaded for `path`, with its AST.
    pub(crate) fn get(&self, path: &str) -> Option<(SharedModule, AST)> {
        self.lock().get(path).cloned()
    }

    /// Every loaded module's import path and AST.
    pub(crate) fn loaded_asts(&self) -> Vec<(String, AST)> {
        let loaded = self.lock();
        let mut asts: Vec<_> = loaded
            .iter()
            .map(|(path, (_, ast))| (path.clone(), ast.clone()))
            .collect();
        asts.sort_by(|a, b| a.0.cmp(&b.0));
        asts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SharedModule, AST)>> {
        self.loaded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where `path` comes from (a name for messages) and its text.
    fn locate(&self, path: &str) -> Option<(String, String)> {
        let read = |file: PathBuf| {
            let text = std::fs::read_to_string(&file).ok()?;
            Some((file.display().to_string(), text))
        };
        if path.contains('/') {
            let file = self.runbook_dir.join(path);
            let file = if file.extension().is_some() {
                file
            } else {
                file.with_extension("rhai")
            };
            return read(file);
        }
        let file_name = format!("{path}.rhai");
        let overrides = [
            self.stdlib_dir.clone(),
            Some(self.runbook_dir.join("stdlib")),
        ];
        if let Some(found) = overrides
            .into_iter()
            .flatten()
            .find_map(|dir| read(dir.join(&file_name)))
        {
            return Some(found);
        }
        EMBEDDED
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(_, text)| (format!("stdlib/{file_name} (embedded)"), (*text).to_owned()))
    }

    fn load(
        &self,
        engine: &Engine,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some((module, _)) = self.get(path) {
            return Ok(module);
        }
        let Some((source, text)) = self.locate(path) else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.to_owned(), pos).into());
        };
        let in_module = |error: Box<EvalAltResult>| -> Box<EvalAltResult> {
            EvalAltResult::ErrorInModule(source.clone(), error, pos).into()
        };
        let mut ast = engine
            .compile(&text)
            .map_err(|error| in_module(error.into()))?;
        ast.set_source(source.as_str());
        let module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(in_module)?;
        let module: SharedModule = module.into();
        self.lock().insert(path.to_owned(), (module.clone(), ast));
        Ok(module)
    }
}

impl ModuleResolver for SharedLoader {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        self.0.load(engine, path, pos)
    }
}

/// The folder a runbook's relative imports and `stdlib/` override are looked up in.
pub fn runbook_dir(runbook: &Path) -> PathBuf {
    match runbook.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        // The current directory, left empty so that messages say `stdlib/x.rhai`, not `./…`.
        _ => PathBuf::new(),
    }
}
