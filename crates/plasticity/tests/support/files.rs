//! Valid files for the harnesses and the corpus to start from, and a small MAT-file
//! writer.
#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};

use plasticity::task::{BehaviourTask, OjaTask};

// ---------------------------------------------------------------------------------
// Valid files to start from

/// The crate's test data directory.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A small valid neural dataset (.npz, stored members), as written by the library.
pub fn neural_npz() -> Vec<u8> {
    let task = OjaTask {
        n_pre: 3,
        n_post: 4,
        steps: 5,
        trajectories: 2,
        recording_fraction: 0.5,
        noise_std: 0.1,
        seed: 7,
        ..OjaTask::default()
    };
    save_to_bytes(|path| task.simulate()?.save(path))
}

/// A small valid behaviour dataset (.npz, stored members), as written by the library.
pub fn behaviour_npz() -> Vec<u8> {
    let task = BehaviourTask {
        n_blocks: 1,
        trials_per_block: 4,
        reward_probabilities: vec![[0.2, 0.8]],
        n_hidden: 3,
        max_presentations_per_trial: 4,
        sessions: 2,
        seed: 3,
        ..BehaviourTask::default()
    };
    save_to_bytes(|path| task.simulate()?.save(path))
}

fn save_to_bytes(save: impl FnOnce(&Path) -> plasticity::Result<()>) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("valid.npz");
    save(&path).expect("a valid dataset is written");
    std::fs::read(&path).expect("read back")
}

/// The same archive with every member deflated (as `np.savez_compressed` writes).
pub fn deflated(npz: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(npz)).expect("a zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).expect("a member");
        let name = member.name().to_string();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut member, &mut bytes).expect("read");
        out.start_file(name, options).expect("started");
        out.write_all(&bytes).expect("written");
    }
    out.finish().expect("finished").into_inner()
}

/// A zip archive of `members` (full names) with `method`.
pub fn zip_of(members: &[(&str, Vec<u8>)], method: zip::CompressionMethod) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in members {
        out.start_file(*name, options).expect("started");
        out.write_all(bytes).expect("written");
    }
    out.finish().expect("finished").into_inner()
}

/// A version 1.0 `.npy` member with header dict text `dict` and raw `data`.
pub fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

/// Little-endian float64 bytes.
pub fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A fly fixture's bytes.
pub fn fly_fixture(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join("flies").join(name)).expect("fixture")
}

// ---------------------------------------------------------------------------------
// MAT-file writer (MATLAB v5, little-endian)

/// Data types and classes used below.
pub const MI_INT8: u32 = 1;
/// `miUINT8`.
pub const MI_UINT8: u32 = 2;
/// `miINT32`.
pub const MI_INT32: u32 = 5;
/// `miUINT32`.
pub const MI_UINT32: u32 = 6;
/// `miDOUBLE`.
pub const MI_DOUBLE: u32 = 9;
/// `miMATRIX`.
pub const MI_MATRIX: u32 = 14;
/// `miCOMPRESSED`.
pub const MI_COMPRESSED: u32 = 15;
/// `mxDOUBLE_CLASS`.
pub const MX_DOUBLE: u32 = 6;
/// `mxCHAR_CLASS`.
pub const MX_CHAR: u32 = 4;

/// One variable of a MAT-file.
#[derive(Clone, Debug)]
pub struct MatVar {
    /// Its name.
    pub name: Vec<u8>,
    /// `mx…_CLASS`.
    pub class: u32,
    /// Dimensions as stored (int32).
    pub dims: Vec<i32>,
    /// `mi…` type of the real part.
    pub data_type: u32,
    /// The real part's bytes.
    pub data: Vec<u8>,
}

impl MatVar {
    /// A double matrix `rows × cols` from column-major `values`.
    pub fn double(name: &str, rows: i32, cols: i32, values: &[f64]) -> MatVar {
        MatVar {
            name: name.as_bytes().to_vec(),
            class: MX_DOUBLE,
            dims: vec![rows, cols],
            data_type: MI_DOUBLE,
            data: f64_bytes(values),
        }
    }
}

/// A data element: tag, data, padding to 8 bytes.
pub fn mat_element(data_type: u32, data: &[u8]) -> Vec<u8> {
    let mut out = data_type.to_le_bytes().to_vec();
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out.resize(out.len().next_multiple_of(8), 0);
    out
}

