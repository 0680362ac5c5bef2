//! `import "linkerd"`: the embedded stdlib, and its override by a `stdlib/` folder next to the
//! runbook or by `--stdlib DIR`.

use crate::harness::Run;

const USES_LINKERD: &str = r#"
    import "linkerd" as l5d;
    let trust_domain = param("trust_domain", "cluster.local", "Trust domain");
    step("names", "Names", || {
        print(`issuer ${l5d::issuer_cn(trust_domain)}`);
        print(`root ${l5d::root_cn(trust_domain)}`);
    });
"#;

#[test]
fn the_embedded_linkerd_module_is_imported() {
    let out = Run::new()
        .runbook("names.rhai", USES_LINKERD)
        .args(["--set", "trust_domain=example.org"])
        .run();
    assert!(
        out.stdout
            .contains("  issuer identity.linkerd.example.org\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("  root root.linkerd.example.org\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_linkerd_module_refuses_an_empty_trust_domain() {
    let out = Run::new()
        .runbook("names.rhai", USES_LINKERD)
        .args(["--set", "trust_domain="])
        .status(1)
        .run();
    assert!(
        out.stderr
            .contains("invalid trust domain \"\": it is empty (it must be a DNS-1123 subdomain"),
        "{}",
        out.stderr
    );
}

const FORK: &str = r#"
    fn issuer_cn(trust_domain) { `issuer.forked.${trust_domain}` }
    fn root_cn(trust_domain) { `root.forked.${trust_domain}` }
"#;

#[test]
fn a_stdlib_folder_next_to_the_runbook_overrides_the_embedded_module() {
    let out = Run::new()
        .file("stdlib/linkerd.rhai", FORK)
        .runbook("names.rhai", USES_LINKERD)
        .run();
    assert!(
        out.stdout
            .contains("  issuer issuer.forked.cluster.local\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_stdlib_flag_overrides_the_embedded_module() {
    let out = Run::new()
        .file("fork/linkerd.rhai", FORK)
        .runbook("names.rhai", USES_LINKERD)
        .args(["--stdlib", "fork"])
        .run();
    assert!(
        out.stdout.contains("  root root.forked.cluster.local\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_broken_or_missing_module_fails_before_any_step() {
    let out = Run::new()
        .file("stdlib/linkerd.rhai", "fn issuer_cn(td) { td +; }")
        .runbook("names.rhai", USES_LINKERD)
        .status(2)
        .stdout("")
        .run();
    assert!(
        out.stderr
            .starts_with("error: in runbook names.rhai: syntax error: "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("(stdlib/linkerd.rhai, line 1, column 24)"),
        "{}",
        out.stderr
    );

    Run::new()
        .runbook(
            "missing.rhai",
            "import \"kubernetes\" as k8s;\nstep(\"one\", \"One\", || 1);\n",
        )
        .status(2)
        .stdout("")
        .stderr("error: in runbook missing.rhai: module not found: kubernetes (line 1, column 1)\n")
        .run();
}

#[test]
fn calls_to_functions_a_module_lacks_fail_before_any_step() {
    Run::new()
        .runbook(
            "typo.rhai",
            r#"
            import "linkerd" as l5d;
            step("one", "One", || l5d::issuer_nc("cluster.local"));
            "#,
        )
        .status(2)
        .stderr(
            "
            error: in runbook typo.rhai:
              - module `l5d` has no function `issuer_nc` with 1 argument(s) (line 2, column 28)
            ",
        )
        .run();
}

#[test]
fn a_path_imports_a_file_next_to_the_runbook() {
    let out = Run::new()
        .file("books/helpers.rhai", "fn greet(name) { `hello ${name}` }")
        .runbook(
            "books/greet.rhai",
            r#"
            import "./helpers" as h;
            step("greet", "Greet", || { print(h::greet("mesh")); });
            "#,
        )
        .run();
    assert!(out.stdout.contains("  hello mesh\n"), "{}", out.stdout);
}

#[test]
fn script_functions_called_as_methods_pass_the_check() {
    let out = Run::new()
        .runbook(
            "methods.rhai",
            r#"
            fn shout() { this.to_upper() }
            step("one", "One", || { print("mesh".shout()); print([1, 2].len()); });
            "#,
        )
        .run();
    assert!(out.stdout.contains("  MESH\n  2\n"), "{}", out.stdout);
}
