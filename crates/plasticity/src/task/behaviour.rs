//! The two-odour probabilistic reward task (docs/model.md §4.2): simulated flies learning with a
//! known rule, for recovering reward-modulated plasticity rules from choices.

use ndarray::{Array2, Array3};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::circuit::{BehaviourCircuit, Network, RewardSignal};
use crate::data::{BehaviourDataset, BehaviourKind};
use crate::random::normal;
use crate::rule::{parse_expression, PlasticityRule, Rule, TaylorRule, Variables};
use crate::{Error, Result};

/// A simulated animal between presentations: the weights of the behaviour network
/// (`W`, then the readout), its activity, and the buffers of one step.
pub(super) struct SessionState {
    n_in: usize,
    n_plastic: usize,
    weights: Vec<f64>,
    previous: Vec<f64>,
    current: Vec<f64>,
    drive: Vec<f64>,
    scratch: Vec<f64>,
}

impl SessionState {
    pub(super) fn new(
        network: &Network,
        circuit: &BehaviourCircuit,
        initial_weights: &[f64],
    ) -> Self {
        let n = network.n_neurons();
        let mut weights = initial_weights.to_vec();
        weights.extend(std::iter::repeat_n(circuit.readout, circuit.n_hidden));
        let mut previous = vec![0.0; n];
        network.initial_activity(&mut previous);
        SessionState {
            n_in: circuit.n_in,
            n_plastic: circuit.n_synapses(),
            weights,
            previous,
            current: vec![0.0; n],
            drive: vec![0.0; n],
            scratch: vec![0.0; network.scratch_len()],
        }
    }

    /// The odour input of the next presentation.
    pub(super) fn input_mut(&mut self) -> &mut [f64] {
        &mut self.drive[..self.n_in]
    }

    /// Runs one presentation; returns `P(accept) = σ(v Σ_i h_i)`.
    pub(super) fn present(&mut self, network: &Network) -> f64 {
        network.activity(
            &self.weights,
            &self.previous,
            &self.drive,
            &mut self.current,
            &mut self.scratch,
        );
        std::mem::swap(&mut self.previous, &mut self.current);
        self.previous[self.previous.len() - 1]
    }

    /// The value `z = v Σ_i h_i` of the presentation just run (the readout neuron's
    /// net input, whose sigmoid [`SessionState::present`] returns).
    pub(super) fn value(&self, network: &Network) -> f64 {
        let readout = self.previous.len() - 1;
        network.net_input(
            readout,
            &self.weights,
            &self.current,
            &self.previous,
            &self.drive,
        )
    }

    /// The update after an accepted presentation with reward signal `r`; returns the
    /// first non-finite weight, if any.
    pub(super) fn learn(&mut self, network: &Network, theta: &[f64], r: f64) -> Option<f64> {
        // `previous` holds this presentation's activity (and the network has no delayed
        // projection, so the activity before it is never read)
        network.plasticity(
            theta,
            &mut self.weights,
            &self.current,
            &self.previous,
            r,
            &mut self.scratch,
        );
        self.weights[..self.n_plastic]
            .iter()
            .copied()
            .find(|w| !w.is_finite())
    }
}

/// What a simulated session starts from ([`BehaviourTask::start_session`]).
pub(super) struct SessionStart {
    pub(super) network: Network,
    pub(super) rng: ChaCha8Rng,
    pub(super) noise_dist: rand_distr::Normal<f64>,
    pub(super) patterns: [Vec<f64>; 2],
    pub(super) initial_weights: Vec<f64>,
    pub(super) state: SessionState,
}

