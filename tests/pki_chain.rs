//! Chain verification as Linkerd's checks need it, and key/certificate pairing.

use runner::pki::{
    CertRequest, CertifiedKey, PkiError, Profile, Validity, VerifyError, generate, verify_chain,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const CN: &str = "identity.linkerd.cluster.local";

fn root() -> CertifiedKey {
    generate(&CertRequest::new(Profile::RootCa, CN), None).unwrap()
}

fn issued(profile: Profile, cn: &str, by: &CertifiedKey) -> CertifiedKey {
    generate(&CertRequest::new(profile, cn), Some(by)).unwrap()
}

#[test]
fn same_subject_roots_are_told_apart_by_signature() {
    let (old, new) = (root(), root());
    assert_eq!(old.cert().subject(), new.cert().subject());
    let issuer = issued(Profile::IntermediateCa, CN, &new);
    let now = OffsetDateTime::now_utc();

    let err = verify_chain(issuer.cert(), &[], &[old.cert().clone()], now).unwrap_err();
    assert!(
        matches!(err, VerifyError::UnknownAuthority { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("signed by an unknown authority"),
        "{err}"
    );

    for anchors in [
        [old.cert().clone(), new.cert().clone()],
        [new.cert().clone(), old.cert().clone()],
    ] {
        let chain = verify_chain(issuer.cert(), &[], &anchors, now).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1].fingerprint(), new.cert().fingerprint());
    }
    assert!(issuer.cert().is_signed_by(new.cert()));
    assert!(!issuer.cert().is_signed_by(old.cert()));
}

#[test]
fn a_leaf_chains_through_the_issuer_to_the_root() {
    let anchor = root();
    let issuer = issued(Profile::IntermediateCa, CN, &anchor);
    let leaf = issued(
        Profile::Leaf,
        "web.emojivoto.serviceaccount.identity.linkerd.cluster.local",
        &issuer,
    );
    let now = OffsetDateTime::now_utc();

    let chain = verify_chain(
        leaf.cert(),
        &[issuer.cert().clone()],
        &[anchor.cert().clone()],
        now,
    )
    .unwrap();
    let fingerprints: Vec<&str> = chain.iter().map(|c| c.fingerprint()).collect();
    assert_eq!(
        fingerprints,
        [
            leaf.cert().fingerprint(),
            issuer.cert().fingerprint(),
            anchor.cert().fingerprint()
        ]
    );

    // Without the intermediate there is no path.
    let err = verify_chain(leaf.cert(), &[], &[anchor.cert().clone()], now).unwrap_err();
    assert!(
        matches!(err, VerifyError::UnknownAuthority { .. }),
        "{err:?}"
    );
}

#[test]
fn validity_is_checked_at_the_given_time() {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let mut request = CertRequest::new(Profile::RootCa, CN);
    request.not_before = Some(now - Duration::days(2));
    request.not_after = Some(Validity::Until(now - Duration::days(1)));
    let expired = generate(&request, None).unwrap();
    let mut backwards = request.clone();
    backwards.not_after = Some(Validity::Until(datetime!(2020-01-01 00:00 UTC)));
    backwards.not_before = Some(datetime!(2020-01-02 00:00 UTC));
    let err = generate(&backwards, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "certificate request for \"{CN}\": not_after 2020-01-01T00:00:00Z is not after \
             not_before 2020-01-02T00:00:00Z"
        )
    );
    let issuer = issued(Profile::IntermediateCa, CN, &expired);
    let anchors = [expired.cert().clone()];

    let err = verify_chain(issuer.cert(), &[], &anchors, now).unwrap_err();
    assert!(matches!(err, VerifyError::NotValidAt { .. }), "{err:?}");
    assert!(err.to_string().contains("is not valid at"), "{err}");

    // 36 hours ago the root was valid, but the issuer (made now) was not yet.
    let err = verify_chain(issuer.cert(), &[], &anchors, now - Duration::hours(36)).unwrap_err();
    assert!(matches!(err, VerifyError::NotValidAt { .. }), "{err:?}");
}

#[test]
fn path_length_zero_cannot_sign_a_ca() {
    let anchor = root();
    let issuer = issued(Profile::IntermediateCa, CN, &anchor);
    let err = generate(
        &CertRequest::new(Profile::IntermediateCa, "nested"),
        Some(&issuer),
    )
    .unwrap_err();
    assert!(err.to_string().contains("has path length 0"), "{err}");
}

#[test]
fn a_leaf_cannot_sign() {
    let leaf = generate(&CertRequest::new(Profile::Leaf, "self-signed-leaf"), None).unwrap();
    let err = generate(&CertRequest::new(Profile::Leaf, "child"), Some(&leaf)).unwrap_err();
    assert!(matches!(err, PkiError::NotCa { .. }), "{err:?}");
}

#[test]
fn profiles_refuse_the_wrong_signer() {
    let anchor = root();
    let err = generate(&CertRequest::new(Profile::RootCa, "r"), Some(&anchor)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate request for \"r\": a root-ca is self-signed: do not pass a signing CA"
    );
    let err = generate(&CertRequest::new(Profile::RootCa, " "), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate request for \" \": the common name is empty"
    );
    let err = generate(&CertRequest::new(Profile::IntermediateCa, "i"), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate request for \"i\": an intermediate-ca needs a signing CA"
    );
}

#[test]
fn a_key_is_matched_to_its_own_certificate_only() {
    let (a, b) = (root(), root());
    assert!(a.key().matches(a.cert()));
    assert!(!a.key().matches(b.cert()));

    let err = CertifiedKey::new(a.cert().clone(), b.key().clone(), "b.key").unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("private key from b.key does not belong to certificate CN="),
        "{err}"
    );
}

#[test]
fn generated_facts_are_as_requested() {
    let mut request = CertRequest::new(Profile::RootCa, CN);
    request.sans = vec![CN.to_owned()];
    request.not_after = Some(Validity::For(Duration::hours(8760)));
    let made = generate(&request, None).unwrap();
    let cert = made.cert();

    assert_eq!(cert.subject(), format!("CN={CN}"));
    assert_eq!(cert.common_name(), Some(CN));
    assert_eq!(cert.dns_sans(), [CN.to_owned()]);
    assert!(cert.is_ca());
    assert_eq!(cert.path_len(), Some(1));
    assert_eq!(cert.not_after() - cert.not_before(), Duration::hours(8760));
    assert_eq!(cert.key_algorithm().to_string(), "ecdsa-p256");
    assert_eq!(cert.signature_algorithm().to_string(), "ECDSA-SHA256");
    assert_eq!(cert.serial().len(), 32, "16 random bytes, no leading zero");
    assert_eq!(cert.fingerprint().len(), 64);

    let default = generate(&CertRequest::new(Profile::IntermediateCa, CN), Some(&made)).unwrap();
    let validity = default.cert().not_after() - default.cert().not_before();
    assert_eq!(validity, Duration::hours(24 * 365 * 10), "step's default");
    assert_ne!(default.cert().serial(), cert.serial());
    assert_eq!(default.cert().authority_key_id(), cert.subject_key_id());
}
