//! Spike-timing rules: `Δw = Σ_k θ_k φ_k(s_pre, s_post, x_trace, y_trace, w, r)`, a
//! linear combination of named monomials over the variables a spiking synapse sees
//! (docs/spiking.md):
//!
//! | symbol | meaning |
//! |---|---|
//! | `s_pre` | presynaptic spike this step (0 or 1) |
//! | `s_post` | postsynaptic spike this step (0 or 1) |
//! | `x_trace` | presynaptic trace, `x̄_t = e^{−Δt/τ₊} x̄_{t−1} + s_pre,t` (this step's spike included) |
//! | `y_trace` | postsynaptic trace before this step's spike, `ȳ_t = e^{−Δt/τ₋} (ȳ_{t−1} + s_post,t−1)` |
//! | `w` | the weight |
//! | `r` | the modulatory signal |
//!
//! Spikes are binary, so `s² = s`: a term has `s_pre` and `s_post` to the power 0 or
//! 1, the other variables to 0, 1 or 2. With the trace convention above a pre and a
//! post spike in the same step count once, as potentiation: additive pair-based STDP is
//! `A₊ s_post x_trace − A₋ s_pre y_trace`. A rule lists its terms (its parameters, in
//! order); a term with `s_pre` or `s_post` acts only at that spike, so a rule whose
//! every term has one is event-driven ([`SpikeRule::event_driven`]).

use std::fmt;

use crate::{Error, Result};

/// The variables of a spike-timing rule, in the order of [`SpikeTerm::exponents`].
/// `x2_trace` and `y2_trace` are second, slower traces (triplet STDP), each with its
/// own time constant per projection.
pub const SPIKE_SYMBOLS: [&str; 8] = [
    "s_pre", "s_post", "x_trace", "y_trace", "w", "r", "x2_trace", "y2_trace",
];

/// What one synapse's rule sees at one step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SpikeVariables {
    /// Presynaptic spike (0 or 1).
    pub s_pre: f64,
    /// Postsynaptic spike (0 or 1).
    pub s_post: f64,
    /// Presynaptic trace (this step's spike included).
    pub x_trace: f64,
    /// Postsynaptic trace (this step's spike not yet included).
    pub y_trace: f64,
    /// The weight.
    pub w: f64,
    /// The modulatory signal.
    pub r: f64,
    /// Second presynaptic trace (`τ_pre2`; this step's spike included, as `x_trace`).
    pub x2_trace: f64,
    /// Second postsynaptic trace (`τ_post2`; this step's spike not yet, as `y_trace`).
    pub y2_trace: f64,
}

/// A monomial `s_pre^a s_post^b x_trace^c y_trace^d w^e r^f` with `a, b ∈ {0, 1}` and
/// the others in `0..=2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpikeTerm {
    /// Exponents in the order of [`SPIKE_SYMBOLS`].
    pub exponents: [u8; 8],
}

impl SpikeTerm {
    /// Parses a canonical or hand-written term name: `1`, `s_post*x_trace`, `w^2`,
    /// `s_pre*s_pre` (= `s_pre`, spikes are binary).
    pub fn parse(name: &str) -> Result<SpikeTerm> {
        let name = name.trim();
        let mut exponents = [0u8; 8];
        if name == "1" {
            return Ok(SpikeTerm { exponents });
        }
        for factor in name.split('*') {
            let factor = factor.trim();
            let (symbol, power) = match factor.split_once('^') {
                Some((symbol, power)) => {
                    let power: u8 = power.trim().parse().map_err(|_| {
                        Error::expression(name, format!("'{factor}': the power must be 1 or 2"))
                    })?;
                    (symbol.trim(), power)
                }
                None => (factor, 1),
            };
            let Some(slot) = SPIKE_SYMBOLS.iter().position(|s| *s == symbol) else {
                return Err(Error::expression(
                    name,
                    format!(
                        "unknown variable '{symbol}'; a spike-timing rule is over {}",
                        SPIKE_SYMBOLS.join(", ")
                    ),
                ));
            };
            exponents[slot] += power;
        }
        // spikes are binary: s^k = s
        for exponent in &mut exponents[..2] {
            *exponent = (*exponent).min(1);
        }
        if let Some(slot) = (2..8).find(|&slot| exponents[slot] > 2) {
            return Err(Error::expression(
                name,
                format!("'{}' has a power above 2", SPIKE_SYMBOLS[slot]),
            ));
        }
        Ok(SpikeTerm { exponents })
    }

