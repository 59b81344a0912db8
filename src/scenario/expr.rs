//! `${…}` substitution: parameters and arithmetic inside scenario values.
//!
//! A string that is exactly one `${expr}` becomes the expression's value (a number, or a word
//! when `expr` names a word parameter). A string with `${…}` among other text has each
//! `${expr}` replaced by its value in shortest round-trip form. Arithmetic is evaluated in f64
//! by the `exmex` crate: `+ - * / ^`, parentheses, `abs sqrt sin cos tan exp ln log10`, `PI`.

use std::collections::BTreeMap;
use std::fmt;

use exmex::Express;

/// A resolved parameter value.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Number(f64),
    Word(String),
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Rust prints f64 in shortest round-trip form without exponent: 10, 0.1, -75.
            Param::Number(x) => write!(f, "{}", if *x == 0.0 { 0.0 } else { *x }),
            Param::Word(s) => f.write_str(s),
        }
    }
}

/// Names of exmex's functions and constants: they cannot be parameter names.
pub const RESERVED_NAMES: &[&str] = &[
    "abs", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cbrt", "ceil", "cos",
    "cosh", "exp", "floor", "fract", "ln", "log", "log10", "log2", "max", "min", "round", "signum",
    "sin", "sinh", "sqrt", "tan", "tanh", "trunc", "E", "PI", "TAU", "e", "pi", "tau", "π", "τ",
];

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    #[error("unknown parameter `{name}`{hint}")]
    UnknownParameter { name: String, hint: String },
    #[error("cannot evaluate `{expr}`: {message}")]
    Invalid { expr: String, message: String },
    #[error("`{expr}` evaluates to {value}, not a finite number")]
    NotFinite { expr: String, value: f64 },
    #[error("`{expr}` uses the word parameter `{name}` in arithmetic")]
    WordInArithmetic { expr: String, name: String },
    #[error("unterminated `${{` (missing `}}`)")]
    Unterminated,
    #[error("substitution makes the text more than {MAX_GROWTH_BYTES} bytes longer")]
    TooLong,
}

/// Most parameters an unknown name is compared with for a "did you mean" hint.
const MAX_HINT_NAMES: usize = 100;

/// Most bytes one substitution may add to its text (word parameters that repeat each other
/// would otherwise double the text with every level).
pub const MAX_GROWTH_BYTES: usize = 64 * 1024;

/// Whether a string contains a `${…}` substitution.
pub fn has_substitution(s: &str) -> bool {
    s.contains("${")
}

/// The expressions inside `${…}` in `s`, in order.
pub fn expressions(s: &str) -> Result<Vec<&str>, ExprError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(ExprError::Unterminated)?;
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(out)
}

/// Evaluates one expression (the text between `${` and `}`).
pub fn eval(expr: &str, params: &BTreeMap<String, Param>) -> Result<Param, ExprError> {
    let trimmed = expr.trim();
    if let Some(p) = params.get(trimmed) {
        return Ok(p.clone());
    }
    if trimmed.is_empty() {
        return Err(ExprError::Invalid {
            expr: expr.into(),
            message: "empty expression".into(),
        });
    }
    if trimmed.len() > 500 {
        return Err(ExprError::Invalid {
            expr: trimmed.chars().take(40).collect::<String>() + "…",
            message: "longer than 500 characters".into(),
        });
    }
    // exmex has been robust in fuzzing, but a parser bug must never take the harness down.
    let parsed = std::panic::catch_unwind(|| exmex::parse::<f64>(trimmed));
    let flat = match parsed {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            // An unknown name reads better as such than as a parse error.
            if let Some(name) = unknown_identifier(trimmed, params) {
                return Err(unknown(&name, params));
            }
            return Err(ExprError::Invalid {
                expr: trimmed.into(),
                message: clean_message(e.msg()),
            });
        }
        Err(_) => {
            return Err(ExprError::Invalid {
                expr: trimmed.into(),
                message: "malformed expression".into(),
            });
        }
    };
    let mut values = Vec::new();
    for name in flat.var_names() {
        match params.get(name) {
            Some(Param::Number(x)) => values.push(*x),
            Some(Param::Word(_)) => {
                return Err(ExprError::WordInArithmetic {
                    expr: trimmed.into(),
                    name: name.clone(),
                });
            }
            None => return Err(unknown(name, params)),
        }
    }
    let value = flat.eval(&values).map_err(|e| ExprError::Invalid {
        expr: trimmed.into(),
        message: clean_message(e.msg()),
    })?;
    if !value.is_finite() {
        return Err(ExprError::NotFinite {
            expr: trimmed.into(),
            value,
        });
    }
    Ok(Param::Number(value))
}