/// The task and the simulated animals; every field has the SPEC default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BehaviourTask {
    /// Blocks per session.
    pub n_blocks: usize,
    /// Trials per block.
    pub trials_per_block: usize,
    /// `(p_A, p_B)` of each block, used cyclically when there are more blocks.
    pub reward_probabilities: Vec<[f64; 2]>,
    /// Inputs `n_in`.
    pub n_in: usize,
    /// Hidden (plastic) units.
    pub n_hidden: usize,
    /// The level at which an odour drives its inputs (SPEC: 0.75).
    pub odour_level: f64,
    /// Standard deviation of the sensory noise on every input.
    pub input_noise_std: f64,
    /// Standard deviation of `W₀`.
    pub initial_weight_std: f64,
    /// `E[R]` is the mean of this many last collected rewards.
    pub expected_reward_window: usize,
    /// `r = R − E[R]` or `r = R`.
    pub reward_signal: RewardSignal,
    /// Accept/reject presentations one at a time (`accept-reject`, SPEC §4.2), or
    /// choose between both odours offered together (`choice`:
    /// `P(k) = softmax_k(z_k)`).
    pub kind: BehaviourKind,
    /// A trial with this many rejections in a row ends without a choice (no reward,
    /// no plasticity), so that a rule that stops accepting cannot loop forever.
    pub max_presentations_per_trial: usize,
    /// Number of sessions (animals).
    pub sessions: usize,
    /// The generating rule, an expression over x, y, w, r.
    pub rule: String,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for BehaviourTask {
    fn default() -> Self {
        BehaviourTask {
            n_blocks: 3,
            trials_per_block: 80,
            reward_probabilities: vec![[0.2, 0.8], [0.9, 0.1], [0.2, 0.8]],
            n_in: 2,
            n_hidden: 10,
            odour_level: 0.75,
            input_noise_std: 0.015,
            initial_weight_std: 0.01,
            expected_reward_window: 10,
            reward_signal: RewardSignal::Centred,
            kind: BehaviourKind::AcceptReject,
            max_presentations_per_trial: 50,
            sessions: 18,
            rule: "x*r".into(),
            seed: 0,
        }
    }
}

/// The mean input pattern of each odour: with 2 inputs `μ_A = (ℓ, 0)`, `μ_B = (0, ℓ)`;
/// with more, odour A drives a random half of the inputs at `ℓ` and odour B the rest
/// (drawn from `seed`).
pub fn odour_patterns(n_in: usize, level: f64, seed: u64) -> [Vec<f64>; 2] {
    let mut a = vec![0.0; n_in];
    let mut b = vec![0.0; n_in];
    if n_in == 2 {
        a[0] = level;
        b[1] = level;
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::MAX);
        let chosen = rand::seq::index::sample(&mut rng, n_in, n_in / 2).into_vec();
        for i in 0..n_in {
            if chosen.contains(&i) {
                a[i] = level;
            } else {
                b[i] = level;
            }
        }
    }
    [a, b]
}

/// One simulated session, with the ground truth a fit cannot see.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedSession {
    /// `[presentations, n_in]`.
    pub inputs: Vec<f64>,
    /// Odour of each presentation.
    pub odours: Vec<i64>,
    /// 1 accept, 0 reject.
    pub decisions: Vec<i64>,
    /// Trial of each presentation.
    pub trial_of_presentation: Vec<i64>,
    /// `R` per trial.
    pub rewards: Vec<f64>,
    /// `E[R]` before each trial's reward.
    pub expected_rewards: Vec<f64>,
    /// `W₀`, `[n_hidden, n_in]`.
    pub initial_weights: Vec<f64>,
}

