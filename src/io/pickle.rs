//! A strict reader for the parameter pickles that the book's Python code writes
//! (`pickle.dump(self.params, f)`): a `dict` of `str → numpy.ndarray`.
//!
//! It interprets the pickle opcodes itself and **never executes anything**: the only
//! globals it accepts are the handful numpy uses to rebuild a float array
//! (`numpy.core.multiarray._reconstruct` / `numpy._core.multiarray._reconstruct`,
//! `numpy.ndarray`, `numpy.dtype`, `numpy.core.numeric._frombuffer` /
//! `numpy._core.numeric._frombuffer`) and `_codecs.encode`, which protocol-2 pickles written
//! by Python 3 use to carry raw bytes as latin-1 text (and `bytes()` for empty data). Each is modelled by a few lines of
//! Rust below; any other global is refused by name.
//!
//! What numpy writes, per protocol (checked with numpy 2.4, see
//! `tests/fixtures/make_pickles.py`):
//!
//! * protocols 2–4: `_reconstruct(ndarray, (0,), b'b')` then `BUILD` with the state
//!   `(1, shape, dtype, is_fortran, raw)`; the dtype is `dtype('f8', False, True)` then
//!   `BUILD (3, '<', None, None, None, -1, -1, 0)`. Protocol 2 has no bytes type, so `raw`
//!   and the `b'b'` are `_codecs.encode('…', 'latin1')`.
//! * protocol 5: `_frombuffer(bytearray(raw), dtype, shape, 'C' | 'F')`.
//!
//! Python 2 wrote every `str` as a byte string (`SHORT_BINSTRING`/`BINSTRING`); those are
//! accepted wherever numpy expects text. Floats may be float32 or float64 of either byte
//! order, in C or Fortran order; the result is always `f64` in row-major order.
//!
//! Resource use is bounded by the file: every declared length is checked against the bytes
//! that remain before anything is allocated, an array's element count must match its
//! byte length exactly, tuples may nest only [`MAX_DEPTH`] deep, and one array may not be
//! stored under two names. Beyond that, the memo and DUP let a few bytes stand for an object
//! again and again (one buffer memoised, then built into a thousand arrays): everything the
//! reader builds is counted (strings, buffers, arrays, tuples, the stack, the memo) and a
//! file is refused once it has made the reader build more than [`MEMORY_PER_FILE_BYTE`] bytes
//! per byte of file plus [`MEMORY_ALLOWANCE`]. A parameter pickle needs at most six (protocol
//! 2's latin-1 text, its bytes, float32 widened to `f64`, in Fortran order then copied).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};

use crate::error::{Error, Result};

/// How deeply tuples may nest (numpy's own pickles nest three deep).
pub const MAX_DEPTH: usize = 32;

/// How many bytes the reader may build per byte of the pickle (see the module docs).
pub const MEMORY_PER_FILE_BYTE: usize = 8;

/// What any pickle may build beyond [`MEMORY_PER_FILE_BYTE`] bytes per byte: room for the
/// stack, memo and small objects of a small file.
pub const MEMORY_ALLOWANCE: usize = 16 << 20;

/// Reads the pickle at `path` as a dict of named float arrays (float32 values are widened
/// to `f64`).
pub fn load_pickle(path: &Path) -> Result<BTreeMap<String, ArrayD<f64>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_pickle(&bytes).map_err(|e| Error::format(path, format!("not a parameter pickle: {e}")))
}

/// What is wrong with a pickle, and at which byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PickleError {
    /// Offset of the opcode being interpreted.
    pub offset: usize,
    /// What is wrong.
    pub msg: String,
}

impl std::fmt::Display for PickleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.msg, self.offset)
    }
}

impl std::error::Error for PickleError {}

/// Interprets `bytes` as a pickled dict of `str → float ndarray`.
pub fn parse_pickle(
    bytes: &[u8],
) -> std::result::Result<BTreeMap<String, ArrayD<f64>>, PickleError> {
    Machine::new(bytes).run()
}

/// The globals a parameter pickle may name; nothing else is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Global {
    Reconstruct,
    Ndarray,
    Dtype,
    CodecsEncode,
    FromBuffer,
    Bytes,
}

