//! Simulated flies in the deposited raw layout of Rajagopalan et al. (one directory per
//! fly: `odor_crossing_b.mat`, `cps_b.mat`, `choice_order.mat`, `reward_order.mat`;
//! `plasticity::data::fly::raw`), with the `X`/`Y`/`R` the conversion must give,
//! worked out on the simulation's own timeline, and a test-only MAT v5 writer of the
//! struct, cell, char and double arrays the layout needs. Shared by `tests/fly_raw.rs`
//! and the fuzz harnesses (`tests/fuzz.rs`), included by path.
#![allow(dead_code)] // each test binary uses a different part

use std::io::Write;
use std::path::Path;

/// `miINT8`, `miUINT16`, `miINT32`, `miUINT32`, `miDOUBLE`, `miMATRIX`,
/// `miCOMPRESSED`, `miUTF8`.
const MI_INT8: u32 = 1;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_DOUBLE: u32 = 9;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;

/// An array to write (dimensions 1 × n unless given).
#[derive(Clone, Debug)]
pub enum Node {
    /// A double array: dimensions and column-major values.
    Double(Vec<i32>, Vec<f64>),
    /// A char row; `true` stores it as `miUINT16` (MATLAB v6), `false` as `miUTF8`.
    Char(String, bool),
    /// A 1 × n cell array.
    Cell(Vec<Node>),
    /// A 1 × n struct array: field names and each element's values (one per field).
    Struct(Vec<String>, Vec<Vec<Node>>),
    /// An `miMATRIX` element of 0 bytes (MATLAB's `[]` in a struct field).
    Empty,
}

/// A data element: tag, data, padding to 8 bytes.
fn element(data_type: u32, data: &[u8]) -> Vec<u8> {
    let mut out = data_type.to_le_bytes().to_vec();
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out.resize(out.len().next_multiple_of(8), 0);
    out
}

/// The `miMATRIX` element of `node`, named `name` (empty inside cells and structs).
pub fn node_element(name: &str, node: &Node) -> Vec<u8> {
    let header = |class: u8, dims: &[i32]| {
        let mut body = element(MI_UINT32, &[class, 0, 0, 0, 0, 0, 0, 0]);
        let d: Vec<u8> = dims.iter().flat_map(|d| d.to_le_bytes()).collect();
        body.extend(element(MI_INT32, &d));
        body.extend(element(MI_INT8, name.as_bytes()));
        body
    };
    let body = match node {
        Node::Empty => Vec::new(),
        Node::Double(dims, values) => {
            let mut body = header(6, dims);
            let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            body.extend(element(MI_DOUBLE, &data));
            body
        }
        Node::Char(text, wide) => {
            let n = text.chars().count() as i32;
            let mut body = header(4, &[1, n]);
            if *wide {
                let data: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
                body.extend(element(MI_UINT16, &data));
            } else {
                body.extend(element(MI_UTF8, text.as_bytes()));
            }
            body
        }
        Node::Cell(cells) => {
            let mut body = header(1, &[1, cells.len() as i32]);
            for c in cells {
                body.extend(node_element("", c));
            }
            body
        }
        Node::Struct(fields, elements) => {
            let mut body = header(2, &[1, elements.len() as i32]);
            // field name length as a small data element, as MATLAB writes it
            body.extend(((4u32 << 16) | MI_INT32).to_le_bytes());
            body.extend(32u32.to_le_bytes());
            let mut names = Vec::new();
            for f in fields {
                let mut n = f.as_bytes().to_vec();
                n.resize(32, 0);
                names.extend(n);
            }
            body.extend(element(MI_INT8, &names));
            for values in elements {
                for v in values {
                    body.extend(node_element("", v));
                }
            }
            body
        }
    };
    element(MI_MATRIX, &body)
}

/// A MAT-file of `vars`, each stored compressed (`miCOMPRESSED`) or not.
pub fn node_file(vars: &[(&str, Node)], compressed: bool) -> Vec<u8> {
    let mut out = b"MATLAB 5.0 MAT-file, written by the plasticity raw-fly tests".to_vec();
    out.resize(116, b' ');
    out.extend([0u8; 8]);
    out.extend(0x0100u16.to_le_bytes());
    out.extend(b"IM");
    for (name, node) in vars {
        let m = node_element(name, node);
        if compressed {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&m).expect("compressed");
            let z = encoder.finish().expect("compressed");
            out.extend(MI_COMPRESSED.to_le_bytes());
            out.extend((z.len() as u32).to_le_bytes());
            out.extend(z);
        } else {
            out.extend(m);
        }
    }
    out
}

/// A small deterministic generator (xorshift64*), so that the flies need no crate.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.below(1 << 20) as f64) < p * (1 << 20) as f64
    }
}

/// A simulated fly: its raw files and the `X`/`Y`/`R` they must convert to.
pub struct RawFlySim {
    /// (file name, bytes) of each raw file.
    pub files: Vec<(String, Vec<u8>)>,
    /// Odour of each entry (0 = MCH, 1 = OCT), in order.
    pub odours: Vec<i64>,
    /// `Y` of each entry.
    pub decisions: Vec<i64>,
    /// `R`: the binary reward of each accepted entry.
    pub rewards: Vec<f64>,
    /// Choice points on the frame of an entry (which is then not before them).
    pub entries_on_choice_points: usize,
}

impl RawFlySim {
    /// Writes the files into `dir` (created).
    pub fn write(&self, dir: &Path) {
        std::fs::create_dir_all(dir).expect("fly directory");
        for (name, bytes) in &self.files {
            std::fs::write(dir.join(name), bytes).expect("raw file written");
        }
    }
}

