//! What a member's `.npy` header describes: the dtype descriptor (`<f8`, `<i8`, `<U{n}`),
//! the shape and order, and the check that `product(shape) × item size` equals the data
//! length.

use std::fmt;

/// What a member's `.npy` header says, validated against its declared size.
pub(super) struct ArrayInfo {
    pub(super) descr: Descr,
    pub(super) shape: Vec<usize>,
    pub(super) fortran_order: bool,
    /// Bytes before the data (magic, version, header length, header).
    pub(super) header_bytes: u64,
    /// Bytes of data after the header (declared size minus `header_bytes`).
    pub(super) data_bytes: u64,
    /// Compressed size, used only to bound capacity hints.
    pub(super) compressed_bytes: u64,
}

/// A `.npy` dtype descriptor.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Descr {
    /// A type string such as `<f8`.
    Simple(String),
    /// Anything else (a structured dtype's list), formatted for messages.
    Other(String),
}

/// A type string split into its parts: `<f8` is `('<', 'f', Some(8))`.
struct TypeString {
    pub(super) byte_order: char,
    pub(super) kind: char,
    /// The number after the kind (bytes, or characters for `U`).
    pub(super) size: Option<u64>,
}

impl TypeString {
    pub(super) fn parse(s: &str) -> Option<TypeString> {
        let mut chars = s.chars();
        let first = chars.next()?;
        let (byte_order, kind) = if "<>|=".contains(first) {
            (first, chars.next()?)
        } else {
            ('|', first)
        };
        if !kind.is_ascii_alphabetic() {
            return None;
        }
        let rest = chars.as_str();
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (digits, tail) = rest.split_at(digits_end);
        if !(tail.is_empty() || tail.starts_with('[')) {
            return None;
        }
        let size = if digits.is_empty() {
            None
        } else {
            Some(digits.parse().ok()?)
        };
        Some(TypeString {
            byte_order,
            kind,
            size,
        })
    }

    /// Bytes per element, where known.
    pub(super) fn item_bytes(&self) -> Option<u64> {
        match self.kind {
            'U' => self.size?.checked_mul(4),
            'O' => None,
            _ => self.size,
        }
    }
}

impl Descr {
    /// Bytes per element, where known.
    pub(super) fn item_bytes(&self) -> Option<u64> {
        match self {
            Descr::Simple(s) => TypeString::parse(s)?.item_bytes(),
            Descr::Other(_) => None,
        }
    }

    /// The number of characters of a little-endian unicode type `<U{n}`.
    pub(super) fn unicode_chars(&self) -> Option<u64> {
        match self {
            Descr::Simple(s) => {
                let t = TypeString::parse(s)?;
                (t.byte_order == '<' && t.kind == 'U').then_some(t.size?)
            }
            Descr::Other(_) => None,
        }
    }
}

/// A readable description of a dtype, e.g. "int32 (<i4)".
impl fmt::Display for Descr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Descr::Other(s) => return write!(f, "a structured dtype ({s})"),
            Descr::Simple(s) => s,
        };
        let Some(t) = TypeString::parse(s) else {
            return write!(f, "an unknown dtype ({s})");
        };
        let bits = t.size.map(|n| n.saturating_mul(8)).unwrap_or(0);
        let size = t.size.unwrap_or(0);
        let name = match t.kind {
            'f' => format!("float{bits}"),
            'i' => format!("int{bits}"),
            'u' => format!("uint{bits}"),
            'c' => format!("complex{bits}"),
            'b' => "bool".to_string(),
            'U' => format!("unicode string of {size} characters"),
            'S' => format!("byte string of {size} bytes"),
            'O' => "Python object".to_string(),
            'M' => "datetime64".to_string(),
            'm' => "timedelta64".to_string(),
            'V' => format!("raw data of {size} bytes"),
            _ => "unknown dtype".to_string(),
        };
        let big = t.byte_order == '>' && (t.kind == 'U' || size > 1);
        if big {
            write!(f, "big-endian {name} ({s})")
        } else {
            write!(f, "{name} ({s})")
        }
    }
}

/// A `.npy` header as parsed.
pub(super) struct NpyHeader {
    pub(super) descr: Descr,
    pub(super) shape: Vec<usize>,
    pub(super) fortran_order: bool,
    /// Bytes before the data.
    pub(super) total_bytes: u64,
}

/// Check, with checked arithmetic, that product(shape) × item equals the data length.
pub(super) fn check_data_size(
    shape: &[usize],
    item: u64,
    data_bytes: u64,
    descr: &Descr,
) -> std::result::Result<(), String> {
    let needed = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|n| n.checked_mul(item));
    match needed {
        Some(needed) if needed == data_bytes => Ok(()),
        Some(needed) => Err(format!(
            "the data is {data_bytes} bytes but shape {shape:?} of {descr} needs {needed} bytes"
        )),
        None => Err(format!(
            "shape {shape:?} of {descr} is impossibly large (the data is {data_bytes} bytes)"
        )),
    }
}
