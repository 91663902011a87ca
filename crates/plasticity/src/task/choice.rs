//! The two-odour choice task (`kind = "choice"`): each trial offers both odours
//! together and the simulated fly chooses one, `P(k) = softmax_k(z_k)` with
//! `z_k = v Σ_i tanh(W x_k)_i` the behaviour circuit's value of odour `k` (β = 1, no
//! bias: the readout sets the scale). Rewards are baited as in the accept/reject task
//! (an odour's reward, once available, waits until it is chosen), with the block
//! probabilities `(p_A, p_B)`; the rule updates the chosen odour's synapses with the
//! trial's `r`.

use rand::RngExt;

use super::behaviour::{BehaviourTask, SessionStart, SimulatedSession};
use crate::rule::{PlasticityRule, Rule};
use crate::{Error, Result};

impl BehaviourTask {
    /// Simulates choice session `index` of an animal learning with `rule` and `θ`
    /// (its own ChaCha8 stream, as [`BehaviourTask::simulate_session`]): `W₀`, then
    /// per trial the baiting, both odours' sensory noise (odour A's presentation first)
    /// and the choice. Every trial has a choice.
    pub fn simulate_choice_session<R: PlasticityRule + Clone + Into<Rule>>(
        &self,
        rule: &R,
        theta: &[f64],
        index: u64,
    ) -> Result<SimulatedSession> {
        let SessionStart {
            network,
            mut rng,
            noise_dist,
            patterns,
            initial_weights,
            mut state,
        } = self.start_session(rule, index)?;
        let trials = self.n_trials();
        let mut session = SimulatedSession {
            inputs: Vec::with_capacity(2 * trials * self.n_in),
            odours: Vec::with_capacity(2 * trials),
            decisions: Vec::with_capacity(2 * trials),
            trial_of_presentation: Vec::with_capacity(2 * trials),
            rewards: Vec::with_capacity(trials),
            expected_rewards: Vec::with_capacity(trials),
            initial_weights,
        };
        let window = self.expected_reward_window;
        let mut recent = vec![0.0; window];
        let mut available = [false; 2];
        let mut values = [0.0; 2];
        for trial in 0..trials {
            for (slot, &p) in available.iter_mut().zip(&self.probabilities(trial)) {
                *slot = *slot || rng.random::<f64>() < p;
            }
            let expected_reward = recent.iter().sum::<f64>() / window as f64;
            let first = session.inputs.len();
            for (odour, value) in values.iter_mut().enumerate() {
                for (x, &mu) in state.input_mut().iter_mut().zip(&patterns[odour]) {
                    *x = mu + rng.sample(noise_dist);
                }
                state.present(&network);
                *value = state.value(&network);
                session.inputs.extend_from_slice(state.input_mut());
                session.odours.push(odour as i64);
                session.trial_of_presentation.push(trial as i64);
            }
            // P(B) = σ(z_B − z_A), the softmax of two options
            let p_b = 1.0 / (1.0 + (values[0] - values[1]).exp());
            let chosen = usize::from(rng.random::<f64>() < p_b);
            session
                .decisions
                .extend([0, 1].map(|k| i64::from(k == chosen)));
            let reward = if available[chosen] { 1.0 } else { 0.0 };
            available[chosen] = false;
            // the chosen odour's activity again, then its update
            let start = first + chosen * self.n_in;
            state
                .input_mut()
                .copy_from_slice(&session.inputs[start..start + self.n_in]);
            state.present(&network);
            let r = self.reward_signal.signal(reward, expected_reward);
            if let Some(bad) = state.learn(&network, theta, r) {
                return Err(Error::Numerical(format!(
                    "the generating rule '{}' drives a weight to {bad} in session {index}, trial {trial}",
                    self.rule
                )));
            }
            session.rewards.push(reward);
            session.expected_rewards.push(expected_reward);
            recent[trial % window] = reward;
        }
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use crate::data::{BehaviourDataset, BehaviourKind};
    use crate::task::BehaviourTask;

    fn choice_task(rule: &str, seed: u64) -> BehaviourTask {
        BehaviourTask {
            kind: BehaviourKind::Choice,
            sessions: 4,
            trials_per_block: 40,
            rule: rule.into(),
            seed,
            ..BehaviourTask::default()
        }
    }

    #[test]
    fn every_trial_offers_both_odours_and_one_is_chosen() {
        let data = choice_task("x*r", 3).simulate().expect("simulated");
        assert_eq!(data.kind(), BehaviourKind::Choice);
        for k in 0..data.n_sessions() {
            let session = data.session(k);
            let odours = data.session_odours(k);
            assert_eq!(session.n_presentations(), 2 * 120);
            assert_eq!(data.n_decisions(k), 120);
            for trial in 0..120 {
                let (a, b) = (2 * trial, 2 * trial + 1);
                assert_eq!((odours[a], odours[b]), (0, 1));
                assert_eq!(session.decisions[a] + session.decisions[b], 1);
                assert_eq!(session.trial_of_presentation[a], trial as i64);
            }
            assert!((data.chance_loss(k) - std::f64::consts::LN_2).abs() < 1e-15);
        }
        // the same seed gives the same data; another seed other data
        assert_eq!(choice_task("x*r", 3).simulate().expect("again"), data);
        assert_ne!(
            choice_task("x*r", 4).simulate().expect("other").decisions,
            data.decisions
        );
    }

    #[test]
    fn a_reward_learning_fly_follows_the_better_odour() {
        // x*r: the rewarded odour's value grows, so the odour of p = 0.8 is chosen more
        // often than the other in each block (without a rule, about as often)
        let fraction_b = |rule: &str| {
            let data = BehaviourTask {
                sessions: 18,
                ..choice_task(rule, 5)
            }
            .simulate()
            .expect("simulated");
            let mut per_block = [(0usize, 0usize); 3];
            for k in 0..data.n_sessions() {
                let session = data.session(k);
                let odours = data.session_odours(k);
                for ((&decision, &trial), &odour) in session
                    .decisions
                    .iter()
                    .zip(session.trial_of_presentation)
                    .zip(odours)
                {
                    if decision == 1 {
                        let block = trial as usize / 40;
                        per_block[block].0 += usize::from(odour == 1);
                        per_block[block].1 += 1;
                    }
                }
            }
            per_block.map(|(b, n)| b as f64 / n as f64)
        };
        let learned = fraction_b("x*r");
        // blocks (0.2, 0.8), (0.9, 0.1), (0.2, 0.8)
        assert!(
            learned[0] > 0.6 && learned[1] < 0.4 && learned[2] > 0.6,
            "{learned:?}"
        );
        let none = fraction_b("0*x");
        assert!(none.iter().all(|f| (f - 0.5).abs() < 0.1), "{none:?}");
    }

    #[test]
    fn choice_files_round_trip_and_bad_choices_name_the_variable() {
        let data = choice_task("x*r - 0.05*w", 6)
            .simulate()
            .expect("simulated");
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("choice.npz");
        data.save(&path).expect("saved");
        assert_eq!(crate::data::dataset_kind(&path).expect("kind"), "choice");
        let loaded = BehaviourDataset::load(&path).expect("loaded");
        assert_eq!(loaded, data);
        match crate::data::Dataset::load(&path).expect("either kind") {
            crate::data::Dataset::Behaviour(d) => {
                assert_eq!(crate::data::DatasetRef::Behaviour(&d).kind(), "choice")
            }
            crate::data::Dataset::Neural(_) => panic!("a choice file read as neural data"),
        }
        // two chosen options in one trial
        let mut decisions = data.decisions.clone();
        decisions[[0, 0]] = 1;
        decisions[[0, 1]] = 1;
        let error = BehaviourDataset::new(
            data.inputs.clone(),
            data.odours.clone(),
            decisions,
            data.trial_of_presentation.clone(),
            data.n_presentations.clone(),
            data.rewards.clone(),
            data.expected_rewards.clone(),
            data.n_trials.clone(),
            data.initial_weights.clone(),
            data.metadata.clone(),
            &path,
        )
        .expect_err("two choices in one trial");
        let message = error.to_string();
        assert!(
            message.contains("decisions") && message.contains("second chosen"),
            "{message}"
        );
        assert!(message.contains("choice.npz"), "{message}");
    }
}
