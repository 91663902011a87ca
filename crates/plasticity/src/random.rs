//! Random draws shared by simulators, fits and metrics.

use rand_distr::Normal;

use crate::{Error, Result};

/// `N(mean, std²)`, with a clear error for an invalid standard deviation.
pub(crate) fn normal(mean: f64, std: f64) -> Result<Normal<f64>> {
    Normal::new(mean, std).map_err(|e| Error::config("standard deviation", format!("{std}: {e}")))
}
