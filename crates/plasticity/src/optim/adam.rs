//! Adam (Kingma & Ba 2015): `m ← β₁ m + (1−β₁) g`, `v ← β₂ v + (1−β₂) g²`,
//! `φ ← φ − α m̂ / (√v̂ + ε)` with bias-corrected `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.

/// Adam's state.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Step size `α`.
    pub learning_rate: f64,
    /// `β₁`.
    pub beta1: f64,
    /// `β₂`.
    pub beta2: f64,
    /// `ε`.
    pub epsilon: f64,
    first_moment: Vec<f64>,
    second_moment: Vec<f64>,
    steps: i32,
}

impl Adam {
    /// Adam with the usual `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`.
    pub fn new(n_parameters: usize, learning_rate: f64) -> Self {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            first_moment: vec![0.0; n_parameters],
            second_moment: vec![0.0; n_parameters],
            steps: 0,
        }
    }

    /// The moments and step count, for a checkpoint.
    pub fn state(&self) -> AdamState {
        AdamState {
            first_moment: self.first_moment.clone(),
            second_moment: self.second_moment.clone(),
            steps: self.steps,
        }
    }

    /// Adam with `learning_rate` continuing from a checkpointed `state`.
    pub fn from_state(learning_rate: f64, state: &AdamState) -> Self {
        Adam {
            first_moment: state.first_moment.clone(),
            second_moment: state.second_moment.clone(),
            steps: state.steps,
            ..Adam::new(state.first_moment.len(), learning_rate)
        }
    }

    /// Adam's per-parameter scale after the last step, `√v̂_k + ε`: the metric a
    /// proximal step must use to be consistent with Adam's preconditioned step.
    pub fn denominator(&self, k: usize) -> f64 {
        let correction2 = 1.0 - self.beta2.powi(self.steps.max(1));
        (self.second_moment[k] / correction2).sqrt() + self.epsilon
    }

    /// One update of `parameters` along `gradient`.
    pub fn step(&mut self, parameters: &mut [f64], gradient: &[f64]) {
        self.steps = self.steps.saturating_add(1);
        let correction1 = 1.0 - self.beta1.powi(self.steps);
        let correction2 = 1.0 - self.beta2.powi(self.steps);
        for (((p, &g), m), v) in parameters
            .iter_mut()
            .zip(gradient)
            .zip(&mut self.first_moment)
            .zip(&mut self.second_moment)
        {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *p -= self.learning_rate * (*m / correction1)
                / ((*v / correction2).sqrt() + self.epsilon);
        }
    }
}

/// What Adam carries from one step to the next: the moment estimates `m`, `v` and the
/// step count `t` of the bias correction.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamState {
    /// `m`.
    pub first_moment: Vec<f64>,
    /// `v`.
    pub second_moment: Vec<f64>,
    /// `t`.
    pub steps: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic() {
        let mut adam = Adam::new(2, 0.05);
        let mut p = vec![3.0, -2.0];
        for _ in 0..2000 {
            let g = vec![2.0 * (p[0] - 1.0), 20.0 * (p[1] + 0.5)];
            adam.step(&mut p, &g);
        }
        assert!(
            (p[0] - 1.0).abs() < 1e-3 && (p[1] + 0.5).abs() < 1e-3,
            "{p:?}"
        );
    }
}