impl Global {
    fn lookup(module: &str, name: &str) -> Option<Global> {
        Some(match (module, name) {
            ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
                Global::Reconstruct
            }
            ("numpy", "ndarray") => Global::Ndarray,
            ("numpy", "dtype") => Global::Dtype,
            ("_codecs", "encode") => Global::CodecsEncode,
            // Python 3 writes an empty `bytes` as `__builtin__.bytes()` in protocol 2.
            ("__builtin__" | "builtins", "bytes") => Global::Bytes,
            ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => Global::FromBuffer,
            _ => return None,
        })
    }
}

/// A float dtype: 4 or 8 bytes, little- or big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dtype {
    size: usize,
    big_endian: bool,
}

/// An ndarray while it is being unpickled: `_reconstruct` makes an empty one that `BUILD`
/// fills. Shared (`Rc`) because the memo may hand out the same object again.
#[derive(Debug)]
enum ArrayObj {
    Pending,
    Built(ArrayD<f64>),
}

/// A value on the unpickler's stack. Mutable objects (dtype, array, dict) are shared so
/// that `BUILD` and `SETITEM` on one reference are seen through the memo, as in Python.
/// Dict values can only be arrays and tuples are immutable, so no cycles can form.
#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// Floats never feed an array; only their presence matters.
    Float,
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<[Value]>, usize),
    Global(Global),
    Dtype(Rc<Cell<Dtype>>),
    Array(Rc<RefCell<ArrayObj>>),
    Dict(Rc<RefCell<Entries>>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(..) => "a tuple",
            Value::Global(_) => "a global",
            Value::Dtype(_) => "a dtype",
            Value::Array(_) => "an ndarray",
            Value::Dict(_) => "a dict",
        }
    }

    /// Text: a str, or (as Python 2 wrote every str) bytes that are valid UTF-8.
    fn text(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    fn depth(&self) -> usize {
        match self {
            Value::Tuple(_, d) => *d,
            _ => 0,
        }
    }
}

/// A dict's items in insertion order (keys are strs, values arrays).
type Entries = Vec<(Rc<str>, Value)>;

/// One entry of the stack: a value, or a MARK.
#[derive(Clone, Debug)]
enum Slot {
    Mark,
    Value(Value),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being interpreted, for error messages.
    op_at: usize,
    stack: Vec<Slot>,
    memo: HashMap<u32, Value>,
    /// Bytes built so far into strings, buffers, arrays, tuples and dict entries (never
    /// given back when they are dropped: a bound, not a measure). The stack and memo are
    /// counted apart, by their length.
    built: Cell<usize>,
    /// What `built` plus the stack and memo may reach.
    budget: usize,
}

