//! The monomials of the truncated Taylor rule (docs/model.md §2.1).
//!
//! The rule is
//!
//! ```text
//! g_θ(x, y, w, r) = Σ_{a,b,c,d ∈ {0,1,2}} θ_abcd · x^a · y^b · w^c · r^d
//! ```
//!
//! with `x` the presynaptic activity, `y` the postsynaptic activity, `w` the weight and
//! `r` the reward. Rules without reward (neural-activity experiments) are over
//! `(x, y, w)` only. The index order is always `(x, y, w, r)`: the coefficient of
//! `x^a y^b w^c r^d` sits at `a·27 + b·9 + c·3 + d` over four variables (81 terms) and
//! at `a·9 + b·3 + c` over three (27 terms).
//!
//! This module also holds the scanner shared by term names and rule expressions
//! (see [`super::expression`]).

use std::fmt;

use crate::error::Error;

/// The variables a Taylor rule is a polynomial in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variables {
    /// `(x, y, w)`: presynaptic activity, postsynaptic activity, weight; `3³ = 27` terms.
    Xyw,
    /// `(x, y, w, r)`: the same plus the reward `r`; `3⁴ = 81` terms.
    Xywr,
}

/// All four symbols in index order.
const ALL_SYMBOLS: [char; 4] = ['x', 'y', 'w', 'r'];

impl Variables {
    /// Number of variables: 3 for `(x, y, w)`, 4 for `(x, y, w, r)`.
    pub fn count(self) -> usize {
        match self {
            Variables::Xyw => 3,
            Variables::Xywr => 4,
        }
    }

    /// Number of Taylor terms, `3^count`: 27 or 81.
    pub fn n_terms(self) -> usize {
        match self {
            Variables::Xyw => 27,
            Variables::Xywr => 81,
        }
    }

    /// The variable symbols in index order: `['x', 'y', 'w']` or `['x', 'y', 'w', 'r']`.
    pub fn symbols(self) -> &'static [char] {
        &ALL_SYMBOLS[..self.count()]
    }

    /// The symbols as a human-readable list, `"x, y, w"`, for error messages.
    pub(crate) fn describe(self) -> String {
        let names: Vec<String> = self.symbols().iter().map(|c| c.to_string()).collect();
        names.join(", ")
    }
}

/// A monomial `x^a y^b w^c r^d` with each exponent in `0..=2`.
///
/// The exponents are stored in the order `(x, y, w, r)`; a rule over `(x, y, w)` only
/// uses terms with `d = 0`. Terms order lexicographically by exponents, which is the
/// index order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    /// The exponents `[a, b, c, d]` of `x`, `y`, `w` and `r`.
    pub exponents: [u8; 4],
}

impl Term {
    /// The monomial `x^x · y^y · w^w · r^r` (arguments are exponents).
    pub const fn new(x: u8, y: u8, w: u8, r: u8) -> Term {
        Term {
            exponents: [x, y, w, r],
        }
    }

    /// The flat coefficient index of `x^a y^b w^c r^d`: `a·27 + b·9 + c·3 + d` over
    /// `(x, y, w, r)`, `a·9 + b·3 + c` over `(x, y, w)`.
    ///
    /// `None` when the term is not part of the rule: an exponent above 2, or `d > 0`
    /// for a rule without reward.
    pub fn index(self, variables: Variables) -> Option<usize> {
        if self.exponents.iter().any(|&e| e > 2) {
            return None;
        }
        if variables == Variables::Xyw && self.exponents[3] > 0 {
            return None;
        }
        let index = self.exponents[..variables.count()]
            .iter()
            .fold(0usize, |acc, &e| acc * 3 + usize::from(e));
        Some(index)
    }

    /// The term at flat coefficient `index` (the inverse of [`Term::index`]): the
    /// base-3 digits of `index`, most significant first, are the exponents in the order
    /// `(x, y, w, r)`.
    ///
    /// # Panics
    ///
    /// If `index >= variables.n_terms()`.
    pub fn from_index(index: usize, variables: Variables) -> Term {
        assert!(
            index < variables.n_terms(),
            "term index {index} out of range: a rule over ({}) has {} terms",
            variables.describe(),
            variables.n_terms()
        );
        let mut exponents = [0u8; 4];
        let mut rest = index;
        for slot in (0..variables.count()).rev() {
            // `rest % 3 < 3` always fits in a u8.
            exponents[slot] = (rest % 3) as u8;
            rest /= 3;
        }
        Term { exponents }
    }

