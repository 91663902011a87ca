//! The loss of a multi-population recording ([`CircuitDataset`]), with its gradient
//! with respect to θ and to any shared `W₀` fitted jointly.

use rayon::prelude::*;

use super::{Objective, WorkspacePool};
use crate::circuit::{InitialWeightsFit, Network};
use crate::data::CircuitDataset;
use crate::gradient::network::jacobian::{
    network_trajectory_gauss_newton, NetworkTangentWorkspace,
};
use crate::gradient::network::{
    network_trajectory_sse, network_trajectory_sse_and_gradient, NetworkTrajectory,
    NetworkWorkspace,
};
use crate::gradient::GradientStrategy;
use crate::optim::least_squares::GaussNewtonSystem;

/// A projection whose `W₀`, shared by every trajectory, is fitted with θ.
#[derive(Clone, Debug, PartialEq)]
pub struct FittedInitialWeights {
    /// The projection.
    pub projection: usize,
    /// Where its synapses start in the parameter vector (after θ).
    pub start: usize,
    /// The prior's mean (the circuit file's distribution).
    pub prior_mean: f64,
    /// `λ` of the penalty `λ Σ (W₀ − prior_mean)²`.
    pub l2: f64,
}

/// `L = 1/(N T n_rec) Σ_{k,t,i∈rec} (y_{k,t,i} − ŷ_{k,t,i})² + Σ_p λ_p ‖W₀,p − μ_p‖²`
/// over the first `horizon` steps; parameters are θ of every rule, then the synapses of
/// every fitted shared `W₀`.
pub struct CircuitObjective<'a> {
    dataset: &'a CircuitDataset,
    network: Network,
    strategy: GradientStrategy,
    horizon: usize,
    fitted: Vec<FittedInitialWeights>,
    workspaces: WorkspacePool<NetworkWorkspace<f64>>,
    tangent_workspaces: WorkspacePool<NetworkTangentWorkspace>,
}

impl<'a> CircuitObjective<'a> {
    /// The loss of `dataset` under its own circuit, `W₀` as its circuit file says
    /// (given, or shared and fitted), over every step.
    pub fn new(dataset: &'a CircuitDataset, strategy: GradientStrategy) -> Self {
        let network = dataset.network.clone();
        let mut start = network.n_parameters();
        let mut fitted = Vec::new();
        for (q, spec) in dataset.spec.projections.iter().enumerate() {
            if spec.fit_initial_weights == InitialWeightsFit::Shared {
                fitted.push(FittedInitialWeights {
                    projection: q,
                    start,
                    prior_mean: spec.initial_weights.mean,
                    l2: spec.initial_weights_l2,
                });
                start += network.projections()[q].connectivity.n_synapses();
            }
        }
        CircuitObjective {
            dataset,
            network,
            strategy,
            horizon: dataset.steps,
            fitted,
            workspaces: WorkspacePool::new(),
            tangent_workspaces: WorkspacePool::new(),
        }
    }

    /// Only the first `horizon` steps of every trajectory enter the loss.
    pub fn with_horizon(mut self, horizon: usize) -> Self {
        self.horizon = horizon.clamp(1, self.dataset.steps);
        self
    }

    /// Clips plastic weights to `[−bound, bound]` during the simulation.
    pub fn with_weight_bound(mut self, bound: Option<f64>) -> Self {
        self.network = self.network.with_weight_bound(bound);
        self
    }

    /// The circuit simulated.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The projections whose shared `W₀` is fitted.
    pub fn fitted_initial_weights(&self) -> &[FittedInitialWeights] {
        &self.fitted
    }

    fn n_theta(&self) -> usize {
        self.network.n_parameters()
    }

    /// `W₀` of trajectory `k` with the fitted projections taken from `parameters`.
    fn initial_weights(&self, parameters: &[f64], k: usize) -> Option<Vec<f64>> {
        if self.fitted.is_empty() {
            return None;
        }
        let mut w0 = self.dataset.trajectory(k).initial_weights.to_vec();
        for f in &self.fitted {
            let range = self.network.weight_range(f.projection);
            w0[range.clone()].copy_from_slice(&parameters[f.start..f.start + range.len()]);
        }
        Some(w0)
    }

    fn trajectory<'b>(&'b self, k: usize, w0: Option<&'b [f64]>) -> NetworkTrajectory<'b> {
        let mut trajectory = self.dataset.trajectory_prefix(k, self.horizon);
        if let Some(w0) = w0 {
            trajectory.initial_weights = w0;
        }
        trajectory
    }

    fn normaliser(&self, n_items: usize) -> f64 {
        (n_items * self.horizon * self.dataset.recorded().len()) as f64
    }

