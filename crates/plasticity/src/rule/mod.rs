//! Plasticity rules `Δw = g_θ(x, y, w, r)` (docs/model.md §2).
//!
//! A rule is written for one synapse but applied to a whole layer at once through
//! [`PlasticityRule`], so that each rule can factorise its work across the layer (the
//! Taylor rule combines the powers of x, y and w per row instead of looping over its
//! terms). Each rule also provides the reverse mode of its layer update: the adjoint of
//! the weights, of the postsynaptic activity and of its own parameters θ.

pub mod expression;
pub mod mlp;
pub mod spike;
pub mod taylor;
pub mod terms;

pub use expression::{format_expression, parse_expression, TrainableSpec};
pub use mlp::MlpRule;
pub use taylor::TaylorRule;
pub use terms::{term_names, Term, Variables};

use serde::{Deserialize, Serialize};

use crate::scalar::Scalar;

/// A family of rules: which one a fit uses (`taylor`, `mlp` in settings files).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleFamily {
    /// Truncated Taylor series.
    #[default]
    Taylor,
    /// Multilayer perceptron.
    Mlp,
}

/// What one plastic layer passes to its rule at one update.
///
/// `W` is row-major `n_post × n_pre`: `weights[i * n_pre + j]` is the synapse from
/// presynaptic neuron `j` to postsynaptic neuron `i`.
#[derive(Clone, Copy, Debug)]
pub struct LayerState<'a, S> {
    /// Presynaptic activity `x`, length `n_pre`.
    pub pre: &'a [S],
    /// Postsynaptic activity `y`, length `n_post`.
    pub post: &'a [S],
    /// The global reward signal `r` (ignored by rules over (x, y, w)).
    pub reward: S,
    /// The learning rate `η`.
    pub learning_rate: S,
}

