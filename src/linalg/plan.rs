//! Choosing the f32 product's walk by the host, as FFTW's planner does: the first time a
//! product of a given shape runs, each candidate [`Walk`] (tile shape × packed or not) is
//! timed on scratch operands of that shape, and the fastest is kept for the rest of the
//! process.
//!
//! The kernels were first tuned on one CPU (Zen 4, whose 512-bit multiply-adds run as two
//! halves); on a core with two full-width FMA pipes and a different cache, other tiles and
//! packing win (see BENCHMARKS.md). Timing them where the program runs keeps the choice right
//! on hosts nobody measured.
//!
//! Every candidate adds each element's products in the same order (see
//! [`TileShape`]), so the choice changes the speed, never the bits: a noisy timing cannot make
//! two runs differ. The environment variable [`KERNEL_VAR`] forces one candidate (or one of the
//! general crates, whose rounding differs) for every f32 product it can compute; the f64 path
//! is never planned.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::Kernel;
use super::avx512::{self, TileShape, Walk};
use crate::error::{Error, Result};

/// The environment variable that forces the f32 kernel: `auto` (the default: planned),
/// `gemm-crate`, `matrixmultiply`, or a walk `direct-RxC` / `packed-RxC` with a tile of
/// [`TileShape::ALL`] (`direct-6x64`, `packed-12x32`, …).
pub const KERNEL_VAR: &str = "BACKPROP_KERNEL";

/// What [`KERNEL_VAR`] can force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forced {
    /// One of the general crates ([`Kernel::GemmCrate`] or [`Kernel::MatrixMultiply`]) for
    /// every f32 product.
    Crate(Kernel),
    /// This walk of the crate's own kernel wherever it fits (AVX-512, rows of B and C
    /// contiguous).
    Walk(Walk),
}

/// Multiply-adds below which a product takes [`Walk::DEFAULT`] unplanned: timing costs more
/// than any choice could save (the convolution's per-image products, 0.4 M, stay below).
pub const PLAN_MIN: usize = 1 << 20;

/// The most rows of A a planning product uses: enough row blocks to show what packing B
/// costs against what it saves, without timing all of a large product.
const PLAN_ROWS: usize = 384;

/// Every walk the planner times.
pub fn candidates() -> Vec<Walk> {
    [false, true]
        .into_iter()
        .flat_map(|packed| TileShape::ALL.map(|tile| Walk { tile, packed }))
        .collect()
}

/// The name of a walk as [`KERNEL_VAR`] spells it (`packed-12x32`).
pub fn walk_name(walk: Walk) -> String {
    let how = if walk.packed { "packed" } else { "direct" };
    format!("{how}-{}", walk.tile)
}

/// Parses a [`KERNEL_VAR`] value: `None` for `auto`.
///
/// # Errors
/// [`Error::Invalid`] naming the variable and the accepted values.
pub fn parse(value: &str) -> Result<Option<Forced>> {
    match value {
        "auto" => return Ok(None),
        "gemm-crate" => return Ok(Some(Forced::Crate(Kernel::GemmCrate))),
        "matrixmultiply" => return Ok(Some(Forced::Crate(Kernel::MatrixMultiply))),
        _ => {}
    }
    if let Some(walk) = candidates().into_iter().find(|&w| walk_name(w) == value) {
        return Ok(Some(Forced::Walk(walk)));
    }
    let walks: Vec<String> = candidates().into_iter().map(walk_name).collect();
    Err(Error::Invalid(format!(
        "{KERNEL_VAR}={value}: not a kernel (expected auto, gemm-crate, matrixmultiply, {})",
        walks.join(", ")
    )))
}

/// What [`KERNEL_VAR`] forces, if anything.
///
/// # Errors
/// As [`parse`].
pub fn from_env() -> Result<Option<Forced>> {
    match std::env::var(KERNEL_VAR) {
        Ok(v) => parse(&v),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => parse(&v.to_string_lossy()),
    }
}

