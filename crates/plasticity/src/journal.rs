//! Resumable work made of independent units: a term set's fold fit in `select`, a
//! fly's resampled fit in `flies`, a replicate of the power analysis in `design`, a
//! NUTS chain in `posterior`, a fit of the reward-rule table.
//!
//! Each unit is deterministic given its key, so a unit finished by an earlier,
//! interrupted run can be replayed from the journal instead of being computed again,
//! and the resumed run ends with exactly the result of an uninterrupted one. Units are
//! recorded as CBOR, which keeps every `f64` bit for bit (NaN and ±∞ included, which
//! JSON cannot hold). The journal's storage (a directory of files, nothing) belongs to
//! the caller: the library only asks for a unit and records it.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// Where finished units are kept, and whether the caller asked the work to stop.
pub trait Journal: Sync {
    /// Whether the caller asked the work to stop (Ctrl-C, SIGTERM): units not started
    /// yet are then skipped, and the work ends with [`Error::Interrupted`].
    fn stop_requested(&self) -> bool {
        false
    }
    /// The encoded result of unit `key`, if an earlier run recorded it.
    fn recorded(&self, key: &str) -> Option<Vec<u8>>;
    /// Records the encoded result of unit `key`.
    fn record(&self, key: &str, bytes: &[u8]) -> Result<()>;
}

/// No journal: every unit is computed, nothing is kept, nothing stops the work.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn recorded(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }
    fn record(&self, _key: &str, _bytes: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// Unit `key`: its recorded result when the journal has one, otherwise `compute()`'s,
/// recorded; `None` when the caller asked to stop before the unit started. A
/// recorded result that does not decode (a journal of another program version) is
/// computed again.
pub fn unit<T: Serialize + DeserializeOwned>(
    journal: &dyn Journal,
    key: &str,
    compute: impl FnOnce() -> Result<T>,
) -> Result<Option<T>> {
    unit_if(journal, key, || compute().map(Some))
}

/// [`unit()`] for work that may be cut short: `compute()` gives `None` for a unit that a
/// stop request interrupted midway, which is then not recorded (a resumed run computes
/// it again). Any error type that a library error converts into.
pub fn unit_if<T: Serialize + DeserializeOwned, E: From<Error>>(
    journal: &dyn Journal,
    key: &str,
    compute: impl FnOnce() -> std::result::Result<Option<T>, E>,
) -> std::result::Result<Option<T>, E> {
    if let Some(bytes) = journal.recorded(key) {
        if let Ok(value) = ciborium::from_reader::<T, _>(bytes.as_slice()) {
            return Ok(Some(value));
        }
    }
    if journal.stop_requested() {
        return Ok(None);
    }
    let Some(value) = compute()? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&value, &mut bytes)
        .map_err(|e| Error::Numerical(format!("journal unit '{key}': cannot encode: {e}")))?;
    journal.record(key, &bytes)?;
    Ok(Some(value))
}

/// The results of every unit, in order, or [`Error::Interrupted`] naming `what` and
/// how many units were finished when some were skipped.
pub fn all_or_interrupted<T>(what: &str, results: Vec<Option<T>>) -> Result<Vec<T>> {
    let total = results.len();
    let done = results.iter().filter(|r| r.is_some()).count();
    if done < total {
        return Err(Error::Interrupted {
            what: what.to_string(),
            done,
            total,
        });
    }
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Memory {
        units: Mutex<HashMap<String, Vec<u8>>>,
        stop: bool,
    }

    impl Journal for Memory {
        fn stop_requested(&self) -> bool {
            self.stop
        }
        fn recorded(&self, key: &str) -> Option<Vec<u8>> {
            self.units.lock().unwrap().get(key).cloned()
        }
        fn record(&self, key: &str, bytes: &[u8]) -> Result<()> {
            self.units
                .lock()
                .unwrap()
                .insert(key.to_string(), bytes.to_vec());
            Ok(())
        }
    }

    #[test]
    fn recorded_units_replay_bit_for_bit_and_are_not_computed_again() {
        let journal = Memory::default();
        let values = vec![f64::NAN, f64::INFINITY, -0.0, 0.1 + 0.2, f64::MIN_POSITIVE];
        let first = unit(&journal, "a", || Ok(values.clone())).unwrap().unwrap();
        let again: Vec<f64> = unit(&journal, "a", || panic!("computed twice"))
            .unwrap()
            .unwrap();
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn a_stop_skips_units_not_recorded_and_reports_how_many_were_done() {
        let mut journal = Memory::default();
        unit(&journal, "done", || Ok(1.0)).unwrap();
        journal.stop = true;
        let done = unit(&journal, "done", || Ok(2.0)).unwrap();
        let skipped: Option<f64> = unit(&journal, "next", || Ok(3.0)).unwrap();
        assert_eq!(done, Some(1.0));
        assert_eq!(skipped, None);
        match all_or_interrupted("test", vec![done, skipped]) {
            Err(Error::Interrupted { done, total, .. }) => assert_eq!((done, total), (1, 2)),
            other => panic!("expected an interruption, got {other:?}"),
        }
    }
}