    /// The Gauss–Newton system of the data loss over `items` at θ, for the parameters
    /// `active` (indices into θ), by forward mode: `sse` is the loss
    /// `L = 1/N Σ r²`, `gradient` is `Jᵀr / N` (half of `∂L/∂θ_active`) and `normal`
    /// is `JᵀJ / N` (half the Gauss–Newton Hessian), symmetric. Trajectories are run in
    /// parallel and summed in order, so the result does not depend on the thread
    /// count. Circuits with a fitted `W₀` are refused (its thousands of columns are for
    /// the adjoint).
    pub fn gauss_newton(
        &self,
        theta: &[f64],
        active: &[usize],
        items: &[usize],
    ) -> crate::Result<GaussNewtonSystem> {
        if !self.fitted.is_empty() {
            return Err(crate::Error::config(
                "solver",
                "Levenberg–Marquardt fits θ only; this circuit fits a shared W₀ too (use L-BFGS)",
            ));
        }
        let theta = &theta[..self.n_theta()];
        let per_item: Vec<GaussNewtonSystem> = items
            .par_iter()
            .map(|&k| {
                let trajectory = self.trajectory(k, None);
                self.tangent_workspaces
                    .with(NetworkTangentWorkspace::new, |workspace| {
                        let mut system = GaussNewtonSystem::zeros(active.len());
                        network_trajectory_gauss_newton(
                            &self.network,
                            theta,
                            active,
                            trajectory,
                            workspace,
                            &mut system,
                            |_, _, _, _| {},
                        )
                        .map(|()| system)
                    })
            })
            .collect::<crate::Result<_>>()?;
        let mut total = GaussNewtonSystem::zeros(active.len());
        for system in &per_item {
            total.add(system);
        }
        total.symmetrise();
        let scale = 1.0 / self.normaliser(items.len());
        total.sse *= scale;
        total.normal.iter_mut().for_each(|v| *v *= scale);
        total.gradient.iter_mut().for_each(|v| *v *= scale);
        Ok(total)
    }

    /// The prior penalty `Σ_p λ_p ‖W₀,p − μ_p‖²` on fitted `W₀` at `parameters`.
    pub fn prior_penalty(&self, parameters: &[f64]) -> f64 {
        self.prior(parameters, None)
    }

    /// The prior penalty on fitted `W₀`, and its gradient added into `gradient`.
    fn prior(&self, parameters: &[f64], gradient: Option<&mut [f64]>) -> f64 {
        let mut penalty = 0.0;
        let mut gradient = gradient;
        for f in &self.fitted {
            let n = self.network.projections()[f.projection]
                .connectivity
                .n_synapses();
            for s in f.start..f.start + n {
                let d = parameters[s] - f.prior_mean;
                penalty += f.l2 * d * d;
                if let Some(g) = gradient.as_deref_mut() {
                    g[s] += 2.0 * f.l2 * d;
                }
            }
        }
        penalty
    }
}

impl Objective for CircuitObjective<'_> {
    fn n_parameters(&self) -> usize {
        self.fitted
            .last()
            .map(|f| {
                f.start
                    + self.network.projections()[f.projection]
                        .connectivity
                        .n_synapses()
            })
            .unwrap_or_else(|| self.n_theta())
    }

    fn n_items(&self) -> usize {
        self.dataset.trajectories
    }

    fn loss(&self, parameters: &[f64], items: &[usize]) -> f64 {
        let theta = &parameters[..self.n_theta()];
        let per_item: Vec<f64> = items
            .par_iter()
            .map(|&k| {
                let w0 = self.initial_weights(parameters, k);
                let trajectory = self.trajectory(k, w0.as_deref());
                self.workspaces.with(NetworkWorkspace::new, |workspace| {
                    network_trajectory_sse(
                        &self.network,
                        theta,
                        trajectory.initial_weights,
                        trajectory,
                        workspace,
                    )
                })
            })
            .collect();
        per_item.iter().sum::<f64>() / self.normaliser(items.len()) + self.prior(parameters, None)
    }

    fn loss_and_gradient(&self, parameters: &[f64], items: &[usize], gradient: &mut [f64]) -> f64 {
        let n_theta = self.n_theta();
        let theta = &parameters[..n_theta];
        let with_w0 = !self.fitted.is_empty();
        let per_item: Vec<(f64, Vec<f64>, Vec<f64>)> = items
            .par_iter()
            .map(|&k| {
                let w0 = self.initial_weights(parameters, k);
                let trajectory = self.trajectory(k, w0.as_deref());
                self.workspaces.with(NetworkWorkspace::new, |workspace| {
                    let mut theta_gradient = vec![0.0; n_theta];
                    let mut w0_gradient = vec![
                        0.0;
                        if with_w0 {
                            self.network.n_synapses()
                        } else {
                            0
                        }
                    ];
                    let sse = network_trajectory_sse_and_gradient(
                        &self.network,
                        theta,
                        trajectory,
                        self.strategy,
                        workspace,
                        &mut theta_gradient,
                        with_w0.then_some(&mut w0_gradient[..]),
                    );
                    (sse, theta_gradient, w0_gradient)
                })
            })
            .collect();
        let scale = 1.0 / self.normaliser(items.len());
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut total = 0.0;
        for (sse, theta_gradient, w0_gradient) in &per_item {
            total += sse;
            for (g, v) in gradient.iter_mut().zip(theta_gradient) {
                *g += v * scale;
            }
            for f in &self.fitted {
                let range = self.network.weight_range(f.projection);
                for (g, v) in gradient[f.start..f.start + range.len()]
                    .iter_mut()
                    .zip(&w0_gradient[range])
                {
                    *g += v * scale;
                }
            }
        }
        total * scale + self.prior(parameters, Some(gradient))
    }
}
