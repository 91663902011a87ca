//! `plasticity bench-kernels`: wall times of the per-trajectory and per-epoch kernels
//! on simulated data, as JSON, for `bench/run` (which sets them beside the JAX
//! baseline). Timing lives here and in the criterion benches, never in tests.

use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

use plasticity::gradient::{EnginePath, GradientStrategy, NeuralEngine, NeuralWorkspace};
use plasticity::objective::{BehaviourObjective, NeuralObjective, Objective};
use plasticity::pipeline::behaviour::{build_rule, circuit_of};
use plasticity::report::write_json;
use plasticity::rule::RuleFamily;
use plasticity::rule::{parse_expression, PlasticityRule, Rule, TaylorRule, Variables};
use plasticity::scalar::Scalar;
use plasticity::task::{BehaviourTask, OjaTask};

use crate::flags::{BenchArgs, BenchCase};
/// Median wall time of `repeats` calls of `f`, after one warm-up call.
fn median_seconds(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Peak resident memory of this process (Linux `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Gradient time of trajectory 0 of `dataset` in forward mode (f64) on the engine's
/// `path`, and its loss.
fn time_forward_mode(
    dataset: &plasticity::data::NeuralDataset,
    theta: &[f64],
    repeats: usize,
    path: EnginePath,
) -> Result<(f64, f64)> {
    let engine =
        NeuralEngine::for_dataset(dataset, TaylorRule::new(Variables::Xyw))?.with_path(path);
    let mut workspace = NeuralWorkspace::new();
    let mut gradient = vec![0.0; theta.len()];
    let mut loss = 0.0;
    let seconds = median_seconds(repeats, || {
        loss = engine.sse_and_gradient(
            theta,
            dataset.trajectory(0),
            GradientStrategy::Forward,
            &mut workspace,
            &mut gradient,
        );
    });
    Ok((seconds, loss))
}

/// Forward and gradient time of trajectory 0 of `dataset` in precision `S`: the loss as
/// the engine runs it, the adjoint on the fast path (the general step is f64 only).
fn time_trajectory<S: Scalar>(
    dataset: &plasticity::data::NeuralDataset,
    theta: &[f64],
    repeats: usize,
    strategy: GradientStrategy,
) -> Result<(f64, f64, f64)> {
    let engine = NeuralEngine::for_dataset(dataset, TaylorRule::new(Variables::Xyw))?;
    let theta: Vec<S> = theta.iter().map(|&v| S::from_f64(v)).collect();
    let trajectory = dataset.trajectory(0);
    let mut workspace = NeuralWorkspace::<S>::new();
    let mut gradient = vec![S::zero(); theta.len()];
    let mut loss = 0.0;
    let forward = median_seconds(repeats, || {
        loss = engine.sse(&theta, trajectory, &mut workspace).re();
    });
    let backward = median_seconds(repeats, || {
        engine.fast_path_sse_and_gradient(
            &theta,
            trajectory,
            strategy,
            &mut workspace,
            &mut gradient,
        );
    });
    Ok((forward, backward, loss))
}

/// Forward and gradient (adjoint by `strategy`) time of trajectory 0 of `dataset` in
/// f64 on the engine's `path`.
fn time_path(
    dataset: &plasticity::data::NeuralDataset,
    theta: &[f64],
    repeats: usize,
    strategy: GradientStrategy,
    path: EnginePath,
) -> Result<(f64, f64)> {
    let engine =
        NeuralEngine::for_dataset(dataset, TaylorRule::new(Variables::Xyw))?.with_path(path);
    let trajectory = dataset.trajectory(0);
    let mut workspace = NeuralWorkspace::new();
    let mut gradient = vec![0.0; theta.len()];
    let forward = median_seconds(repeats, || {
        engine.sse(theta, trajectory, &mut workspace);
    });
    let backward = median_seconds(repeats, || {
        engine.sse_and_gradient(theta, trajectory, strategy, &mut workspace, &mut gradient);
    });
    Ok((forward, backward))
}

/// The fast path's times against the general step's, the two alternated `repeats`
/// times (`oja_*_fast_path_f64_s`, `oja_*_general_f64_s`, medians), and
/// `fast_path_speedup_*`: the general step's time over the fast path's, what decides
/// where [`EnginePath::Auto`] takes the fast path.
fn time_fast_path_speedup(
    dataset: &plasticity::data::NeuralDataset,
    theta: &[f64],
    repeats: usize,
    results: &mut Map<String, Value>,
) -> Result<()> {
    let paths = [EnginePath::FastPath, EnginePath::General];
    let mut times: [[Vec<f64>; 3]; 2] = Default::default();
    for _ in 0..repeats.max(1) {
        for (p, path) in paths.into_iter().enumerate() {
            let (forward, gradient) =
                time_path(dataset, theta, 1, GradientStrategy::Checkpointed, path)?;
            let (forward_mode, _) = time_forward_mode(dataset, theta, 1, path)?;
            for (slot, time) in times[p].iter_mut().zip([forward, gradient, forward_mode]) {
                slot.push(time);
            }
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let [mut fast, mut general] = times;
    let keys = [
        ("forward", "forward"),
        ("gradient", "gradient"),
        ("gradient_forward_mode", "forward_mode"),
    ];
    for (k, (key, name)) in keys.into_iter().enumerate() {
        let (fast, general) = (median(&mut fast[k]), median(&mut general[k]));
        results.insert(format!("oja_{key}_fast_path_f64_s"), json!(fast));
        results.insert(format!("oja_{key}_general_f64_s"), json!(general));
        results.insert(format!("fast_path_speedup_{name}"), json!(general / fast));
    }
    Ok(())
}

/// `--case sparse`: one trajectory of x (n_pre inputs) → y (n_post sigmoid neurons,
/// all recorded), the projection plastic under a Taylor rule with `density` of its
/// synapses present.
fn bench_sparse(args: &BenchArgs) -> Result<Map<String, Value>> {
    use plasticity::circuit::{
        Activation, Connectivity, NamedRule, Network, Population, PopulationKind, Projection,
    };
    use plasticity::gradient::network::{
        network_trajectory_sse, network_trajectory_sse_and_gradient, NetworkTrajectory,
        NetworkWorkspace, TrajectoryLoss,
    };
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(0);
    let (n_pre, n_post, steps) = (args.n_pre, args.n_post, args.steps);
    let connectivity =
        Connectivity::from_fn(n_pre, n_post, |_, _| rng.random::<f64>() < args.density);
    let network = Network::new(
        vec![
            Population {
                name: "x".into(),
                size: n_pre,
                kind: PopulationKind::Input,
            },
            Population {
                name: "y".into(),
                size: n_post,
                kind: PopulationKind::Neurons {
                    activation: Activation::Sigmoid,
                    external_input: false,
                    initial_activity: 0.5,
                },
            },
        ],
        vec![Projection {
            name: "w".into(),
            pre: 0,
            post: 1,
            delayed: false,
            connectivity,
            rule: Some(0),
            learning_rate: 1.0,
        }],
        vec![NamedRule {
            name: "rule".into(),
            rule: Rule::taylor(Variables::Xyw),
        }],
    )?;
    let n = network.n_neurons();
    let synapses = network.n_synapses();
    let weight_std = 1.0 / (n_pre as f64 * args.density).sqrt();
    let standard = rand_distr::StandardNormal;
    let mut normal = || -> f64 { rng.sample(standard) };
    let mut drive = vec![0.0; steps * n];
    for t in 0..steps {
        for slot in &mut drive[t * n..t * n + n_pre] {
            *slot = 0.1f64.sqrt() * normal();
        }
    }
    let initial_weights: Vec<f64> = (0..synapses).map(|_| weight_std * normal()).collect();
    let recorded: Vec<usize> = (n_pre..n).collect();
    let targets: Vec<f64> = (0..steps * n_post).map(|_| 0.5 + 0.05 * normal()).collect();
    let trajectory = NetworkTrajectory {
        steps,
        drive: &drive,
        initial_weights: &initial_weights,
        recorded: &recorded,
        recorded_activity: &targets,
        reward: &[],
        gate: &[],
        loss: TrajectoryLoss::SquaredError,
    };
    let oja = parse_expression("x*y - y^2*w", Variables::Xyw)?;
    let theta: Vec<f64> = oja
        .iter()
        .enumerate()
        .map(|(k, v)| v + 1e-3 * (k as f64 - 13.0) / 13.0)
        .collect();
    let mut workspace = NetworkWorkspace::new();
    let mut loss = 0.0;
    let forward = median_seconds(args.repeats, || {
        loss = network_trajectory_sse(
            &network,
            &theta,
            &initial_weights,
            trajectory,
            &mut workspace,
        );
    });
    let mut gradient = vec![0.0; theta.len()];
    let strategy = args.gradient.strategy();
    let backward = median_seconds(args.repeats, || {
        network_trajectory_sse_and_gradient(
            &network,
            &theta,
            trajectory,
            strategy,
            &mut workspace,
            &mut gradient,
            None,
        );
    });
    let mut results = Map::new();
    results.insert("density".into(), json!(args.density));
    results.insert("possible_synapses".into(), json!(n_pre * n_post));
    results.insert("synapses".into(), json!(synapses));
    results.insert("steps".into(), json!(steps));
    results.insert("circuit_forward_s".into(), json!(forward));
    results.insert("circuit_gradient_s".into(), json!(backward));
    results.insert("circuit_loss".into(), json!(loss));
    results.insert("gradient".into(), json!(args.gradient.name()));
    results.insert("peak_rss_bytes".into(), json!(peak_rss_bytes()));
    Ok(results)
}

pub(crate) fn bench_command(args: &BenchArgs) -> Result<()> {
    if args.steps == 0 || args.n_pre == 0 || args.n_post == 0 {
        bail!("--steps, --n-pre and --n-post must be at least 1");
    }
    if let Err((key, message)) = args.check() {
        bail!("--{}: {message}", key.replace('_', "-"));
    }
    if args.case == BenchCase::Sparse {
        let results = bench_sparse(args)?;
        let text = serde_json::to_string_pretty(&Value::Object(results.clone()))?;
        out!("{text}");
        if let Some(path) = &args.json {
            write_json(path, &Value::Object(results))?;
        }
        return Ok(());
    }
    // Oja data of the asked size
    let oja_data = |trajectories: usize| {
        OjaTask {
            n_pre: args.n_pre,
            n_post: args.n_post,
            steps: args.steps,
            trajectories,
            ..OjaTask::default()
        }
        .simulate()
    };
    let dataset = oja_data(1)?;
    // Oja's rule with every other term slightly non-zero (no shortcut on zeros)
    let oja = parse_expression("x*y - y^2*w", Variables::Xyw)?;
    let theta: Vec<f64> = oja
        .iter()
        .enumerate()
        .map(|(k, v)| v + 1e-3 * (k as f64 - 13.0) / 13.0)
        .collect();
    let mut results = Map::new();
    results.insert("steps".into(), json!(args.steps));
    results.insert("n_pre".into(), json!(args.n_pre));
    results.insert("n_post".into(), json!(args.n_post));
    let strategy = args.gradient.strategy();
    results.insert("gradient".into(), json!(args.gradient.name()));
    if strategy == GradientStrategy::Forward {
        // forward mode alone (its memory is what a scaling run measures)
        let (gradient, loss) = time_forward_mode(&dataset, &theta, args.repeats, EnginePath::Auto)?;
        results.insert("oja_gradient_f64_s".into(), json!(gradient));
        results.insert("oja_loss_f64".into(), json!(loss));
    } else {
        let (forward, gradient, loss) =
            time_trajectory::<f64>(&dataset, &theta, args.repeats, strategy)?;
        results.insert("oja_forward_f64_s".into(), json!(forward));
        results.insert("oja_gradient_f64_s".into(), json!(gradient));
        results.insert("oja_loss_f64".into(), json!(loss));
    }
    if args.case == BenchCase::All {
        let (forward_mode, _) =
            time_forward_mode(&dataset, &theta, args.repeats, EnginePath::Auto)?;
        results.insert(
            "oja_gradient_forward_mode_f64_s".into(),
            json!(forward_mode),
        );
        let (forward, gradient, loss) = time_trajectory::<f32>(
            &dataset,
            &theta,
            args.repeats,
            GradientStrategy::Checkpointed,
        )?;
        results.insert("oja_forward_f32_s".into(), json!(forward));
        results.insert("oja_gradient_f32_s".into(), json!(gradient));
        results.insert("oja_loss_f32".into(), json!(loss));
        time_fast_path_speedup(&dataset, &theta, args.repeats, &mut results)?;
        time_behaviour_epochs(args.repeats, &mut results)?;
        // multi-trajectory work: the full-batch loss and gradient over 10 trajectories
        // on a pool of 1 and of 2 threads (computation only), and whether they agree
        let batch = oja_data(10)?;
        time_batch_gradient(&batch, &theta, args.repeats, &mut results)?;
    }
    results.insert("peak_rss_bytes".into(), json!(peak_rss_bytes()));
    results.insert("threads".into(), json!(rayon::current_num_threads()));
    results.insert("repeats".into(), json!(args.repeats));
    results.insert("version".into(), json!(plasticity::VERSION));
    let value = Value::Object(results);
    if let Some(path) = &args.json {
        write_json(path, &value)?;
    }
    out!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

/// One epoch of the behaviour fit (Taylor and MLP rules, adjoint and forward mode):
/// `behaviour_epoch_*` and `behaviour_sessions`.
fn time_behaviour_epochs(repeats: usize, results: &mut Map<String, Value>) -> Result<()> {
    // one epoch of the behaviour fit: a loss and gradient per session (Adam,
    // batch 1) over 18 sessions × 240 trials, 2 → 10 → 1
    let behaviour = BehaviourTask {
        rule: "x*r".into(),
        ..BehaviourTask::default()
    }
    .simulate()?;
    let circuit = circuit_of(&behaviour, Some(10.0));
    for (name, rule) in [
        ("taylor", build_rule(RuleFamily::Taylor, &[])?),
        ("mlp", build_rule(RuleFamily::Mlp, &[10])?),
    ] {
        let theta: Vec<f64> = match rule.as_taylor() {
            Some(_) => parse_expression("x*r - 0.05*w", Variables::Xywr)?,
            None => (0..rule.n_parameters())
                .map(|k| 0.01 * ((k * 7919) % 13) as f64 / 13.0 - 0.005)
                .collect(),
        };
        let objective = BehaviourObjective::new(
            &behaviour,
            behaviour.inputs.clone(),
            circuit,
            rule.clone(),
            GradientStrategy::Checkpointed,
        )?;
        let mut gradient = vec![0.0; rule.n_parameters()];
        let epoch = median_seconds(repeats, || {
            for session in 0..behaviour.n_sessions() {
                objective.loss_and_gradient(&theta, &[session], &mut gradient);
            }
        });
        results.insert(format!("behaviour_epoch_{name}_s"), json!(epoch));
        let forward_objective = BehaviourObjective::new(
            &behaviour,
            behaviour.inputs.clone(),
            circuit,
            rule.clone(),
            GradientStrategy::Forward,
        )?;
        let epoch = median_seconds(repeats, || {
            for session in 0..behaviour.n_sessions() {
                forward_objective.loss_and_gradient(&theta, &[session], &mut gradient);
            }
        });
        results.insert(
            format!("behaviour_epoch_{name}_forward_mode_s"),
            json!(epoch),
        );
    }
    results.insert("behaviour_sessions".into(), json!(behaviour.n_sessions()));
    Ok(())
}

/// The full-batch loss and gradient over `batch` on 1 and 2 threads, and whether they
/// agree: `batch_gradient_*`.
fn time_batch_gradient(
    batch: &plasticity::data::NeuralDataset,
    theta: &[f64],
    repeats: usize,
    results: &mut Map<String, Value>,
) -> Result<()> {
    let objective = NeuralObjective::new(
        batch,
        Rule::taylor(Variables::Xyw),
        GradientStrategy::Checkpointed,
    )?;
    let items: Vec<usize> = (0..batch.n_trajectories()).collect();
    let on_threads = |threads: usize| -> Result<(f64, f64, Vec<f64>)> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        let mut gradient = vec![0.0; 27];
        let mut loss = 0.0;
        let seconds = pool.install(|| {
            median_seconds(repeats, || {
                loss = objective.loss_and_gradient(theta, &items, &mut gradient);
            })
        });
        Ok((seconds, loss, gradient))
    };
    let (one, loss_one, gradient_one) = on_threads(1)?;
    let (two, loss_two, gradient_two) = on_threads(2)?;
    results.insert("batch_gradient_trajectories".into(), json!(items.len()));
    results.insert("batch_gradient_1_thread_s".into(), json!(one));
    results.insert("batch_gradient_2_threads_s".into(), json!(two));
    results.insert("batch_gradient_speedup".into(), json!(one / two));
    results.insert(
        "batch_gradient_identical".into(),
        json!(loss_one.to_bits() == loss_two.to_bits() && gradient_one == gradient_two),
    );
    Ok(())
}
