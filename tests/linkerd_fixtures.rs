//! Detection, anchor reading and the identity checks on every `linkerd install` fixture.

mod linkerd_support;

use linkerd_support::{FIXTURES, NOW, control_plane};
use runner::linkerd::{CheckOptions, Era, IssuerScheme, check, detect, read_trust_anchors};

#[test]
fn detects_the_era_of_every_fixture() {
    for (file, era) in FIXTURES {
        let Some(objects) = control_plane(file) else {
            return;
        };
        let layout = detect(&objects).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(layout.era.releases(), era, "{file}");
        assert_eq!(layout.scheme, IssuerScheme::LinkerdTls, "{file}");
        assert!(!layout.external_ca, "{file}");
        assert!(!layout.helm_managed(), "{file}: {:?}", layout.helm_evidence);
        assert_eq!(layout.namespace, "linkerd");
        assert_eq!(layout.trust_domain, "cluster.local");
    }
}

#[test]
fn reads_consistent_anchors_from_every_fixture() {
    for (file, _) in FIXTURES {
        let Some(objects) = control_plane(file) else {
            return;
        };
        let layout = detect(&objects).unwrap();
        let anchors = read_trust_anchors(&objects, &layout).unwrap();
        assert_eq!(anchors.bundle.len(), 1, "{file}");
        assert!(anchors.consistent(), "{file}: {:?}", anchors.findings);
        eprintln!(
            "{file}: {} copies, findings {:?}",
            anchors.copies.len(),
            anchors.findings
        );
        let expected_copies = match layout.era {
            Era::A => 1 + 9,
            Era::B1 => 2 + 1 + 9,
            Era::B2 => 2 + 1 + 5,
            Era::C0 | Era::C => 3,
        };
        assert_eq!(anchors.copies.len(), expected_copies, "{file}");
    }
}

#[test]
fn identity_checks_are_green_on_every_fixture() {
    for (file, _) in FIXTURES {
        let Some(objects) = control_plane(file) else {
            return;
        };
        let options = CheckOptions {
            now: NOW,
            proxy: true,
            namespace: None,
        };
        let (report, stale) = check(&objects, &[], &options);
        eprintln!("{file}\n{report}");
        assert!(report.success(), "{file}\n{report}");
        assert!(!report.has_warnings(), "{file}\n{report}");
        assert_eq!(report.checks().count(), 9, "{file}");
        assert!(stale.is_empty());
    }
}