    /// `φ(v)`, the monomial's value.
    #[inline]
    pub fn value(&self, v: &SpikeVariables) -> f64 {
        let [a, b, c, d, e, f, g, h] = self.exponents;
        let mut value = 1.0;
        if a > 0 {
            value *= v.s_pre;
        }
        if b > 0 {
            value *= v.s_post;
        }
        value *= power(v.x_trace, c) * power(v.y_trace, d) * power(v.w, e) * power(v.r, f);
        if g | h != 0 {
            value *= power(v.x2_trace, g) * power(v.y2_trace, h);
        }
        value
    }

    /// `∂φ/∂w`.
    #[inline]
    pub fn w_derivative(&self, v: &SpikeVariables) -> f64 {
        let e = self.exponents[4];
        if e == 0 {
            return 0.0;
        }
        let mut reduced = *self;
        reduced.exponents[4] = e - 1;
        f64::from(e) * reduced.value(v)
    }

    /// Whether the term is 0 unless the presynaptic neuron spiked this step.
    pub fn needs_pre_spike(&self) -> bool {
        self.exponents[0] > 0
    }

    /// Whether the term is 0 unless the postsynaptic neuron spiked this step.
    pub fn needs_post_spike(&self) -> bool {
        self.exponents[1] > 0
    }
}

#[inline(always)]
fn power(x: f64, k: u8) -> f64 {
    match k {
        0 => 1.0,
        1 => x,
        _ => x * x,
    }
}

impl fmt::Display for SpikeTerm {
    /// The canonical name: factors in the order of [`SPIKE_SYMBOLS`], `^2` for squares,
    /// `1` for the constant.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut factors = Vec::new();
        for (symbol, &e) in SPIKE_SYMBOLS.iter().zip(&self.exponents) {
            match e {
                0 => {}
                1 => factors.push((*symbol).to_string()),
                e => factors.push(format!("{symbol}^{e}")),
            }
        }
        if factors.is_empty() {
            write!(f, "1")
        } else {
            write!(f, "{}", factors.join("*"))
        }
    }
}

/// The ten terms of the candidate family used in docs/spiking.md: each acts at a pre
/// or a post spike, alone, with the other side's trace, and with the weight.
pub const TEN_TERMS: [&str; 10] = [
    "s_pre",
    "s_post",
    "s_post*x_trace",
    "s_pre*y_trace",
    "s_pre*w",
    "s_post*w",
    "s_post*x_trace*w",
    "s_pre*y_trace*w",
    "s_pre*s_post",
    "s_post*y_trace",
];

/// A spike-timing rule: its terms (the parameters θ, in order).
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeRule {
    terms: Vec<SpikeTerm>,
}

impl SpikeRule {
    /// A rule over these terms (duplicates refused: each term is one parameter).
    pub fn new(terms: Vec<SpikeTerm>) -> Result<SpikeRule> {
        if terms.is_empty() {
            return Err(Error::config(
                "terms",
                "a spike-timing rule needs at least one term",
            ));
        }
        for (k, term) in terms.iter().enumerate() {
            if terms[..k].contains(term) {
                return Err(Error::config(
                    "terms",
                    format!("'{term}' is listed twice (after binary spikes are reduced)"),
                ));
            }
        }
        Ok(SpikeRule { terms })
    }

