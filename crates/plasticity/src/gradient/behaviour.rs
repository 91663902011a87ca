//! The adjoint of a behaviour session (docs/model.md §3.2, §6): the mean binary cross-entropy
//! of the circuit's `P(accept)` against every recorded decision, differentiated through
//! the once-per-trial updates at accepted presentations.
//!
//! Per presentation `p`: `h_p = tanh(W_p x_p)`, `ℓ_p = softplus(z_p) − d_p z_p` with
//! `z_p = v Σ h_p` (the cross-entropy of `σ(z_p)`), and if `d_p = 1`,
//! `W_{p+1} = clip_B(W_p + η g_θ(x_p, h_p, W_p, r_p))`. The backward pass runs
//! `λ_p = ∂L/∂W_p` from the last presentation to the first, with weight checkpoints
//! every `K` presentations exactly as for the neural circuit.
//!
//! The same circuit is an instance of the multi-population engine
//! ([`Network::behaviour`](crate::circuit::Network::behaviour) with a session converted
//! by [`BehaviourTrajectory`](crate::gradient::network::BehaviourTrajectory)), which
//! gives this loss and θ-gradient to 1e-12 (tests in `gradient/network/behaviour/`).
//! Fits of behaviour data keep this specialised kernel: it also has the forward-mode
//! variant and the clipped-weight count, and its speed is what was measured before.

use super::{load, resize, GradientStrategy};
use crate::circuit::behaviour::is_clipped;
use crate::circuit::BehaviourCircuit;
use crate::data::BehaviourSession;
use crate::rule::PlasticityRule;
use crate::scalar::Scalar;

/// Buffers for one session's forward and backward pass, reused across sessions.
#[derive(Debug, Default)]
pub struct BehaviourWorkspace<S> {
    weights: Vec<S>,
    input: Vec<S>,
    hidden: Vec<S>,
    checkpoints: Vec<S>,
    segment_weights: Vec<S>,
    segment_hidden: Vec<S>,
    segment_logit: Vec<S>,
    unclipped: Vec<S>,
    weights_adjoint: Vec<S>,
    hidden_adjoint: Vec<S>,
    theta_adjoint: Vec<S>,
    scratch: Vec<S>,
}

