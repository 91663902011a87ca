//! Rule expressions and trainable masks for the Taylor rule (docs/model.md §2.1).
//!
//! An expression writes the coefficients `θ_abcd` of
//! `g_θ(x, y, w, r) = Σ θ_abcd x^a y^b w^c r^d` as a polynomial:
//! `"x*y - y^2*w"` (Oja: `θ_{xy} = 1`, `θ_{y²w} = -1`) or `"x*r - 0.05*w"`.
//!
//! Grammar (whitespace allowed anywhere):
//!
//! ```text
//! expression := ['+' | '-'] product (('+' | '-') product)*
//! product    := factor ('*' factor)*
//! factor     := number | variable ['^' ('0' | '1' | '2')]
//! number     := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]   (or '.' digits ...)
//! ```
//!
//! Numeric factors multiply, repeated variables add their exponents (`x*x = x^2`, each
//! total at most 2) and products with the same monomial add up; a product without a
//! variable is the constant term `1`.

use super::terms::{all_terms, parse_product, tokenize, Term, TokenKind, Variables};
use crate::error::Error;

/// Parse an expression such as `"x*y - y^2*w"`, `"x*r - 0.05*w"` or
/// `"-0.5 * x^2 + 2e-3*y*w*r - 1"` into the coefficient vector `θ` of length
/// `variables.n_terms()`, in index order (`θ[a·9 + b·3 + c]` is the coefficient of
/// `x^a y^b w^c` over `(x, y, w)`, `θ[a·27 + b·9 + c·3 + d]` that of `x^a y^b w^c r^d`
/// over `(x, y, w, r)`).
///
/// Errors ([`Error::Expression`], quoting the text) say what is wrong and at which
/// (character) position: an empty expression, an unexpected character or token, a
/// missing term after an operator, a variable that is not one of the rule's, an
/// exponent above 2 (also through repetition, `x*x*x`), or a number or coefficient that
/// is not finite (`1e999`). No input makes it panic.
pub fn parse_expression(text: &str, variables: Variables) -> crate::Result<Vec<f64>> {
    let tokens = tokenize(text, variables)?;
    if tokens.is_empty() {
        return Err(Error::expression(text, "empty expression"));
    }
    let mut coefficients = vec![0.0f64; variables.n_terms()];
    let mut position = 0usize;
    let mut sign = 1.0f64;
    let mut operator = None;
    if let Some(first) = tokens.first() {
        match first.kind {
            TokenKind::Plus => {
                operator = Some(first);
                position = 1;
            }
            TokenKind::Minus => {
                sign = -1.0;
                operator = Some(first);
                position = 1;
            }
            _ => {}
        }
    }
    loop {
        let start = tokens.get(position).map_or(0, |t| t.position);
        let product = parse_product(text, &tokens, &mut position, operator)?;
        let index = product.term.index(variables).ok_or_else(|| {
            // Unreachable in practice: the scanner only admits the rule's variables and
            // `parse_product` caps exponents at 2.
            Error::expression(
                text,
                format!(
                    "the term at position {start} ({}) is not part of a rule over ({})",
                    product.term,
                    variables.describe()
                ),
            )
        })?;
        let total = coefficients[index] + sign * product.coefficient;
        if !total.is_finite() {
            return Err(Error::expression(
                text,
                format!(
                    "the coefficient of '{}' overflows at the term at position {start}",
                    product.term
                ),
            ));
        }
        coefficients[index] = total;
        let Some(next) = tokens.get(position) else {
            break;
        };
        match next.kind {
            TokenKind::Plus => sign = 1.0,
            TokenKind::Minus => sign = -1.0,
            _ => {
                return Err(Error::expression(
                    text,
                    format!(
                        "unexpected '{}' at position {} (expected '*', '+', '-' or the end of \
                         the expression)",
                        next.text, next.position
                    ),
                ))
            }
        }
        operator = Some(next);
        position += 1;
    }
    Ok(coefficients)
}