/// [`from_env`], read once per process; an unusable value forces nothing here (the command
/// line refuses it before any work).
pub fn forced() -> Option<Forced> {
    static FORCED: OnceLock<Option<Forced>> = OnceLock::new();
    *FORCED.get_or_init(|| from_env().ok().flatten())
}

/// What a planned walk depends on besides the CPU: the shape and the operands' layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of B and C.
    pub n: usize,
    /// The inner dimension.
    pub k: usize,
    /// A's columns contiguous (a transposed view) rather than its rows.
    pub a_transposed: bool,
    /// B's columns contiguous (a transposed view, [`avx512::direct_bt`]) rather than its
    /// rows: only the tile shapes are candidates (B is always copied into panels).
    pub b_transposed: bool,
}

fn plans() -> &'static Mutex<HashMap<Key, Walk>> {
    static PLANS: OnceLock<Mutex<HashMap<Key, Walk>>> = OnceLock::new();
    PLANS.get_or_init(Default::default)
}

/// The walks chosen so far in this process, for reports (`backprop bench --json`).
pub fn chosen() -> Vec<(Key, Walk)> {
    let plans = plans().lock().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<_> = plans.iter().map(|(k, w)| (*k, *w)).collect();
    all.sort_by_key(|(k, _)| (k.m, k.n, k.k, k.a_transposed, k.b_transposed));
    all
}

/// The walk for an f32 product of this shape on an AVX-512 CPU: [`Walk::DEFAULT`] below
/// [`PLAN_MIN`], else the fastest candidate, timed once per shape and process (the lock is
/// held while timing, so a second thread waits instead of disturbing the measurement).
pub fn walk(key: Key) -> Walk {
    if key.m * key.n * key.k < PLAN_MIN || !crate::cpu::Simd::Avx512.supported() {
        return Walk::DEFAULT;
    }
    let mut plans = plans().lock().unwrap_or_else(|e| e.into_inner());
    *plans.entry(key).or_insert_with(|| time_candidates(key))
}

/// Times every candidate on scratch operands of `key`'s shape (at most [`PLAN_ROWS`] rows),
/// interleaved, three rounds after a warm-up, each scored by its best round; [`choose`] keeps
/// the fastest, or a packed walk close behind it for a B that does not stay in L2.
fn time_candidates(key: Key) -> Walk {
    let Key {
        m,
        n,
        k,
        a_transposed,
        b_transposed,
    } = key;
    let m = m.min(PLAN_ROWS);
    let a: Vec<f32> = (0..m * k).map(|i| 0.5 + (i % 7) as f32 * 0.125).collect();
    let b: Vec<f32> = (0..k * n).map(|i| 0.25 + (i % 5) as f32 * 0.125).collect();
    let mut c = vec![0f32; m * n];
    let (lda, a_col) = if a_transposed { (1, m) } else { (k, 1) };
    let walks: Vec<Walk> = candidates()
        .into_iter()
        .filter(|w| !(w.packed && b_transposed))
        .collect();
    // B row-major (k×n, rows n apart) or transposed (n×k, B's columns k apart).
    let (product, ldb) = if b_transposed {
        (avx512::direct_bt as avx512::Product, k)
    } else {
        (avx512::direct as avx512::Product, n)
    };
    let best = crate::kernels::best_times(&walks, 3, |walk| {
        let start = Instant::now();
        // SAFETY: the CPU has AVX-512F (checked in `walk`); the buffers hold m×k, k×n (or
        // n×k for a transposed B) and m×n values in the layouts given.
        unsafe {
            product(
                walk,
                m,
                n,
                k,
                1.0,
                a.as_ptr(),
                lda,
                a_col,
                b.as_ptr(),
                ldb,
                0.0,
                c.as_mut_ptr(),
                n,
            )
        };
        start.elapsed().as_secs_f64()
    });
    std::hint::black_box(&c);
    choose(&walks, &best, 4 * k * n > crate::cpu::l2_bytes() / 2)
}

