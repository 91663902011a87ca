use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::Error;

use super::write::{write_npz, NpzValue};
use super::{NpzFile, FILE_VARIABLE, MAGIC};
use ndarray::{Array1, Array3};

/// `text` contains `needle` (the message shows `text`).
fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{text}");
}

/// A version 1.0 `.npy` member with header dict `dict` and raw `data`.
fn npy_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A zip of `members` (full names) with `method`.
fn write_zip(path: &Path, members: &[(&str, Vec<u8>)], method: CompressionMethod) {
    let mut zip = ZipWriter::new(File::create(path).expect("test fixture"));
    for (name, bytes) in members {
        let options = SimpleFileOptions::default().compression_method(method);
        zip.start_file(*name, options).expect("test fixture");
        zip.write_all(bytes).expect("test fixture");
    }
    zip.finish().expect("test fixture");
}

fn sample() -> (Array3<f64>, Array1<i64>) {
    let a = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| {
        i as f64 * 100.0 + j as f64 * 10.0 + k as f64 + 0.25
    });
    let mut a = a;
    a[[1, 2, 3]] = f64::NAN;
    a[[0, 0, 1]] = -0.0;
    a[[0, 1, 1]] = f64::INFINITY;
    let b = Array1::from(vec![i64::MIN, -1, 0, 7, i64::MAX]);
    (a, b)
}

/// Write a valid sample file and return its path.
fn sample_file(dir: &Path) -> PathBuf {
    let (a, b) = sample();
    let path = dir.join("sample.npz");
    write_npz(
        &path,
        &[
            ("weights", NpzValue::F64(a.view().into_dyn())),
            ("labels", NpzValue::I64(b.view().into_dyn())),
            ("metadata", NpzValue::Str("σ = 0.5 µ")),
        ],
    )
    .expect("test fixture");
    path
}

/// The error's display text; also checks that it is a data error naming `variable`.
fn data_error(err: Error, variable: &str) -> String {
    let text = err.to_string();
    match &err {
        Error::Data { variable: v, .. } => assert_eq!(v, variable, "{text}"),
        other => panic!("expected a data error, got {other:?}"),
    }
    assert!(text.contains(&format!("'{variable}'")), "{text}");
    text
}

fn same_bits(x: &ArrayD<f64>, y: &ArrayD<f64>) -> bool {
    x.shape() == y.shape() && x.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits())
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = sample_file(dir.path());
    let (a, b) = sample();
    let f = NpzFile::open(&path).expect("test fixture");
    assert_eq!(f.path(), path);
    assert_eq!(f.keys(), vec!["labels", "metadata", "weights"]);
    assert!(f.contains("weights") && !f.contains("weights.npy"));
    let got = f.f64_array("weights", 3).expect("test fixture");
    assert!(same_bits(&got, &a.clone().into_dyn()));
    assert_eq!(
        f.i64_array("labels", 1).expect("test fixture"),
        b.into_dyn()
    );
    assert_eq!(f.string("metadata").expect("test fixture"), "σ = 0.5 µ");
    // Reading twice works (the archive is re-read).
    assert!(same_bits(
        &f.f64_array("weights", 3).expect("test fixture"),
        &a.into_dyn()
    ));
}

#[test]
fn written_layout_matches_numpy() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = dir.path().join("x.npz");
    let t = ndarray::arr2(&[[1.0, 2.0], [3.0, 4.0]]);
    // A transposed (non-contiguous in C order) view is written in logical order.
    write_npz(
        &path,
        &[
            ("t", NpzValue::F64(t.t().into_dyn())),
            ("empty", NpzValue::Str("")),
            ("zero", NpzValue::F64(ndarray::arr0(2.5).into_dyn().view())),
        ],
    )
    .expect("test fixture");
    let mut zip = ZipArchive::new(File::open(&path).expect("test fixture")).expect("test fixture");
    let names: Vec<&str> = zip.file_names().collect();
    assert_eq!(names.len(), 3);
    let expect = [
        (
            "t.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
        ),
        (
            "empty.npy",
            "{'descr': '<U1', 'fortran_order': False, 'shape': (), }",
        ),
        (
            "zero.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
        ),
    ];
    for (name, dict) in expect {
        let mut m = zip.by_name(name).expect("test fixture");
        assert_eq!(m.compression(), CompressionMethod::Stored);
        let mut bytes = Vec::new();
        m.read_to_end(&mut bytes).expect("test fixture");
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0, "{name}");
        let header = std::str::from_utf8(&bytes[10..10 + hlen]).expect("test fixture");
        assert!(header.starts_with(dict), "{header:?}");
        assert!(header.ends_with(" \n"));
    }
    drop(zip);
    let f = NpzFile::open(&path).expect("test fixture");
    assert_eq!(f.keys(), vec!["empty", "t", "zero"]);
    assert_eq!(
        f.f64_array("t", 2).expect("test fixture"),
        ndarray::arr2(&[[1.0, 3.0], [2.0, 4.0]]).into_dyn()
    );
    assert_eq!(f.string("empty").expect("test fixture"), "");
    assert_eq!(
        f.f64_array("zero", 0).expect("test fixture"),
        ndarray::arr0(2.5).into_dyn()
    );
}

