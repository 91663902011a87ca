//! Limited-memory BFGS with a backtracking Armijo line search that treats a non-finite
//! loss or gradient as a failed trial step (halve and retry) instead of hanging on it.
//!
//! Written here rather than taken from `argmin` because its ndarray backend stops at
//! ndarray 0.16 and its More–Thuente / Hager–Zhang searches hang on NaN trial points
//! (argmin 0.11 / argmin-math 0.5: with NaN costs and gradients they never return).

/// What one iteration did.
#[derive(Clone, Debug, PartialEq)]
pub enum LbfgsStep {
    /// A step was accepted; the new loss.
    Accepted {
        /// Loss after the step.
        loss: f64,
        /// Evaluations the line search used.
        evaluations: usize,
    },
    /// No step along the search direction decreased the loss.
    LineSearchFailed {
        /// Why.
        reason: String,
        /// How many trial steps gave a non-finite loss or gradient (all of them when
        /// the rule makes the simulation overflow however small the step).
        non_finite_trials: usize,
    },
}

/// L-BFGS state: the current point, its loss and gradient, and the last `memory`
/// curvature pairs `(s, y)`.
#[derive(Clone, Debug)]
pub struct Lbfgs {
    memory: usize,
    pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)>,
    point: Vec<f64>,
    loss: f64,
    gradient: Vec<f64>,
    /// Sufficient-decrease constant `c₁` of the Armijo condition.
    pub armijo: f64,
    /// Maximum trial steps per line search.
    pub max_trials: usize,
    /// How the step length is chosen.
    pub line_search: LineSearch,
}

