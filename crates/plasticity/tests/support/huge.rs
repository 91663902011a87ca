//! `.npz` files whose members declare far more data than their files hold: valid
//! deflated arrays of zeros (a 4 GiB member in a few MB), and members whose zip entry
//! declares any size. Written by hand (zip64 where a size needs it) so that making a
//! 4 GiB member takes milliseconds: the deflate stream of 1 MiB of zeros, ended by a
//! full flush (no back-reference crosses it), is repeated, and the CRC-32 of the zeros
//! is combined rather than computed over them. Shared by the library's tests
//! (`tests/huge_members.rs`) and the CLI's (`tests/reliability.rs`, by path).
#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;

use flate2::{Compress, Compression, Crc, FlushCompress};

/// One member of an archive.
pub struct Member {
    /// The member's name in the archive, e.g. `inputs.npy`.
    pub name: String,
    /// How it is stored.
    pub body: Body,
}

/// A member's bytes.
pub enum Body {
    /// Stored as is.
    Stored(Vec<u8>),
    /// `header` followed by `zeros` zero bytes, deflated.
    Zeros { header: Vec<u8>, zeros: u64 },
    /// Deflated `bytes`, with the zip entry declaring `declared` uncompressed bytes
    /// (and a CRC over `bytes` alone).
    Declared { bytes: Vec<u8>, declared: u64 },
}

