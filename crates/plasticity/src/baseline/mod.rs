//! Classic models of choice behaviour that plasticity rules are compared against,
//! fitted with the same likelihood (the cross-entropy of every recorded decision:
//! Bernoulli for accept/reject, categorical for a choice among options) and reported
//! with the same metrics.

pub mod choice_q_learning;
pub mod q_learning;

pub use choice_q_learning::{
    choice_q_learning_losses, choice_q_learning_mean_loss_and_gradient, fit_choice_q_learning,
    ChoiceQLearningFit, ChoiceQLearningObjective, ChoiceQLearningParameters, ChoiceQVariant,
    ChoiceSequence,
};
pub use q_learning::{
    fit_q_learning, q_learning_losses, q_learning_mean_loss_and_gradient, QLearningFit,
    QLearningObjective, QLearningParameters,
};