#[test]
fn fortran_order_is_converted() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = dir.path().join("f.npz");
    // [[0, 1, 2], [10, 11, 12]] stored column by column.
    let data = f64_bytes(&[0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
    let ints: Vec<u8> = [1i64, 4, 2, 5, 3, 6]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_zip(
        &path,
        &[
            (
                "a.npy",
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                    &data,
                ),
            ),
            (
                "b.npy",
                npy_bytes(
                    "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }",
                    &ints,
                ),
            ),
        ],
        CompressionMethod::Stored,
    );
    let f = NpzFile::open(&path).expect("test fixture");
    let a = f.f64_array("a", 2).expect("test fixture");
    assert_eq!(
        a,
        ndarray::arr2(&[[0.0, 1.0, 2.0], [10.0, 11.0, 12.0]]).into_dyn()
    );
    assert!(a.is_standard_layout());
    let b = f.i64_array("b", 2).expect("test fixture");
    assert_eq!(b, ndarray::arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn());
    assert!(b.is_standard_layout());
}

#[test]
fn deflated_members_and_other_versions() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = dir.path().join("d.npz");
    let values: Vec<f64> = (0..5000).map(|i| (i % 7) as f64).collect();
    let text = "{\"a\": 1}";
    let utf32: Vec<u8> = text
        .chars()
        .flat_map(|c| u32::from(c).to_le_bytes())
        .collect();
    // A version 3.0 header (4-byte length, UTF-8).
    let mut v3 = MAGIC.to_vec();
    let dict = b"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n";
    v3.extend_from_slice(&[3, 0]);
    v3.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    v3.extend_from_slice(dict);
    v3.extend_from_slice(
        &[9i64, -9]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>(),
    );
    write_zip(
        &path,
        &[
            (
                "x.npy",
                npy_bytes(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (50, 100), }",
                    &f64_bytes(&values),
                ),
            ),
            (
                "metadata.npy",
                npy_bytes(
                    &format!(
                        "{{'descr': '<U{}', 'fortran_order': False, 'shape': (), }}",
                        text.len()
                    ),
                    &utf32,
                ),
            ),
            ("v3.npy", v3),
        ],
        CompressionMethod::Deflated,
    );
    // The members really are compressed.
    assert!(std::fs::metadata(&path).expect("test fixture").len() < 10_000);
    let f = NpzFile::open(&path).expect("test fixture");
    let x = f.f64_array("x", 2).expect("test fixture");
    assert_eq!(x.shape(), &[50, 100]);
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), values);
    assert_eq!(f.string("metadata").expect("test fixture"), text);
    assert_eq!(
        f.i64_array("v3", 1)
            .expect("test fixture")
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![9, -9]
    );
}

#[test]
fn missing_key_lists_keys() {
    let dir = tempfile::tempdir().expect("test fixture");
    let f = NpzFile::open(sample_file(dir.path())).expect("test fixture");
    let text = data_error(f.f64_array("inputs", 2).unwrap_err(), "inputs");
    assert_contains(
        &text,
        "missing; the file has keys: labels, metadata, weights",
    );
    assert!(text.contains("sample.npz"), "{text}");
    data_error(f.string("nothing").unwrap_err(), "nothing");
}

