//! Certificates for Linkerd's identity: generation in the shape `step certificate create`
//! gives, parsing of any algorithm, private keys, canonical PEM bundles and chain checks.
//!
//! Pure logic with no cluster access, so that it can be tested without one and reused by the
//! simulated cluster (which issues a leaf per proxy).
//!
//! | file           | concern                                                           |
//! |----------------|-------------------------------------------------------------------|
//! | `cert.rs`      | [`Certificate`]: DER plus the facts read from it                  |
//! | `algorithm.rs` | [`KeyAlgorithm`], [`SignatureAlgorithm`]                          |
//! | `key.rs`       | [`PrivateKey`]: ECDSA P-256 keys, SEC1 and PKCS#8                 |
//! | `generate.rs`  | [`CertRequest`], [`Profile`], [`generate`]                        |
//! | `certified.rs` | [`CertifiedKey`]: a certificate with its key, and its files       |
//! | `bundle.rs`    | [`Bundle`]: tolerant reading, canonical writing                   |
//! | `verify.rs`    | signature and chain checks ([`verify_chain`])                     |
//! | `files.rs`     | exclusive, mode-0600 file writes and reads                        |
//! | `reuse.rs`     | files an interrupted `gen_cert` left: reuse, replace or refuse    |
//! | `gen_cert.rs`  | `gen_cert`: options, reuse of interrupted files, writes            |
//! | `script.rs`    | the Rhai bindings (`gen_cert`, `bundle`, `load_cert`, …)          |
//! | `accessors.rs` | what scripts read from those values, and how they print           |
//! | `journal.rs`   | how those Rhai values are recorded in and restored from a journal |

mod accessors;
mod algorithm;
mod bundle;
mod cert;
mod certified;
mod error;
mod files;
mod gen_cert;
mod generate;
mod journal;
mod key;
mod reuse;
pub mod script;
mod verify;

pub use algorithm::{KeyAlgorithm, SignatureAlgorithm};
pub use bundle::{Bundle, parse_certificates};
pub use cert::Certificate;
pub use certified::CertifiedKey;
pub use error::{PkiError, chain_text};
pub use files::{read_text, write_new};
pub use generate::{CertRequest, Profile, Validity, check_within_signer, generate, validity_of};
pub use journal::JournalError;
pub use key::PrivateKey;
pub use verify::{VerifyError, verify_chain};
