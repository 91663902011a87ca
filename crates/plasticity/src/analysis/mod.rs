//! What a fitted rule and its data say: metrics against the truth (R² of weights and
//! activity, coefficient error), what the data determine (Fisher information,
//! profile likelihood), and the posterior over coefficients (Laplace and MCMC).
//!
//! Analyses use the fitting driver ([`crate::fit`]) and the layers below it, never the
//! pipelines that combine them ([`crate::pipeline`]).

pub mod identifiability;
pub mod metrics;
pub mod posterior;
pub mod profile;
pub mod uncertainty;
pub mod weight_trajectories;