/// A crossing's `type`: `code` (`AtoM`, `MtoA`, …) as a char array or a 1 × 1 cell.
fn type_node(rng: &mut Rng, code: &str) -> Node {
    let text = Node::Char(code.to_string(), rng.chance(0.5));
    if rng.chance(0.5) {
        Node::Cell(vec![text])
    } else {
        text
    }
}

/// A crossing that is not an entry: another 4th character, an empty type, a number.
fn other_type(rng: &mut Rng) -> Node {
    match rng.below(5) {
        0 => type_node(rng, "MtoA"),
        1 => type_node(rng, "OtoA"),
        2 => Node::Char(String::new(), false),
        3 => Node::Empty,
        _ => Node::Double(vec![1, 1], vec![0.0]),
    }
}

/// One crossing's struct fields: time, type, time_pt_in_vector (local frame), conts.
fn crossing(kind: Node, local_frame: i64) -> Vec<Node> {
    vec![
        Node::Double(vec![1, 1], vec![local_frame as f64 / 30.0]),
        kind,
        Node::Double(vec![1, 1], vec![local_frame as f64]),
        Node::Double(vec![1, 1], vec![1.0]),
    ]
}

/// Simulates one fly over `blocks` blocks of `trials` trials on a global frame
/// timeline: trials with no choice (0; their entries, if any, become rejections of
/// the next trial), choice points without a new entry (the choice dropped), crossings
/// that are not entries, and `type` in both forms. The truth is worked out on the
/// timeline ("Y = 1 on the last entry before a choice point, if an entry came since
/// the previous one; R its binary reward"); the files hold each block's frames
/// relative to the previous block's last choice point. Now and then a choice point falls
/// on the frame of the last crossing (an entry there is not before it).
pub fn simulate_raw_fly(seed: u64, blocks: usize, trials: usize) -> RawFlySim {
    let mut rng = Rng::new(seed);
    let fields: Vec<String> = ["time", "type", "time_pt_in_vector", "conts"]
        .map(String::from)
        .to_vec();
    let (mut odours, mut decisions, mut rewards) = (Vec::new(), Vec::new(), Vec::new());
    let mut choice_order = vec![0.0; trials * blocks];
    let mut reward_order = vec![0.0; trials * blocks];
    let mut files = Vec::new();
    let mut t: i64 = 0;
    let mut offset: i64 = 0; // the last choice point so far (global frame)
                             // entries not yet before a choice point: (position, global frame)
    let mut pending: Vec<(usize, i64)> = Vec::new();
    let mut entries_on_choice_points = 0;
    for b in 0..blocks {
        let mut crossings: Vec<Vec<Node>> = Vec::new();
        let mut cps = vec![rng.below(4) as f64]; // the first element, dropped
        let mut last_cp = None;
        for trial in 0..trials {
            let first = b == 0 && trial == 0;
            let choice = if !first && rng.chance(0.15) {
                0
            } else {
                1 + rng.below(2) as i64
            };
            let entries = match choice {
                0 => rng.below(3),
                _ if !first && rng.chance(0.15) => 0,
                _ => 1 + rng.below(3),
            };
            for e in 0..entries {
                for _ in 0..rng.below(2) {
                    t += 1 + rng.below(40) as i64;
                    crossings.push(crossing(other_type(&mut rng), t - offset));
                }
                t += 1 + rng.below(40) as i64;
                let odour = if choice != 0 && e + 1 == entries {
                    choice - 1
                } else {
                    rng.below(2) as i64
                };
                let code =
                    ["AtoM", "AtoO", "OtoM", "MtoO"][(rng.below(2) * 2) as usize + odour as usize];
                crossings.push(crossing(type_node(&mut rng, code), t - offset));
                pending.push((odours.len(), t));
                odours.push(odour);
                decisions.push(0);
            }
            let reward = if rng.chance(0.5) { choice } else { 0 };
            choice_order[b * trials + trial] = choice as f64;
            // a trial without a choice may carry any reward: it is dropped with the choice
            reward_order[b * trials + trial] = if choice == 0 {
                rng.below(3) as f64
            } else {
                reward as f64
            };
            if choice != 0 {
                // now and then the choice point falls on the frame of the last crossing,
                // which is then not before it (frames are compared strictly)
                if first || !rng.chance(0.05) {
                    t += 1 + rng.below(10) as i64;
                }
                cps.push((t - offset) as f64);
                last_cp = Some(t);
                entries_on_choice_points += usize::from(pending.iter().any(|(_, f)| *f == t));
                if let Some(&(p, _)) = pending.iter().rev().find(|(_, f)| *f < t) {
                    decisions[p] = 1;
                    rewards.push(if reward == 0 { 0.0 } else { 1.0 });
                    pending.retain(|(_, f)| *f >= t);
                }
            }
        }
        let n = cps.len() as i32;
        let compressed = rng.chance(0.5);
        files.push((
            format!("odor_crossing_{}.mat", b + 1),
            node_file(
                &[("odor_crossing", Node::Struct(fields.clone(), crossings))],
                compressed,
            ),
        ));
        files.push((
            format!("cps_{}.mat", b + 1),
            node_file(&[("cps", Node::Double(vec![n, 1], cps))], !compressed),
        ));
        if let Some(cp) = last_cp {
            offset = cp;
        }
    }
    let dims = vec![trials as i32, blocks as i32];
    files.push((
        "choice_order.mat".into(),
        node_file(
            &[("choice_order", Node::Double(dims.clone(), choice_order))],
            true,
        ),
    ));
    files.push((
        "reward_order.mat".into(),
        node_file(&[("reward_order", Node::Double(dims, reward_order))], false),
    ));
    RawFlySim {
        files,
        odours,
        decisions,
        rewards,
        entries_on_choice_points,
    }
}
