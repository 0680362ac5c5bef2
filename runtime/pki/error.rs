//! The errors of certificate and key handling.

use std::path::PathBuf;

/// What went wrong while reading, generating, bundling or writing certificates and keys.
///
/// `origin` fields name where the input came from: a file path, or a description such as
/// `"PEM text"` for a value given by a script.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The text is not valid PEM.
    #[error("reading PEM from {origin}")]
    Pem {
        origin: String,
        #[source]
        source: pem::PemError,
    },

    /// A PEM input that holds no certificate at all.
    #[error("{origin} holds no CERTIFICATE block")]
    NoCertificate { origin: String },

    /// A bundle asked for with nothing in it.
    #[error("a bundle needs at least one certificate, and none was given")]
    EmptyBundle,

    /// A block other than a certificate where only certificates belong (a pasted key, a CSR).
    #[error(
        "{origin} holds a {tag:?} block (number {index}) where only CERTIFICATE blocks are allowed"
    )]
    UnexpectedBlock {
        origin: String,
        tag: String,
        index: usize,
    },

    /// DER that is not a readable X.509 certificate.
    #[error("parsing certificate from {origin}: {reason}")]
    Certificate { origin: String, reason: String },

    /// A certificate used where a CA certificate is required.
    #[error("certificate {subject} (sha256 {fingerprint}) is not a CA certificate")]
    NotCa {
        subject: String,
        fingerprint: String,
    },

    /// A private key that could not be read.
    #[error("reading private key from {origin}: {reason}")]
    Key { origin: String, reason: String },

    /// A private key of a kind this tool does not handle.
    #[error(
        "private key in {origin} is {kind}: only unencrypted ECDSA P-256 keys \
         (SEC1 \"EC PRIVATE KEY\" or PKCS#8 \"PRIVATE KEY\") are supported"
    )]
    UnsupportedKey { origin: String, kind: String },

    /// A private key that does not belong to the certificate it was paired with.
    #[error("private key from {key_origin} does not belong to certificate {subject}")]
    KeyMismatch { key_origin: String, subject: String },

    /// The request cannot be honoured as given.
    #[error("certificate request for {cn:?}: {reason}")]
    Request { cn: String, reason: String },

    /// rcgen refused to build or sign the certificate.
    #[error("generating certificate {cn:?}")]
    Generate {
        cn: String,
        #[source]
        source: rcgen::Error,
    },

    /// A CA certificate that rcgen cannot take as an issuer (an unusual subject, say).
    #[error("cannot sign with CA certificate {subject}")]
    UnusableCa {
        subject: String,
        #[source]
        source: rcgen::Error,
    },

    /// Encoding a key failed (this is not expected for a valid key).
    #[error("encoding private key: {reason}")]
    Encode { reason: String },

    /// A file that exists where a new one was to be created.
    #[error("refusing to overwrite {path}: the file exists (pass overwrite to replace it)")]
    FileExists { path: PathBuf },

    /// Files an earlier run left that `gen_cert` cannot take for this request.
    #[error(
        "{files} exist from an earlier run, but {reason}; to go on, move them away, run with \
         another --workdir, or pass overwrite: true to replace them"
    )]
    Unreusable {
        /// Both paths, `X.crt and X.key` (one text keeps the error small).
        files: String,
        reason: String,
    },

    /// A file system operation failed.
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Renders an error with its chain of sources as `outer: inner: innermost`, for places (like
/// Rhai runtime errors) that carry only a string.
pub fn chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        // Some libraries end their own message with their source's, which the chain would
        // then print twice in a row ("client error (Connect): client error (Connect)").
        let said = inner.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain_text;

    /// An error whose message already ends with its source's, as hyper's and kube's do.
    #[derive(Debug, thiserror::Error)]
    #[error("client error ({0})")]
    struct Repeats(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("Connect")]
    struct Inner(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("getting Secret linkerd/linkerd-identity-issuer")]
    struct Outer(#[source] Repeats);

    #[test]
    fn a_source_the_message_already_ends_with_is_not_said_twice() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = Outer(Repeats(Inner(io)));
        assert_eq!(
            chain_text(&error),
            "getting Secret linkerd/linkerd-identity-issuer: client error (Connect): Connect: refused"
        );
    }
}
