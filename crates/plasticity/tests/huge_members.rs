//! Members that declare far more data than their files hold (issue 27): a valid
//! deflated 4 GiB `inputs` beside a 2 × 9 × 6 dataset, and headers claiming 10¹²
//! elements. Each is refused from the headers alone, before any array is read: a data
//! error naming the file, the member and both shapes, in well under 2 s and without a
//! large allocation. (The memory limit and `ulimit -v` are exercised through the CLI,
//! in `plasticity-cli/tests/reliability.rs`, where each process has its own limits.)

#[path = "support/huge.rs"]
mod huge;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use huge::*;
use plasticity::data::{Dataset, NeuralDataset, NeuralStream};
use plasticity::io::npz::NpzFile;
use plasticity::Error;
use support::{assert_contains, largest_allocation};

#[global_allocator]
static METER: support::Meter = support::Meter;

/// Runs `load` on `path` under the allocation meter and the clock; returns its data
/// error's variable and message after checking that it names the file, took under 2 s
/// and allocated under 16 MB at once.
fn refused<T>(path: &Path, load: impl FnOnce(&Path) -> plasticity::Result<T>) -> (String, String) {
    let start = Instant::now();
    let (result, largest) = largest_allocation(|| load(path).map(drop));
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    assert!(largest < 16 << 20, "allocated {largest} bytes at once");
    let error = result.expect_err("refused");
    let text = error.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    match error {
        Error::Data {
            path: p,
            variable,
            message,
        } => {
            assert_eq!(p, path);
            (variable, message)
        }
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn a_huge_member_whose_shape_disagrees_is_refused_before_reading() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("huge_inputs.npz");
    write_zip(&path, &huge_inputs_members());
    let size = std::fs::metadata(&path).expect("written").len();
    assert!(size < 16 << 20, "the file is {size} bytes");
    // a valid archive whose inputs declare 4 GiB of float64
    let file = NpzFile::open_for_streaming(&path).expect("a valid archive");
    assert_eq!(
        file.f64_shape("inputs", 3).expect("header"),
        [1, 1, 1 << 29]
    );
    drop(file);
    let expected = "expected shape [1, n_post, 536870912] to match 'inputs' [1, 1, 536870912], found [2, 4, 6]";
    for (variable, message) in [
        refused(&path, |p| NeuralDataset::load(p)),
        refused(&path, |p| Dataset::load(p)),
        refused(&path, |p| NeuralStream::open(p)),
    ] {
        assert_eq!(variable, "initial_weights");
        assert_eq!(message, expected);
    }
}

#[test]
fn a_member_declaring_1e12_elements_is_refused_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shape = [1_000_000u64, 1000, 1000];
    let mut bytes = npy_header("<f8", &shape);
    bytes.extend([0u8; 16]);
    let header_len = bytes.len() as u64 - 16;
    // (a) the zip entry declares the 8 TB the header needs (zip64)
    let declared = dir.path().join("declared.npz");
    let mut members = neural_members([2, 9, 6], [2, 4, 6], [2, 9, 4]);
    members[1] = Member {
        name: "inputs.npy".into(),
        body: Body::Declared {
            bytes: bytes.clone(),
            declared: header_len + 8_000_000_000_000,
        },
    };
    write_zip(&declared, &members);
    let (variable, message) = refused(&declared, |p| NeuralDataset::load(p));
    assert_eq!(variable, "inputs");
    assert_contains(
        &message,
        "declares 8000000000128 bytes, more than the limit",
    );
    // (b) the entry declares what it holds (16 bytes of data)
    let honest = dir.path().join("honest.npz");
    members[1] = Member {
        name: "inputs.npy".into(),
        body: Body::Declared {
            declared: bytes.len() as u64,
            bytes,
        },
    };
    write_zip(&honest, &members);
    let (variable, message) = refused(&honest, |p| NeuralDataset::load(p));
    assert_eq!(variable, "inputs");
    assert_contains(&message, "the data is 16 bytes but shape [1000000, 1000, 1000] of float64 (<f8) needs 8000000000000 bytes");
}

#[test]
fn deflated_members_of_zeros_load_as_zeros() {
    // the builder's archives are valid: a consistent dataset whose 6 MB inputs and
    // 2 MB recording are deflated zeros loads, CRCs checked
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("zeros.npz");
    let steps = 1 << 16;
    write_zip(
        &path,
        &neural_members([2, steps, 6], [2, 4, 6], [2, steps, 2]),
    );
    let data = NeuralDataset::load(&path).expect("loads");
    assert_eq!(data.inputs.shape(), [2, steps as usize, 6]);
    assert!(data.inputs.iter().all(|&v| v == 0.0));
    assert_eq!(data.recorded_neurons, [0, 1]);
}