/// The interface circuits and gradient strategies use: a layer-wide update and its
/// vector-Jacobian product. Parameters `θ` are passed in, never stored, so that the same
/// rule serves the optimizer, the dual-number oracle and the data generator.
pub trait PlasticityRule: Send + Sync {
    /// Number of parameters `θ`.
    fn n_parameters(&self) -> usize;
    /// The variables the rule reads.
    fn variables(&self) -> Variables;
    /// Length of the scratch buffer [`update`](Self::update) and
    /// [`update_vjp`](Self::update_vjp) need for a layer with `n_pre` inputs.
    fn scratch_len(&self, n_pre: usize) -> usize;
    /// `W_ij ← W_ij + η g_θ(x_j, y_i, W_ij, r)` for every synapse.
    fn update<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights: &mut [S],
        scratch: &mut [S],
    );
    /// Reverse mode of [`update`](Self::update) at `W = weights_before`.
    ///
    /// On entry `weights_adjoint` holds `λ = ∂L/∂W⁺` (the updated weights); on exit it
    /// holds `λ_ij (1 + η ∂g/∂w_ij)`. Adds `Σ_j λ_ij η ∂g/∂y_i` to `post_adjoint[i]` and
    /// `Σ_ij λ_ij η ∂g/∂θ` to `theta_adjoint`.
    #[allow(clippy::too_many_arguments)]
    fn update_vjp<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights_before: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &mut [S],
        theta_adjoint: &mut [S],
        scratch: &mut [S],
    );
    /// `g_θ` at one synapse (reference implementation, used by tests and reports).
    fn evaluate<S: Scalar>(&self, theta: &[S], x: S, y: S, w: S, r: S) -> S;

    /// The presynaptic part of [`update_vjp`](Self::update_vjp), for circuits whose
    /// presynaptic activity is itself simulated (recurrent or multi-layer): with
    /// `λ = weights_adjoint` the adjoint of the updated weights, adds
    /// `Σ_i λ_ij η ∂g/∂x_j` at `(x_j, y_i, W_ij, r)` to `pre_adjoint[j]`. Call it before
    /// `update_vjp`, which overwrites `λ`. The default differentiates
    /// [`evaluate`](Self::evaluate) with dual numbers, synapse by synapse.
    fn update_vjp_pre(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_before: &[f64],
        weights_adjoint: &[f64],
        pre_adjoint: &mut [f64],
    ) {
        use num_dual::Dual64;
        let n_pre = layer.pre.len();
        let theta: Vec<Dual64> = theta.iter().map(|&v| Dual64::from(v)).collect();
        let reward = Dual64::from(layer.reward);
        for ((row, lambda_row), &y) in weights_before
            .chunks_exact(n_pre)
            .zip(weights_adjoint.chunks_exact(n_pre))
            .zip(layer.post)
        {
            for (j, (&w, &lambda)) in row.iter().zip(lambda_row).enumerate() {
                let x = Dual64::new(layer.pre[j], 1.0);
                let g = self.evaluate(&theta, x, Dual64::from(y), Dual64::from(w), reward);
                pre_adjoint[j] += lambda * layer.learning_rate * g.eps;
            }
        }
    }

    /// Length of the scratch buffer [`row_tangents`](Self::row_tangents) needs.
    fn tangent_scratch_len(&self) -> usize {
        self.scratch_len(1) + self.n_parameters()
    }

    /// Forward mode of [`update`](Self::update) for the synapses of one postsynaptic
    /// neuron (`layer.post` is its one activity `y`), for the parameters `active` (the
    /// trainable ones; their number `A`): for every synapse `j`
    /// (`tangents_row[j*A..(j+1)*A]` = `S_j = ∂W_j/∂θ_active`),
    /// `S_j ← (1 + η ∂g/∂w) S_j + η ∂g/∂θ_active + η ∂g/∂y · post_tangent`, the partials
    /// taken at `(x_j, y, W_j, r)` before the update. The default takes them from
    /// [`update_vjp`](Self::update_vjp) on a 1 × 1 layer; a rule may do better.
    #[allow(clippy::too_many_arguments)]
    fn row_tangents(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_row: &[f64],
        tangents_row: &mut [f64],
        post_tangent: &[f64],
        active: &[usize],
        scratch: &mut [f64],
    ) {
        let n_active = active.len();
        let (synapse_scratch, d_theta) = scratch.split_at_mut(self.scratch_len(1));
        let d_theta = &mut d_theta[..self.n_parameters()];
        for ((&x, &w), tangent) in layer
            .pre
            .iter()
            .zip(weights_row)
            .zip(tangents_row.chunks_exact_mut(n_active))
        {
            d_theta.iter_mut().for_each(|d| *d = 0.0);
            let mut weight_adjoint = [1.0];
            let mut post_adjoint = [0.0];
            self.update_vjp(
                theta,
                LayerState {
                    pre: &[x],
                    post: &layer.post[..1],
                    reward: layer.reward,
                    learning_rate: layer.learning_rate,
                },
                &[w],
                &mut weight_adjoint,
                &mut post_adjoint,
                d_theta,
                synapse_scratch,
            );
            let (a, b) = (weight_adjoint[0], post_adjoint[0]);
            for ((s, &k), &dy) in tangent.iter_mut().zip(active).zip(post_tangent) {
                *s = a * *s + d_theta[k] + b * dy;
            }
        }
    }

    /// Length of the scratch buffer [`row_partials`](Self::row_partials) needs.
    fn partials_scratch_len(&self) -> usize {
        self.scratch_len(1) + self.n_parameters()
    }

    /// The partials of the update `Δ_j = η g_θ(x_j, y, W_j, r)` of every synapse `j` of
    /// one postsynaptic neuron (`layer.post` is its one activity `y`), at the weights
    /// before the update: `partials[j*(3+A)..(j+1)*(3+A)]` =
    /// `[η ∂g/∂w, η ∂g/∂y, η ∂g/∂x, η ∂g/∂θ_active…]` with `A = active.len()` (what
    /// forward mode through a recurrent circuit needs, where `x` is simulated too). The
    /// default takes them from [`update_vjp`](Self::update_vjp) and
    /// [`update_vjp_pre`](Self::update_vjp_pre) on a 1 × 1 layer with `λ = 1`.
    fn row_partials(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_row: &[f64],
        active: &[usize],
        partials: &mut [f64],
        scratch: &mut [f64],
    ) {
        let stride = PARTIALS_HEAD + active.len();
        let (synapse_scratch, d_theta) = scratch.split_at_mut(self.scratch_len(1));
        let d_theta = &mut d_theta[..self.n_parameters()];
        for ((&x, &w), out) in layer
            .pre
            .iter()
            .zip(weights_row)
            .zip(partials.chunks_exact_mut(stride))
        {
            d_theta.iter_mut().for_each(|d| *d = 0.0);
            let synapse = LayerState {
                pre: std::slice::from_ref(&x),
                post: &layer.post[..1],
                reward: layer.reward,
                learning_rate: layer.learning_rate,
            };
            let mut pre_adjoint = [0.0];
            self.update_vjp_pre(theta, synapse, &[w], &[1.0], &mut pre_adjoint);
            let mut weight_adjoint = [1.0];
            let mut post_adjoint = [0.0];
            self.update_vjp(
                theta,
                synapse,
                &[w],
                &mut weight_adjoint,
                &mut post_adjoint,
                d_theta,
                synapse_scratch,
            );
            out[0] = weight_adjoint[0] - 1.0;
            out[1] = post_adjoint[0];
            out[2] = pre_adjoint[0];
            for (o, &k) in out[PARTIALS_HEAD..].iter_mut().zip(active) {
                *o = d_theta[k];
            }
        }
    }
}