#[test]
fn wrong_dtype() {
    let dir = tempfile::tempdir().expect("test fixture");
    let f = NpzFile::open(sample_file(dir.path())).expect("test fixture");
    let text = data_error(f.f64_array("labels", 1).unwrap_err(), "labels");
    assert_contains(&text, "expected float64 (<f8), found int64 (<i8)");
    let text = data_error(f.i64_array("weights", 3).unwrap_err(), "weights");
    assert_contains(&text, "expected int64 (<i8), found float64 (<f8)");
    let text = data_error(f.string("weights").unwrap_err(), "weights");
    assert!(text.contains("expected a unicode string"), "{text}");
    let text = data_error(f.f64_array("metadata", 0).unwrap_err(), "metadata");
    assert_contains(&text, "found unicode string of 9 characters (<U9)");

    let path = dir.path().join("i4.npz");
    write_zip(
        &path,
        &[(
            "counts.npy",
            npy_bytes(
                "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                &[0; 8],
            ),
        )],
        CompressionMethod::Stored,
    );
    let f = NpzFile::open(&path).expect("test fixture");
    let text = data_error(f.f64_array("counts", 1).unwrap_err(), "counts");
    assert_contains(&text, "expected float64 (<f8), found int32 (<i4)");
}

#[test]
fn big_endian_is_refused() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = dir.path().join("be.npz");
    let data: Vec<u8> = [1.5f64, 2.5].iter().flat_map(|v| v.to_be_bytes()).collect();
    write_zip(
        &path,
        &[(
            "rates.npy",
            npy_bytes(
                "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }",
                &data,
            ),
        )],
        CompressionMethod::Stored,
    );
    let f = NpzFile::open(&path).expect("test fixture");
    let text = data_error(f.f64_array("rates", 1).unwrap_err(), "rates");
    assert_contains(
        &text,
        "expected float64 (<f8), found big-endian float64 (>f8)",
    );
}

#[test]
fn wrong_ndim() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = dir.path().join("n.npz");
    let a = ArrayD::<f64>::zeros(IxDyn(&[4, 5]));
    write_npz(&path, &[("inputs", NpzValue::F64(a.view()))]).expect("test fixture");
    let f = NpzFile::open(&path).expect("test fixture");
    let text = data_error(f.f64_array("inputs", 3).unwrap_err(), "inputs");
    assert_contains(&text, "expected 3 dimensions, found 2 (shape [4, 5])");
    let text = data_error(f.f64_array("inputs", 1).unwrap_err(), "inputs");
    assert!(text.contains("expected 1 dimension, found 2"), "{text}");
    assert_eq!(f.f64_array("inputs", 2).expect("test fixture"), a);

    // A string must be 0-d.
    let path = dir.path().join("u.npz");
    write_zip(
        &path,
        &[(
            "names.npy",
            npy_bytes(
                "{'descr': '<U1', 'fortran_order': False, 'shape': (2,), }",
                &[65, 0, 0, 0, 66, 0, 0, 0],
            ),
        )],
        CompressionMethod::Stored,
    );
    let f = NpzFile::open(&path).expect("test fixture");
    let text = data_error(f.string("names").unwrap_err(), "names");
    assert!(text.contains("shape [2]"), "{text}");
}

#[test]
fn missing_empty_non_zip_and_truncated_files() {
    let dir = tempfile::tempdir().expect("test fixture");
    let err = NpzFile::open(dir.path().join("absent.npz")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("absent.npz"), "{err}");

    let empty = dir.path().join("empty.npz");
    std::fs::write(&empty, b"").expect("test fixture");
    let text = data_error(NpzFile::open(&empty).unwrap_err(), FILE_VARIABLE);
    assert!(text.contains("not a valid .npz (zip) archive"), "{text}");
    assert!(text.contains("empty.npz"), "{text}");

    let text_file = dir.path().join("text.npz");
    std::fs::write(&text_file, "time,rate\n0,1.5\n1,2.5\n".repeat(20)).expect("test fixture");
    let text = data_error(NpzFile::open(&text_file).unwrap_err(), FILE_VARIABLE);
    assert!(text.contains("not a valid .npz (zip) archive"), "{text}");

    let full = std::fs::read(sample_file(dir.path())).expect("test fixture");
    let cut = dir.path().join("cut.npz");
    std::fs::write(&cut, &full[..full.len() / 2]).expect("test fixture");
    let text = data_error(NpzFile::open(&cut).unwrap_err(), FILE_VARIABLE);
    assert!(text.contains("not a valid .npz (zip) archive"), "{text}");
}

