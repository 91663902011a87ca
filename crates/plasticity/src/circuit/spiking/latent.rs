//! Latent neurons by expectation over the time since their last spike (a refractory
//! density, as for escape-noise populations in Gerstner et al., *Neuronal Dynamics*,
//! ch. 14).
//!
//! A latent neuron's membrane depends on its input, which is known (teacher-forced
//! sources and recorded neurons, and other latent neurons by expectation), and on when
//! it last spiked, which is not. So each latent neuron carries a distribution over the
//! age `a` of its last spike, `m_a` (mass), with the membrane `V_a` it would have
//! at that age: per step, with `p_a = p(V_a − ϑ)` (0 while refractory, `a < R`),
//! - the expected spike `ŝ_t = Σ_a m_a p_a`;
//! - next step every age grows by one, `m_{a+1} ← m_a (1 − p_a)`, `V_{a+1} ← V_a`,
//!   the spikes start age 0, `m_0 ← ŝ_t`, `V_0 ← V_reset`;
//! - every age integrates, `V_a ← α V_a + I_t` (held at the reset while `a < R`).
//!
//! The oldest age holds everything older (its membrane the mass-weighted mean; it has
//! forgotten the reset to `α^A` of it). With fixed weights and known input, `ŝ_t` is
//! the neuron's exact marginal spike probability; plastic weights onto it follow their
//! expected update, and the recorded neurons receive `ŝ` (mean field).

use super::{LifNeuron, SpikingCircuit, SpikingKind};
use crate::scalar::Scalar;

/// The reset's weight `α^A` the oldest age may keep.
const FORGOTTEN: f64 = 1e-4;

/// The age distributions of every latent neuron.
#[derive(Clone, Debug)]
pub struct AgeDensity<S> {
    /// Ages per neuron (`A`).
    bins: usize,
    /// Per neuron (global index), its slot (`usize::MAX`: not latent).
    slot: Vec<usize>,
    /// `m_a`, slot-major.
    mass: Vec<S>,
    /// `V_a`.
    membrane: Vec<S>,
    /// `p_a` of the last decision.
    probability: Vec<S>,
}

impl<S: Scalar> AgeDensity<S> {
    /// Every latent neuron at its reset, last spike long ago (the oldest age).
    pub fn new(circuit: &SpikingCircuit) -> Self {
        let mut slot = vec![usize::MAX; circuit.n_neurons()];
        let mut bins = 2;
        let mut count = 0;
        for (p, population) in circuit.populations().iter().enumerate() {
            let SpikingKind::Lif(neuron) = population.kind else {
                continue;
            };
            if !circuit.is_latent(p) {
                continue;
            }
            bins = bins.max(ages_for(&neuron));
            for i in circuit.neuron_range(p) {
                slot[i] = count;
                count += 1;
            }
        }
        let mut density = AgeDensity {
            bins,
            slot,
            mass: vec![S::zero(); count * bins],
            membrane: vec![S::zero(); count * bins],
            probability: vec![S::zero(); count * bins],
        };
        for (p, population) in circuit.populations().iter().enumerate() {
            if let (SpikingKind::Lif(neuron), true) = (population.kind, circuit.is_latent(p)) {
                for i in circuit.neuron_range(p) {
                    let range = density.range(i);
                    density.membrane[range.clone()].fill(S::from_f64(neuron.reset));
                    density.mass[range.end - 1] = S::one();
                }
            }
        }
        density
    }

    fn range(&self, i: usize) -> std::ops::Range<usize> {
        let s = self.slot[i];
        s * self.bins..(s + 1) * self.bins
    }

    /// Step item 3 for latent neuron `i` receiving `input` this step: ages grow (the
    /// last step's spikes start age 0) and integrate. Returns the mean membrane.
    pub fn advance(&mut self, i: usize, neuron: &LifNeuron, input: S) -> S {
        let range = self.range(i);
        let bins = self.bins;
        let m = &mut self.mass[range.clone()];
        let v = &mut self.membrane[range.clone()];
        let p = &self.probability[range];
        let one = S::one();
        let spiked = m.iter().zip(p).fold(S::zero(), |s, (&m, &p)| s + m * p);
        let (old, older) = (
            m[bins - 1] * (one - p[bins - 1]),
            m[bins - 2] * (one - p[bins - 2]),
        );
        let total = old + older;
        v[bins - 1] = if total.re() > 0.0 {
            (old * v[bins - 1] + older * v[bins - 2]) / total
        } else {
            v[bins - 2]
        };
        m[bins - 1] = total;
        for a in (1..bins - 1).rev() {
            m[a] = m[a - 1] * (one - p[a - 1]);
            v[a] = v[a - 1];
        }
        m[0] = spiked;
        v[0] = S::from_f64(neuron.reset);
        let (leak, reset) = (S::from_f64(neuron.leak), S::from_f64(neuron.reset));
        let mut mean = S::zero();
        for (a, (v, &m)) in v.iter_mut().zip(m.iter()).enumerate() {
            *v = if a < neuron.refractory_steps {
                reset
            } else {
                *v * leak + input
            };
            mean += m * *v;
        }
        mean
    }

    /// Step item 3's spike of latent neuron `i`: `ŝ = Σ_a m_a p(V_a − ϑ)`.
    pub fn expected_spike(&mut self, i: usize, neuron: &LifNeuron) -> S {
        let range = self.range(i);
        let threshold = S::from_f64(neuron.threshold);
        let mut expected = S::zero();
        for (a, k) in range.enumerate() {
            let p = if a < neuron.refractory_steps {
                S::zero()
            } else {
                neuron
                    .escape
                    .probability_generic(self.membrane[k] - threshold)
            };
            self.probability[k] = p;
            expected += self.mass[k] * p;
        }
        expected
    }
}

/// `A`: enough ages that the oldest has forgotten the reset to [`FORGOTTEN`], and
/// past the refractory steps.
fn ages_for(neuron: &LifNeuron) -> usize {
    let forgetting = if neuron.leak > 0.0 && neuron.leak < 1.0 {
        (FORGOTTEN.ln() / neuron.leak.ln()).ceil() as usize
    } else if neuron.leak == 0.0 {
        1
    } else {
        1000
    };
    forgetting.clamp(2, 1000) + neuron.refractory_steps + 1
}