    /// A rule over terms given by name (`"ten"` expands to [`TEN_TERMS`]).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<SpikeRule> {
        let mut terms = Vec::new();
        for name in names {
            if name.as_ref() == "ten" {
                for name in TEN_TERMS {
                    terms.push(SpikeTerm::parse(name)?);
                }
            } else {
                terms.push(SpikeTerm::parse(name.as_ref())?);
            }
        }
        SpikeRule::new(terms)
    }

    /// The terms, in parameter order.
    pub fn terms(&self) -> &[SpikeTerm] {
        &self.terms
    }

    /// Number of parameters (terms).
    pub fn n_parameters(&self) -> usize {
        self.terms.len()
    }

    /// The canonical term names, in parameter order.
    pub fn term_names(&self) -> Vec<String> {
        self.terms.iter().map(ToString::to_string).collect()
    }

    /// Whether every term needs a pre or a post spike, so that a synapse whose neurons
    /// are both silent this step does not change.
    pub fn event_driven(&self) -> bool {
        self.terms
            .iter()
            .all(|t| t.needs_pre_spike() || t.needs_post_spike())
    }

    /// `g_θ(v) = Σ_k θ_k φ_k(v)`.
    #[inline]
    pub fn evaluate(&self, theta: &[f64], v: &SpikeVariables) -> f64 {
        self.terms
            .iter()
            .zip(theta)
            .map(|(term, &c)| c * term.value(v))
            .sum()
    }

    /// `g_θ = Σ_k θ_k φ_k` with θ and every variable of any scalar kind (spikes may be
    /// expectations in [0, 1]); `variables` in the order of [`SPIKE_SYMBOLS`].
    #[inline]
    pub fn evaluate_generic<S: crate::scalar::Scalar>(&self, theta: &[S], variables: &[S; 8]) -> S {
        let mut total = S::zero();
        for (term, &c) in self.terms.iter().zip(theta) {
            let mut value = c;
            for (&exponent, &variable) in term.exponents.iter().zip(variables) {
                for _ in 0..exponent {
                    value *= variable;
                }
            }
            total += value;
        }
        total
    }

    /// `∂g/∂w`.
    #[inline]
    pub fn w_derivative(&self, theta: &[f64], v: &SpikeVariables) -> f64 {
        self.terms
            .iter()
            .zip(theta)
            .map(|(term, &c)| c * term.w_derivative(v))
            .sum()
    }

    /// In one pass: `φ_k(v)` into `features`, and `(g, ∂g/∂w)`.
    #[inline]
    pub fn partials(&self, theta: &[f64], v: &SpikeVariables, features: &mut [f64]) -> (f64, f64) {
        let (mut g, mut g_w) = (0.0, 0.0);
        for ((f, term), &c) in features.iter_mut().zip(&self.terms).zip(theta) {
            let [a, b, cx, dy, e, fr, gx, hy] = term.exponents;
            let mut base = 1.0;
            if a > 0 {
                base *= v.s_pre;
            }
            if b > 0 {
                base *= v.s_post;
            }
            if base == 0.0 {
                *f = 0.0;
                continue;
            }
            base *= power(v.x_trace, cx)
                * power(v.y_trace, dy)
                * power(v.r, fr)
                * power(v.x2_trace, gx)
                * power(v.y2_trace, hy);
            let (value, slope) = match e {
                0 => (base, 0.0),
                1 => (base * v.w, base),
                _ => (base * v.w * v.w, 2.0 * base * v.w),
            };
            *f = value;
            g += c * value;
            g_w += c * slope;
        }
        (g, g_w)
    }

    /// `φ_k(v)` into `features` (`∂g/∂θ_k`).
    #[inline]
    pub fn features(&self, v: &SpikeVariables, features: &mut [f64]) {
        for (f, term) in features.iter_mut().zip(&self.terms) {
            *f = term.value(v);
        }
    }

    /// θ of the rule from an expression over its terms, `"0.005*s_post*x_trace -
    /// 0.00525*s_pre*y_trace"` (each monomial must be one of the rule's terms; terms
    /// not named are 0).
    pub fn parse_theta(&self, expression: &str) -> Result<Vec<f64>> {
        let mut theta = vec![0.0; self.terms.len()];
        for (coefficient, term) in parse_spike_expression(expression)? {
            let Some(k) = self.terms.iter().position(|t| *t == term) else {
                return Err(Error::expression(
                    expression,
                    format!(
                        "'{term}' is not one of the rule's terms ({})",
                        self.term_names().join(", ")
                    ),
                ));
            };
            theta[k] += coefficient;
        }
        Ok(theta)
    }

    /// θ as an expression (`"0.005*s_post*x_trace - 0.00525*s_pre*y_trace"`).
    pub fn expression(&self, theta: &[f64]) -> String {
        let mut out = String::new();
        for (term, &c) in self.terms.iter().zip(theta) {
            if c == 0.0 {
                continue;
            }
            let sign = if c < 0.0 { "-" } else { "+" };
            if out.is_empty() {
                if c < 0.0 {
                    out.push('-');
                }
            } else {
                out.push_str(&format!(" {sign} "));
            }
            out.push_str(&format!("{}*{term}", c.abs()));
        }
        if out.is_empty() {
            out.push('0');
        }
        out
    }
}

