//! Shared by the fuzz harnesses (`tests/fuzz.rs`, and the experiment-file harness of
//! the CLI, which includes this file by path) and the malformed-file corpus
//! (`tests/malformed.rs`): an allocation meter, a proptest runner that counts its
//! inputs, byte-level mutations, and the check that an error names its file and
//! variable. Files to start from are in `files.rs`.
#![allow(dead_code)] // each test binary uses a different part

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use plasticity::Error;
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------------
// Allocation meter

/// The global allocator of the test binaries that include this module: the system
/// allocator, which also records the largest single request made on the current thread
/// while [`largest_allocation`] meters it, and refuses (returns null for) any metered
/// request above [`REFUSED_ABOVE`] so that a loader that trusts a hostile header aborts
/// the test at once instead of succeeding through the kernel's overcommit.
pub struct Meter;

/// Metered requests above this many bytes are refused (the test then aborts with
/// "memory allocation of N bytes failed").
pub const REFUSED_ABOVE: usize = 1 << 30;

thread_local! {
    static METERING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) -> bool {
    METERING
        .try_with(|on| {
            if !on.get() {
                return true;
            }
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
            size <= REFUSED_ABOVE
        })
        .unwrap_or(true)
}

// SAFETY: every call is forwarded unchanged to `System`, or answered with null, which
// the `GlobalAlloc` contract allows for any request.
unsafe impl GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if note(layout.size()) {
            System.alloc(layout)
        } else {
            std::ptr::null_mut()
        }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if note(layout.size()) {
            System.alloc_zeroed(layout)
        } else {
            std::ptr::null_mut()
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if note(new_size) {
            System.realloc(ptr, layout, new_size)
        } else {
            std::ptr::null_mut()
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

/// Runs `f` and returns its value with the largest single allocation it requested on
/// this thread (the loaders are single-threaded).
pub fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    METERING.with(|m| m.set(true));
    let value = f();
    METERING.with(|m| m.set(false));
    (value, LARGEST.with(Cell::get))
}

/// What an input of `len` bytes justifies allocating at once: a fixed allowance for
/// buffers (64 KiB chunks, zip and header bookkeeping) plus deflate's largest expansion
/// (about 1032:1) of the whole input.
pub fn justified_allocation(len: usize) -> usize {
    (1 << 20) + 1100 * len
}

// ---------------------------------------------------------------------------------
// Case counts and runners

/// The number of cases of a harness: `PLASTICITY_FUZZ_CASES` if set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PLASTICITY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The seed of the harnesses' random inputs: `PLASTICITY_FUZZ_SEED` if set (any text,
/// hashed), else a fixed seed so that CI tries the same inputs every run.
pub fn seed() -> [u8; 32] {
    let text = std::env::var("PLASTICITY_FUZZ_SEED").unwrap_or_default();
    let mut seed = [0u8; 32];
    // FNV-1a over the text, spread over the 32 bytes
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        for b in text.bytes().chain([i as u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        chunk.copy_from_slice(&h.to_le_bytes());
    }
    seed
}

/// Runs a property over `strategy` for [`cases`]`(default)` inputs (deterministic unless
/// `PLASTICITY_FUZZ_SEED` is set), prints how many were tried, and panics with the
/// smallest failing input if any failed. A panic inside `test` is a failure.
pub fn run<S: Strategy>(
    name: &str,
    default: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let cases = cases(default);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed()));
    let tried = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&strategy, |value| {
        tried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        test(value)
    });
    eprintln!(
        "fuzz harness {name}: {} inputs tried ({cases} cases{})",
        tried.into_inner(),
        if result.is_err() {
            ", then shrinking"
        } else {
            ""
        }
    );
    if let Err(e) = result {
        panic!("fuzz harness {name} failed: {e}");
    }
}

// ---------------------------------------------------------------------------------
// Mutations

/// One change to a file's bytes; positions are chosen relative to the current length.
#[derive(Clone, Debug)]
pub enum Mutation {
    /// XOR a byte with a mask.
    Flip(Index, u8),
    /// Overwrite a byte.
    Set(Index, u8),
    /// Cut the file at a position.
    Truncate(Index),
    /// Insert bytes at a position.
    Insert(Index, Vec<u8>),
    /// Remove up to `n` bytes from a position.
    Delete(Index, usize),
    /// Overwrite 4 or 8 bytes (little-endian) with a value that often breaks sizes.
    Word(Index, u64, bool),
    /// Overwrite a byte near a structural spot of the file (zip signature, `.npy`
    /// header, MAT element tag, CSV/TOML line start).
    NearHotSpot(Index, u8, u8),
    /// Copy a slice of the file over another place.
    Splice(Index, Index, usize),
}

/// Sizes and counts that break readers: zero, one, sign bits, all ones, 10¹², …
const INTERESTING: [u64; 12] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1_000_000,
    1_000_000_000_000,
    u64::MAX,
    i64::MAX as u64,
];