    /// The total degree `a + b + c + d`.
    pub fn degree(self) -> u32 {
        self.exponents.iter().map(|&e| u32::from(e)).sum()
    }

    /// Canonical name: `"1"`, `"x"`, `"y^2"`, `"x*y"`, `"y^2*w"`, `"x*r"`,
    /// `"x^2*y*w*r^2"`: the variables with a non-zero exponent in the order
    /// `x, y, w, r`, joined by `*`, the exponent shown only when it is above 1; `"1"`
    /// for the constant term.
    pub fn name(self) -> String {
        let mut factors = Vec::new();
        for (&symbol, &exponent) in ALL_SYMBOLS.iter().zip(self.exponents.iter()) {
            match exponent {
                0 => {}
                1 => factors.push(symbol.to_string()),
                e => factors.push(format!("{symbol}^{e}")),
            }
        }
        if factors.is_empty() {
            "1".to_string()
        } else {
            factors.join("*")
        }
    }

    /// Parse a term name.
    ///
    /// Factors may come in any order and repeat (`"w*y^2"`, `"y*y*w"` and `"y^2*w"` are
    /// the same term, repeated variables adding their exponents), a factor `1` is
    /// allowed (`"x*1"`, `"1"`), and whitespace is ignored. Errors
    /// ([`Error::Expression`]) on empty text, syntax errors, a numeric factor other
    /// than 1, a variable that is not one of the rule's (with `Variables::Xyw`, `r` is
    /// unknown), or an exponent above 2 (the Taylor rule is truncated at power 2 per
    /// variable).
    pub fn parse(text: &str, variables: Variables) -> crate::Result<Term> {
        let tokens = tokenize(text, variables)?;
        if tokens.is_empty() {
            return Err(Error::expression(text, "empty term name"));
        }
        let mut position = 0;
        let product = parse_product(text, &tokens, &mut position, None)?;
        if let Some(token) = tokens.get(position) {
            return Err(Error::expression(
                text,
                format!(
                    "unexpected '{}' at position {} (a term name is a product of variables \
                     such as 'y^2*w')",
                    token.text, token.position
                ),
            ));
        }
        if let Some((value, at)) = product.first_non_unit_number {
            return Err(Error::expression(
                text,
                format!(
                    "a term name cannot have a coefficient: found the number {value} at \
                     position {at}"
                ),
            ));
        }
        Ok(product.term)
    }
}