/// exmex's messages may append debug dumps of its operator tables (with function addresses);
/// keep the sentence only, so messages are readable and identical from run to run.
fn clean_message(msg: &str) -> String {
    let cut = msg.find(['{', '(']).map_or(msg, |i| &msg[..i]);
    let cut = cut.trim_end();
    let cut = cut.strip_suffix("Operator").unwrap_or(cut);
    cut.trim_end_matches(|c: char| c == ',' || c == ':' || c.is_whitespace())
        .to_string()
}

fn unknown_identifier(expr: &str, params: &BTreeMap<String, Param>) -> Option<String> {
    identifiers(expr)
        .find(|word| !params.contains_key(*word) && !RESERVED_NAMES.contains(word))
        .map(String::from)
}

/// The names in an expression, in order (numbers such as `1.5` or `1e3` are skipped).
pub fn identifiers(expr: &str) -> impl Iterator<Item = &str> {
    let mut chars = expr.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some((i, c)) = chars.next() {
            if c.is_alphabetic() || c == '_' {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                return Some(&expr[i..end]);
            } else if c.is_ascii_digit() || c == '.' {
                // Skip numbers (including exponents like 1e3).
                while chars
                    .peek()
                    .is_some_and(|&(_, d)| d.is_ascii_alphanumeric() || d == '.')
                {
                    chars.next();
                }
            }
        }
        None
    })
}

fn unknown(name: &str, params: &BTreeMap<String, Param>) -> ExprError {
    // Every unknown name against every parameter is quadratic: no hint in very large files.
    if params.len() > MAX_HINT_NAMES {
        return ExprError::UnknownParameter {
            name: name.into(),
            hint: format!("; {} parameters are defined", params.len()),
        };
    }
    let known: Vec<String> = params.keys().cloned().collect();
    let hint = match super::schema::suggest(name, &known) {
        Some(s) => format!("; did you mean `{s}`?"),
        None if known.is_empty() => "; no parameters are defined".to_string(),
        None => format!(
            "; defined: {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    ExprError::UnknownParameter {
        name: name.into(),
        hint,
    }
}

/// Substitutes every `${…}` in `s`. A string that is exactly one `${expr}` becomes its value.
pub fn substitute(s: &str, params: &BTreeMap<String, Param>) -> Result<Param, ExprError> {
    let exprs = expressions(s)?;
    if exprs.len() == 1 {
        let t = s.trim();
        if t.starts_with("${") && t.ends_with('}') && t.len() == exprs[0].len() + 3 {
            return eval(exprs[0], params);
        }
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(ExprError::Unterminated)?;
        out += &eval(&after[..end], params)?.to_string();
        if out.len() > s.len() + MAX_GROWTH_BYTES {
            return Err(ExprError::TooLong);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Param::Word(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BTreeMap<String, Param> {
        BTreeMap::from([
            ("v_kph".to_string(), Param::Number(50.0)),
            ("ttc_s".to_string(), Param::Number(4.0)),
            ("light".to_string(), Param::Word("night".into())),
        ])
    }

    #[test]
    fn arithmetic_and_words() {
        let p = params();
        assert_eq!(substitute("${v_kph}", &p), Ok(Param::Number(50.0)));
        assert_eq!(
            substitute(" ${ v_kph / 3.6 * ttc_s } ", &p),
            Ok(Param::Number(50.0 / 3.6 * 4.0))
        );
        assert_eq!(substitute("${2^3 - 1}", &p), Ok(Param::Number(7.0)));
        assert_eq!(substitute("${light}", &p), Ok(Param::Word("night".into())));
        assert_eq!(
            substitute("ccr at ${v_kph} km/h, ${light}", &p),
            Ok(Param::Word("ccr at 50 km/h, night".into()))
        );
        assert_eq!(
            substitute("${10/4}", &p),
            Ok(Param::Number(2.5)),
            "division is never integer division"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let p = params();
        assert!(matches!(
            substitute("${v_kp}", &p),
            Err(ExprError::UnknownParameter { .. })
        ));
        let e = substitute("${v_kp * 2}", &p).unwrap_err().to_string();
        assert!(e.contains("did you mean `v_kph`"), "{e}");
        assert!(matches!(
            substitute("${1/0}", &p),
            Err(ExprError::NotFinite { .. })
        ));
        assert!(matches!(
            substitute("${light * 2}", &p),
            Err(ExprError::WordInArithmetic { .. })
        ));
        assert!(matches!(
            substitute("${v_kph", &p),
            Err(ExprError::Unterminated)
        ));
        assert!(matches!(
            substitute("${}", &p),
            Err(ExprError::Invalid { .. })
        ));
        assert!(matches!(
            substitute("${3 +* }", &p),
            Err(ExprError::Invalid { .. })
        ));
    }
}