/// The line search of [`Lbfgs::iterate`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineSearch {
    /// Backtracking from the unit step until the Armijo condition holds.
    #[default]
    Backtracking,
    /// Bracketing and zoom until the strong Wolfe conditions hold (Nocedal & Wright,
    /// Algorithms 3.5–3.6, `c₁ = 10⁻⁴`, `c₂ = 0.9`): steps may grow beyond 1, so the
    /// curvature pairs describe the loss better on badly scaled problems. A
    /// non-finite trial counts as a step too long.
    StrongWolfe,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Lbfgs {
    /// Starts at `point` with its `loss` and `gradient` (which must be finite).
    pub fn new(memory: usize, point: Vec<f64>, loss: f64, gradient: Vec<f64>) -> Self {
        Lbfgs {
            memory: memory.max(1),
            pairs: std::collections::VecDeque::new(),
            point,
            loss,
            gradient,
            armijo: 1e-4,
            max_trials: 60,
            line_search: LineSearch::Backtracking,
        }
    }

    /// The current point.
    pub fn point(&self) -> &[f64] {
        &self.point
    }
    /// The loss at the current point.
    pub fn loss(&self) -> f64 {
        self.loss
    }
    /// The gradient at the current point.
    pub fn gradient(&self) -> &[f64] {
        &self.gradient
    }

    /// The point, its loss and gradient and the curvature pairs, for a checkpoint.
    pub fn state(&self) -> LbfgsState {
        LbfgsState {
            point: self.point.clone(),
            loss: self.loss,
            gradient: self.gradient.clone(),
            pairs: self.pairs.iter().cloned().collect(),
        }
    }

    /// L-BFGS keeping `memory` pairs, continuing from a checkpointed `state`.
    pub fn from_state(memory: usize, state: &LbfgsState) -> Self {
        let mut lbfgs = Lbfgs::new(
            memory,
            state.point.clone(),
            state.loss,
            state.gradient.clone(),
        );
        lbfgs.pairs = state.pairs.iter().cloned().collect();
        lbfgs
    }

    /// The two-loop recursion: `d = −H g`.
    fn direction(&self) -> Vec<f64> {
        let mut q: Vec<f64> = self.gradient.clone();
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y, rho) in self.pairs.iter().rev() {
            let alpha = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= alpha * yi);
            alphas.push(alpha);
        }
        let gamma = match self.pairs.back() {
            Some((s, y, _)) => dot(s, y) / dot(y, y),
            None => {
                // first step: at most unit length in the largest component
                let largest = self.gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
                if largest > 0.0 {
                    (1.0 / largest).min(1.0)
                } else {
                    1.0
                }
            }
        };
        q.iter_mut().for_each(|qi| *qi *= gamma);
        for ((s, y, rho), alpha) in self.pairs.iter().zip(alphas.iter().rev()) {
            let beta = rho * dot(y, &q);
            q.iter_mut()
                .zip(s)
                .for_each(|(qi, si)| *qi += (alpha - beta) * si);
        }
        q.iter_mut().for_each(|qi| *qi = -*qi);
        q
    }

    /// One iteration: a search direction, a backtracking line search (a trial whose loss
    /// or gradient is not finite counts as failed), and the memory update.
    /// `evaluate(point, gradient) -> loss`.
    pub fn iterate(&mut self, evaluate: &mut dyn FnMut(&[f64], &mut [f64]) -> f64) -> LbfgsStep {
        let mut direction = self.direction();
        let mut slope = dot(&direction, &self.gradient);
        if slope.is_nan() || slope >= 0.0 {
            // not a descent direction: restart from steepest descent
            self.pairs.clear();
            direction = self.direction();
            slope = dot(&direction, &self.gradient);
            if slope.is_nan() || slope >= 0.0 {
                return LbfgsStep::LineSearchFailed {
                    reason: "the gradient is zero".into(),
                    non_finite_trials: 0,
                };
            }
        }
        if self.line_search == LineSearch::StrongWolfe {
            return self.wolfe_search(&direction, slope, evaluate);
        }
        let n = self.point.len();
        let mut trial = vec![0.0; n];
        let mut trial_gradient = vec![0.0; n];
        let mut step = 1.0;
        let mut non_finite_trials = 0;
        for evaluations in 1..=self.max_trials {
            for ((t, p), d) in trial.iter_mut().zip(&self.point).zip(&direction) {
                *t = p + step * d;
            }
            let loss = evaluate(&trial, &mut trial_gradient);
            let finite = loss.is_finite() && trial_gradient.iter().all(|g| g.is_finite());
            if finite && loss <= self.loss + self.armijo * step * slope {
                self.accept(&trial, loss, &trial_gradient);
                return LbfgsStep::Accepted { loss, evaluations };
            }
            non_finite_trials += usize::from(!finite);
            // Backtrack: quadratic interpolation when the trial is finite, else halve
            // (a non-finite trial went too far).
            step = if finite {
                let denominator = 2.0 * (loss - self.loss - step * slope);
                let candidate = if denominator > 0.0 {
                    -slope * step * step / denominator
                } else {
                    0.5 * step
                };
                candidate.clamp(0.1 * step, 0.5 * step)
            } else {
                0.5 * step
            };
        }
        let reason = if non_finite_trials == self.max_trials {
            format!(
                "every one of {} trial steps, down to {step:e} of the first, gave a non-finite loss or gradient",
                self.max_trials
            )
        } else {
            format!(
                "no decrease along the search direction after {} trial steps ({non_finite_trials} of them non-finite)",
                self.max_trials
            )
        };
        LbfgsStep::LineSearchFailed {
            reason,
            non_finite_trials,
        }
    }

    /// Moves to `point + step · direction` (loss and gradient known) and stores the
    /// curvature pair.
    fn accept(&mut self, trial: &[f64], loss: f64, trial_gradient: &[f64]) {
        let s: Vec<f64> = trial.iter().zip(&self.point).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = trial_gradient
            .iter()
            .zip(&self.gradient)
            .map(|(a, b)| a - b)
            .collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
            if self.pairs.len() == self.memory {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, 1.0 / sy));
        }
        self.point.copy_from_slice(trial);
        self.gradient.copy_from_slice(trial_gradient);
        self.loss = loss;
    }

    /// The strong Wolfe line search of [`LineSearch::StrongWolfe`]. The accepted point
    /// is always the last one evaluated.
    fn wolfe_search(
        &mut self,
        direction: &[f64],
        slope: f64,
        evaluate: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    ) -> LbfgsStep {
        const CURVATURE: f64 = 0.9;
        let n = self.point.len();
        let (loss0, armijo) = (self.loss, self.armijo);
        let mut trial = vec![0.0; n];
        let mut trial_gradient = vec![0.0; n];
        let mut evaluations = 0;
        let mut non_finite_trials = 0;
        // φ(α), φ'(α) at a step; None when non-finite
        let mut probe =
            |step: f64, trial: &mut Vec<f64>, gradient: &mut Vec<f64>| -> Option<(f64, f64)> {
                for ((t, p), d) in trial.iter_mut().zip(&self.point).zip(direction) {
                    *t = p + step * d;
                }
                let loss = evaluate(trial, gradient);
                let finite = loss.is_finite() && gradient.iter().all(|g| g.is_finite());
                finite.then(|| (loss, dot(gradient, direction)))
            };
        let sufficient = |step: f64, loss: f64| loss <= loss0 + armijo * step * slope;
        let strong_curvature = |derivative: f64| derivative.abs() <= -CURVATURE * slope;
        // bracketing: (step, loss, derivative) of the previous trial
        let (mut previous, mut step, mut ceiling) = ((0.0, loss0, slope), 1.0, f64::INFINITY);
        let (mut low, mut high);
        loop {
            if evaluations == self.max_trials {
                return self.wolfe_failed(non_finite_trials);
            }
            evaluations += 1;
            match probe(step, &mut trial, &mut trial_gradient) {
                None => {
                    non_finite_trials += 1;
                    ceiling = step;
                    step = 0.5 * (previous.0 + step);
                    continue;
                }
                Some((loss, derivative)) => {
                    if !sufficient(step, loss) || (evaluations > 1 && loss >= previous.1) {
                        low = previous;
                        high = (step, loss, derivative);
                        break;
                    }
                    if strong_curvature(derivative) {
                        self.accept(&trial, loss, &trial_gradient);
                        return LbfgsStep::Accepted { loss, evaluations };
                    }
                    if derivative >= 0.0 {
                        low = (step, loss, derivative);
                        high = previous;
                        break;
                    }
                    previous = (step, loss, derivative);
                    let grown = 2.0 * step;
                    step = if grown < ceiling {
                        grown
                    } else {
                        0.5 * (step + ceiling)
                    };
                }
            }
        }
        // zoom between low (sufficient decrease, lowest loss) and high
        loop {
            if evaluations == self.max_trials {
                break;
            }
            evaluations += 1;
            let (a, b) = (low.0, high.0);
            // the minimiser of the quadratic through φ(a), φ'(a), φ(b), kept inside
            let width = b - a;
            let denominator = 2.0 * (high.1 - low.1 - low.2 * width);
            let mut candidate = if denominator > 0.0 {
                a - low.2 * width * width / denominator
            } else {
                a + 0.5 * width
            };
            let (lo, hi) = (a.min(b), a.max(b));
            let margin = 0.1 * (hi - lo);
            candidate = candidate.clamp(lo + margin, hi - margin);
            match probe(candidate, &mut trial, &mut trial_gradient) {
                None => {
                    non_finite_trials += 1;
                    high = (candidate, f64::INFINITY, 0.0);
                }
                Some((loss, derivative)) => {
                    if !sufficient(candidate, loss) || loss >= low.1 {
                        high = (candidate, loss, derivative);
                    } else {
                        if strong_curvature(derivative) {
                            self.accept(&trial, loss, &trial_gradient);
                            return LbfgsStep::Accepted { loss, evaluations };
                        }
                        if derivative * (high.0 - low.0) >= 0.0 {
                            high = low;
                        }
                        low = (candidate, loss, derivative);
                    }
                }
            }
        }
        // out of trials: the best point with sufficient decrease, evaluated once more so
        // that it is the last one evaluated
        if low.0 > 0.0 {
            if let Some((loss, _)) = probe(low.0, &mut trial, &mut trial_gradient) {
                self.accept(&trial, loss, &trial_gradient);
                return LbfgsStep::Accepted {
                    loss,
                    evaluations: evaluations + 1,
                };
            }
        }
        self.wolfe_failed(non_finite_trials)
    }

    fn wolfe_failed(&self, non_finite_trials: usize) -> LbfgsStep {
        LbfgsStep::LineSearchFailed {
            reason: if non_finite_trials == self.max_trials {
                format!(
                    "every one of {} trial steps gave a non-finite loss or gradient",
                    self.max_trials
                )
            } else {
                format!(
                    "no step meeting the Wolfe conditions after {} trials ({non_finite_trials} of them non-finite)",
                    self.max_trials
                )
            },
            non_finite_trials,
        }
    }
}