/// Partials per synapse in [`PlasticityRule::row_partials`]: `η ∂g/∂w`, `η ∂g/∂y`,
/// `η ∂g/∂x`, then `η ∂g/∂θ_k` for the active parameters.
pub const PARTIALS_HEAD: usize = 3;

/// A rule the engine can run: any rule that converts into a [`Rule`] (the network's
/// rules) and is cheap to clone (TaylorRule, MlpRule, Rule).
pub trait RuleOfEngine: PlasticityRule + Clone + Into<Rule> {}

impl<R: PlasticityRule + Clone + Into<Rule>> RuleOfEngine for R {}

/// A rule of either family, chosen at run time.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Truncated Taylor series (docs/model.md §2.1).
    Taylor(TaylorRule),
    /// Multilayer perceptron (docs/model.md §2.2).
    Mlp(MlpRule),
}

impl Rule {
    /// A rule of `family` over `variables`: the full Taylor series, or an MLP with
    /// `hidden` units per hidden layer (ignored for Taylor). The one place the families
    /// are built.
    pub fn of_family(
        family: RuleFamily,
        variables: Variables,
        hidden: &[usize],
    ) -> crate::Result<Rule> {
        Ok(match family {
            RuleFamily::Taylor => Rule::Taylor(TaylorRule::new(variables)),
            RuleFamily::Mlp => Rule::Mlp(MlpRule::new(variables, hidden)?),
        })
    }

    /// The full Taylor series over `variables` (every term of degree ≤ 2 per variable).
    pub fn taylor(variables: Variables) -> Rule {
        Rule::Taylor(TaylorRule::new(variables))
    }

    /// The family's name as used on the command line: `taylor` or `mlp`.
    pub fn family(&self) -> &'static str {
        match self {
            Rule::Taylor(_) => "taylor",
            Rule::Mlp(_) => "mlp",
        }
    }

    /// The Taylor rule, for a Taylor rule: the family whose parameters are named
    /// coefficients with generating counterparts.
    pub fn as_taylor(&self) -> Option<&TaylorRule> {
        match self {
            Rule::Taylor(taylor) => Some(taylor),
            Rule::Mlp(_) => None,
        }
    }

    /// The spread of a random initial θ: Taylor `1e-5` (coefficients start near 0, the
    /// null rule), MLP `1e-2` (a network needs its symmetry broken).
    pub fn initial_spread(&self) -> f64 {
        match self {
            Rule::Taylor(_) => 1e-5,
            Rule::Mlp(_) => 1e-2,
        }
    }

    /// θ from a Taylor expression ("x*y - y^2*w") over the rule's variables; an MLP
    /// takes none (an error naming `key`, the setting it came from).
    pub fn parse_theta(&self, expression: &str, key: &str) -> crate::Result<Vec<f64>> {
        match self {
            Rule::Taylor(taylor) => parse_expression(expression, taylor.variables()),
            Rule::Mlp(_) => Err(crate::Error::config(
                key,
                "an MLP rule starts from 'random' or 'zeros', not an expression",
            )),
        }
    }

    /// The name of a parameter in tables: `term` (Taylor coefficients) or `parameter`.
    pub fn parameter_kind(&self) -> &'static str {
        match self {
            Rule::Taylor(_) => "term",
            Rule::Mlp(_) => "parameter",
        }
    }

    /// θ as an expression, for a Taylor rule (`None` for an MLP).
    pub fn expression(&self, theta: &[f64]) -> Option<String> {
        self.as_taylor()
            .map(|taylor| format_expression(theta, taylor.variables()))
    }

    /// Names of the coefficients: a Taylor rule's canonical term names; none for the
    /// MLP, whose parameters are not coefficients of terms.
    pub fn coefficient_names(&self) -> Vec<String> {
        self.as_taylor()
            .map_or_else(Vec::new, |taylor| term_names(taylor.variables()))
    }

    /// Names of the parameters: canonical term names for Taylor, `layer0.weight[k,i]`
    /// style names for the MLP.
    pub fn parameter_names(&self) -> Vec<String> {
        match self {
            Rule::Taylor(rule) => term_names(rule.variables()),
            Rule::Mlp(rule) => rule.parameter_names(),
        }
    }
}

