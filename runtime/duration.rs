//! Durations as operators write them: `8760h`, `90d`, `1h30m`, `45s`.
//!
//! Shared by runbook parameters (`--set issuer_validity=8760h`) and certificate validity
//! (`gen_cert(#{ not_after: "8760h" })`), so both accept exactly the same spellings.

use time::Duration;

/// A duration text that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {text:?}: {reason} (expected a number with a unit d, h, m or s, like 8760h or 1h30m)"
)]
pub struct DurationError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The longest duration accepted: far beyond any certificate or wait, and far from where
/// date arithmetic overflows.
pub const MAX: Duration = Duration::days(36_500);

/// Parses a duration such as `8760h`, `90d`, `1h30m` or `45s`.
///
/// # Errors
///
/// When the text is empty, negative, fractional, has a number without a unit or an unknown
/// unit, or is longer than [`MAX`].
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let fail = |reason| DurationError {
        text: text.to_owned(),
        reason,
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(fail("empty"));
    }

    if trimmed.starts_with('-') {
        return Err(fail("negative durations are not allowed"));
    }

    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for ch in trimmed.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        if matches!(ch, '.' | ',') {
            return Err(fail(
                "fractional numbers are not allowed (write 1h30m, not 1.5h)",
            ));
        }
        if digits.is_empty() {
            return Err(fail("a unit without a number"));
        }
        let amount: i64 = digits.parse().map_err(|_| fail("number too large"))?;
        let seconds_per_unit = match ch {
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(fail("unknown unit")),
        };
        let part = amount
            .checked_mul(seconds_per_unit)
            .ok_or_else(|| fail("number too large"))?;
        total = total
            .checked_add(Duration::seconds(part))
            .ok_or_else(|| fail("too large"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(fail("a number without a unit"));
    }
    if total > MAX {
        return Err(fail("longer than 100 years"));
    }
    Ok(total)
}

/// Formats a duration in the largest whole units, the inverse of [`parse`]: `8760h` stays
/// `8760h` only if written so; `format(parse("1d")) == "24h"`.
pub fn format(duration: Duration) -> String {
    let mut seconds = duration.whole_seconds();
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if seconds < 0 {
        out.push('-');
        seconds = -seconds;
    }
    for (unit, size) in [('h', 3_600), ('m', 60), ('s', 1)] {
        if seconds >= size {
            out.push_str(&(seconds / size).to_string());
            out.push(unit);
            seconds %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spellings_operators_use() {
        assert_eq!(parse("8760h"), Ok(Duration::hours(8760)));
        assert_eq!(parse("90d"), Ok(Duration::days(90)));
        assert_eq!(parse("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse(" 45s "), Ok(Duration::seconds(45)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (text, reason) in [
            ("soon", "a unit without a number"),
            ("", "empty"),
            ("10", "a number without a unit"),
            ("10y", "unknown unit"),
            ("99999999999999999999h", "number too large"),
            ("99999999d", "longer than 100 years"),
            ("-1h", "negative durations are not allowed"),
            (
                "1.5h",
                "fractional numbers are not allowed (write 1h30m, not 1.5h)",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err().reason, reason, "{text:?}");
        }
        assert_eq!(
            parse("soon").unwrap_err().to_string(),
            "invalid duration \"soon\": a unit without a number \
             (expected a number with a unit d, h, m or s, like 8760h or 1h30m)"
        );
    }

    #[test]
    fn formats_back_to_a_parsable_text() {
        for text in ["8760h", "1h30m", "45s", "90d", "0s", "1h1m1s"] {
            let duration = parse(text).unwrap();
            assert_eq!(parse(&format(duration)), Ok(duration), "{text}");
        }
        assert_eq!(format(Duration::days(1)), "24h");
    }
}
