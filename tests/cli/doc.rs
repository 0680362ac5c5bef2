//! `runner doc` lists every function a runbook can call; the snapshot catches signature drift.

use crate::harness::Run;

#[test]
fn doc_lists_the_primitives_with_signatures() {
    let out = Run::new().arg("doc").stderr("").run();
    for signature in [
        "param(",
        "step(",
        "output(",
        "gen_cert(",
        "bundle(",
        "duration(",
        "write_file(",
        "l5d::root_cn(trust_domain)",
        "l5d::issuer_cn(trust_domain)",
    ] {
        assert!(
            out.stdout.contains(signature),
            "runner doc lacks {signature}"
        );
    }
    insta::assert_snapshot!("runner_doc", out.stdout);
}
