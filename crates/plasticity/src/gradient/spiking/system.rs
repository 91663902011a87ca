//! What a pass over one trial's likelihood returns: the loss, its gradient and the
//! Fisher information, accumulated one observation at a time (shared by forward mode
//! and the dual lanes).

/// The loss, its gradient and (when asked) its Fisher information of one trial.
#[derive(Clone, Debug, PartialEq)]
pub struct LikelihoodSystem {
    /// `L = −Σ log p(s | u)`.
    pub loss: f64,
    /// `∂L/∂θ`.
    pub gradient: Vec<f64>,
    /// `Σ I(u) (∂u/∂θ)(∂u/∂θ)ᵀ`, P × P row-major (empty when not asked).
    pub fisher: Vec<f64>,
    /// Observations (neuron-steps) in the likelihood.
    pub observations: usize,
}

impl LikelihoodSystem {
    /// Nothing observed yet, for `n_p` parameters (the Fisher information only when
    /// asked).
    pub(crate) fn empty(n_p: usize, fisher: bool) -> Self {
        LikelihoodSystem {
            loss: 0.0,
            gradient: vec![0.0; n_p],
            fisher: if fisher {
                vec![0.0; n_p * n_p]
            } else {
                Vec::new()
            },
            observations: 0,
        }
    }

    /// One observation: `log p` with its slope `∂ log p/∂u` and information `I(u)`
    /// at `u` whose sensitivities are `d = ∂u/∂θ`: `L −= log p`, `∇L −= slope d`,
    /// and the upper triangle of the Fisher information gains `I d dᵀ`.
    #[inline]
    pub(crate) fn observe(&mut self, (ll, slope, information): (f64, f64, f64), d: &[f64]) {
        self.loss -= ll;
        self.observations += 1;
        for (g, &dk) in self.gradient.iter_mut().zip(d) {
            *g -= slope * dk;
        }
        if !self.fisher.is_empty() && information > 0.0 {
            let n_p = d.len();
            for a in 0..n_p {
                let row = &mut self.fisher[a * n_p..(a + 1) * n_p];
                let scaled = information * d[a];
                for (f, &db) in row[a..].iter_mut().zip(&d[a..]) {
                    *f += scaled * db;
                }
            }
        }
    }

    /// Fills the Fisher information's lower triangle from the upper.
    pub(crate) fn symmetrize(&mut self) {
        let n_p = self.gradient.len();
        if self.fisher.is_empty() {
            return;
        }
        for a in 0..n_p {
            for b in 0..a {
                self.fisher[a * n_p + b] = self.fisher[b * n_p + a];
            }
        }
    }
}