impl fmt::Display for Term {
    /// Writes the canonical name (see [`Term::name`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Canonical names of all `variables.n_terms()` terms, in index order.
pub fn term_names(variables: Variables) -> Vec<String> {
    all_terms(variables).into_iter().map(Term::name).collect()
}

/// All `variables.n_terms()` terms, in index order (`Term::from_index(k)` at `k`).
pub fn all_terms(variables: Variables) -> Vec<Term> {
    (0..variables.n_terms())
        .map(|index| Term::from_index(index, variables))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Scanner shared with `expression.rs`.
// ---------------------------------------------------------------------------------------

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind {
    /// A finite non-negative number; `integer` when written with digits only.
    Number { value: f64, integer: bool },
    /// A variable, by its slot in `(x, y, w, r)`.
    Variable(usize),
    /// `^`
    Caret,
    /// `*`
    Star,
    /// `+`
    Plus,
    /// `-`
    Minus,
}

/// A token with its source text and the (character) position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) text: String,
    pub(crate) position: usize,
}

/// Split `text` into tokens; positions count characters from 0. Errors on characters
/// outside the grammar, on letters that are not one of the rule's variables and on
/// numbers that are not finite.
pub(crate) fn tokenize(text: &str, variables: Variables) -> crate::Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let simple = match c {
            '^' => Some(TokenKind::Caret),
            '*' => Some(TokenKind::Star),
            '+' => Some(TokenKind::Plus),
            '-' => Some(TokenKind::Minus),
            _ => None,
        };
        if let Some(kind) = simple {
            tokens.push(Token {
                kind,
                text: c.to_string(),
                position: i,
            });
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let start = i;
            let mut digits = 0usize;
            let mut integer = true;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
                digits += 1;
            }
            if i < chars.len() && chars[i] == '.' {
                integer = false;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                    digits += 1;
                }
            }
            if digits == 0 {
                return Err(Error::expression(
                    text,
                    format!("unexpected '.' at position {start} (a number needs digits)"),
                ));
            }
            // Exponent part, only when it is complete: `e`, optional sign, digits.
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    integer = false;
                    i = j;
                }
            }
            let literal: String = chars[start..i].iter().collect();
            let value: f64 = literal.parse().map_err(|_| {
                Error::expression(
                    text,
                    format!("invalid number '{literal}' at position {start}"),
                )
            })?;
            if !value.is_finite() {
                return Err(Error::expression(
                    text,
                    format!("number '{literal}' at position {start} is not finite (overflow)"),
                ));
            }
            tokens.push(Token {
                kind: TokenKind::Number { value, integer },
                text: literal,
                position: start,
            });
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            return match variables.symbols().iter().position(|&s| s == c) {
                Some(slot) => {
                    tokens.push(Token {
                        kind: TokenKind::Variable(slot),
                        text: c.to_string(),
                        position: i,
                    });
                    i += 1;
                    continue;
                }
                None => Err(Error::expression(
                    text,
                    format!(
                        "unknown variable '{c}' at position {i} (this rule's variables are {})",
                        variables.describe()
                    ),
                )),
            };
        }
        return Err(Error::expression(
            text,
            format!("unexpected '{}' at position {i}", c.escape_debug()),
        ));
    }
    Ok(tokens)
}

/// One parsed product of factors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Product {
    /// The product of the numeric factors (1 when there are none).
    pub(crate) coefficient: f64,
    /// The monomial (exponents summed over repeated variables, each at most 2).
    pub(crate) term: Term,
    /// The first numeric factor that is not exactly 1, with its position.
    pub(crate) first_non_unit_number: Option<(f64, usize)>,
}

/// Parse `factor ('*' factor)*` starting at `tokens[*position]`, leaving `*position`
/// on the first token after the product. `after` names the operator token that
/// precedes the product (for error messages).
pub(crate) fn parse_product(
    text: &str,
    tokens: &[Token],
    position: &mut usize,
    after: Option<&Token>,
) -> crate::Result<Product> {
    let start_position = tokens.get(*position).map_or(0, |t| t.position);
    let mut coefficient = 1.0f64;
    let mut exponents = [0u32; 4];
    let mut first_non_unit_number = None;
    let mut previous = after;
    loop {
        let Some(token) = tokens.get(*position) else {
            return Err(missing_factor(text, previous, None));
        };
        match token.kind {
            TokenKind::Number { value, .. } => {
                *position += 1;
                coefficient *= value;
                if value != 1.0 && first_non_unit_number.is_none() {
                    first_non_unit_number = Some((value, token.position));
                }
            }
            TokenKind::Variable(slot) => {
                *position += 1;
                let mut exponent = 1u32;
                if let Some(caret) = tokens.get(*position).filter(|t| t.kind == TokenKind::Caret) {
                    *position += 1;
                    exponent = parse_exponent(text, tokens, position, token, caret)?;
                }
                exponents[slot] = exponents[slot].saturating_add(exponent);
            }
            _ => return Err(missing_factor(text, previous, Some(token))),
        }
        match tokens.get(*position) {
            Some(star) if star.kind == TokenKind::Star => {
                previous = Some(star);
                *position += 1;
            }
            _ => break,
        }
    }
    let mut small = [0u8; 4];
    for (slot, (&total, out)) in exponents.iter().zip(small.iter_mut()).enumerate() {
        if total > 2 {
            return Err(Error::expression(
                text,
                format!(
                    "'{}' has total exponent {total} in the term at position {start_position}: \
                     the Taylor rule is truncated at power 2 per variable",
                    ALL_SYMBOLS[slot]
                ),
            ));
        }
        // `total <= 2` fits in a u8.
        *out = total as u8;
    }
    if !coefficient.is_finite() {
        return Err(Error::expression(
            text,
            format!("the coefficient of the term at position {start_position} overflows"),
        ));
    }
    Ok(Product {
        coefficient,
        term: Term { exponents: small },
        first_non_unit_number,
    })
}

