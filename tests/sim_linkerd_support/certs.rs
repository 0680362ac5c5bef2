//! New CAs made with openssl, as an operator following the docs makes them, and canonical
//! PEM bundles.

use std::path::Path;
use std::process::Command;

pub fn openssl_present() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("skipping: this test needs openssl on the PATH");
    }
    found
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA made with openssl: (certificate PEM, SEC1 key PEM).
pub struct Ca {
    pub crt: String,
    pub key: String,
}

/// A new root (pathlen 1) and an issuer it signs (pathlen 0), ECDSA P-256, as `step`'s
/// root-ca and intermediate-ca profiles make them.
pub fn new_root_and_issuer(dir: &Path) -> (Ca, Ca) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[req]\ndistinguished_name=dn\n[dn]\n[root]\nbasicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n\
         [issuer]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=root.linkerd.cluster.local",
            "-days",
            "3650",
            "-config",
            "ext.cnf",
            "-extensions",
            "root",
            "-out",
            "ca.crt",
        ],
    );
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "issuer.key",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "issuer.key",
            "-subj",
            "/CN=identity.linkerd.cluster.local",
            "-config",
            "ext.cnf",
            "-out",
            "issuer.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "issuer.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "365",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "issuer",
            "-out",
            "issuer.crt",
        ],
    );
    openssl(dir, &["verify", "-CAfile", "ca.crt", "issuer.crt"]);
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (
        Ca {
            crt: read("ca.crt"),
            key: read("ca.key"),
        },
        Ca {
            crt: read("issuer.crt"),
            key: read("issuer.key"),
        },
    )
}

/// Certificate blocks only, each ending in one newline.
pub fn canonical(pem: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in pem.lines().map(str::trim_end) {
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
        if line.starts_with("-----END CERTIFICATE") {
            inside = false;
        }
    }
    out
}