type Res<T> = std::result::Result<T, PickleError>;

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Self {
        Machine {
            data,
            pos: 0,
            op_at: 0,
            stack: Vec::new(),
            memo: HashMap::new(),
            built: Cell::new(0),
            budget: data
                .len()
                .saturating_mul(MEMORY_PER_FILE_BYTE)
                .saturating_add(MEMORY_ALLOWANCE),
        }
    }

    /// Counts `bytes` about to be built, refusing the file if that takes what it has made
    /// the reader build past the budget.
    fn charge(&self, bytes: usize) -> Res<()> {
        self.built.set(self.built.get().saturating_add(bytes));
        self.check_budget()
    }

    /// Refuses the file once what was built, the stack and the memo exceed the budget. A
    /// growing stack or memo may hold twice its length, hence the factor 2.
    fn check_budget(&self) -> Res<()> {
        let slot = std::mem::size_of::<Slot>();
        let entry = std::mem::size_of::<(u32, Value)>() + 1;
        let used = self
            .built
            .get()
            .saturating_add(2 * slot * self.stack.len())
            .saturating_add(2 * entry * self.memo.len());
        if used > self.budget {
            return self.err(format!(
                "the pickle makes the reader build more than {} MiB of memory from a \
                 {}-byte file (the limit is {MEMORY_PER_FILE_BYTE} bytes per byte of file plus \
                 {} MiB): it reuses the same data over and over (memo or DUP), which a \
                 parameter pickle never needs",
                self.budget >> 20,
                self.data.len(),
                MEMORY_ALLOWANCE >> 20
            ));
        }
        Ok(())
    }

    fn err<T>(&self, msg: impl Into<String>) -> Res<T> {
        Err(PickleError {
            offset: self.op_at,
            msg: msg.into(),
        })
    }

    /// The next `n` bytes; `n` is checked against what remains before anything is copied.
    fn take(&mut self, n: u64) -> Res<&'a [u8]> {
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            return self.err(format!(
                "truncated: an argument needs {n} bytes but only {left} remain"
            ));
        }
        let s = &self.data[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u8(&mut self) -> Res<u8> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Res<[u8; N]> {
        Ok(self.take(N as u64)?.try_into().expect("took N bytes"))
    }

    /// A copy of `b` as a str (counted against the budget).
    fn utf8(&self, b: &[u8]) -> Res<Rc<str>> {
        self.charge(b.len())?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.into()),
            Err(_) => self.err("a string is not valid UTF-8"),
        }
    }

    /// Reads a newline-terminated line (the text argument of GLOBAL).
    fn line(&mut self) -> Res<&'a str> {
        let rest = &self.data[self.pos..];
        let Some(n) = rest.iter().position(|&b| b == b'\n') else {
            return self.err("truncated: a GLOBAL name has no end of line");
        };
        self.pos += n + 1;
        match std::str::from_utf8(&rest[..n]) {
            Ok(s) => Ok(s),
            Err(_) => self.err("a GLOBAL name is not valid UTF-8"),
        }
    }

    fn push(&mut self, v: Value) {
        self.stack.push(Slot::Value(v));
    }

    fn pop(&mut self) -> Res<Value> {
        match self.stack.pop() {
            Some(Slot::Value(v)) => Ok(v),
            Some(Slot::Mark) => self.err("expected a value on the stack but found a MARK"),
            None => self.err("the stack is empty"),
        }
    }

    fn top(&self) -> Res<&Value> {
        match self.stack.last() {
            Some(Slot::Value(v)) => Ok(v),
            Some(Slot::Mark) => self.err("expected a value on the stack but found a MARK"),
            None => self.err("the stack is empty"),
        }
    }

    /// Pops everything down to the topmost MARK (and the MARK).
    fn pop_mark(&mut self) -> Res<Vec<Value>> {
        let Some(m) = self.stack.iter().rposition(|s| matches!(s, Slot::Mark)) else {
            return self.err("no MARK on the stack");
        };
        let items = self
            .stack
            .drain(m..)
            .skip(1)
            .map(|s| match s {
                Slot::Value(v) => v,
                Slot::Mark => unreachable!("m is the topmost MARK"),
            })
            .collect();
        Ok(items)
    }

    fn tuple(&self, items: Vec<Value>) -> Res<Value> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return self.err(format!("tuples nest more than {MAX_DEPTH} deep"));
        }
        self.charge(items.len() * std::mem::size_of::<Value>())?;
        Ok(Value::Tuple(items.into(), depth))
    }

    fn memo_put(&mut self, idx: u32) -> Res<()> {
        let v = self.top()?.clone();
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u32) -> Res<()> {
        match self.memo.get(&idx) {
            Some(v) => {
                let v = v.clone();
                self.push(v);
                Ok(())
            }
            None => self.err(format!("memo entry {idx} was never stored")),
        }
    }

    fn run(mut self) -> Res<BTreeMap<String, ArrayD<f64>>> {
        // Protocols 2 and later start with PROTO; 0 and 1 have none.
        if self.data.first().is_some_and(|&op| op != 0x80) {
            return self.err(
                "pickle protocols 0 and 1 are not supported (2 to 5 are): save with \
                 pickle.dump(params, f, protocol=2) or later",
            );
        }
        loop {
            self.op_at = self.pos;
            if self.pos >= self.data.len() {
                return self.err("truncated: the pickle ends before its STOP opcode");
            }
            self.check_budget()?;
            let op = self.u8()?;
            match op {
                // PROTO
                0x80 => {
                    let p = self.u8()?;
                    if !(2..=5).contains(&p) {
                        return self
                            .err(format!("pickle protocol {p} is not supported (2 to 5 are)"));
                    }
                }
                // FRAME: a length hint only; the opcodes follow inline.
                0x95 => {
                    self.le::<8>()?;
                }
                b'.' => return self.stop(),
                b'(' => self.stack.push(Slot::Mark),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.push(Value::Int(v.into()));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.push(Value::Int(v.into()));
                }
                // LONG1 / LONG4: little-endian two's complement of any length.
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        self.u8()? as u64
                    } else {
                        let n = i32::from_le_bytes(self.le()?);
                        if n < 0 {
                            return self.err("LONG4 with a negative length");
                        }
                        n as u64
                    };
                    let b = self.take(n)?;
                    let v = self.long(b)?;
                    self.push(Value::Int(v));
                }
                b'G' => {
                    self.le::<8>()?;
                    self.push(Value::Float);
                }
                // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8
                0x8c | b'X' | 0x8d => {
                    let n = self.len_arg(op, 0x8c, b'X')?;
                    let b = self.take(n)?;
                    let s = self.utf8(b)?;
                    self.push(Value::Str(s));
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8; and Python 2's
                // SHORT_BINSTRING / BINSTRING, whose str is bytes.
                b'C' | b'B' | 0x8e | 0x96 | b'U' | b'T' => {
                    let n = match op {
                        b'C' | b'U' => self.u8()? as u64,
                        b'B' => u32::from_le_bytes(self.le()?) as u64,
                        b'T' => {
                            let n = i32::from_le_bytes(self.le()?);
                            if n < 0 {
                                return self.err("BINSTRING with a negative length");
                            }
                            n as u64
                        }
                        _ => u64::from_le_bytes(self.le()?),
                    };
                    let b = self.take(n)?;
                    self.charge(b.len())?;
                    self.push(Value::Bytes(b.into()));
                }
                b')' => {
                    let t = self.tuple(Vec::new())?;
                    self.push(t);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                b'}' => self.push(Value::Dict(Rc::new(RefCell::new(Vec::new())))),
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                0x94 => {
                    let idx = self.memo.len() as u32;
                    self.memo_put(idx)?;
                }
                b'q' => {
                    let idx = self.u8()?;
                    self.memo_put(idx.into())?;
                }
                b'r' => {
                    let idx = u32::from_le_bytes(self.le()?);
                    self.memo_put(idx)?;
                }
                b'h' => {
                    let idx = self.u8()?;
                    self.memo_get(idx.into())?;
                }
                b'j' => {
                    let idx = u32::from_le_bytes(self.le()?);
                    self.memo_get(idx)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(module, name)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.global(&m, &n)?,
                        _ => return self.err("STACK_GLOBAL needs two strings"),
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.reduce(func, args)?;
                    self.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?.clone();
                    self.build(obj, state)?;
                }
                0x97 | 0x98 => {
                    return self.err(
                        "out-of-band buffers (pickle protocol 5 NEXT_BUFFER) are not supported",
                    );
                }
                _ => {
                    return self.err(format!(
                        "unknown or unsupported opcode 0x{op:02x} ({:?})",
                        op as char
                    ));
                }
            }
        }
    }

    /// The length argument of a string opcode: 1, 4 or 8 bytes.
    fn len_arg(&mut self, op: u8, one: u8, four: u8) -> Res<u64> {
        Ok(if op == one {
            self.u8()? as u64
        } else if op == four {
            u32::from_le_bytes(self.le()?) as u64
        } else {
            u64::from_le_bytes(self.le()?)
        })
    }

    fn long(&self, b: &[u8]) -> Res<i64> {
        if b.is_empty() {
            return Ok(0);
        }
        if b.len() > 8 {
            // Only a sign extension may lie beyond 8 bytes.
            let fill = if b[7] & 0x80 != 0 { 0xff } else { 0 };
            if b[8..].iter().any(|&x| x != fill) {
                return self.err("an integer does not fit in 64 bits");
            }
        }
        let mut buf = if b[b.len() - 1] & 0x80 != 0 {
            [0xff; 8]
        } else {
            [0; 8]
        };
        let n = b.len().min(8);
        buf[..n].copy_from_slice(&b[..n]);
        Ok(i64::from_le_bytes(buf))
    }

    fn global(&mut self, module: &str, name: &str) -> Res<()> {
        match Global::lookup(module, name) {
            Some(g) => {
                self.push(Value::Global(g));
                Ok(())
            }
            None => self.err(format!(
                "refusing the global `{module}.{name}`: a parameter pickle only names numpy's \
                 array constructors (this file may try to run code)"
            )),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> Res<()> {
        if !items.len().is_multiple_of(2) {
            return self.err("SETITEMS with an odd number of items");
        }
        let Value::Dict(dict) = self.top()?.clone() else {
            return self.err(format!("SETITEM on {}, not a dict", self.top()?.kind()));
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let key = match k {
                Value::Str(s) => s,
                Value::Bytes(b) => self.utf8(&b)?,
                other => return self.err(format!("a dict key is {}, not a str", other.kind())),
            };
            self.charge(std::mem::size_of::<(Rc<str>, Value)>())?;
            if !matches!(v, Value::Array(_)) {
                return self.err(format!(
                    "the value of {key:?} is {}, not an ndarray",
                    v.kind()
                ));
            }
            dict.borrow_mut().push((key, v));
        }
        Ok(())
    }

    fn stop(&mut self) -> Res<BTreeMap<String, ArrayD<f64>>> {
        let Value::Dict(dict) = self.pop()? else {
            return self.err("the pickle holds no dict of arrays");
        };
        let mut out = BTreeMap::new();
        // Each array is moved out to its key, not copied; parameter dicts never store one
        // array under two names, so that is refused.
        let mut seen: HashMap<*const RefCell<ArrayObj>, &str> = HashMap::new();
        let entries = dict.borrow();
        for (k, v) in entries.iter() {
            let Value::Array(a) = v else {
                unreachable!("set_items admits arrays only")
            };
            if let Some(first) = seen.get(&Rc::as_ptr(a)) {
                return self.err(format!(
                    "the same array is stored under {first:?} and {k:?}; parameter pickles \
                     hold one array per name"
                ));
            }
            seen.insert(Rc::as_ptr(a), k);
            match std::mem::replace(&mut *a.borrow_mut(), ArrayObj::Pending) {
                ArrayObj::Built(arr) => {
                    // Python keeps the last value of a repeated key; so do we.
                    out.insert(k.to_string(), arr);
                }
                ArrayObj::Pending => {
                    return self.err(format!("the array {k:?} was never filled in (no BUILD)"));
                }
            }
        }
        Ok(out)
    }

    fn args<'v>(&self, args: &'v Value, what: &str, n: usize) -> Res<&'v [Value]> {
        match args {
            Value::Tuple(items, _) if items.len() == n => Ok(items),
            _ => self.err(format!("{what} needs a tuple of {n} arguments")),
        }
    }

    fn reduce(&self, func: Value, args: Value) -> Res<Value> {
        let Value::Global(g) = func else {
            return self.err(format!(
                "REDUCE calls {}, not an allowed global",
                func.kind()
            ));
        };
        match g {
            Global::Reconstruct => {
                let a = self.args(&args, "_reconstruct", 3)?;
                if !matches!(a[0], Value::Global(Global::Ndarray)) {
                    return self.err("_reconstruct of something other than numpy.ndarray");
                }
                Ok(Value::Array(Rc::new(RefCell::new(ArrayObj::Pending))))
            }
            Global::Dtype => {
                let a = match &args {
                    Value::Tuple(items, _) if !items.is_empty() => &items[..],
                    _ => return self.err("numpy.dtype needs arguments"),
                };
                let Some(s) = a[0].text() else {
                    return self.err("numpy.dtype needs a str");
                };
                let (big_endian, code) = match s.as_bytes().first() {
                    Some(b'<' | b'=' | b'|') => (false, &s[1..]),
                    Some(b'>') => (true, &s[1..]),
                    _ => (false, s),
                };
                let size = match code {
                    "f4" => 4,
                    "f8" => 8,
                    _ => {
                        return self.err(format!(
                            "unsupported dtype {s:?}: parameters must be float32 ('f4') or \
                             float64 ('f8')"
                        ));
                    }
                };
                Ok(Value::Dtype(Rc::new(Cell::new(Dtype { size, big_endian }))))
            }
            Global::CodecsEncode => {
                let a = self.args(&args, "_codecs.encode", 2)?;
                let Some(enc) = a[1].text() else {
                    return self.err("_codecs.encode needs an encoding name");
                };
                if !matches!(enc, "latin1" | "latin-1" | "iso-8859-1") {
                    return self.err(format!(
                        "_codecs.encode with encoding {enc:?} (only latin1)"
                    ));
                }
                let text = match &a[0] {
                    Value::Str(t) => t,
                    // A Python 2 byte string: latin-1 decoding then encoding is the identity.
                    Value::Bytes(b) => return Ok(Value::Bytes(b.clone())),
                    other => {
                        return self.err(format!("_codecs.encode of {}, not a str", other.kind()));
                    }
                };
                self.charge(text.len())?;
                let mut out = Vec::with_capacity(text.len());
                for c in text.chars() {
                    match u8::try_from(c as u32) {
                        Ok(b) => out.push(b),
                        Err(_) => return self.err("latin-1 text with a character above U+00FF"),
                    }
                }
                Ok(Value::Bytes(out.into()))
            }
            Global::FromBuffer => {
                let a = self.args(&args, "_frombuffer", 4)?;
                let Value::Bytes(raw) = &a[0] else {
                    return self.err("_frombuffer needs bytes");
                };
                let Value::Dtype(dt) = &a[1] else {
                    return self.err("_frombuffer needs a dtype");
                };
                let fortran = match a[3].text() {
                    Some("C") => false,
                    Some("F") => true,
                    _ => return self.err("_frombuffer's order must be 'C' or 'F'"),
                };
                let shape = self.shape(&a[2])?;
                let arr = self.array(&shape, dt.get(), fortran, raw)?;
                Ok(Value::Array(Rc::new(RefCell::new(ArrayObj::Built(arr)))))
            }
            Global::Bytes => match &args {
                Value::Tuple(items, _) if items.is_empty() => Ok(Value::Bytes(Rc::from(&[][..]))),
                _ => self.err("bytes(...) is only accepted with no arguments"),
            },
            Global::Ndarray => self.err("calling numpy.ndarray directly is not supported"),
        }
    }

    fn build(&self, obj: Value, state: Value) -> Res<()> {
        match obj {
            Value::Dtype(dt) => {
                // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
                let Value::Tuple(s, _) = &state else {
                    return self.err("a dtype's state must be a tuple");
                };
                let big_endian = match s.get(1).and_then(Value::text) {
                    Some("<" | "=" | "|") => false,
                    Some(">") => true,
                    _ => return self.err("a dtype's state has no byte order '<', '>' or '='"),
                };
                if !matches!(s.get(2), None | Some(Value::None)) {
                    return self.err("sub-array dtypes are not supported");
                }
                dt.set(Dtype {
                    big_endian,
                    ..dt.get()
                });
                Ok(())
            }
            Value::Array(cell) => {
                // (version, shape, dtype, is_fortran, raw data)
                let s = self.args(&state, "an ndarray's state", 5)?;
                let shape = self.shape(&s[1])?;
                let Value::Dtype(dt) = &s[2] else {
                    return self.err(format!("an ndarray's dtype is {}", s[2].kind()));
                };
                // Python 2's numpy wrote the flag as an int.
                let fortran = match s[3] {
                    Value::Bool(b) => b,
                    Value::Int(i) => i != 0,
                    _ => return self.err("an ndarray's is_fortran flag is not a bool"),
                };
                let Value::Bytes(raw) = &s[4] else {
                    return self.err(format!(
                        "an ndarray's data is {}, not bytes (object arrays are not supported)",
                        s[4].kind()
                    ));
                };
                let arr = self.array(&shape, dt.get(), fortran, raw)?;
                let mut slot = cell.borrow_mut();
                if matches!(*slot, ArrayObj::Built(_)) {
                    return self.err("an ndarray is built twice");
                }
                *slot = ArrayObj::Built(arr);
                Ok(())
            }
            other => self.err(format!("BUILD on {}, which is not allowed", other.kind())),
        }
    }

    fn shape(&self, v: &Value) -> Res<Vec<usize>> {
        let Value::Tuple(items, _) = v else {
            return self.err(format!("an array shape is {}, not a tuple", v.kind()));
        };
        items
            .iter()
            .map(|d| match d {
                Value::Int(n) if *n >= 0 => Ok(*n as usize),
                _ => self.err("an array dimension is not a non-negative int"),
            })
            .collect()
    }

    /// Decodes `raw` into an `f64` array of `shape`; Fortran-order bytes are column-major.
    fn array(&self, shape: &[usize], dt: Dtype, fortran: bool, raw: &[u8]) -> Res<ArrayD<f64>> {
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|c| c.checked_mul(dt.size) == Some(raw.len()));
        let Some(count) = count else {
            return self.err(format!(
                "an array of shape {shape:?} and {}-byte elements does not match its {} data bytes",
                dt.size,
                raw.len()
            ));
        };
        // Fortran data is built column-major, then copied row-major.
        let copies = if fortran { 2 } else { 1 };
        self.charge(copies * count * std::mem::size_of::<f64>())?;
        let mut values = Vec::with_capacity(count);
        for c in raw.chunks_exact(dt.size) {
            values.push(match (dt.size, dt.big_endian) {
                (4, false) => f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
                (4, true) => f32::from_be_bytes(c.try_into().expect("4 bytes")) as f64,
                (_, false) => f64::from_le_bytes(c.try_into().expect("8 bytes")),
                (_, true) => f64::from_be_bytes(c.try_into().expect("8 bytes")),
            });
        }
        let shape = IxDyn(shape);
        let arr = if fortran {
            ArrayD::from_shape_vec(shape.f(), values)
        } else {
            ArrayD::from_shape_vec(shape, values)
        };
        match arr {
            // Our arrays are row-major throughout; copy Fortran data into standard layout.
            Ok(a) if fortran => Ok(a.as_standard_layout().into_owned()),
            Ok(a) => Ok(a),
            Err(e) => self.err(format!("cannot shape the array data: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most a real parameter pickle asks of the budget: protocol 2 (the data as latin-1
    /// text, then bytes), float32 (widened to f64) in Fortran order (built, then copied), and
    /// far beyond [`MEMORY_ALLOWANCE`]: 24 MiB of data in a 24 MiB file.
    #[test]
    fn the_costliest_real_pickle_fits_the_budget() {
        let n = 24 << 20;
        // Bytes below 0x80 are one UTF-8 byte each, so the text is as long as the data.
        let raw: Vec<u8> = (0..n).map(|i| (i % 0x80) as u8).collect();
        let text = |p: &mut Vec<u8>, s: &[u8]| {
            p.push(b'X');
            p.extend((s.len() as u32).to_le_bytes());
            p.extend(s);
        };
        let mut p = vec![0x80, 2, b'}'];
        text(&mut p, b"W1");
        p.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85");
        p.extend(b"c_codecs\nencode\n");
        text(&mut p, b"b");
        text(&mut p, b"latin1");
        p.extend(b"\x86R\x87R(K\x01J");
        p.extend(((n / 4 / 2) as i32).to_le_bytes());
        p.extend(b"K\x02\x86cnumpy\ndtype\n");
        text(&mut p, b"f4");
        p.extend(b"\x85R\x88c_codecs\nencode\n");
        text(&mut p, &raw);
        text(&mut p, b"latin1");
        p.extend(b"\x86Rtbs.");
        let arrays = parse_pickle(&p).unwrap();
        let w1 = &arrays["W1"];
        assert_eq!(w1.shape(), [n / 8, 2]);
        // Fortran order: column 1 starts halfway through the data.
        let first = |at: usize| f32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as f64;
        assert_eq!(w1[[0, 0]], first(0));
        assert_eq!(w1[[0, 1]], first(n / 2));
    }
}
