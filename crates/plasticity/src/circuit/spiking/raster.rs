//! Recorded spikes of one trajectory, step by step: for each step the (ascending)
//! neurons that spiked, in compressed rows.

use crate::{Error, Result};

/// The spikes of one trajectory: `neurons[offsets[t]..offsets[t + 1]]` spiked at step
/// `t` (global neuron indices, ascending).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpikeRaster {
    offsets: Vec<usize>,
    neurons: Vec<u32>,
}

impl SpikeRaster {
    /// An empty raster, to be filled step by step with [`SpikeRaster::push_step`].
    pub fn new() -> Self {
        SpikeRaster {
            offsets: vec![0],
            neurons: Vec::new(),
        }
    }

    /// Appends a step whose spiking neurons are `neurons` (ascending).
    pub fn push_step(&mut self, neurons: impl IntoIterator<Item = u32>) {
        self.neurons.extend(neurons);
        self.offsets.push(self.neurons.len());
    }

    /// From `(step, neuron)` pairs in any order, over `steps` steps of `n_neurons`
    /// neurons; `what` names the data in errors.
    pub fn from_events(
        steps: usize,
        n_neurons: usize,
        mut events: Vec<(usize, u32)>,
        what: &str,
    ) -> Result<Self> {
        events.sort_unstable();
        events.dedup();
        let mut offsets = vec![0usize; steps + 1];
        for &(t, i) in &events {
            if t >= steps || i as usize >= n_neurons {
                return Err(Error::config(
                    what,
                    format!("spike at step {t} of neuron {i}, outside {steps} steps × {n_neurons} neurons"),
                ));
            }
            offsets[t + 1] += 1;
        }
        for t in 0..steps {
            offsets[t + 1] += offsets[t];
        }
        Ok(SpikeRaster {
            offsets,
            neurons: events.into_iter().map(|(_, i)| i).collect(),
        })
    }

    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The neurons that spiked at step `t`.
    #[inline]
    pub fn at(&self, t: usize) -> &[u32] {
        &self.neurons[self.offsets[t]..self.offsets[t + 1]]
    }

    /// All spikes.
    pub fn n_spikes(&self) -> usize {
        self.neurons.len()
    }

    /// The first `steps` steps.
    pub fn truncated(&self, steps: usize) -> SpikeRaster {
        let steps = steps.min(self.steps());
        SpikeRaster {
            offsets: self.offsets[..=steps].to_vec(),
            neurons: self.neurons[..self.offsets[steps]].to_vec(),
        }
    }

    /// `(step, neuron)` of every spike, in order.
    pub fn events(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        (0..self.steps()).flat_map(move |t| self.at(t).iter().map(move |&i| (t, i)))
    }
}
