//! What the engine's one forward-mode pass ([`super::network_trajectory_tangents`])
//! feeds: the Gauss–Newton system of a squared error, the Fisher-scoring system of a
//! likelihood of decisions (cross-entropy, or softmax over choice sets), and the
//! forward-mode gradient of any of the three losses.

use super::super::{NetworkTrajectory, SessionLoss, TrajectoryLoss};
use super::{network_trajectory_tangents, NetworkTangentWorkspace};
use crate::circuit::Network;
use crate::optim::least_squares::GaussNewtonSystem;
use crate::scalar::Scalar;

/// Runs one trajectory at `θ` with the tangents of the parameters `active` (indices
/// into θ) and adds its squared error over the recorded neurons, `JᵀJ` (upper
/// triangle) and `Jᵀr` into `system`; `on_residual(t, neuron, r, ∂r/∂θ_active)` sees
/// every residual. The trajectory's modulatory signal and plasticity gate act as in
/// the forward pass; a trajectory of decisions (cross-entropy, softmax) is refused (it is not least squares;
/// see [`network_trajectory_fisher`]).
pub fn network_trajectory_gauss_newton(
    network: &Network,
    theta: &[f64],
    active: &[usize],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkTangentWorkspace,
    system: &mut GaussNewtonSystem,
    mut on_residual: impl FnMut(usize, usize, f64, &[f64]),
) -> crate::Result<()> {
    if trajectory.loss != TrajectoryLoss::SquaredError {
        return Err(crate::Error::config(
            "solver",
            "the Gauss–Newton system is of a squared error; this trajectory's loss is a likelihood of decisions (a cross-entropy or a softmax)",
        ));
    }
    network_trajectory_tangents(
        network,
        theta,
        active,
        trajectory,
        workspace,
        |t, i, y, target, row| {
            let residual = y - target;
            system.add_residual(residual, row);
            on_residual(t, i, residual, row);
        },
    );
    Ok(())
}

/// One trajectory's Fisher-scoring pieces (a cross-entropy; a softmax's per choice
/// set, see [`TrajectoryLoss::Softmax`]) over the `active` parameters
/// (in their order), added to `system` as sums over its steps (not means): the score
/// `Σ_t (σ(z_t) − d_t) ∂z_t/∂θ` to the gradient, the Fisher information
/// `Σ_t σ(z_t)(1 − σ(z_t)) ∂z_t ∂z_tᵀ` to the normal matrix's upper triangle (the
/// `J̃ᵀr̃` and `J̃ᵀJ̃` of the working residuals, see
/// [`crate::optim::levenberg_marquardt::LossModel::Likelihood`]) and the recorded
/// decisions to its count. Returns the trajectory's mean cross-entropy (as
/// [`crate::gradient::network::network_trajectory_loss`] gives it, not added to `system`) and the weights
/// the bound clipped. A squared-error trajectory is refused (see
/// [`network_trajectory_gauss_newton`]).
pub fn network_trajectory_fisher(
    network: &Network,
    theta: &[f64],
    active: &[usize],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkTangentWorkspace,
    system: &mut GaussNewtonSystem,
) -> crate::Result<SessionLoss<f64>> {
    if trajectory.loss == TrajectoryLoss::SquaredError {
        return Err(crate::Error::config(
            "solver",
            "Fisher scoring is of a likelihood of decisions; this trajectory's loss is a squared error",
        ));
    }
    if trajectory.loss == TrajectoryLoss::Softmax {
        return Ok(softmax_fisher(
            network, theta, active, trajectory, workspace, system,
        ));
    }
    let mut total = 0.0;
    let clipped = network_trajectory_tangents(
        network,
        theta,
        active,
        trajectory,
        workspace,
        |_, _, z, d, row| {
            let probability = z.sigmoid();
            total += z.softplus() - d * z;
            system.add_scored_row(probability - d, probability * (1.0 - probability), row);
        },
    );
    Ok(SessionLoss {
        loss: trajectory.finish(total),
        clipped,
    })
}

/// [`network_trajectory_fisher`] of a softmax trajectory: per choice set, the score
/// `Σ_k (p_k − d_k) ∂z_k/∂θ` and the information `Σ_k p_k (∂z_k − r̄)(∂z_k − r̄)ᵀ`
/// (`r̄ = Σ_k p_k ∂z_k`), one observation per set.
fn softmax_fisher(
    network: &Network,
    theta: &[f64],
    active: &[usize],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkTangentWorkspace,
    system: &mut GaussNewtonSystem,
) -> SessionLoss<f64> {
    let mut rows = std::mem::take(&mut workspace.choice_rows);
    rows.reset();
    let mut total = 0.0;
    let clipped = network_trajectory_tangents(
        network,
        theta,
        active,
        trajectory,
        workspace,
        |_, _, z, d, row| {
            if let Some(loss) = rows.push(z, d, row, |score, weight, centred| {
                system.add_scored_term(score, weight, centred)
            }) {
                total += loss;
                system.residuals += 1;
            }
        },
    );
    workspace.choice_rows = rows;
    SessionLoss {
        loss: trajectory.finish(total),
        clipped,
    }
}

/// The loss of one trajectory and its gradient over the `active` parameters, in
/// forward mode: memory `(synapses + 2 × neurons) × A` whatever the number of steps.
/// `gradient[active[a]]` gets `∂L/∂θ_active[a]` added: `Σ_t Σ_i 2 (y − ŷ) ∂y/∂θ` for a
/// squared error, `(1/T) Σ_t (σ(z_t) − d_t) ∂z_t/∂θ` for a cross-entropy,
/// `(1/C) Σ_t (p_t − d_t) ∂z_t/∂θ` for a softmax (`p_t` the softmax of `z_t` in its
/// choice set). Returns the
/// loss (a sum or a mean, as [`crate::gradient::network::network_trajectory_loss`]) and the weights the
/// bound clipped.
pub fn network_trajectory_loss_and_gradient_forward(
    network: &Network,
    theta: &[f64],
    active: &[usize],
    trajectory: NetworkTrajectory<'_>,
    workspace: &mut NetworkTangentWorkspace,
    gradient: &mut [f64],
) -> SessionLoss<f64> {
    let mut sum = std::mem::take(&mut workspace.gradient_sum);
    sum.clear();
    sum.resize(active.len(), 0.0);
    let mut total = 0.0;
    let cross_entropy = trajectory.loss == TrajectoryLoss::CrossEntropy;
    let softmax = trajectory.loss == TrajectoryLoss::Softmax;
    let mut choice_rows = std::mem::take(&mut workspace.choice_rows);
    choice_rows.reset();
    let clipped = network_trajectory_tangents(
        network,
        theta,
        active,
        trajectory,
        workspace,
        |_, _, value, target, row| {
            if softmax {
                let closed = choice_rows.push(value, target, row, |score, _, centred| {
                    for (g, &d) in sum.iter_mut().zip(centred) {
                        *g += score * d;
                    }
                });
                total += closed.unwrap_or(0.0);
                return;
            }
            let slope = if cross_entropy {
                total += value.softplus() - target * value;
                value.sigmoid() - target
            } else {
                let residual = value - target;
                total += residual * residual;
                2.0 * residual
            };
            for (g, &d) in sum.iter_mut().zip(row) {
                *g += slope * d;
            }
        },
    );
    let scale = trajectory.finish(1.0);
    for (&k, &g) in active.iter().zip(&sum) {
        gradient[k] += g * scale;
    }
    workspace.gradient_sum = sum;
    workspace.choice_rows = choice_rows;
    SessionLoss {
        loss: trajectory.finish(total),
        clipped,
    }
}
