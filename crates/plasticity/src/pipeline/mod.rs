//! The recipes: each combines data, a circuit, a rule, the fitting driver
//! ([`crate::fit`]) and the analyses ([`crate::analysis`]) into one job a command runs.
//!
//! - [`neural`], [`behaviour`], [`circuit`]: fit a rule to a recording of each kind;
//!   [`dataset_fit`]: a loaded dataset of either kind to the fit of its kind, one report;
//! - [`flies`], [`population`]: the per-fly and shared fits of the fly experiments;
//! - [`selection`]: which terms the data support (sparse and stepwise selection);
//! - [`design`]: power analysis of a planned experiment;
//! - [`discover`]: rules from what a circuit must do (meta-learning);
//! - [`online`]: fits that read the recording once, step by step.

pub mod behaviour;
pub mod circuit;
pub mod dataset_fit;
pub mod design;
pub mod discover;
pub mod flies;
pub mod neural;
pub mod online;
pub mod population;
pub mod selection;
pub mod spiking;