/// A version 1.0 `.npy` header for `descr` and `shape`, padded as numpy pads it.
pub fn npy_header(descr: &str, shape: &[u64]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    while !(10 + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out
}

/// A stored float64 member `key.npy` of `shape` holding `values`.
pub fn f64_member(key: &str, shape: &[u64], values: &[f64]) -> Member {
    let mut bytes = npy_header("<f8", shape);
    values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
    stored(key, bytes)
}

/// A stored int64 member `key.npy` of `shape` holding `values`.
pub fn i64_member(key: &str, shape: &[u64], values: &[i64]) -> Member {
    let mut bytes = npy_header("<i8", shape);
    values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
    stored(key, bytes)
}

/// A stored 0-d unicode member `key.npy` holding `text`.
pub fn str_member(key: &str, text: &str) -> Member {
    let mut bytes = npy_header(&format!("<U{}", text.chars().count()), &[]);
    text.chars()
        .for_each(|c| bytes.extend(u32::from(c).to_le_bytes()));
    stored(key, bytes)
}

/// A deflated float64 member `key.npy` of `shape`, all zeros.
pub fn zeros_member(key: &str, shape: &[u64]) -> Member {
    let zeros = shape.iter().product::<u64>() * 8;
    Member {
        name: format!("{key}.npy"),
        body: Body::Zeros {
            header: npy_header("<f8", shape),
            zeros,
        },
    }
}

fn stored(key: &str, bytes: Vec<u8>) -> Member {
    Member {
        name: format!("{key}.npy"),
        body: Body::Stored(bytes),
    }
}

/// A float64 member of `shape`: zeros, deflated, where it holds over 1 MiB; stored
/// values 0.5 otherwise.
pub fn f64_auto(key: &str, shape: &[u64]) -> Member {
    let n = shape.iter().product::<u64>();
    if n * 8 > 1 << 20 {
        zeros_member(key, shape)
    } else {
        f64_member(key, shape, &vec![0.5; n as usize])
    }
}

/// The members of a neural dataset (docs/model.md §6) with the given shapes: `inputs`
/// `[k, t, n_pre]`, `initial_weights` `[k, n_post, n_pre]`, `recorded_activity`
/// `[k, t, n_rec]` and `recorded_neurons` `0..n_rec`; members over 1 MiB are deflated
/// zeros.
pub fn neural_members(inputs: [u64; 3], weights: [u64; 3], activity: [u64; 3]) -> Vec<Member> {
    let n_rec = activity[2];
    vec![
        str_member("metadata", r#"{"kind": "neural", "version": "huge"}"#),
        f64_auto("inputs", &inputs),
        f64_auto("initial_weights", &weights),
        f64_auto("recorded_activity", &activity),
        i64_member(
            "recorded_neurons",
            &[n_rec],
            &(0..n_rec as i64).collect::<Vec<_>>(),
        ),
    ]
}

/// The issue's case: `inputs` a valid deflated array of shape (1, 1, 2^29) float64
/// (4 GiB of zeros in about 4 MB), the other members a 2 × 9 × 6 dataset (4 neurons,
/// all recorded).
pub fn huge_inputs_members() -> Vec<Member> {
    let mut members = neural_members([2, 9, 6], [2, 4, 6], [2, 9, 4]);
    members[1] = zeros_member("inputs", &[1, 1, 1 << 29]);
    members
}

/// Raw deflate of `input`, ended by a full flush (or the final block, `finish`).
fn deflate(compress: &mut Compress, input: &[u8], finish: bool) -> Vec<u8> {
    let flush = if finish {
        FlushCompress::Finish
    } else {
        FlushCompress::Full
    };
    let mut out = Vec::with_capacity(input.len() / 64 + 4096);
    let mut consumed = 0;
    loop {
        out.reserve(64 << 10);
        let before = compress.total_in();
        let status = compress
            .compress_vec(&input[consumed..], &mut out, flush)
            .expect("deflate");
        consumed += (compress.total_in() - before) as usize;
        let done = if finish {
            status == flate2::Status::StreamEnd
        } else {
            consumed == input.len() && out.len() < out.capacity()
        };
        if done {
            return out;
        }
    }
}

/// The compressed bytes, CRC-32 and uncompressed size of `body`.
fn encode(body: &Body) -> (u16, Vec<u8>, u32, u64) {
    match body {
        Body::Stored(bytes) => {
            let mut crc = Crc::new();
            crc.update(bytes);
            (0, bytes.clone(), crc.sum(), bytes.len() as u64)
        }
        Body::Declared { bytes, declared } => {
            let mut compress = Compress::new(Compression::best(), false);
            let data = deflate(&mut compress, bytes, true);
            let mut crc = Crc::new();
            crc.update(bytes);
            (8, data, crc.sum(), *declared)
        }
        Body::Zeros { header, zeros } => {
            const BLOCK: u64 = 1 << 20;
            let mut compress = Compress::new(Compression::best(), false);
            let mut data = deflate(&mut compress, header, false);
            let block = deflate(&mut compress, &[0u8; BLOCK as usize], false);
            let mut crc = Crc::new();
            crc.update(header);
            let mut block_crc = Crc::new();
            block_crc.update(&[0u8; BLOCK as usize]);
            for _ in 0..zeros / BLOCK {
                data.extend_from_slice(&block);
                crc.combine(&block_crc);
            }
            let rest = vec![0u8; (zeros % BLOCK) as usize];
            data.extend(deflate(&mut compress, &rest, true));
            crc.update(&rest);
            (8, data, crc.sum(), header.len() as u64 + zeros)
        }
    }
}

/// Writes `members` as a zip archive at `path` (zip64 sizes where a size needs them).
pub fn write_zip(path: &Path, members: &[Member]) {
    let mut out: Vec<u8> = Vec::new();
    let mut central: Vec<u8> = Vec::new();
    let u16le = |v: &mut Vec<u8>, x: u16| v.extend(x.to_le_bytes());
    let u32le = |v: &mut Vec<u8>, x: u32| v.extend(x.to_le_bytes());
    for member in members {
        let (method, data, crc, size) = encode(&member.body);
        let compressed = data.len() as u64;
        let zip64 = size >= u32::MAX as u64 || compressed >= u32::MAX as u64;
        let (small_size, small_compressed) = if zip64 {
            (u32::MAX, u32::MAX)
        } else {
            (size as u32, compressed as u32)
        };
        let mut extra = Vec::new();
        if zip64 {
            u16le(&mut extra, 1);
            u16le(&mut extra, 16);
            extra.extend(size.to_le_bytes());
            extra.extend(compressed.to_le_bytes());
        }
        let offset = out.len() as u32;
        let version = if zip64 { 45 } else { 20 };
        let name = member.name.as_bytes();
        // local file header
        u32le(&mut out, 0x0403_4b50);
        u16le(&mut out, version);
        u16le(&mut out, 0); // flags
        u16le(&mut out, method);
        u16le(&mut out, 0); // time
        u16le(&mut out, 0x21); // date: 1980-01-01
        u32le(&mut out, crc);
        u32le(&mut out, small_compressed);
        u32le(&mut out, small_size);
        u16le(&mut out, name.len() as u16);
        u16le(&mut out, extra.len() as u16);
        out.extend(name);
        out.extend(&extra);
        out.extend(&data);
        // central directory header
        u32le(&mut central, 0x0201_4b50);
        u16le(&mut central, version);
        u16le(&mut central, version);
        u16le(&mut central, 0);
        u16le(&mut central, method);
        u16le(&mut central, 0);
        u16le(&mut central, 0x21);
        u32le(&mut central, crc);
        u32le(&mut central, small_compressed);
        u32le(&mut central, small_size);
        u16le(&mut central, name.len() as u16);
        u16le(&mut central, extra.len() as u16);
        u16le(&mut central, 0); // comment
        u16le(&mut central, 0); // disk
        u16le(&mut central, 0); // internal attributes
        u32le(&mut central, 0); // external attributes
        u32le(&mut central, offset);
        central.extend(name);
        central.extend(&extra);
    }
    let central_offset = out.len() as u32;
    let central_len = central.len() as u32;
    out.extend(&central);
    u32le(&mut out, 0x0605_4b50);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, members.len() as u16);
    u16le(&mut out, members.len() as u16);
    u32le(&mut out, central_len);
    u32le(&mut out, central_offset);
    u16le(&mut out, 0);
    std::fs::write(path, out).expect("archive written");
}