impl<S: Scalar> BehaviourWorkspace<S> {
    /// Empty buffers; sized on first use.
    pub fn new() -> Self {
        BehaviourWorkspace {
            weights: Vec::new(),
            input: Vec::new(),
            hidden: Vec::new(),
            checkpoints: Vec::new(),
            segment_weights: Vec::new(),
            segment_hidden: Vec::new(),
            segment_logit: Vec::new(),
            unclipped: Vec::new(),
            weights_adjoint: Vec::new(),
            hidden_adjoint: Vec::new(),
            theta_adjoint: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

/// The loss of one session and how many weight updates the bound clipped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionLoss<S> {
    /// Mean binary cross-entropy over the session's presentations.
    pub loss: S,
    /// Weights clipped by the bound over the session (0 without a bound).
    pub clipped: usize,
}

/// `ℓ = softplus(z) − d z`, the cross-entropy of `P = σ(z)` for decision `d`.
#[inline]
fn cross_entropy<S: Scalar>(logit: S, decision: i64) -> S {
    let d = S::from_f64(decision as f64);
    logit.softplus() - d * logit
}

/// The mean cross-entropy of one session simulated with `θ` (forward only; generic so
/// that dual numbers can differentiate it).
pub fn behaviour_session_loss<S: Scalar, R: PlasticityRule>(
    circuit: &BehaviourCircuit,
    rule: &R,
    theta: &[S],
    session: BehaviourSession<'_>,
    workspace: &mut BehaviourWorkspace<S>,
) -> SessionLoss<S> {
    replay_session(circuit, rule, theta, session, workspace, |_, _, _, _| {})
}

/// Runs the circuit over a session driven by its inputs, decisions and rewards, calling
/// `observe(p, W_p, h_p, ℓ_p)` at every presentation before its update; returns the
/// mean cross-entropy (and the clipped count).
pub fn replay_session<S: Scalar, R: PlasticityRule>(
    circuit: &BehaviourCircuit,
    rule: &R,
    theta: &[S],
    session: BehaviourSession<'_>,
    workspace: &mut BehaviourWorkspace<S>,
    mut observe: impl FnMut(usize, &[S], &[S], S),
) -> SessionLoss<S> {
    let n_in = circuit.n_in;
    let ws = workspace;
    resize(&mut ws.weights, circuit.n_synapses());
    load(&mut ws.weights, session.initial_weights);
    resize(&mut ws.input, n_in);
    resize(&mut ws.hidden, circuit.n_hidden);
    resize(&mut ws.scratch, rule.scratch_len(n_in));
    let n_pres = session.n_presentations();
    let mut total = S::zero();
    let mut clipped = 0;
    for p in 0..n_pres {
        load(&mut ws.input, &session.inputs[p * n_in..(p + 1) * n_in]);
        let logit = circuit.activity(&ws.input, &ws.weights, &mut ws.hidden);
        let loss = cross_entropy(logit, session.decisions[p]);
        observe(p, &ws.weights, &ws.hidden, loss);
        total += loss;
        if session.decisions[p] == 1 && p + 1 < n_pres {
            clipped += circuit.plasticity(
                rule,
                theta,
                &ws.input,
                &ws.hidden,
                S::from_f64(session.reward_at(p)),
                &mut ws.weights,
                &mut ws.scratch,
            );
        }
    }
    SessionLoss {
        loss: total / S::from_f64(n_pres as f64),
        clipped,
    }
}

/// The mean cross-entropy of one session and its gradient with respect to `θ` (added to
/// `gradient`), by the reverse-mode adjoint with the given checkpointing strategy.
///
/// The update after the last presentation cannot affect any decision, so it is skipped.
pub fn behaviour_session_loss_and_gradient<S: Scalar, R: PlasticityRule>(
    circuit: &BehaviourCircuit,
    rule: &R,
    theta: &[S],
    session: BehaviourSession<'_>,
    strategy: GradientStrategy,
    workspace: &mut BehaviourWorkspace<S>,
    gradient: &mut [S],
) -> SessionLoss<S> {
    let (n_in, n_hidden, n_syn) = (circuit.n_in, circuit.n_hidden, circuit.n_synapses());
    let n_pres = session.n_presentations();
    let segment = strategy.segment_length(n_pres);
    let n_segments = n_pres.div_ceil(segment);
    let ws = workspace;
    resize(&mut ws.checkpoints, n_segments * n_syn);
    resize(&mut ws.segment_weights, segment * n_syn);
    resize(&mut ws.segment_hidden, segment * n_hidden);
    resize(&mut ws.segment_logit, segment);
    resize(&mut ws.unclipped, n_syn);
    resize(&mut ws.weights_adjoint, n_syn);
    resize(&mut ws.hidden_adjoint, n_hidden);
    resize(&mut ws.theta_adjoint, theta.len());
    let scale = S::from_f64(1.0 / n_pres as f64);
    let input = |p: usize| &session.inputs[p * n_in..(p + 1) * n_in];
    let plastic = |p: usize| session.decisions[p] == 1 && p + 1 < n_pres;

    // Forward: the replay itself, keeping a checkpoint at the start of every segment
    // (the buffer is moved out of the workspace for the closure, not reallocated).
    let mut checkpoints = std::mem::take(&mut ws.checkpoints);
    let forward = replay_session(circuit, rule, theta, session, ws, |p, weights, _, _| {
        if p % segment == 0 {
            let k = p / segment;
            checkpoints[k * n_syn..(k + 1) * n_syn].copy_from_slice(weights);
        }
    });
    ws.checkpoints = checkpoints;

    // Backward, segment by segment from the last.
    for k in (0..n_segments).rev() {
        let start = k * segment;
        let end = (start + segment).min(n_pres);
        ws.weights
            .copy_from_slice(&ws.checkpoints[k * n_syn..(k + 1) * n_syn]);
        for p in start..end {
            let local = p - start;
            ws.segment_weights[local * n_syn..(local + 1) * n_syn].copy_from_slice(&ws.weights);
            load(&mut ws.input, input(p));
            let hidden = &mut ws.segment_hidden[local * n_hidden..(local + 1) * n_hidden];
            ws.segment_logit[local] = circuit.activity(&ws.input, &ws.weights, hidden);
            if plastic(p) && p + 1 < end {
                circuit.plasticity(
                    rule,
                    theta,
                    &ws.input,
                    hidden,
                    S::from_f64(session.reward_at(p)),
                    &mut ws.weights,
                    &mut ws.scratch,
                );
            }
        }
        for p in (start..end).rev() {
            let local = p - start;
            load(&mut ws.input, input(p));
            let hidden = &ws.segment_hidden[local * n_hidden..(local + 1) * n_hidden];
            let weights_before = &ws.segment_weights[local * n_syn..(local + 1) * n_syn];
            ws.hidden_adjoint.iter_mut().for_each(|a| *a = S::zero());
            if plastic(p) {
                let reward = S::from_f64(session.reward_at(p));
                if let Some(bound) = circuit.weight_bound {
                    // the clip passes no gradient to weights it held at the bound
                    ws.unclipped.copy_from_slice(weights_before);
                    rule.update(
                        theta,
                        circuit.layer(&ws.input, hidden, reward),
                        &mut ws.unclipped,
                        &mut ws.scratch,
                    );
                    for (lambda, w) in ws.weights_adjoint.iter_mut().zip(&ws.unclipped) {
                        if is_clipped(w.re(), bound) {
                            *lambda = S::zero();
                        }
                    }
                }
                rule.update_vjp(
                    theta,
                    circuit.layer(&ws.input, hidden, reward),
                    weights_before,
                    &mut ws.weights_adjoint,
                    &mut ws.hidden_adjoint,
                    &mut ws.theta_adjoint,
                    &mut ws.scratch,
                );
            }
            // ∂ℓ/∂z = σ(z) − d, averaged over the session
            let logit = ws.segment_logit[local];
            let logit_adjoint =
                (logit.sigmoid() - S::from_f64(session.decisions[p] as f64)) * scale;
            circuit.activity_vjp(
                &ws.input,
                hidden,
                logit_adjoint,
                &ws.hidden_adjoint,
                &mut ws.weights_adjoint,
            );
        }
    }
    for (g, a) in gradient.iter_mut().zip(&ws.theta_adjoint) {
        *g += *a;
    }
    forward
}

#[cfg(test)]
mod tests;