#[test]
fn bad_magic_and_bad_headers() {
    let dir = tempfile::tempdir().expect("test fixture");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "magic",
            b"\x93NUMPZ\x01\x00"
                .iter()
                .copied()
                .chain([0u8; 100])
                .collect(),
            "magic string",
        ),
        ("short", b"\x93NU".to_vec(), "too short"),
        (
            "version",
            b"\x93NUMPY\x04\x00\x10\x00".to_vec(),
            "version 4.0",
        ),
        (
            "longheader",
            b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec(),
            "more than the limit",
        ),
        (
            "pastend",
            b"\x93NUMPY\x01\x00\x00\x10{}".to_vec(),
            "too short for its header",
        ),
        ("notdict", npy_bytes("[1, 2]", &[]), "not a dict"),
        (
            "syntax",
            npy_bytes("{'descr': '<f8', 'shape': (1,", &[]),
            "not a Python literal",
        ),
        (
            "nokey",
            npy_bytes("{'descr': '<f8', 'shape': (1,), }", &[0; 8]),
            "fortran_order",
        ),
        (
            "extrakey",
            npy_bytes(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': 1}",
                &[0; 8],
            ),
            "unexpected key 'x'",
        ),
        (
            "negative",
            npy_bytes(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
                &[],
            ),
            "not a valid size",
        ),
        (
            "nested",
            npy_bytes(
                &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
                &[],
            ),
            "nests brackets",
        ),
    ];
    for (key, bytes, expected) in cases {
        let path = dir.path().join(format!("{key}.npz"));
        write_zip(
            &path,
            &[(&format!("{key}.npy"), bytes)],
            CompressionMethod::Stored,
        );
        let text = data_error(NpzFile::open(&path).unwrap_err(), key);
        assert!(text.contains(expected), "{key}: {text}");
    }
}

#[test]
fn huge_shape_and_size_mismatch_are_refused() {
    let dir = tempfile::tempdir().expect("test fixture");
    let cases: Vec<(&str, &str, usize, &str)> = vec![
        (
            "huge",
            "(1000000, 1000000)",
            16,
            "needs 8000000000000 bytes",
        ),
        (
            "overflow",
            "(4294967296, 4294967296, 4294967296)",
            16,
            "impossibly large",
        ),
        (
            "short",
            "(3, 4)",
            95,
            "the data is 95 bytes but shape [3, 4] of float64 (<f8) needs 96 bytes",
        ),
        ("long", "(3, 4)", 97, "needs 96 bytes"),
    ];
    for (key, shape, len, expected) in cases {
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            let path = dir.path().join(format!("{key}.npz"));
            let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
            write_zip(
                &path,
                &[(&format!("{key}.npy"), npy_bytes(&dict, &vec![0; len]))],
                method,
            );
            let text = data_error(NpzFile::open(&path).unwrap_err(), key);
            assert!(text.contains(expected), "{key}: {text}");
        }
    }
}

/// Positions of `u32` size fields to patch: (local header, central directory) offsets
/// of the uncompressed size of the first member.
fn uncompressed_size_fields(zip: &[u8]) -> (usize, usize) {
    let find = |sig: &[u8]| zip.windows(4).position(|w| w == sig).expect("test fixture");
    (find(b"PK\x03\x04") + 22, find(b"PK\x01\x02") + 24)
}

#[test]
fn member_inflating_past_its_declared_size_is_refused() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = dir.path().join("lie.npz");
    // The header says 2 elements and the member will declare exactly that, but the
    // deflate stream holds 3.
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    let member = npy_bytes(dict, &f64_bytes(&[1.0, 2.0, 3.0]));
    let honest = (member.len() - 8) as u32;
    write_zip(&path, &[("lie.npy", member)], CompressionMethod::Deflated);
    let mut bytes = std::fs::read(&path).expect("test fixture");
    let (local, central) = uncompressed_size_fields(&bytes);
    bytes[local..local + 4].copy_from_slice(&honest.to_le_bytes());
    bytes[central..central + 4].copy_from_slice(&honest.to_le_bytes());
    std::fs::write(&path, &bytes).expect("test fixture");
    let f = NpzFile::open(&path).expect("test fixture");
    let text = data_error(f.f64_array("lie", 1).unwrap_err(), "lie");
    assert!(text.contains("more data than its declared size"), "{text}");
}