/// Text fragments worth inserting into CSV, TOML and `.npy` header text.
const TOKENS: [&str; 24] = [
    ",",
    "\n",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "=",
    "-1",
    "1e308",
    "1e999",
    "nan",
    "inf",
    "-0",
    "0x10",
    "()",
    "(1000000000000,)",
    "\u{feff}",
    "\u{0}",
    "é",
    "\\",
    "#",
    "99999999999999999999",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..).prop_map(|(i, m)| Mutation::Flip(i, m)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (
            any::<Index>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..16),
                prop::sample::select(&TOKENS[..]).prop_map(|t| t.as_bytes().to_vec()),
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        2 => (any::<Index>(), prop::sample::select(&INTERESTING[..]), any::<bool>())
            .prop_map(|(i, v, wide)| Mutation::Word(i, v, wide)),
        4 => (any::<Index>(), 0u8..16, any::<u8>())
            .prop_map(|(i, d, b)| Mutation::NearHotSpot(i, d, b)),
        1 => (any::<Index>(), any::<Index>(), 1usize..64)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

/// One to five mutations.
pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..6)
}

/// The structural spots of `bytes`: zip signatures, `.npy` magic and header starts,
/// 8-byte aligned MAT element tags, line starts.
pub fn hot_spots(bytes: &[u8]) -> Vec<usize> {
    let mut spots = Vec::new();
    for (i, w) in bytes.windows(2).enumerate() {
        if w == b"PK" || w == b"\x93N" || w == b"{'" || w == b"':" || w[0] == b'\n' {
            spots.push(i);
        }
    }
    if bytes.get(126..128) == Some(b"IM") {
        spots.extend((0..bytes.len().min(4096)).step_by(8));
    }
    if spots.is_empty() {
        spots.push(0);
    }
    spots
}

/// `original` with `mutations` applied in order; `hot` from [`hot_spots`].
pub fn apply(original: &[u8], hot: &[usize], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for m in mutations {
        let len = bytes.len();
        let at = |i: &Index| if len == 0 { 0 } else { i.index(len) };
        match m {
            Mutation::Flip(i, mask) if len > 0 => bytes[at(i)] ^= mask,
            Mutation::Set(i, b) if len > 0 => bytes[at(i)] = *b,
            Mutation::Truncate(i) => bytes.truncate(at(i)),
            Mutation::Insert(i, new) => {
                let p = at(i);
                bytes.splice(p..p, new.iter().copied());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let p = at(i);
                bytes.drain(p..(p + n).min(len));
            }
            Mutation::Word(i, v, wide) if len > 0 => {
                let p = at(i);
                let w = if *wide { 8 } else { 4 };
                let le = v.to_le_bytes();
                let n = w.min(len - p);
                bytes[p..p + n].copy_from_slice(&le[..n]);
            }
            Mutation::NearHotSpot(i, d, b) if len > 0 => {
                let p = hot[i.index(hot.len())] + usize::from(*d);
                if p < len {
                    bytes[p] = *b;
                }
            }
            Mutation::Splice(from, to, n) if len > 0 => {
                let (f, t) = (at(from), at(to));
                let n = (*n).min(len - f).min(len - t);
                let chunk = bytes[f..f + n].to_vec();
                bytes[t..t + n].copy_from_slice(&chunk);
            }
            _ => {}
        }
    }
    bytes
}

// ---------------------------------------------------------------------------------
// Checks

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether the file's `bytes` hold `name`, as far as it can be seen: zip readers decode
/// names without the UTF-8 flag as code page 437, so only its ASCII runs are looked for.
pub fn holds_name(bytes: &[u8], name: &str) -> bool {
    name.split(|c: char| !c.is_ascii())
        .all(|run| contains_bytes(bytes, run.as_bytes()))
}

/// An error from loading `path` must be [`Error::Data`] for that path (or
/// [`Error::TooLarge`] naming it), its message must name the file, and its variable must be one of `variables`, the whole file (`""` or
/// `"(file)"`), or — when `any_named` says so — a name that the (corrupted) file
/// itself holds.
pub fn check_data_error(
    error: &Error,
    path: &Path,
    variables: &[&str],
    any_named: impl Fn(&str) -> bool,
) -> Result<(), TestCaseError> {
    let text = error.to_string();
    if let Error::TooLarge { what, .. } = error {
        // a file whose arrays would not fit in memory: refused as a whole
        prop_assert!(what.contains(&path.display().to_string()), "{}", text);
        return Ok(());
    }
    let Error::Data {
        path: p,
        variable,
        message,
    } = error
    else {
        return Err(TestCaseError::fail(format!(
            "expected a data error naming the file and variable, got {error:?}"
        )));
    };
    prop_assert_eq!(p.as_path(), path, "{}", text);
    prop_assert!(
        text.contains(&path.display().to_string()),
        "the message does not name the file: {}",
        text
    );
    prop_assert!(!message.trim().is_empty(), "empty message: {}", text);
    let known =
        variables.contains(&variable.as_str()) || variable.is_empty() || variable == "(file)";
    prop_assert!(
        known || any_named(variable),
        "unexpected variable '{}': {}",
        variable,
        text
    );
    if !variable.is_empty() {
        prop_assert!(text.contains(&format!("'{variable}'")), "{}", text);
    }
    Ok(())
}

/// Fails if `bytes` of a loader's input led to an allocation larger than they justify.
pub fn check_allocation(largest: usize, input_len: usize) -> Result<(), TestCaseError> {
    prop_assert!(
        largest <= justified_allocation(input_len),
        "allocated {} bytes at once for a {}-byte input",
        largest,
        input_len
    );
    Ok(())
}

/// `text` contains `needle` (the message shows `text`).
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{text}");
}
