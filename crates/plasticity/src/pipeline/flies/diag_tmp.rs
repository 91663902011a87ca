//! TEMPORARY diagnostic (not committed).
#[test]
#[ignore]
fn diagnose_profile() {
    use super::settings::{fly_dataset, fly_fit_settings, FlySettings};
    use crate::analysis::profile::{maximum_likelihood, profile_interval, ProfileSettings};
    use crate::objective::{BehaviourObjective, Objective};
    use crate::pipeline::behaviour::{circuit_of, fit_behaviour, resample_inputs};
    use crate::rule::{term_names, TaylorRule, Variables};
    let flies = crate::data::load_fly_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/flies")).unwrap();
    let fly = std::env::var("FLY").unwrap_or("Fly1".into());
    let recording = flies.iter().find(|f| f.name == fly).unwrap();
    let mut settings = FlySettings::default();
    settings.task = crate::data::BehaviourKind::Choice; settings.heldout_from_trial = Some(160);
    if std::env::var("NOBOUND").is_ok() { settings.weight_bound = None; }
    let model = "1,x,r,x*r,w";
    let seed = settings.seed;
    let full = fly_dataset(std::slice::from_ref(recording), &settings, seed).unwrap();
    let fit_settings = fly_fit_settings(model, &settings, seed);
    let fit_all = fit_behaviour(&full, &fit_settings, &mut |_| std::ops::ControlFlow::Continue(())).unwrap();
    let inputs = resample_inputs(&full, seed).unwrap();
    let circuit = circuit_of(&full, settings.weight_bound);
    let names = term_names(Variables::Xywr);
    let indices: Vec<usize> = ["1", "x", "r", "x*r", "w"].iter().map(|t| names.iter().position(|n| n == t).unwrap()).collect();
    let objective = BehaviourObjective::new(&full, inputs.clone(), circuit, TaylorRule::new(Variables::Xywr), fit_settings.gradient).unwrap();
    let n = full.n_decisions(0) as f64; println!("n {n} bound {:?}", settings.weight_bound);
    for iters in [60, 400, 2000] {
        let (m, l) = maximum_likelihood(&objective, &indices, &fit_all.outcome.theta, iters).unwrap();
        println!("iters {iters}: loss {l:.10} recomputed {:.10} theta", objective.loss(&m, &(0..objective.n_items()).collect::<Vec<_>>())); println!("    {:?}", indices.iter().map(|&k| (m[k] * 1e4).round() / 1e4).collect::<Vec<_>>());
    }
    let (m, l) = maximum_likelihood(&objective, &indices, &fit_all.outcome.theta, 400).unwrap();
    let laplace = super::draw::laplace_intervals(&full, &inputs, &circuit, &m, &indices).unwrap();
    let items: Vec<usize> = (0..objective.n_items()).collect();
    for (j, &k) in indices.iter().enumerate() {
        let p = profile_interval(&objective, n, &indices, &m, l, k, &ProfileSettings::default()).unwrap();
        println!("{}: mle {:.4} profile [{:?}, {:?}] conv {} fits {} laplace {:?}", names[k], m[k], p.lower, p.upper, p.converged, p.fits, laplace[j]);
        // deviance along θ_k, others fixed
        let row: Vec<String> = [-0.02, -0.005, 0.0, 0.005, 0.02].iter().map(|d| { let mut t = m.clone(); t[k] += d; format!("{d}: {:.3}", 2.0 * n * (objective.loss(&t, &items) - l)) }).collect();
        println!("   fixed-others deviance {row:?}");
    }
}