/// Write coefficients `θ` (index order, length `variables.n_terms()`) as an expression.
///
/// Terms come in descending index order (highest powers of `x` first, the constant
/// last, as in `"x*y - y^2*w"`, `"x*r - 0.05*w"`, `"-0.5*x^2 + 0.002*y*w*r - 1"`) and
/// zeros are omitted; a coefficient of `1` or `-1` is written as the bare term, any
/// other as `"0.05*w"`, with Rust's
/// shortest round-trip float formatting (`{}`), so that
/// `parse_expression(&format_expression(θ, v), v) == θ` exactly for finite `θ`. The
/// constant term is written as its value alone (`"1"`, `"x - 0.5"`).
/// All zeros give `"0"`. Coefficients beyond `variables.n_terms()` are ignored;
/// non-finite ones are written as `inf` / `NaN`, which do not parse back.
pub fn format_expression(coefficients: &[f64], variables: Variables) -> String {
    let mut out = String::new();
    let pairs = all_terms(variables).into_iter().zip(coefficients.iter());
    for (term, &value) in pairs.rev() {
        if value == 0.0 {
            continue;
        }
        let negative = value.is_sign_negative();
        let magnitude = value.abs();
        if out.is_empty() {
            if negative {
                out.push('-');
            }
        } else {
            out.push_str(if negative { " - " } else { " + " });
        }
        let constant = term.degree() == 0;
        if constant {
            out.push_str(&format!("{magnitude}"));
        } else if magnitude == 1.0 {
            out.push_str(&term.name());
        } else {
            out.push_str(&format!("{magnitude}*{}", term.name()));
        }
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// Which Taylor coefficients are trainable; the others stay exactly 0 (docs/model.md §2.1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TrainableSpec {
    /// Every coefficient.
    All,
    /// The listed terms (canonical or any accepted term names, see [`Term::parse`]).
    Terms(Vec<String>),
    /// Every term `x^a y^b w^c r^d` whose variables (those with a non-zero exponent)
    /// are all in the set, including the constant `1`.
    Variables(Vec<char>),
    /// Every term of total degree `a + b + c + d` at most this.
    MaxDegree(u32),
}

/// The syntax reminder used in `TrainableSpec` errors.
const TRAINABLE_SYNTAX: &str = "expected 'all', a comma-separated term list such as \
                                'x*y,y^2*w', 'vars:x,y' or 'degree:2'";

impl TrainableSpec {
    /// Parse the command-line / configuration syntax:
    ///
    /// - `"all"`: [`TrainableSpec::All`];
    /// - `"vars:x,y"`: [`TrainableSpec::Variables`], every term whose variables lie
    ///   within the set (including `1`);
    /// - `"degree:2"`: [`TrainableSpec::MaxDegree`], total degree `≤ 2`;
    /// - otherwise a comma-separated term list `"x*y,y^2*w"` or `"1,x,r,x*r,w"`:
    ///   [`TrainableSpec::Terms`], stored as canonical names.
    ///
    /// Term names are checked against `(x, y, w, r)` here and against the rule's own
    /// variables by [`TrainableSpec::mask`]. Errors are [`Error::Config`] for the key
    /// `trainable`.
    pub fn parse(text: &str) -> crate::Result<TrainableSpec> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(config(format!("empty value; {TRAINABLE_SYNTAX}")));
        }
        if trimmed.eq_ignore_ascii_case("all") {
            return Ok(TrainableSpec::All);
        }
        if let Some(rest) = trimmed.strip_prefix("vars:") {
            let mut symbols = Vec::new();
            for item in rest.split(',') {
                let item = item.trim();
                let mut chars = item.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if Variables::Xywr.symbols().contains(&c) => {
                        if !symbols.contains(&c) {
                            symbols.push(c);
                        }
                    }
                    _ => {
                        return Err(config(format!(
                            "'{trimmed}': '{item}' is not a variable; 'vars:' takes a \
                             comma-separated list of x, y, w, r"
                        )))
                    }
                }
            }
            return Ok(TrainableSpec::Variables(symbols));
        }
        if let Some(rest) = trimmed.strip_prefix("degree:") {
            let rest = rest.trim();
            return rest
                .parse::<u32>()
                .map(TrainableSpec::MaxDegree)
                .map_err(|_| {
                    config(format!(
                        "'{trimmed}': '{rest}' is not a non-negative integer degree"
                    ))
                });
        }
        let mut names = Vec::new();
        for item in trimmed.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(config(format!(
                    "'{trimmed}': empty term in the list; {TRAINABLE_SYNTAX}"
                )));
            }
            let term = Term::parse(item, Variables::Xywr)
                .map_err(|error| config(format!("term '{item}': {}", describe(&error))))?;
            names.push(term.name());
        }
        Ok(TrainableSpec::Terms(names))
    }

    /// The mask over the rule's `variables.n_terms()` coefficients, in index order
    /// (`true` = trainable). Errors ([`Error::Config`] for `trainable`) name a listed
    /// term that does not parse or is not part of the rule, or a variable the rule does
    /// not have (such as `r` without reward).
    pub fn mask(&self, variables: Variables) -> crate::Result<Vec<bool>> {
        let terms = all_terms(variables);
        match self {
            TrainableSpec::All => Ok(vec![true; terms.len()]),
            TrainableSpec::Terms(names) => {
                let mut mask = vec![false; terms.len()];
                for name in names {
                    let term = Term::parse(name, variables)
                        .map_err(|error| config(format!("term '{name}': {}", describe(&error))))?;
                    let index = term.index(variables).ok_or_else(|| {
                        config(format!(
                            "term '{name}' is not part of a rule over ({})",
                            variables.describe()
                        ))
                    })?;
                    mask[index] = true;
                }
                Ok(mask)
            }
            TrainableSpec::Variables(set) => {
                for &c in set {
                    if !variables.symbols().contains(&c) {
                        return Err(config(format!(
                            "variable '{c}' is not one of this rule's variables ({})",
                            variables.describe()
                        )));
                    }
                }
                Ok(terms
                    .iter()
                    .map(|term| {
                        term.exponents
                            .iter()
                            .zip(variables.symbols())
                            .all(|(&e, c)| e == 0 || set.contains(c))
                    })
                    .collect())
            }
            TrainableSpec::MaxDegree(degree) => {
                Ok(terms.iter().map(|term| term.degree() <= *degree).collect())
            }
        }
    }
}

