//! Ctrl-C and SIGTERM: the first asks a running fit to stop at its next safe point.

static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether Ctrl-C (SIGINT) or SIGTERM asked a running fit to stop.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The first Ctrl-C (or SIGTERM, as Slurm sends at a time limit) stops a fit after its
/// current epoch, and its results are written with `stop_reason` "interrupted"; a
/// second one exits at once.
pub fn install_interrupt_handler() {
    let result = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            std::process::exit(130);
        }
        note!("\ninterrupted: stopping at the next safe point (this epoch, step or unit) and writing the results and a checkpoint (Ctrl-C again to quit at once)");
    });
    if let Err(error) = result {
        tracing::warn!("could not install the Ctrl-C handler: {error}");
    }
}