#[test]
fn member_over_the_cap_is_refused() {
    let dir = tempfile::tempdir().expect("test fixture");
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    let member = npy_bytes(dict, &f64_bytes(&[1.0, 2.0]));
    let size = member.len() as u64;

    // Declaring 4 GiB (below the cap) for 16 bytes of data: refused by the shape check.
    let path = dir.path().join("big.npz");
    write_zip(
        &path,
        &[("big.npy", member.clone())],
        CompressionMethod::Deflated,
    );
    let mut bytes = std::fs::read(&path).expect("test fixture");
    let (local, central) = uncompressed_size_fields(&bytes);
    for at in [local, central] {
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    }
    std::fs::write(&path, &bytes).expect("test fixture");
    let text = data_error(NpzFile::open(&path).unwrap_err(), "big");
    assert!(text.contains("needs 16 bytes"), "{text}");

    // Declaring 9 GiB in the zip64 extra fields: refused by the cap, before reading.
    let path = dir.path().join("huge.npz");
    let mut zip = ZipWriter::new(File::create(&path).expect("test fixture"));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("huge.npy", options).expect("test fixture");
    zip.write_all(&member).expect("test fixture");
    zip.finish().expect("test fixture");
    let mut bytes = std::fs::read(&path).expect("test fixture");
    let mut pattern = b"\x01\x00\x10\x00".to_vec();
    pattern.extend_from_slice(&size.to_le_bytes());
    let spots: Vec<usize> = (0..bytes.len() - pattern.len())
        .filter(|&i| bytes[i..i + pattern.len()] == pattern[..])
        .collect();
    assert_eq!(spots.len(), 2, "zip64 extra fields not found");
    for at in spots {
        bytes[at + 4..at + 12].copy_from_slice(&(9u64 << 30).to_le_bytes());
    }
    std::fs::write(&path, &bytes).expect("test fixture");
    let text = data_error(NpzFile::open(&path).unwrap_err(), "huge");
    assert_contains(&text, "declares 9663676416 bytes, more than the limit");
}

#[test]
fn corrupted_data_is_detected_when_read() {
    let dir = tempfile::tempdir().expect("test fixture");
    let path = sample_file(dir.path());
    let mut bytes = std::fs::read(&path).expect("test fixture");
    // Flip a byte in the data of the first member ("weights", stored, header of 128 bytes).
    let at = bytes
        .windows(4)
        .position(|w| w == b"PK\x03\x04")
        .expect("test fixture")
        + 30
        + "weights.npy".len()
        + 128
        + 3;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).expect("test fixture");
    let f = NpzFile::open(&path).expect("test fixture");
    let text = data_error(f.f64_array("weights", 3).unwrap_err(), "weights");
    assert!(text.to_lowercase().contains("checksum"), "{text}");
    // The other members are unaffected.
    assert_eq!(f.string("metadata").expect("test fixture"), "σ = 0.5 µ");
}

/// Every truncation and many single-byte corruptions of valid files: errors, no panics.
#[test]
fn corrupt_files_never_panic() {
    let dir = tempfile::tempdir().expect("test fixture");
    let stored = std::fs::read(sample_file(dir.path())).expect("test fixture");
    let deflated_path = dir.path().join("deflated.npz");
    let dict = "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }";
    write_zip(
        &deflated_path,
        &[
            (
                "x.npy",
                npy_bytes(dict, &f64_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
            ),
            (
                "s.npy",
                npy_bytes(
                    "{'descr': '<U2', 'fortran_order': False, 'shape': (), }",
                    &[104, 0, 0, 0, 105, 0, 0, 0],
                ),
            ),
        ],
        CompressionMethod::Deflated,
    );
    let deflated = std::fs::read(&deflated_path).expect("test fixture");
    let path = dir.path().join("corrupt.npz");
    let exercise = |bytes: &[u8]| {
        std::fs::write(&path, bytes).expect("test fixture");
        if let Ok(f) = NpzFile::open(&path) {
            for key in f.keys() {
                for ndim in 0..4 {
                    let _ = f.f64_array(&key, ndim);
                    let _ = f.i64_array(&key, ndim);
                }
                let _ = f.string(&key);
            }
        }
    };
    let mut opened = 0;
    for original in [&stored, &deflated] {
        for len in 0..original.len() {
            exercise(&original[..len]);
        }
        for at in 0..original.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bytes = original.clone();
                bytes[at] ^= mask;
                exercise(&bytes);
                opened += usize::from(NpzFile::open(&path).is_ok());
            }
        }
    }
    // Corruptions inside member data pass `open` and must be caught on reading.
    assert!(opened > 0);
}