/// A `miMATRIX` element for `var`.
pub fn mat_matrix(var: &MatVar) -> Vec<u8> {
    let mut flags = var.class.to_le_bytes().to_vec();
    flags.extend([0u8; 4]);
    let mut body = mat_element(MI_UINT32, &flags);
    let dims: Vec<u8> = var.dims.iter().flat_map(|d| d.to_le_bytes()).collect();
    body.extend(mat_element(MI_INT32, &dims));
    body.extend(mat_element(MI_INT8, &var.name));
    body.extend(mat_element(var.data_type, &var.data));
    mat_element(MI_MATRIX, &body)
}

/// zlib-compressed bytes.
pub fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("compressed");
    encoder.finish().expect("compressed")
}

/// A `miCOMPRESSED` element holding `payload` (a whole element).
pub fn mat_compressed(payload: &[u8]) -> Vec<u8> {
    let z = zlib(payload);
    let mut out = MI_COMPRESSED.to_le_bytes().to_vec();
    out.extend((z.len() as u32).to_le_bytes());
    out.extend(z);
    out
}

/// The 128-byte header of a little-endian v5 MAT-file.
pub fn mat_header() -> Vec<u8> {
    let mut out = b"MATLAB 5.0 MAT-file, written by the plasticity tests".to_vec();
    out.resize(116, b' ');
    out.extend([0u8; 8]);
    out.extend(0x0100u16.to_le_bytes());
    out.extend(b"IM");
    out
}

/// A MAT-file of `vars`, each compressed or not.
pub fn mat_file(vars: &[MatVar], compressed: bool) -> Vec<u8> {
    let mut out = mat_header();
    for var in vars {
        let m = mat_matrix(var);
        out.extend(if compressed { mat_compressed(&m) } else { m });
    }
    out
}

/// `X`, `Y`, `R` of a valid 6-presentation, 2-odour session (4 trials).
pub fn fly_vars() -> Vec<MatVar> {
    let odours = [0usize, 1, 1, 0, 1, 0];
    let decisions = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let n = odours.len();
    let mut x = vec![0.0; 2 * n];
    for (p, &o) in odours.iter().enumerate() {
        x[p + o * n] = 1.0;
    }
    vec![
        MatVar::double("X", n as i32, 2, &x),
        MatVar::double("Y", 1, n as i32, &decisions),
        MatVar::double("R", 1, 4, &[1.0, 0.0, 1.0, 1.0]),
    ]
}

// ---------------------------------------------------------------------------------
// Circuits

/// A small circuit file: an input population, a recorded population with an external
/// current and a recurrent projection, a latent population, a random mask.
pub const CIRCUIT_TOML: &str = r#"weight_bound = 10.0

[populations.x]
size = 3
input = true

[populations.y]
size = 4
activation = "tanh"
external_input = true
recorded = [0, 2]

[populations.z]
size = 2
recorded = 0.0

[rules.ff]
rule = "x*y - y^2*w"
trainable = "all"

[projections.ff]
from = "x"
to = "y"
rule = "ff"
initial_weights = { std = 0.5 }
mask = { density = 0.7 }

[projections.rec]
from = "y"
to = "y"
rule = "ff"
initial_weights = { std = 0.1, shared = true }

[projections.yz]
from = "y"
to = "z"
initial_weights = { mean = 0.2, std = 0.1 }
"#;

/// A circuit file with an MLP rule, a connectome file ([`PAIRS_CSV`], next to it) and
/// explicit delays.
pub const CIRCUIT_TOML_MLP: &str = r#"[populations.a]
size = 2
input = true
input_std = 0.5

[populations.b]
size = 3
activation = "relu"
initial_activity = 0.1
recorded = 1.0

[rules.m]
family = "mlp"
hidden = [4, 2]

[projections.ab]
from = "a"
to = "b"
rule = "m"
learning_rate = 0.5
mask = { file = "pairs.csv" }
initial_weights = { std = 0.3 }

[projections.bb]
from = "b"
to = "b"
delay = 1
self_synapses = true
initial_weights = { std = 0.1 }
fit_initial_weights = "shared"
"#;

/// The connectome of [`CIRCUIT_TOML_MLP`]'s projection `ab` (pre, post pairs).
pub const PAIRS_CSV: &str = "pre,post\n0,1\n1,2\n0,0\n";

/// A small valid circuit dataset (.npz, stored members) simulated from
/// [`CIRCUIT_TOML`] by the library.
pub fn circuit_npz() -> Vec<u8> {
    let spec = plasticity::circuit::CircuitSpec::parse(
        CIRCUIT_TOML,
        Path::new("circuit.toml"),
        PathBuf::new(),
    )
    .expect("a valid circuit");
    let task = plasticity::task::CircuitTask {
        spec,
        trajectories: 2,
        steps: 4,
        noise_std: 0.1,
        recording_fraction: None,
        seed: 5,
    };
    save_to_bytes(|path| task.simulate()?.save(path))
}
