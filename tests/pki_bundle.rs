//! The canonical bundle: its exact form, tolerant reading, and what it refuses.

use std::sync::OnceLock;

use proptest::prelude::*;
use runner::pki::{Bundle, CertRequest, Certificate, PkiError, Profile, generate};

/// Roots made once: generation is cheap, but proptest runs hundreds of cases. The first two
/// share a subject (as old and new roots do during a rotation) and differ in key.
fn pool() -> &'static [Certificate] {
    static POOL: OnceLock<Vec<Certificate>> = OnceLock::new();
    POOL.get_or_init(|| {
        let root = |cn: &str| {
            generate(&CertRequest::new(Profile::RootCa, cn), None)
                .unwrap()
                .cert()
                .clone()
        };
        vec![
            root("identity.linkerd.cluster.local"),
            root("identity.linkerd.cluster.local"),
            root("root.linkerd.cluster.local"),
            root("other.example"),
        ]
    })
}

fn leaf() -> Certificate {
    let ca = generate(&CertRequest::new(Profile::RootCa, "ca"), None).unwrap();
    generate(&CertRequest::new(Profile::Leaf, "web.default"), Some(&ca))
        .unwrap()
        .cert()
        .clone()
}

fn is_canonical(pem: &str) -> bool {
    !pem.contains('\r')
        && !pem.contains("\n\n")
        && pem.ends_with("-----END CERTIFICATE-----\n")
        && pem.lines().all(|l| l == l.trim_end())
}

/// Text damaged the ways copies through editors, terminals and YAML damage it.
fn damaged(
    pem: &str,
    crlf: bool,
    blank_lines: bool,
    trailing_spaces: bool,
    strip_end: bool,
) -> String {
    let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
    if trailing_spaces {
        lines.iter_mut().for_each(|l| l.push_str("  \t"));
    }
    if blank_lines {
        lines = lines
            .into_iter()
            .flat_map(|l| {
                let end = l.starts_with("-----END");
                if end { vec![l, String::new()] } else { vec![l] }
            })
            .collect();
        lines.insert(0, String::new());
    }
    let newline = if crlf { "\r\n" } else { "\n" };
    let mut text = lines.join(newline);
    if !strip_end {
        text.push_str(newline);
        text.push_str(newline);
    }
    text
}

proptest! {
    #[test]
    fn canonical_form_is_a_fixed_point(
        picks in proptest::collection::vec(0usize..4, 1..8),
        crlf: bool, blank_lines: bool, trailing_spaces: bool, strip_end: bool,
    ) {
        let certs: Vec<Certificate> = picks.iter().map(|i| pool()[*i].clone()).collect();
        let bundle = Bundle::build(&certs, &[]).unwrap();
        let pem = bundle.to_pem();
        prop_assert!(is_canonical(&pem), "{pem:?}");

        let again = Bundle::parse(&pem, "test").unwrap();
        prop_assert_eq!(again.to_pem(), pem.clone());

        let text = damaged(&pem, crlf, blank_lines, trailing_spaces, strip_end);
        let tolerant = Bundle::parse(&text, "test").unwrap();
        prop_assert_eq!(tolerant.fingerprints(), bundle.fingerprints());
        prop_assert_eq!(tolerant.to_pem(), pem);
    }
}

#[test]
fn each_tolerated_damage_reads_the_same() {
    let bundle = Bundle::build(&pool()[..3], &[]).unwrap();
    let pem = bundle.to_pem();
    let variants = [
        ("crlf", pem.replace('\n', "\r\n")),
        (
            "blank lines",
            pem.replace("-----\n-----BEGIN", "-----\n\n\n-----BEGIN"),
        ),
        ("trailing spaces", pem.replace('\n', "   \n")),
        ("missing final newline", pem.trim_end().to_owned()),
        ("trailing blank line", format!("{pem}\n")),
    ];
    for (name, text) in variants {
        let parsed = Bundle::parse(&text, name).unwrap();
        assert_eq!(parsed.fingerprints(), bundle.fingerprints(), "{name}");
        assert_eq!(parsed.to_pem(), pem, "{name}");
    }
}

#[test]
fn new_comes_first_and_duplicates_go() {
    let [a, b, c] = [&pool()[0], &pool()[2], &pool()[3]];
    let bundle = Bundle::build(
        std::slice::from_ref(c),
        &[a.clone(), c.clone(), b.clone(), a.clone()],
    )
    .unwrap();
    assert_eq!(
        bundle.fingerprints(),
        vec![c.fingerprint(), a.fingerprint(), b.fingerprint()]
    );
    let same_twice = format!("{}{}", a.to_pem(), a.to_pem());
    assert_eq!(Bundle::parse(&same_twice, "test").unwrap().len(), 1);
}

#[test]
fn same_subject_different_keys_are_both_kept() {
    let (old, new) = (&pool()[0], &pool()[1]);
    assert_eq!(old.subject(), new.subject());
    let bundle = Bundle::build(std::slice::from_ref(new), std::slice::from_ref(old)).unwrap();
    assert_eq!(
        bundle.fingerprints(),
        vec![new.fingerprint(), old.fingerprint()]
    );
}

#[test]
fn a_pasted_private_key_is_refused_by_block_type() {
    let root = generate(&CertRequest::new(Profile::RootCa, "root"), None).unwrap();
    let text = format!(
        "{}{}",
        root.cert().to_pem(),
        root.key().to_sec1_pem().unwrap()
    );
    let err = Bundle::parse(&text, "bundle.crt").unwrap_err();
    assert!(
        matches!(&err, PkiError::UnexpectedBlock { tag, index: 2, .. } if tag == "EC PRIVATE KEY"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "bundle.crt holds a \"EC PRIVATE KEY\" block (number 2) where only CERTIFICATE blocks \
         are allowed"
    );
    // The error text never carries the key itself.
    assert!(!format!("{err:?}").contains("MHcC"));
}

#[test]
fn a_leaf_is_refused() {
    let leaf = leaf();
    let err = Bundle::build(&pool()[..1], std::slice::from_ref(&leaf)).unwrap_err();
    assert!(matches!(err, PkiError::NotCa { .. }), "{err:?}");
    assert!(err.to_string().contains("CN=web.default"), "{err}");
    assert!(err.to_string().contains(leaf.fingerprint()), "{err}");
    assert!(Bundle::parse(&leaf.to_pem(), "test").is_err());
}

#[test]
fn empty_and_garbage_input_are_refused() {
    for text in ["", "\n\n", "not a certificate"] {
        let err = Bundle::parse(text, "anchors.crt").unwrap_err();
        assert_eq!(
            err.to_string(),
            "anchors.crt holds no CERTIFICATE block",
            "{text:?}"
        );
    }
    let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let err = Bundle::parse(broken, "anchors.crt").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("parsing certificate from anchors.crt: "),
        "{err}"
    );
    let err = Bundle::build(&[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a bundle needs at least one certificate, and none was given"
    );
}