/// What L-BFGS carries from one iteration to the next: the current point, its loss and
/// gradient, and the curvature pairs `(s, y, 1/sᵀy)`, oldest first.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LbfgsState {
    /// The current point.
    pub point: Vec<f64>,
    /// Its loss.
    pub loss: f64,
    /// Its gradient.
    pub gradient: Vec<f64>,
    /// The curvature pairs.
    pub pairs: Vec<(Vec<f64>, Vec<f64>, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_line_searches_minimise_rosenbrock() {
        let count = |line_search: LineSearch| {
            let mut evaluations = 0;
            let mut f = |p: &[f64], g: &mut [f64]| {
                evaluations += 1;
                let (x, y) = (p[0], p[1]);
                g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
                g[1] = 200.0 * (y - x * x);
                (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
            };
            let mut g = vec![0.0; 2];
            let l = f(&[-1.2, 1.0], &mut g);
            let mut opt = Lbfgs::new(10, vec![-1.2, 1.0], l, g);
            opt.line_search = line_search;
            for _ in 0..200 {
                if opt.loss() < 1e-12 {
                    break;
                }
                if let LbfgsStep::LineSearchFailed { .. } = opt.iterate(&mut f) {
                    break;
                }
            }
            assert!(opt.loss() < 1e-10, "{line_search:?}: loss {}", opt.loss());
            assert!((opt.point()[0] - 1.0).abs() < 1e-5);
            evaluations
        };
        let (backtracking, wolfe) = (
            count(LineSearch::Backtracking),
            count(LineSearch::StrongWolfe),
        );
        // both converge within a comparable budget (measured: 49 and 51 evaluations)
        assert!(
            backtracking < 100 && wolfe < 100,
            "{backtracking} and {wolfe} evaluations"
        );
    }

    #[test]
    fn the_strong_wolfe_search_treats_overflow_as_too_long_a_step() {
        // f = x² for |x| < 3, NaN beyond: the first trial (x = -10) is NaN
        let mut f = |p: &[f64], g: &mut [f64]| {
            if p[0].abs() >= 3.0 {
                g[0] = f64::NAN;
                return f64::NAN;
            }
            g[0] = 2.0 * p[0];
            p[0] * p[0]
        };
        let mut g = vec![0.0];
        let l = f(&[2.0], &mut g);
        let mut opt = Lbfgs::new(5, vec![2.0], l, g);
        opt.line_search = LineSearch::StrongWolfe;
        // a steepest-descent first step of unit length in the largest component
        for _ in 0..20 {
            if let LbfgsStep::LineSearchFailed { .. } = opt.iterate(&mut f) {
                break;
            }
        }
        assert!(opt.loss() < 1e-12, "loss {}", opt.loss());
    }

    #[test]
    fn lbfgs_minimises_rosenbrock() {
        let mut f = |p: &[f64], g: &mut [f64]| {
            let (x, y) = (p[0], p[1]);
            g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
            g[1] = 200.0 * (y - x * x);
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
        };
        let mut g = vec![0.0; 2];
        let l = f(&[-1.2, 1.0], &mut g);
        let mut opt = Lbfgs::new(10, vec![-1.2, 1.0], l, g);
        for _ in 0..200 {
            if let LbfgsStep::LineSearchFailed { .. } = opt.iterate(&mut f) {
                break;
            }
        }
        assert!((opt.point()[0] - 1.0).abs() < 1e-6, "{:?}", opt.point());
    }

    #[test]
    fn a_line_search_that_only_meets_nan_stops_after_its_trials() {
        // finite only at the first evaluation (the start): every trial is NaN, however
        // short (even one that rounds back onto the start)
        let calls = std::cell::Cell::new(0usize);
        let mut f = |p: &[f64], g: &mut [f64]| {
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                assert_eq!(p[0], 1.0);
                g[0] = 2.0;
                return 1.0;
            }
            g[0] = f64::NAN;
            f64::NAN
        };
        let mut g = vec![0.0];
        let l = f(&[1.0], &mut g);
        let mut opt = Lbfgs::new(5, vec![1.0], l, g);
        let step = opt.iterate(&mut f);
        let LbfgsStep::LineSearchFailed {
            reason,
            non_finite_trials,
        } = step
        else {
            panic!("{step:?}");
        };
        assert_eq!(non_finite_trials, opt.max_trials);
        assert!(reason.contains("non-finite"), "{reason}");
        // the starting evaluation and one per trial: no hang, no retry loop
        assert_eq!(calls.get(), 1 + opt.max_trials);
        assert_eq!(opt.point(), &[1.0]);
        assert_eq!(opt.loss(), 1.0);
    }

    #[test]
    fn non_finite_trial_steps_are_backtracked() {
        // loss is NaN beyond x = 0.5: the first trial (x = 2) must be refused
        let mut f = |p: &[f64], g: &mut [f64]| {
            if p[0] > 0.5 {
                g[0] = f64::NAN;
                return f64::NAN;
            }
            g[0] = 2.0 * (p[0] - 0.4);
            (p[0] - 0.4).powi(2)
        };
        let mut g = vec![0.0];
        let l = f(&[-1.0], &mut g);
        let mut opt = Lbfgs::new(5, vec![-1.0], l, g);
        for _ in 0..50 {
            opt.iterate(&mut f);
        }
        assert!((opt.point()[0] - 0.4).abs() < 1e-6);
        assert!(opt.loss().is_finite());
    }
}