/// Parse the exponent after `variable ^` (the caret already consumed).
fn parse_exponent(
    text: &str,
    tokens: &[Token],
    position: &mut usize,
    variable: &Token,
    caret: &Token,
) -> crate::Result<u32> {
    let missing = || {
        Error::expression(
            text,
            format!(
                "expected an exponent (0, 1 or 2) after '^' at position {}",
                caret.position
            ),
        )
    };
    let Some(token) = tokens.get(*position) else {
        return Err(missing());
    };
    let TokenKind::Number { integer, .. } = token.kind else {
        return Err(missing());
    };
    if !integer {
        return Err(Error::expression(
            text,
            format!(
                "exponent '{}' of '{}' at position {} is not 0, 1 or 2",
                token.text, variable.text, token.position
            ),
        ));
    }
    *position += 1;
    // Digits only: a value that does not fit u32 is certainly above 2.
    let exponent = token.text.parse::<u32>().unwrap_or(u32::MAX);
    if exponent > 2 {
        return Err(Error::expression(
            text,
            format!(
                "exponent {} of '{}' at position {} is above 2: the Taylor rule is truncated \
                 at power 2 per variable",
                token.text, variable.text, token.position
            ),
        ));
    }
    Ok(exponent)
}

/// The error for a factor that is missing after `previous` (or at the start), where
/// `found` is the token found instead (none at the end of the text).
fn missing_factor(text: &str, previous: Option<&Token>, found: Option<&Token>) -> Error {
    let what = match previous {
        Some(op) if op.kind == TokenKind::Star => {
            format!("expected a factor after '*' at position {}", op.position)
        }
        Some(op) => format!(
            "expected a term after '{}' at position {}",
            op.text, op.position
        ),
        None => "expected a term".to_string(),
    };
    let message = match found {
        Some(token) => format!(
            "{what}, found '{}' at position {}",
            token.text, token.position
        ),
        None => format!("{what}, found the end of the text"),
    };
    Error::expression(text, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Variables; 2] = [Variables::Xyw, Variables::Xywr];

    #[test]
    fn counts_and_symbols() {
        assert_eq!(Variables::Xyw.count(), 3);
        assert_eq!(Variables::Xywr.count(), 4);
        assert_eq!(Variables::Xyw.n_terms(), 27);
        assert_eq!(Variables::Xywr.n_terms(), 81);
        assert_eq!(Variables::Xyw.symbols(), &['x', 'y', 'w']);
        assert_eq!(Variables::Xywr.symbols(), &['x', 'y', 'w', 'r']);
    }

    #[test]
    fn index_formula_and_round_trip() {
        for variables in BOTH {
            for (k, term) in all_terms(variables).into_iter().enumerate() {
                let [a, b, c, d] = term.exponents.map(usize::from);
                let expected = match variables {
                    Variables::Xyw => a * 9 + b * 3 + c,
                    Variables::Xywr => a * 27 + b * 9 + c * 3 + d,
                };
                assert_eq!(k, expected);
                assert_eq!(term.index(variables), Some(k));
                assert_eq!(Term::from_index(k, variables), term);
                if variables == Variables::Xyw {
                    assert_eq!(d, 0);
                }
            }
        }
        assert_eq!(Term::new(0, 0, 0, 1).index(Variables::Xyw), None);
        assert_eq!(Term::new(3, 0, 0, 0).index(Variables::Xywr), None);
        assert_eq!(Term::new(0, 0, 0, 1).index(Variables::Xywr), Some(1));
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn from_index_panics_out_of_range() {
        let _ = Term::from_index(27, Variables::Xyw);
    }

    #[test]
    fn specific_names_and_indices() {
        let xyw = Variables::Xyw;
        let xywr = Variables::Xywr;
        let check = |name: &str, variables: Variables, index: usize| {
            let term = Term::parse(name, variables).expect(name);
            assert_eq!(term.index(variables), Some(index), "{name}");
            assert_eq!(Term::from_index(index, variables).name(), name);
        };
        check("1", xyw, 0);
        check("w", xyw, 1);
        check("w^2", xyw, 2);
        check("y", xyw, 3);
        check("y^2*w", xyw, 7);
        check("x", xyw, 9);
        check("x*y", xyw, 12);
        check("x^2*y^2*w^2", xyw, 26);
        check("r", xywr, 1);
        check("x*r", xywr, 28);
        check("w", xywr, 3);
        check("x*y", xywr, 36);
        check("y^2*w", xywr, 21);
        check("x^2*y*w*r^2", xywr, 2 * 27 + 9 + 3 + 2);
        assert_eq!(Term::new(2, 1, 1, 2).to_string(), "x^2*y*w*r^2");
        assert_eq!(Term::new(0, 0, 0, 0).degree(), 0);
        assert_eq!(Term::new(2, 1, 1, 2).degree(), 6);
    }

    #[test]
    fn names_unique_and_parse_round_trip() {
        for variables in BOTH {
            let names = term_names(variables);
            assert_eq!(names.len(), variables.n_terms());
            let unique: std::collections::HashSet<&String> = names.iter().collect();
            assert_eq!(unique.len(), names.len());
            for (k, name) in names.iter().enumerate() {
                let term = Term::parse(name, variables).expect(name);
                assert_eq!(term.index(variables), Some(k));
                assert_eq!(&term.name(), name);
            }
        }
    }

    #[test]
    fn parse_accepts_variants() {
        let v = Variables::Xywr;
        let y2w = Term::new(0, 2, 1, 0);
        for text in [
            "w*y^2",
            "y*y*w",
            " y ^ 2 * w ",
            "y^2*w*1",
            "y*w*y",
            "y^2*w*x^0",
        ] {
            assert_eq!(Term::parse(text, v).expect(text), y2w, "{text}");
        }
        assert_eq!(
            Term::parse("x*1", v).expect("test fixture"),
            Term::new(1, 0, 0, 0)
        );
        assert_eq!(
            Term::parse("1", v).expect("test fixture"),
            Term::new(0, 0, 0, 0)
        );
        assert_eq!(
            Term::parse("y^0", v).expect("test fixture"),
            Term::new(0, 0, 0, 0)
        );
        assert_eq!(
            Term::parse("r*x", v).expect("test fixture"),
            Term::new(1, 0, 0, 1)
        );
    }

    fn message(result: crate::Result<Term>) -> String {
        match result {
            Err(Error::Expression { message, .. }) => message,
            other => panic!("expected an expression error, got {other:?}"),
        }
    }

    #[test]
    fn parse_errors() {
        let m = message(Term::parse("z*x", Variables::Xyw));
        assert!(m.contains("'z'") && m.contains("x, y, w"), "{m}");
        let m = message(Term::parse("x*r", Variables::Xyw));
        assert!(m.contains("'r'") && m.contains("x, y, w"), "{m}");
        let m = message(Term::parse("x^3", Variables::Xyw));
        assert!(m.contains("truncated at power 2"), "{m}");
        let m = message(Term::parse("x*x*x", Variables::Xyw));
        assert!(m.contains("truncated at power 2"), "{m}");
        let m = message(Term::parse("", Variables::Xyw));
        assert!(m.contains("empty"), "{m}");
        let m = message(Term::parse("   ", Variables::Xyw));
        assert!(m.contains("empty"), "{m}");
        for bad in [
            "x*", "*x", "x+y", "x^", "x^^2", "2*x", "x y", "x^1.5", "x/y", "-x", "é", "x^-1",
            "0.5", "1e999*x",
        ] {
            assert!(Term::parse(bad, Variables::Xywr).is_err(), "{bad}");
        }
    }
}