impl From<TaylorRule> for Rule {
    fn from(rule: TaylorRule) -> Self {
        Rule::Taylor(rule)
    }
}

impl From<MlpRule> for Rule {
    fn from(rule: MlpRule) -> Self {
        Rule::Mlp(rule)
    }
}

macro_rules! dispatch {
    ($self:ident, $rule:ident => $body:expr) => {
        match $self {
            Rule::Taylor($rule) => $body,
            Rule::Mlp($rule) => $body,
        }
    };
}

impl PlasticityRule for Rule {
    fn n_parameters(&self) -> usize {
        dispatch!(self, rule => rule.n_parameters())
    }
    fn variables(&self) -> Variables {
        dispatch!(self, rule => rule.variables())
    }
    fn scratch_len(&self, n_pre: usize) -> usize {
        dispatch!(self, rule => rule.scratch_len(n_pre))
    }
    fn update<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights: &mut [S],
        scratch: &mut [S],
    ) {
        dispatch!(self, rule => rule.update(theta, layer, weights, scratch))
    }
    fn update_vjp<S: Scalar>(
        &self,
        theta: &[S],
        layer: LayerState<'_, S>,
        weights_before: &[S],
        weights_adjoint: &mut [S],
        post_adjoint: &mut [S],
        theta_adjoint: &mut [S],
        scratch: &mut [S],
    ) {
        dispatch!(self, rule => rule.update_vjp(
            theta,
            layer,
            weights_before,
            weights_adjoint,
            post_adjoint,
            theta_adjoint,
            scratch,
        ))
    }
    fn evaluate<S: Scalar>(&self, theta: &[S], x: S, y: S, w: S, r: S) -> S {
        dispatch!(self, rule => rule.evaluate(theta, x, y, w, r))
    }
    fn update_vjp_pre(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_before: &[f64],
        weights_adjoint: &[f64],
        pre_adjoint: &mut [f64],
    ) {
        dispatch!(self, rule => rule.update_vjp_pre(theta, layer, weights_before, weights_adjoint, pre_adjoint))
    }
    fn tangent_scratch_len(&self) -> usize {
        dispatch!(self, rule => rule.tangent_scratch_len())
    }
    fn row_tangents(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_row: &[f64],
        tangents_row: &mut [f64],
        post_tangent: &[f64],
        active: &[usize],
        scratch: &mut [f64],
    ) {
        dispatch!(self, rule => rule.row_tangents(
            theta,
            layer,
            weights_row,
            tangents_row,
            post_tangent,
            active,
            scratch,
        ))
    }
    fn partials_scratch_len(&self) -> usize {
        dispatch!(self, rule => rule.partials_scratch_len())
    }
    fn row_partials(
        &self,
        theta: &[f64],
        layer: LayerState<'_, f64>,
        weights_row: &[f64],
        active: &[usize],
        partials: &mut [f64],
        scratch: &mut [f64],
    ) {
        dispatch!(self, rule => rule.row_partials(theta, layer, weights_row, active, partials, scratch))
    }
}