/// How much slower than the fastest direct walk, in a quiet start-up timing, a packed walk
/// may be and still be chosen for a B that does not stay in L2. The direct walks read all
/// of such a B from L3 for every block of rows, and lose a fifth to a third of their speed
/// when other processes (a VM's neighbours, or the product's own second thread) use that
/// cache; the packed walks, whose blocks stay in L2, keep theirs (1024³ on Zen 4: direct
/// 66–82 against packed 88–90 GFLOP/s beside a memory-streaming process, 139–178 against
/// 178–186 on two threads).
pub const PACKED_MARGIN: f64 = 0.10;

/// The walk to keep, from each candidate's best time (`walks` and `best` in the same order):
/// the fastest, except that for a B larger than half of L2 (`b_past_l2`) the fastest packed
/// walk wins when it is within [`PACKED_MARGIN`] of the fastest direct one.
fn choose(walks: &[Walk], best: &[f64], b_past_l2: bool) -> Walk {
    // The fastest of the walks that `keep` admits, with its time (on a tie, the first).
    let fastest = |keep: &dyn Fn(&Walk) -> bool| {
        walks
            .iter()
            .zip(best)
            .filter(|(w, _)| keep(w))
            .min_by(|x, y| x.1.total_cmp(y.1))
            .map(|(&w, &t)| (w, t))
    };
    let (walk, time) = fastest(&|_| true).expect("choose: no candidates");
    match fastest(&|w| w.packed) {
        Some((packed, t)) if b_past_l2 && t <= time * (1.0 + PACKED_MARGIN) => packed,
        _ => walk,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_walk_close_behind_wins_only_for_a_b_past_l2() {
        let walks = candidates();
        let at = |packed: bool, tile: TileShape| {
            walks
                .iter()
                .position(|w| *w == Walk { tile, packed })
                .expect("candidate")
        };
        // Direct 8×48 fastest (1.0); packed 6×64 5 % behind, the others far behind.
        let mut best = vec![3.0; walks.len()];
        best[at(false, TileShape::R8X48)] = 1.0;
        best[at(true, TileShape::R6X64)] = 1.05;
        best[at(true, TileShape::R12X32)] = 1.08;
        let direct = Walk {
            tile: TileShape::R8X48,
            packed: false,
        };
        let packed = Walk {
            tile: TileShape::R6X64,
            packed: true,
        };
        assert_eq!(choose(&walks, &best, false), direct);
        assert_eq!(choose(&walks, &best, true), packed);
        // More than the margin behind: the direct walk, wherever B lies.
        best[at(true, TileShape::R6X64)] = 1.0 + PACKED_MARGIN + 0.01;
        best[at(true, TileShape::R12X32)] = 1.2;
        assert_eq!(choose(&walks, &best, true), direct);
        // A packed walk ahead wins either way; with no packed candidates (a transposed B),
        // the fastest direct one.
        best[at(true, TileShape::R12X32)] = 0.9;
        let packed = Walk {
            tile: TileShape::R12X32,
            packed: true,
        };
        assert_eq!(choose(&walks, &best, false), packed);
        assert_eq!(choose(&walks, &best, true), packed);
        let direct_only: Vec<Walk> = walks.iter().copied().filter(|w| !w.packed).collect();
        let times: Vec<f64> = direct_only
            .iter()
            .map(|w| {
                if w.tile == TileShape::R12X32 {
                    0.5
                } else {
                    1.0
                }
            })
            .collect();
        assert_eq!(choose(&direct_only, &times, true).tile, TileShape::R12X32);
    }

    #[test]
    fn kernel_names_round_trip_and_bad_ones_are_named() {
        for walk in candidates() {
            assert_eq!(parse(&walk_name(walk)).unwrap(), Some(Forced::Walk(walk)));
        }
        assert_eq!(parse("auto").unwrap(), None);
        assert_eq!(
            parse("matrixmultiply").unwrap(),
            Some(Forced::Crate(Kernel::MatrixMultiply))
        );
        let err = parse("packed-7x7").unwrap_err().to_string();
        assert!(
            err.contains("BACKPROP_KERNEL=packed-7x7") && err.contains("packed-12x32"),
            "{err}"
        );
    }
}
