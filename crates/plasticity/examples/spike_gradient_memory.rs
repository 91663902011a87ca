//! The heap the spike-train gradient itself takes, by strategy and recording length
//! (docs/spiking.md, "Memory"): the pair-STDP circuit of experiments/spiking/stdp_pair.toml
//! is simulated for each length, then the peak heap above what the recording already
//! holds is measured around one loss-and-gradient call (a counting allocator).
//!
//! `cargo run --release -p plasticity --example spike_gradient_memory -- 100000 1000000`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use plasticity::circuit::spiking::spec::SpikingCircuitSpec;
use plasticity::gradient::spiking::adjoint::{likelihood_adjoint, AdjointWorkspace};
use plasticity::gradient::spiking::forward::{likelihood_forward, ForwardWorkspace};
use plasticity::gradient::spiking::SpikeTrial;
use plasticity::gradient::GradientStrategy;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak heap above the current one while `job` runs.
fn peak_above_baseline<T>(job: impl FnOnce() -> T) -> (T, usize) {
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let out = job();
    (out, PEAK.load(Ordering::Relaxed) - baseline)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lengths: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let lengths = if lengths.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        lengths
    };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/spiking/stdp_pair.toml"
    );
    let spec = SpikingCircuitSpec::load(path)?;
    let circuit = spec.build(7)?;
    let theta = spec.generating_theta()?;
    println!("steps,strategy,recording_bytes,gradient_peak_bytes,seconds,negative_log_likelihood,gradient");
    for steps in lengths {
        let recording = plasticity::task::spiking::simulate_recording(
            &spec, &circuit, &theta, steps, 7, steps,
        )?;
        let raster = &recording.run.raster;
        let recording_bytes = raster.n_spikes() * 4 + (steps + 1) * 8;
        let trial = SpikeTrial {
            raster,
            initial_weights: &recording.initial_weights,
            reward: None,
            steps,
        };
        let start = std::time::Instant::now();
        let (system, peak) = peak_above_baseline(|| {
            likelihood_forward(
                &circuit,
                &theta,
                trial,
                false,
                &mut ForwardWorkspace::default(),
            )
        });
        println!(
            "{steps},forward,{recording_bytes},{peak},{:.3},{:.6},{:?}",
            start.elapsed().as_secs_f64(),
            system.loss,
            system.gradient
        );
        let start = std::time::Instant::now();
        let mut gradient = vec![0.0; theta.len()];
        let (loss, peak) = peak_above_baseline(|| {
            likelihood_adjoint(
                &circuit,
                &theta,
                trial,
                GradientStrategy::Checkpointed,
                &mut AdjointWorkspace::default(),
                &mut gradient,
            )
        });
        println!(
            "{steps},checkpointed_adjoint,{recording_bytes},{peak},{:.3},{loss:.6},{gradient:?}",
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
