//! Parsing a `.npy` header: magic, version, header length and the Python dict literal
//! `{'descr': ..., 'fortran_order': ..., 'shape': (...)}`, with every length and the
//! bracket nesting bounded.

use std::io::{self, Read};
use std::str::FromStr;

use py_literal::Value;

use super::types::{Descr, NpyHeader};
use super::{MAGIC, MAX_HEADER_BYTES, MAX_HEADER_NESTING};

pub(super) enum HeaderError {
    /// The content is wrong.
    Data(String),
    /// Reading failed for a reason other than the content.
    Io(io::Error),
}

impl From<String> for HeaderError {
    fn from(m: String) -> Self {
        HeaderError::Data(m)
    }
}

/// Whether a read error is about the archive's content rather than the file system:
/// the operating system's errors carry an error code, the decoders' do not.
pub(super) fn is_content_error(e: &io::Error) -> bool {
    e.raw_os_error().is_none() && e.kind() != io::ErrorKind::Interrupted
}

/// Read a `.npy` header from `r`, a member of `declared` bytes.
pub(super) fn read_npy_header(
    r: &mut impl Read,
    declared: u64,
) -> std::result::Result<NpyHeader, HeaderError> {
    let short = |what: &str| {
        HeaderError::Data(format!(
            "not a .npy array: the member ({declared} bytes) is too short for its {what}"
        ))
    };
    let read_exact = |r: &mut dyn Read, buf: &mut [u8], what: &str| {
        r.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => short(what),
            _ if is_content_error(&e) => {
                HeaderError::Data(format!("cannot read the .npy header: {e}"))
            }
            _ => HeaderError::Io(e),
        })
    };
    let mut prefix = [0u8; 8];
    read_exact(r, &mut prefix, "magic string")?;
    if &prefix[..6] != MAGIC {
        return Err(format!(
            "not a .npy array: it starts with {} instead of the magic string \\x93NUMPY",
            escape_bytes(&prefix[..6])
        )
        .into());
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let (len_bytes, utf8) = match (major, minor) {
        (1, 0) => (2usize, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => {
            return Err(format!(
                "unsupported .npy format version {major}.{minor} (expected 1.0, 2.0 or 3.0)"
            )
            .into())
        }
    };
    let mut len_buf = [0u8; 4];
    read_exact(r, &mut len_buf[..len_bytes], "header length")?;
    let header_len = u64::from(u32::from_le_bytes(len_buf));
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "the .npy header claims {header_len} bytes, more than the limit of {MAX_HEADER_BYTES}"
        )
        .into());
    }
    let total_bytes = 8 + len_bytes as u64 + header_len;
    if total_bytes > declared {
        return Err(short("header"));
    }
    // header_len ≤ MAX_HEADER_BYTES, so this allocation is small.
    let mut raw = vec![0u8; header_len as usize];
    read_exact(r, &mut raw, "header")?;
    let text: String = if utf8 {
        String::from_utf8(raw).map_err(|_| "the .npy header is not valid UTF-8".to_string())?
    } else {
        raw.iter().map(|&b| char::from(b)).collect() // latin-1
    };
    let (descr, shape, fortran_order) = parse_header_dict(&text)?;
    Ok(NpyHeader {
        descr,
        shape,
        fortran_order,
        total_bytes,
    })
}

fn escape_bytes(b: &[u8]) -> String {
    let escaped: String = b
        .iter()
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect();
    format!("\"{escaped}\"")
}

/// Shorten `text` for an error message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{:?}…", &text[..i]),
        None => format!("{text:?}"),
    }
}

/// Parse the header's Python dict into (descr, shape, fortran_order).
fn parse_header_dict(text: &str) -> std::result::Result<(Descr, Vec<usize>, bool), String> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
    let mut depth = 0usize;
    for c in trimmed.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_HEADER_NESTING {
                    return Err(format!(
                        "the .npy header nests brackets more than {MAX_HEADER_NESTING} deep"
                    ));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let bad = |why: &str| format!("invalid .npy header {}: {why}", excerpt(trimmed));
    let value =
        Value::from_str(trimmed).map_err(|e| bad(&format!("not a Python literal ({e})")))?;
    let Value::Dict(items) = value else {
        return Err(bad("not a dict"));
    };
    let (mut descr, mut shape, mut fortran) = (None, None, None);
    for (k, v) in items {
        let Value::String(k) = k else {
            return Err(bad("a key is not a string"));
        };
        let slot_taken = match k.as_str() {
            "descr" => descr.replace(v).is_some(),
            "shape" => shape.replace(v).is_some(),
            "fortran_order" => fortran.replace(v).is_some(),
            other => return Err(bad(&format!("unexpected key '{other}'"))),
        };
        if slot_taken {
            return Err(bad(&format!("key '{k}' appears twice")));
        }
    }
    let descr = match descr.ok_or_else(|| bad("no 'descr' key"))? {
        Value::String(s) => Descr::Simple(s),
        other => Descr::Other(excerpt(&other.to_string())),
    };
    let fortran_order = match fortran.ok_or_else(|| bad("no 'fortran_order' key"))? {
        Value::Boolean(b) => b,
        _ => return Err(bad("'fortran_order' is not True or False")),
    };
    let dims = match shape.ok_or_else(|| bad("no 'shape' key"))? {
        Value::Tuple(d) | Value::List(d) => d,
        _ => return Err(bad("'shape' is not a tuple")),
    };
    let shape = dims
        .iter()
        .map(|d| match d {
            Value::Integer(n) => n
                .to_string()
                .parse::<usize>()
                .map_err(|_| bad(&format!("dimension {n} is not a valid size"))),
            _ => Err(bad("a dimension of 'shape' is not an integer")),
        })
        .collect::<std::result::Result<Vec<usize>, String>>()?;
    Ok((descr, shape, fortran_order))
}
