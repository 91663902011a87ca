//! Classic models of choice behaviour that plasticity rules are compared against,
//! fitted with the same likelihood (Bernoulli cross-entropy of every recorded decision)
//! and reported with the same metrics.

pub mod q_learning;

pub use q_learning::{
    fit_q_learning, q_learning_losses, q_learning_mean_loss_and_gradient, QLearningFit,
    QLearningObjective, QLearningParameters,
};
