//! The one redaction every sink passes through: events, the error on stderr, diagnostic logs.

use std::io::Write;

use serde_json::Value;

/// Replaces every PEM private-key block in `text` by a marker. Every sink (events, the error on
/// stderr, diagnostic logs) passes through here, so it recognises a block however it reached
/// the text: real line breaks (LF or CRLF), escaped ones (`\n` from `Debug` or JSON, `\\n`
/// when escaped twice), quoted, or cut off before its END line.
pub fn redact_private_keys(text: &str) -> String {
    if !text.contains("PRIVATE KEY") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(begin) = rest.find(BEGIN) {
        let label_start = begin + BEGIN.len();
        let Some(label_len) = rest[label_start..].find(DASHES) else {
            break;
        };
        if !rest[label_start..label_start + label_len].ends_with("PRIVATE KEY") {
            out.push_str(&rest[..label_start]);
            rest = &rest[label_start..];
            continue;
        }
        out.push_str(&rest[..begin]);
        out.push_str("[redacted private key]");
        let body_start = label_start + label_len + DASHES.len();
        rest = &rest[body_start + block_body_len(&rest[body_start..])..];
    }
    out.push_str(rest);
    // A label without its dashes (a line cut short) still must not show.
    out.replace("PRIVATE KEY", "[redacted]")
}

const BEGIN: &str = "-----BEGIN ";
const DASHES: &str = "-----";

/// The length of a key block's body after its BEGIN line: up to and including the END line, or,
/// when there is none, the run of characters a PEM body (base64, headers such as `Proc-Type`,
/// and line breaks in any escaping) is made of.
fn block_body_len(body: &str) -> usize {
    let mut at = 0;
    while at < body.len() {
        let rest = &body[at..];
        if let Some(end_label) = rest.strip_prefix("-----END ") {
            return match end_label.find(DASHES) {
                Some(close) => at + 9 + close + DASHES.len(),
                None => body.len(),
            };
        }
        if rest.starts_with(BEGIN) {
            break;
        }
        let c = rest.chars().next().unwrap_or_default();
        let in_body = c.is_ascii_alphanumeric()
            || c.is_whitespace()
            || matches!(c, '+' | '/' | '=' | '\\' | '-' | ':' | ',');
        if !in_body {
            break;
        }
        at += c.len_utf8();
    }
    // Give back what belongs to the surrounding text: a backslash may escape the quote that
    // ends the string, and the line break ends the line.
    let kept = body[..at].trim_end_matches(|c: char| c == '\\' || c.is_whitespace());
    kept.len()
}

pub(super) fn redact_strings(value: &mut Value) {
    match value {
        Value::String(text) => *text = redact_private_keys(text),
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(map) => map.values_mut().for_each(redact_strings),
        _ => {}
    }
}

/// A writer that redacts key blocks before they reach `inner`; diagnostic logs on stderr go
/// through it. The log formatter hands over one whole event per write, so a block is never
/// split across two calls.
#[derive(Debug)]
pub struct RedactingWriter<W>(pub W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(bytes);
        self.0
            .write_all(redact_private_keys(&text).as_bytes())
            .map(|()| bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Standard error behind [`RedactingWriter`], for the diagnostic log subscriber.
pub fn redacting_stderr() -> RedactingWriter<std::io::Stderr> {
    RedactingWriter(std::io::stderr())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn redacts_key_blocks_and_keeps_certificates() {
        let text = "a\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\
                    -----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\nb\n";
        let out = redact_private_keys(text);
        assert_eq!(
            out,
            "a\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\
             [redacted private key]\nb\n"
        );
        assert_eq!(
            redact_private_keys("\"-----BEGIN PRIVATE KEY-----\\nMII\""),
            "\"[redacted private key]\""
        );
    }

    pub(crate) const BODY: &str = "MHcCAQEEIBuS";

    /// Every form a key block reaches a sink in: as written, CRLF, escaped by `Debug` or JSON
    /// (once or twice), quoted, cut before its END line, or with an encrypted PEM's headers.
    pub(crate) fn key_forms() -> Vec<String> {
        let plain = format!(
            "-----BEGIN EC PRIVATE KEY-----\n{BODY}\nAwEHoUQDQgAE\n-----END EC PRIVATE KEY-----\n"
        );
        let debug = format!("{plain:?}");
        let json = serde_json::to_string(&plain).unwrap();
        vec![
            plain.clone(),
            plain.replace('\n', "\r\n"),
            debug.clone(),
            format!("{debug:?}"),
            json.clone(),
            serde_json::to_string(&json).unwrap(),
            format!("-----BEGIN PRIVATE KEY-----\n{BODY}\nAwEH"),
            format!("{:?}", format!("-----BEGIN PRIVATE KEY-----\n{BODY}\n")),
            format!(
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A\n\n\
                 {BODY}\n-----END RSA PRIVATE KEY-----"
            ),
        ]
    }

    #[test]
    fn redacts_every_form_of_a_key_block() {
        for form in key_forms() {
            let text = format!("step `t` failed: {form} (line 2)");
            let out = redact_private_keys(&text);
            assert!(!out.contains(BODY), "{text:?} gave {out:?}");
            assert!(!out.contains("AwEH"), "{text:?} gave {out:?}");
            assert!(!out.contains("PRIVATE KEY"), "{text:?} gave {out:?}");
            assert!(out.starts_with("step `t` failed: "), "{out:?}");
            assert!(out.ends_with(" (line 2)"), "{text:?} gave {out:?}");
        }
    }

    #[test]
    fn redaction_keeps_a_certificate_after_a_key_without_end() {
        let text = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert_eq!(
            redact_private_keys(text),
            "[redacted private key]\n-----BEGIN CERTIFICATE-----\nMIIB\n"
        );
    }

    #[test]
    fn the_log_writer_redacts() {
        let mut writer = RedactingWriter(Vec::new());
        for form in key_forms() {
            writer.write_all(form.as_bytes()).unwrap();
        }
        let text = String::from_utf8(writer.0).unwrap();
        assert!(!text.contains(BODY), "{text}");
    }
}