impl BehaviourTask {
    /// Checks the settings; errors name the setting.
    pub fn validate(&self) -> Result<()> {
        for (key, value) in [
            ("blocks", self.n_blocks),
            ("trials-per-block", self.trials_per_block),
            ("n-in", self.n_in),
            ("n-hidden", self.n_hidden),
            ("expected-reward-window", self.expected_reward_window),
            (
                "max-presentations-per-trial",
                self.max_presentations_per_trial,
            ),
            ("sessions", self.sessions),
        ] {
            if value == 0 {
                return Err(Error::config(key, "must be at least 1"));
            }
        }
        if self.n_in < 2 {
            return Err(Error::config(
                "n-in",
                format!("two odours need at least 2 inputs, got {}", self.n_in),
            ));
        }
        if self.reward_probabilities.is_empty() {
            return Err(Error::config(
                "reward-probabilities",
                "needs at least one block's (p_A, p_B)",
            ));
        }
        for (block, pair) in self.reward_probabilities.iter().enumerate() {
            for &p in pair {
                if !(0.0..=1.0).contains(&p) {
                    return Err(Error::config(
                        "reward-probabilities",
                        format!(
                            "block {}: a probability must be in [0, 1], got {p}",
                            block + 1
                        ),
                    ));
                }
            }
        }
        for (key, value) in [
            ("input-noise-std", self.input_noise_std),
            ("initial-weight-std", self.initial_weight_std),
            ("odour-level", self.odour_level),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::config(
                    key,
                    format!("must be finite and ≥ 0, got {value}"),
                ));
            }
        }
        Ok(())
    }

    /// Trials per session.
    pub fn n_trials(&self) -> usize {
        self.n_blocks * self.trials_per_block
    }

    /// `(p_A, p_B)` of trial `t`.
    pub(super) fn probabilities(&self, trial: usize) -> [f64; 2] {
        let block = trial / self.trials_per_block;
        self.reward_probabilities[block % self.reward_probabilities.len()]
    }

    /// The circuit of the task (no weight bound: the generating model has none).
    pub fn circuit(&self) -> BehaviourCircuit {
        BehaviourCircuit::new(self.n_in, self.n_hidden)
    }

    /// Simulates session `index` of an animal learning with `rule` and `θ`, the circuit
    /// stepped by the engine (its network instance [`Network::behaviour`]). Each
    /// session draws from its own ChaCha8 stream (`seed`, stream `index + 1`), so a
    /// session is the same whatever else is simulated: `W₀`, then per trial the
    /// baiting, the odours, the sensory noise and the choices.
    pub fn simulate_session<R: PlasticityRule + Clone + Into<Rule>>(
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
        let mut session = SimulatedSession {
            inputs: Vec::new(),
            odours: Vec::new(),
            decisions: Vec::new(),
            trial_of_presentation: Vec::new(),
            rewards: Vec::with_capacity(self.n_trials()),
            expected_rewards: Vec::with_capacity(self.n_trials()),
            initial_weights,
        };
        let window = self.expected_reward_window;
        let mut recent = vec![0.0; window];
        let mut available = [false; 2];
        for trial in 0..self.n_trials() {
            let probabilities = self.probabilities(trial);
            for (slot, &p) in available.iter_mut().zip(&probabilities) {
                *slot = *slot || rng.random::<f64>() < p;
            }
            let expected_reward = recent.iter().sum::<f64>() / window as f64;
            let mut reward = 0.0;
            for _ in 0..self.max_presentations_per_trial {
                let odour = usize::from(rng.random::<bool>());
                for (x, &mu) in state.input_mut().iter_mut().zip(&patterns[odour]) {
                    *x = mu + rng.sample(noise_dist);
                }
                let accept = rng.random::<f64>() < state.present(&network);
                session.inputs.extend_from_slice(state.input_mut());
                session.odours.push(odour as i64);
                session.decisions.push(i64::from(accept));
                session.trial_of_presentation.push(trial as i64);
                if accept {
                    reward = if available[odour] { 1.0 } else { 0.0 };
                    available[odour] = false;
                    let r = self.reward_signal.signal(reward, expected_reward);
                    if let Some(bad) = state.learn(&network, theta, r) {
                        return Err(Error::Numerical(format!(
                            "the generating rule '{}' drives a weight to {bad} in session {index}, trial {trial}",
                            self.rule
                        )));
                    }
                    break;
                }
            }
            session.rewards.push(reward);
            session.expected_rewards.push(expected_reward);
            recent[trial % window] = reward;
        }
        Ok(session)
    }

    /// What every simulated session starts from: the network under `rule`, session
    /// `index`'s ChaCha8 stream (`seed`, stream `index + 1`) after its `W₀` was drawn,
    /// the sensory noise, the odour patterns, `W₀` and the animal's state.
    pub(super) fn start_session<R: PlasticityRule + Clone + Into<Rule>>(
        &self,
        rule: &R,
        index: u64,
    ) -> Result<SessionStart> {
        let circuit = self.circuit();
        let network = Network::behaviour(&circuit, rule.clone().into())?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index + 1);
        let weight_dist = normal(0.0, self.initial_weight_std)?;
        let initial_weights: Vec<f64> = (0..circuit.n_synapses())
            .map(|_| rng.sample(weight_dist))
            .collect();
        let state = SessionState::new(&network, &circuit, &initial_weights);
        Ok(SessionStart {
            network,
            rng,
            noise_dist: normal(0.0, self.input_noise_std)?,
            patterns: odour_patterns(self.n_in, self.odour_level, self.seed),
            initial_weights,
            state,
        })
    }

    /// Simulates sessions `first .. first + count` with the generating rule of
    /// [`rule`](Self::rule), in parallel (each session has its own stream).
    pub fn simulate_sessions(&self, first: u64, count: usize) -> Result<Vec<SimulatedSession>> {
        use rayon::prelude::*;
        self.validate()?;
        crate::limits::check_dataset_bytes(
            &format!(
                "simulating {count} sessions of {} trials with {} → {} neurons",
                self.n_trials(),
                self.n_in,
                self.n_hidden
            ),
            self.bytes_needed(count),
        )?;
        let theta = parse_expression(&self.rule, Variables::Xywr)?;
        let rule = TaylorRule::new(Variables::Xywr);
        (0..count as u64)
            .into_par_iter()
            .map(|k| match self.kind {
                BehaviourKind::AcceptReject => self.simulate_session(&rule, &theta, first + k),
                BehaviourKind::Choice => self.simulate_choice_session(&rule, &theta, first + k),
            })
            .collect()
    }

    /// The bytes that `sessions` simulated sessions and their packed dataset take at
    /// least (twice: the sessions, then the dataset): per session its weights
    /// (n_hidden × n_in), per trial at least one presentation (n_in inputs and 3
    /// integers) and 2 rewards, 8 bytes each; `None` if that overflows a `u64`.
    pub fn bytes_needed(&self, sessions: usize) -> Option<u64> {
        use crate::limits::f64_bytes;
        let per_trial = self.n_in.checked_add(5)?;
        let weights = f64_bytes(&[sessions, self.n_hidden, self.n_in])?;
        let trials = f64_bytes(&[sessions, self.n_trials(), per_trial])?;
        weights.checked_add(trials)?.checked_mul(2)
    }

    /// Simulates the dataset of [`sessions`](Self::sessions) sessions.
    pub fn simulate(&self) -> Result<BehaviourDataset> {
        let sessions = self.simulate_sessions(0, self.sessions)?;
        self.dataset(&sessions)
    }

    /// Packs simulated sessions into the padded dataset layout of docs/model.md §6.
    pub fn dataset(&self, sessions: &[SimulatedSession]) -> Result<BehaviourDataset> {
        let n = sessions.len();
        let max_pres = sessions
            .iter()
            .map(|s| s.decisions.len())
            .max()
            .unwrap_or(0);
        let max_trials = sessions.iter().map(|s| s.rewards.len()).max().unwrap_or(0);
        let mut inputs = Array3::zeros((n, max_pres, self.n_in));
        let mut odours = Array2::from_elem((n, max_pres), -1i64);
        let mut decisions = Array2::from_elem((n, max_pres), -1i64);
        let mut trial_of_presentation = Array2::from_elem((n, max_pres), -1i64);
        let mut rewards = Array2::zeros((n, max_trials));
        let mut expected_rewards = Array2::zeros((n, max_trials));
        let mut initial_weights = Array3::zeros((n, self.n_hidden, self.n_in));
        for (k, s) in sessions.iter().enumerate() {
            for (p, x) in s.inputs.chunks_exact(self.n_in).enumerate() {
                for (i, &v) in x.iter().enumerate() {
                    inputs[[k, p, i]] = v;
                }
                odours[[k, p]] = s.odours[p];
                decisions[[k, p]] = s.decisions[p];
                trial_of_presentation[[k, p]] = s.trial_of_presentation[p];
            }
            for (t, (&r, &e)) in s.rewards.iter().zip(&s.expected_rewards).enumerate() {
                rewards[[k, t]] = r;
                expected_rewards[[k, t]] = e;
            }
            for (i, &w) in s.initial_weights.iter().enumerate() {
                initial_weights[[k, i / self.n_in, i % self.n_in]] = w;
            }
        }
        let patterns = odour_patterns(self.n_in, self.odour_level, self.seed);
        let metadata = serde_json::json!({
            "kind": self.kind.name(),
            "rule": self.rule,
            "reward_signal": self.reward_signal.name(),
            "seed": self.seed,
            "version": crate::VERSION,
            "task": self,
            "odour_patterns": patterns,
            "input_noise_std": self.input_noise_std,
            "learning_rate": self.circuit().learning_rate,
            "readout": self.circuit().readout,
        });
        let serde_json::Value::Object(metadata) = metadata else {
            unreachable!("json! of an object literal is an object")
        };
        BehaviourDataset::new(
            inputs,
            odours,
            decisions,
            trial_of_presentation,
            sessions.iter().map(|s| s.decisions.len()).collect(),
            rewards,
            expected_rewards,
            sessions.iter().map(|s| s.rewards.len()).collect(),
            initial_weights,
            metadata,
            std::path::Path::new("(simulated)"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(task: BehaviourTask, key: &str) {
        let err = task.simulate().expect_err("invalid settings are refused");
        let message = err.to_string();
        assert!(message.contains(key), "'{message}' should name '{key}'");
    }

    #[test]
    fn probability_outside_the_unit_interval_is_refused() {
        invalid(
            BehaviourTask {
                reward_probabilities: vec![[0.2, 1.3]],
                ..BehaviourTask::default()
            },
            "reward-probabilities",
        );
        invalid(
            BehaviourTask {
                reward_probabilities: vec![[-0.1, 0.5]],
                ..BehaviourTask::default()
            },
            "reward-probabilities",
        );
    }

    #[test]
    fn zero_trials_are_refused() {
        invalid(
            BehaviourTask {
                trials_per_block: 0,
                ..BehaviourTask::default()
            },
            "trials-per-block",
        );
        invalid(
            BehaviourTask {
                n_blocks: 0,
                ..BehaviourTask::default()
            },
            "blocks",
        );
    }

    #[test]
    fn a_window_of_zero_is_refused() {
        invalid(
            BehaviourTask {
                expected_reward_window: 0,
                ..BehaviourTask::default()
            },
            "expected-reward-window",
        );
    }

    #[test]
    fn sessions_follow_the_task() {
        let task = BehaviourTask {
            sessions: 4,
            ..BehaviourTask::default()
        };
        let data = task.simulate().expect("simulated");
        for k in 0..data.n_sessions() {
            let session = data.session(k);
            assert_eq!(data.n_trials[k], 240);
            // every trial ends with exactly one acceptance (none hit the cap here)
            let accepted = session.decisions.iter().filter(|&&d| d == 1).count();
            assert_eq!(accepted, 240);
            // E[R] is the mean of the previous 10 rewards, zeros before the first
            for t in 0..data.n_trials[k] {
                let window: f64 = (t.saturating_sub(10)..t).map(|u| session.rewards[u]).sum();
                assert!((session.expected_rewards[t] - window / 10.0).abs() < 1e-12);
            }
            // rewards are 0/1 and only collected when baited: in the first block
            // odour B (p = 0.8) pays far more often than odour A (p = 0.2)
            assert!(session.rewards.iter().all(|&r| r == 0.0 || r == 1.0));
            // padding is -1 beyond the real presentations
            let n = data.n_presentations[k];
            assert!(data.decisions.row(k).iter().skip(n).all(|&d| d == -1));
        }
        // the same seed gives the same sessions; another seed different ones
        assert_eq!(task.simulate().expect("simulated"), data);
        let other = BehaviourTask { seed: 1, ..task }
            .simulate()
            .expect("simulated");
        assert_ne!(other.decisions, data.decisions);
    }

    #[test]
    fn a_saved_dataset_loads_back_identically() {
        let data = BehaviourTask {
            sessions: 3,
            n_blocks: 1,
            trials_per_block: 20,
            ..BehaviourTask::default()
        }
        .simulate()
        .expect("simulated");
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("behaviour.npz");
        data.save(&path).expect("saved");
        let loaded = BehaviourDataset::load(&path).expect("loaded");
        assert_eq!(loaded, data);
    }

    #[test]
    fn malformed_datasets_name_the_variable() {
        let data = BehaviourTask {
            sessions: 2,
            n_blocks: 1,
            trials_per_block: 10,
            ..BehaviourTask::default()
        }
        .simulate()
        .expect("simulated");
        let origin = std::path::Path::new("flies.npz");
        let rebuild = |edit: &dyn Fn(&mut BehaviourDataset)| {
            let mut d = data.clone();
            edit(&mut d);
            BehaviourDataset::new(
                d.inputs,
                d.odours,
                d.decisions,
                d.trial_of_presentation,
                d.n_presentations,
                d.rewards,
                d.expected_rewards,
                d.n_trials,
                d.initial_weights,
                d.metadata,
                origin,
            )
            .expect_err("malformed data is refused")
            .to_string()
        };
        type Edit = Box<dyn Fn(&mut BehaviourDataset)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("decisions", Box::new(|d| d.decisions[[0, 0]] = 2)),
            ("n_presentations", Box::new(|d| d.n_presentations.push(3))),
            (
                "n_presentations",
                Box::new(|d| d.n_presentations[1] = 10_000),
            ),
            (
                "rewards",
                Box::new(|d| {
                    d.rewards =
                        Array2::zeros((2, 3 + d.rewards.ncols())).slice_move(ndarray::s![..1, ..])
                }),
            ),
            ("inputs", Box::new(|d| d.inputs[[0, 0, 0]] = f64::NAN)),
            (
                "initial_weights",
                Box::new(|d| d.initial_weights = Array3::zeros((2, 10, 3))),
            ),
            (
                "trial_of_presentation",
                Box::new(|d| d.trial_of_presentation[[0, 1]] = 99),
            ),
            ("odours", Box::new(|d| d.odours[[1, 0]] = -4)),
        ];
        for (variable, edit) in cases {
            let message = rebuild(edit.as_ref());
            assert!(
                message.contains("flies.npz") && message.contains(variable),
                "'{message}' should name the file and '{variable}'"
            );
        }
        // a trial that goes on after an acceptance
        let message = rebuild(&|d| {
            let first_accept = (0..d.n_presentations[0])
                .find(|&p| d.decisions[[0, p]] == 1)
                .expect("an acceptance");
            let next = first_accept + 1;
            d.trial_of_presentation[[0, next]] = d.trial_of_presentation[[0, first_accept]];
        });
        assert!(message.contains("after an acceptance"), "{message}");
    }
}
