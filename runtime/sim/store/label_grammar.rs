//! The label selector grammar of the real server (`k8s.io/apimachinery/pkg/labels`): a
//! lexer that splits on `! != ( ) , = == < >` and whitespace, a parser that accepts only
//! whole requirements, and keys and values checked as label keys and values. Anything else
//! is refused, so that `!!a` or `a=b=c` never select more than they say.

use super::StoreError;
use super::select::LabelReq;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Not,
    NotEq,
    Eq,
    DoubleEq,
    Open,
    Close,
    Comma,
    Gt,
    Lt,
}

fn describe(t: Option<&Token>) -> String {
    match t {
        None => "end of string".into(),
        Some(Token::Ident(s)) => format!("identifier {s:?}"),
        Some(t) => format!("{t:?}"),
    }
}

fn fail(detail: impl std::fmt::Display) -> StoreError {
    StoreError::BadRequest {
        message: format!("unable to parse requirement: {detail}"),
    }
}

fn lex(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    let mut ident = String::new();
    let flush = |ident: &mut String, out: &mut Vec<Token>| {
        if !ident.is_empty() {
            out.push(Token::Ident(std::mem::take(ident)));
        }
    };
    while let Some(c) = chars.next() {
        let token = match c {
            '!' if chars.peek() == Some(&'=') => {
                chars.next();
                Some(Token::NotEq)
            }
            '!' => Some(Token::Not),
            '=' if chars.peek() == Some(&'=') => {
                chars.next();
                Some(Token::DoubleEq)
            }
            '=' => Some(Token::Eq),
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            ',' => Some(Token::Comma),
            '>' => Some(Token::Gt),
            '<' => Some(Token::Lt),
            c if c.is_whitespace() => None,
            c => {
                ident.push(c);
                continue;
            }
        };
        flush(&mut ident, &mut out);
        out.extend(token);
    }
    flush(&mut ident, &mut out);
    out
}

// A DNS-1123 label-like name part: alphanumeric ends, `-_.` inside, at most 63 characters.
fn valid_name(s: &str, extra: &[char]) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    s.len() <= 63
        && s.starts_with(ok)
        && s.ends_with(ok)
        && s.chars().all(|c| ok(c) || extra.contains(&c))
}

/// A label (or annotation) key: an optional DNS-subdomain prefix and `/`, then a name part.
pub(super) fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        p.len() <= 253
            && p.split('.')
                .all(|l| valid_name(l, &['-']) && l.chars().all(|c| !c.is_ascii_uppercase()))
    });
    prefix_ok && valid_name(name, &['-', '_', '.'])
}

pub(super) fn is_label_value(value: &str) -> bool {
    value.is_empty() || valid_name(value, &['-', '_', '.'])
}

fn check_key(key: &str) -> Result<String, StoreError> {
    if !is_label_key(key) {
        return Err(fail(format!(
            "key {key:?}: a valid label key is an optional DNS subdomain prefix and '/', and a name of at most 63 alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric"
        )));
    }
    Ok(key.to_string())
}

fn check_value(value: &str) -> Result<String, StoreError> {
    if is_label_value(value) {
        Ok(value.to_string())
    } else {
        Err(fail(format!(
            "value {value:?}: a valid label value is empty or at most 63 alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric"
        )))
    }
}

/// Parses a whole selector into its requirements.
///
/// # Errors
///
/// `BadRequest` ("unable to parse requirement: …") for anything outside the grammar.
pub(super) fn parse(s: &str) -> Result<Vec<LabelReq>, StoreError> {
    let tokens = lex(s);
    let mut pos = 0;
    let mut reqs = Vec::new();
    if tokens.is_empty() {
        return Ok(reqs);
    }
    loop {
        reqs.push(requirement(&tokens, &mut pos)?);
        match tokens.get(pos) {
            None => return Ok(reqs),
            Some(Token::Comma) => pos += 1,
            other => {
                return Err(fail(format!(
                    "found {}, expected: ',' or 'end of string'",
                    describe(other)
                )));
            }
        }
    }
}

fn ident(tokens: &[Token], pos: &mut usize, what: &str) -> Result<String, StoreError> {
    match tokens.get(*pos) {
        Some(Token::Ident(s)) => {
            *pos += 1;
            Ok(s.clone())
        }
        other => Err(fail(format!("found {}, expected: {what}", describe(other)))),
    }
}

fn requirement(tokens: &[Token], pos: &mut usize) -> Result<LabelReq, StoreError> {
    if tokens.get(*pos) == Some(&Token::Not) {
        *pos += 1;
        let key = check_key(&ident(tokens, pos, "a label key")?)?;
        return Ok(LabelReq::NotExists(key));
    }
    let key = check_key(&ident(tokens, pos, "a label key")?)?;
    let op = tokens.get(*pos).cloned();
    match op {
        None | Some(Token::Comma) => Ok(LabelReq::Exists(key)),
        Some(Token::Eq | Token::DoubleEq | Token::NotEq) => {
            *pos += 1;
            // An empty value (`a=`) is valid: it selects the empty label value.
            let value = match tokens.get(*pos) {
                Some(Token::Ident(v)) => {
                    *pos += 1;
                    check_value(v)?
                }
                _ => String::new(),
            };
            Ok(if op == Some(Token::NotEq) {
                LabelReq::NotEq(key, value)
            } else {
                LabelReq::Eq(key, value)
            })
        }
        Some(Token::Gt | Token::Lt) => {
            *pos += 1;
            let v = ident(tokens, pos, "an integer")?;
            let n: i64 = v.parse().map_err(|_| {
                fail(format!(
                    "for 'Gt', 'Lt' operators, the value must be an integer, got {v:?}"
                ))
            })?;
            Ok(if op == Some(Token::Gt) {
                LabelReq::Gt(key, n)
            } else {
                LabelReq::Lt(key, n)
            })
        }
        Some(Token::Ident(word)) if word == "in" || word == "notin" => {
            *pos += 1;
            let values = set(tokens, pos)?;
            Ok(if word == "in" {
                LabelReq::In(key, values)
            } else {
                LabelReq::NotIn(key, values)
            })
        }
        other => Err(fail(format!(
            "found {}, expected: in, notin, =, ==, !=, gt, lt",
            describe(other.as_ref())
        ))),
    }
}

fn set(tokens: &[Token], pos: &mut usize) -> Result<Vec<String>, StoreError> {
    if tokens.get(*pos) != Some(&Token::Open) {
        return Err(fail(format!(
            "found {}, expected: '('",
            describe(tokens.get(*pos))
        )));
    }
    *pos += 1;
    let mut values = Vec::new();
    loop {
        match tokens.get(*pos) {
            Some(Token::Ident(v)) => {
                values.push(check_value(v)?);
                *pos += 1;
            }
            Some(Token::Close) if !values.is_empty() => {
                *pos += 1;
                return Ok(values);
            }
            other => {
                return Err(fail(format!(
                    "found {}, expected: a value; for 'in', 'notin' operators, values set can't be empty",
                    describe(other)
                )));
            }
        }
        match tokens.get(*pos) {
            Some(Token::Comma) => *pos += 1,
            Some(Token::Close) => {}
            other => {
                return Err(fail(format!(
                    "found {}, expected: ',' or ')'",
                    describe(other)
                )));
            }
        }
    }
}