/// A configuration error for the key `trainable`.
fn config(message: String) -> Error {
    Error::config("trainable", message)
}

/// The message of an expression error without the quoted text.
fn describe(error: &Error) -> String {
    match error {
        Error::Expression { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: [Variables; 2] = [Variables::Xyw, Variables::Xywr];

    fn index(name: &str, variables: Variables) -> usize {
        Term::parse(name, variables)
            .expect("test fixture")
            .index(variables)
            .expect("test fixture")
    }

    #[test]
    fn oja() {
        let c = parse_expression("x*y - y^2*w", Variables::Xyw).expect("test fixture");
        assert_eq!(c.len(), 27);
        for (k, &v) in c.iter().enumerate() {
            let expected = match k {
                12 => 1.0,
                7 => -1.0,
                _ => 0.0,
            };
            assert_eq!(v, expected, "index {k}");
        }
        assert_eq!(format_expression(&c, Variables::Xyw), "x*y - y^2*w");
    }

    #[test]
    fn reward_covariance() {
        let v = Variables::Xywr;
        let c = parse_expression("x*r - 0.05*w", v).expect("test fixture");
        assert_eq!(c.len(), 81);
        let xr = index("x*r", v);
        let w = index("w", v);
        assert_eq!((xr, w), (28, 3));
        for (k, &value) in c.iter().enumerate() {
            let expected = if k == xr {
                1.0
            } else if k == w {
                -0.05
            } else {
                0.0
            };
            assert_eq!(value, expected, "index {k}");
        }
        assert_eq!(format_expression(&c, v), "x*r - 0.05*w");
        let c = parse_expression("-0.5 * x^2 + 2e-3*y*w*r - 1", v).expect("test fixture");
        assert_eq!(format_expression(&c, v), "-0.5*x^2 + 0.002*y*w*r - 1");
    }

    #[test]
    fn numbers_signs_and_combining() {
        let v = Variables::Xywr;
        let c = parse_expression("-0.5 * x^2 + 2e-3*y*w*r - 1", v).expect("test fixture");
        assert_eq!(c[index("x^2", v)], -0.5);
        assert_eq!(c[index("y*w*r", v)], 2e-3);
        assert_eq!(c[0], -1.0);
        assert_eq!(c.iter().filter(|&&x| x != 0.0).count(), 3);

        let c = parse_expression("x*x + 2*3*x^2 - .5*w*y*y + 2.5E+2 + 1 + y^0", v)
            .expect("test fixture");
        assert_eq!(c[index("x^2", v)], 7.0);
        assert_eq!(c[index("y^2*w", v)], -0.5);
        assert_eq!(c[0], 252.0);

        let c = parse_expression("+x - x", Variables::Xyw).expect("test fixture");
        assert!(c.iter().all(|&x| x == 0.0));
        assert_eq!(format_expression(&c, Variables::Xyw), "0");
        let c = parse_expression("5", Variables::Xyw).expect("test fixture");
        assert_eq!(c[0], 5.0);
        assert_eq!(format_expression(&c, Variables::Xyw), "5");
        let c = parse_expression("-1 + x - 3", Variables::Xyw).expect("test fixture");
        assert_eq!(format_expression(&c, Variables::Xyw), "x - 4");
    }

    /// Deterministic LCG (Knuth's MMIX constants).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }
        fn uniform(&mut self) -> f64 {
            self.next() as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn format_parse_round_trip() {
        let mut rng = Lcg(12345);
        for variables in BOTH {
            for trial in 0..500 {
                let c: Vec<f64> = (0..variables.n_terms())
                    .map(|_| {
                        let u = rng.uniform();
                        match rng.next() % 8 {
                            0 | 1 => 0.0,
                            2 => 1.0,
                            3 => -1.0,
                            4 => (u - 0.5) * 1e-6,
                            5 => f64::from_bits(rng.next() << 11 | 1) % 1e10,
                            6 => (u - 0.5) * 10f64.powi((rng.next() % 600) as i32 - 300),
                            _ => u * 2.0 - 1.0,
                        }
                    })
                    .map(|x: f64| if x.is_finite() { x } else { 0.5 })
                    .collect();
                let text = format_expression(&c, variables);
                let back = parse_expression(&text, variables)
                    .unwrap_or_else(|e| panic!("trial {trial}: {text}: {e}"));
                for (k, (&a, &b)) in c.iter().zip(back.iter()).enumerate() {
                    assert_eq!(a, b, "trial {trial} index {k}: {text}");
                }
            }
        }
        let extremes = [f64::MAX, -f64::MAX, f64::MIN_POSITIVE, 5e-324, -1e-300, 0.1];
        let mut c = vec![0.0; 81];
        for (k, &x) in extremes.iter().enumerate() {
            c[k * 13] = x;
        }
        let text = format_expression(&c, Variables::Xywr);
        assert_eq!(
            parse_expression(&text, Variables::Xywr).expect("test fixture"),
            c
        );
    }

    fn message(result: crate::Result<Vec<f64>>) -> String {
        match result {
            Err(Error::Expression { message, .. }) => message,
            other => panic!("expected an expression error, got {other:?}"),
        }
    }

    #[test]
    fn errors() {
        let v = Variables::Xyw;
        let m = message(parse_expression("x*y / w", v));
        assert!(m.contains("unexpected '/' at position 4"), "{m}");
        let m = message(parse_expression("z*x", v));
        assert!(
            m.contains("unknown variable 'z' at position 0 (this rule's variables are x, y, w)"),
            "{m}"
        );
        let m = message(parse_expression("x*r", v));
        assert!(m.contains("unknown variable 'r' at position 2"), "{m}");
        let m = message(parse_expression("x*y - ", v));
        assert!(m.contains("expected a term after '-' at position 4"), "{m}");
        let m = message(parse_expression("", v));
        assert!(m.contains("empty expression"), "{m}");
        let m = message(parse_expression("  \t ", v));
        assert!(m.contains("empty expression"), "{m}");
        let m = message(parse_expression("1e999*x", v));
        assert!(m.contains("not finite"), "{m}");
        let m = message(parse_expression("x^3", v));
        assert!(m.contains("truncated at power 2"), "{m}");
        let m = message(parse_expression("x*x^2", v));
        assert!(m.contains("truncated at power 2"), "{m}");
        let m = message(parse_expression("1e200*1e200*x", v));
        assert!(m.contains("overflows"), "{m}");
        let m = message(parse_expression("1e308 + 1e308", v));
        assert!(m.contains("overflows"), "{m}");
        for bad in [
            "^",
            "x^",
            "x^^2",
            "**",
            "*",
            "+",
            "-",
            "--x",
            "x+",
            "x*",
            "x**y",
            "2x",
            "x y",
            "x^2^2",
            "x^1.5",
            "x^-1",
            "x^99999999999999999999",
            ".",
            "1.2.3",
            "é",
            "x*ü",
            "x + 1e",
            "(x)",
            "x,y",
            "∞",
            "NaN",
            "inf",
            "x^e",
            "1e",
            "e",
        ] {
            let result = parse_expression(bad, v);
            assert!(result.is_err(), "{bad} -> {result:?}");
        }
    }

    #[test]
    fn no_panic_on_short_strings() {
        let alphabet: Vec<char> = "xywr0123456789.^*+- e".chars().collect();
        let n = alphabet.len();
        let mut text = String::new();
        for length in 1..=4u32 {
            for mut code in 0..n.pow(length) {
                text.clear();
                for _ in 0..length {
                    text.push(alphabet[code % n]);
                    code /= n;
                }
                for variables in BOTH {
                    if let Ok(c) = parse_expression(&text, variables) {
                        assert_eq!(c.len(), variables.n_terms());
                        assert!(c.iter().all(|x| x.is_finite()), "{text}");
                        let back = parse_expression(&format_expression(&c, variables), variables)
                            .expect("test fixture");
                        assert_eq!(back, c, "{text}");
                    }
                    let _ = Term::parse(&text, variables);
                }
            }
        }
        // Random longer strings, with some unicode.
        let wide: Vec<char> = "xywr0123456789.^*+- eEé∞/()z\t".chars().collect();
        let mut rng = Lcg(7);
        for _ in 0..50_000 {
            let length = (rng.next() % 16) as usize;
            let text: String = (0..length)
                .map(|_| wide[(rng.next() % wide.len() as u64) as usize])
                .collect();
            for variables in BOTH {
                let _ = parse_expression(&text, variables);
                let _ = Term::parse(&text, variables);
            }
        }
    }

    fn count(mask: &[bool]) -> usize {
        mask.iter().filter(|&&b| b).count()
    }

    #[test]
    fn masks() {
        let xyw = Variables::Xyw;
        let xywr = Variables::Xywr;
        let all = TrainableSpec::parse("all").expect("test fixture");
        assert_eq!(all, TrainableSpec::All);
        assert_eq!(all.mask(xyw).expect("test fixture"), vec![true; 27]);
        assert_eq!(all.mask(xywr).expect("test fixture"), vec![true; 81]);

        let list = TrainableSpec::parse("x*y, w*y^2").expect("test fixture");
        assert_eq!(
            list,
            TrainableSpec::Terms(vec!["x*y".to_string(), "y^2*w".to_string()])
        );
        let mask = list.mask(xyw).expect("test fixture");
        assert_eq!(count(&mask), 2);
        assert!(mask[12] && mask[7]);

        let list = TrainableSpec::parse("1,x,r,x*r,w").expect("test fixture");
        let mask = list.mask(xywr).expect("test fixture");
        assert_eq!(count(&mask), 5);
        for name in ["1", "x", "r", "x*r", "w"] {
            assert!(mask[index(name, xywr)], "{name}");
        }
        let err = list.mask(xyw).unwrap_err().to_string();
        assert!(err.contains("'r'") && err.contains("trainable"), "{err}");

        let vars = TrainableSpec::parse("vars:x,r").expect("test fixture");
        assert_eq!(vars, TrainableSpec::Variables(vec!['x', 'r']));
        let mask = vars.mask(xywr).expect("test fixture");
        assert_eq!(count(&mask), 9);
        for (k, term) in all_terms(xywr).into_iter().enumerate() {
            let expected = term.exponents[1] == 0 && term.exponents[2] == 0;
            assert_eq!(mask[k], expected, "{term}");
        }
        assert!(vars.mask(xyw).is_err());
        assert_eq!(
            count(
                &TrainableSpec::parse("vars: x , y")
                    .expect("test fixture")
                    .mask(xyw)
                    .expect("test fixture")
            ),
            9
        );

        let degree = TrainableSpec::parse("degree:1").expect("test fixture");
        assert_eq!(degree, TrainableSpec::MaxDegree(1));
        let mask = degree.mask(xyw).expect("test fixture");
        assert_eq!(count(&mask), 4);
        for name in ["1", "x", "y", "w"] {
            assert!(mask[index(name, xyw)], "{name}");
        }
        let degree2 = TrainableSpec::parse("degree:2")
            .expect("test fixture")
            .mask(xyw)
            .expect("test fixture");
        assert_eq!(count(&degree2), 1 + 3 + 6);

        let err = TrainableSpec::parse("x*y,z*x").unwrap_err();
        assert!(matches!(err, Error::Config { .. }));
        assert!(err.to_string().contains("z*x"), "{err}");
        let err = TrainableSpec::Terms(vec!["x*q".to_string()])
            .mask(xyw)
            .unwrap_err();
        assert!(err.to_string().contains("x*q"), "{err}");
        for bad in [
            "",
            "  ",
            "x*y,,w",
            "vars:",
            "vars:q",
            "vars:xy",
            "degree:",
            "degree:-1",
            "degree:x",
            "x^3",
            "2*x",
            "x+y",
        ] {
            let result = TrainableSpec::parse(bad);
            assert!(
                matches!(result, Err(Error::Config { .. })),
                "{bad} -> {result:?}"
            );
        }
    }
}