/// The monomials of a spike-timing expression with their coefficients: a sum of
/// signed products of a number and variables (`0.005*s_post*x_trace - 0.00525*s_pre*y_trace`,
/// `-1e-3*s_pre`, `s_post*w^2`).
pub fn parse_spike_expression(expression: &str) -> Result<Vec<(f64, SpikeTerm)>> {
    let text: String = expression.chars().filter(|c| !c.is_whitespace()).collect();
    if text.is_empty() {
        return Err(Error::expression(expression, "is empty"));
    }
    // split at + and − that start a monomial (not the sign of an exponent: 1e-3)
    let mut pieces = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if (b == b'+' || b == b'-') && i > 0 {
            let before = bytes[i - 1];
            let exponent_sign = (before == b'e' || before == b'E')
                && i >= 2
                && (bytes[i - 2].is_ascii_digit() || bytes[i - 2] == b'.');
            if !exponent_sign && before != b'*' {
                pieces.push(&text[start..i]);
                start = i;
            }
        }
    }
    pieces.push(&text[start..]);
    let mut out = Vec::new();
    for piece in pieces {
        let (sign, body) = match piece.as_bytes().first() {
            Some(b'-') => (-1.0, &piece[1..]),
            Some(b'+') => (1.0, &piece[1..]),
            _ => (1.0, piece),
        };
        if body.is_empty() {
            return Err(Error::expression(
                expression,
                "a sign with no term after it",
            ));
        }
        let mut coefficient = sign;
        let mut variables = Vec::new();
        for factor in body.split('*') {
            if factor.is_empty() {
                return Err(Error::expression(
                    expression,
                    format!("empty factor in '{piece}'"),
                ));
            }
            match factor.parse::<f64>() {
                Ok(number) if number.is_finite() => coefficient *= number,
                Ok(_) => {
                    return Err(Error::expression(
                        expression,
                        format!("'{factor}' is not finite"),
                    ))
                }
                Err(_) => variables.push(factor),
            }
        }
        let term = if variables.is_empty() {
            SpikeTerm::parse("1")
        } else {
            SpikeTerm::parse(&variables.join("*"))
        }
        .map_err(|error| match error {
            Error::Expression { message, .. } => Error::expression(expression, message),
            other => other,
        })?;
        out.push((coefficient, term));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_parse_print_and_reduce_binary_spikes() {
        let term = SpikeTerm::parse("x_trace * s_post").unwrap();
        assert_eq!(term.to_string(), "s_post*x_trace");
        assert_eq!(
            SpikeTerm::parse("s_pre*s_pre").unwrap().to_string(),
            "s_pre"
        );
        assert_eq!(SpikeTerm::parse("w^2").unwrap().to_string(), "w^2");
        assert_eq!(SpikeTerm::parse("1").unwrap().to_string(), "1");
        let error = SpikeTerm::parse("s_post*z").unwrap_err().to_string();
        assert!(error.contains("unknown variable 'z'"), "{error}");
        assert!(SpikeTerm::parse("w^3").is_err());
    }

    #[test]
    fn pair_stdp_expression_round_trips() {
        let rule = SpikeRule::from_names(&["s_post*x_trace", "s_pre*y_trace"]).unwrap();
        let theta = rule
            .parse_theta("0.005*s_post*x_trace - 0.00525*s_pre*y_trace")
            .unwrap();
        assert_eq!(theta, vec![0.005, -0.00525]);
        assert_eq!(rule.parse_theta(&rule.expression(&theta)).unwrap(), theta);
        assert!(rule.event_driven());
        let error = rule.parse_theta("0.1*w").unwrap_err().to_string();
        assert!(error.contains("not one of the rule's terms"), "{error}");
        assert_eq!(parse_spike_expression("-1e-3*s_pre").unwrap()[0].0, -1e-3);
    }

    #[test]
    fn evaluation_and_derivatives_match_the_monomials() {
        let rule = SpikeRule::from_names(&["ten"]).unwrap();
        assert_eq!(rule.n_parameters(), 10);
        let theta: Vec<f64> = (0..10).map(|k| 0.1 * (k as f64 + 1.0)).collect();
        let v = SpikeVariables {
            s_pre: 1.0,
            s_post: 1.0,
            x_trace: 0.7,
            y_trace: 0.3,
            w: 0.4,
            r: 0.0,
            x2_trace: 1.1,
            y2_trace: 0.9,
        };
        let h = 1e-6;
        let plus = SpikeVariables { w: v.w + h, ..v };
        let minus = SpikeVariables { w: v.w - h, ..v };
        let fd = (rule.evaluate(&theta, &plus) - rule.evaluate(&theta, &minus)) / (2.0 * h);
        assert!((fd - rule.w_derivative(&theta, &v)).abs() < 1e-8);
        let mut features = vec![0.0; 10];
        rule.features(&v, &mut features);
        let linear: f64 = features.iter().zip(&theta).map(|(f, t)| f * t).sum();
        assert!((linear - rule.evaluate(&theta, &v)).abs() < 1e-14);
        // no spike, no change
        let silent = SpikeVariables {
            s_pre: 0.0,
            s_post: 0.0,
            ..v
        };
        assert_eq!(rule.evaluate(&theta, &silent), 0.0);
    }
}
