//! Two f32 products written for AVX-512, for shapes where the general kernels lose time to
//! packing: both read their operands where they lie, rows contiguous, and keep every partial
//! sum in registers.
//!
//! * [`direct`]: `C ← α·A·B + β·C` with B's rows contiguous and small enough to stay in cache
//!   (the convolution's `W · colₙᵀ`, `k` = 25; the MLP's `x · W1`). Tiles of 6 rows × 64
//!   columns of C: for each `p`, four vectors of `B[p, ·]` and six broadcasts of `A[·, p]`
//!   feed 24 fused multiply-adds; the last vector of a row is masked when `n` is not a
//!   multiple of 16. When only a few columns (≤ [`NARROW`]) are left past the last full
//!   vector, they are computed with the lanes along `k` or along the rows of C instead
//!   (`NarrowColumns`), so the MLP's 50 columns no longer issue 64 lanes.
//! * [`DotSums`]: `C += Σ A·Bᵀ` over many pairs with both rows contiguous along the inner
//!   dimension (the convolution's `dW = Σₙ doutₙ · colₙ` with `colₙᵀ` stored). Tiles of 5×5
//!   dot products, 16 lanes each; the lanes are kept per pair across all images and reduced
//!   once at the end, so the horizontal sums cost nothing per image.
//!
//! Callers check that [`crate::cpu::active`] allows [`Simd::Avx512`] first; everything here
//! is `unsafe` only for the CPU feature.

use std::arch::x86_64::*;

#[cfg(doc)]
use crate::cpu::Simd;

/// The mask of the first `n` (≤ 16) lanes.
#[inline(always)]
fn lanes(n: usize) -> __mmask16 {
    if n >= 16 { 0xffff } else { (1u16 << n) - 1 }
}

/// The shape of the register tile of C that [`direct`] computes at a time: `rows` rows of C
/// by `vectors` vectors of 16 columns, `rows · vectors` accumulators (at most 28 of the 32
/// registers, leaving room for the vectors of B and a broadcast of A). Every shape adds each
/// `C[i, j]`'s products in the same order (`p` = 0, 1, …, one fused multiply-add each, then
/// `α·sum + β·C` with one rounding), so the shape changes the speed, never the bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileShape {
    /// Rows of C per tile (broadcasts of A per step of `p`): 1–8 or 12.
    pub rows: usize,
    /// 16-lane vectors of C per tile row (loads of B per step of `p`): 1–4.
    pub vectors: usize,
}

impl TileShape {
    /// 6 × 64: six broadcasts and four loads feed 24 multiply-adds (the Zen 4 choice).
    pub const R6X64: TileShape = TileShape {
        rows: 6,
        vectors: 4,
    };
    /// 8 × 48: eight broadcasts and three loads feed 24 multiply-adds.
    pub const R8X48: TileShape = TileShape {
        rows: 8,
        vectors: 3,
    };
    /// 12 × 32: twelve broadcasts and two loads feed 24 multiply-adds (BLIS's choice on
    /// Skylake-X, transposed).
    pub const R12X32: TileShape = TileShape {
        rows: 12,
        vectors: 2,
    };
    /// The shapes a planner chooses between.
    pub const ALL: [TileShape; 3] = [Self::R6X64, Self::R8X48, Self::R12X32];

    /// Columns of C per tile.
    pub fn columns(self) -> usize {
        16 * self.vectors
    }
}

impl std::fmt::Display for TileShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.rows, self.columns())
    }
}

/// How [`direct`] walks the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Walk {
    /// The register tile.
    pub tile: TileShape,
    /// Copy A (blocks of [`MC`] rows × [`KC`] steps, rows [`A_STRIDE`] apart) and B (blocks
    /// of `KC × NC` values, as panels of `tile.columns()` columns) into contiguous buffers
    /// first, and compute C block by block: each block of B stays in L2 while every row block
    /// of A's copy streams past it, instead of all of B streaming from L3 (or memory) once
    /// per row block. The same additions in the same order: the same bits as unpacked.
    pub packed: bool,
}

impl Walk {
    /// Unpacked 6 × 64 tiles: what the kernel did before there was a choice.
    pub const DEFAULT: Walk = Walk {
        tile: TileShape::R6X64,
        packed: false,
    };
}

/// [`direct`] or [`direct_bt`], which take the same arguments (B's row or column stride in
/// the same place), for callers that choose between them by B's layout.
pub type Product = unsafe fn(
    Walk,
    usize,
    usize,
    usize,
    f32,
    *const f32,
    usize,
    usize,
    *const f32,
    usize,
    f32,
    *mut f32,
    usize,
);

/// `C ← α·A·B + β·C` for `a` (`m×k`, element `(i, p)` at `i·lda + p·a_col`: A may be a
/// transposed view, as only single values of it are read), and row-major `b` (`k×n`, row
/// stride `ldb`) and `c` (`m×n`, `ldc`); with β = 0, `c` is not read. `walk` chooses the tile
/// shape and whether the operands are packed first; the result is the same bits either way.
///
/// # Safety
/// The CPU supports AVX-512F, and the three slices hold the elements their shapes and
/// strides reach (checked by the caller, see `linalg::gemm_one`).
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct(
    walk: Walk,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: *const f32,
    lda: usize,
    a_col: usize,
    b: *const f32,
    ldb: usize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    // SAFETY: the caller's guarantees; no bias.
    unsafe {
        direct_impl(
            walk,
            m,
            n,
            k,
            alpha,
            a,
            lda,
            a_col,
            b,
            ldb,
            1,
            beta,
            std::ptr::null(),
            c,
            ldc,
        )
    }
}

/// `C ← A·B + bias`, `bias[i]` added to every column of row `i` (`m` values): [`direct`]
/// with α = 1 and β = 0 whose tiles add the bias to their sums as they store them
/// (the convolution's `outₙ = W · colₙᵀ + b`), instead of C being filled with the bias
/// first and read back with β = 1. The same bits as that: each `C[i, j]` is
/// `sum + bias[i]`, rounded once, either way.
///
/// # Safety
/// As [`direct`]; `bias` holds `m` values.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_row_bias(
    walk: Walk,
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    a_col: usize,
    b: *const f32,
    ldb: usize,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    // SAFETY: the caller's guarantees.
    unsafe {
        direct_impl(
            walk, m, n, k, 1.0, a, lda, a_col, b, ldb, 1, 0.0, bias, c, ldc,
        )
    }
}

/// `C ← α·A·B + β·C`: [`direct`] for a B whose *columns* are contiguous: `bt` is B's transpose,
/// row-major (`n×k`, row stride `ldbt`), as when a layer multiplies by `Wᵀ` (the Affine's
/// `dx = dout · Wᵀ`). B is copied a panel of `walk.tile.columns()` columns at a time into a
/// row-major buffer (transposed in registers, 16 × 16 at a time), and the tiles multiply A,
/// where it lies, with each panel ([`Walk::packed`] plays no part). The tiles add in their
/// one order, so the result has the bits [`direct`] gives on a row-major copy of B (but for
/// the last `n mod 16` ≤ [`NARROW`] columns, which [`direct`] may give to its narrow path).
///
/// # Safety
/// As [`direct`], with `bt` holding the `n × k` values its stride reaches.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn direct_bt(
    walk: Walk,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: *const f32,
    lda: usize,
    a_col: usize,
    bt: *const f32,
    ldbt: usize,
    beta: f32,
    c: *mut f32,
    ldc: usize,
) {
    let null = std::ptr::null();
    // SAFETY: the caller's guarantees; element (p, j) of B is bt[j·ldbt + p].
    unsafe {
        direct_impl(
            walk, m, n, k, alpha, a, lda, a_col, bt, 1, ldbt, beta, null, c, ldc,
        )
    }
}

/// [`direct`], adding `bias[i]` to row `i` of the result unless `bias` is null, for a B whose
/// element `(p, j)` lies at `p·ldb + j·b_col` (`b_col` ≠ 1 only with `ldb` = 1: B's
/// columns are copied into row-major panels first, see [`direct_bt`]).
///
/// # Safety
/// As [`direct`]; a non-null `bias` holds `m` values.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn direct_impl(
    walk: Walk,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: *const f32,
    lda: usize,
    a_col: usize,
    b: *const f32,
    ldb: usize,
    b_col: usize,
    beta: f32,
    bias: *const f32,
    c: *mut f32,
    ldc: usize,
) {
    // A few columns past the last full vector would cost a whole masked vector per row and
    // step of `p` (the MLP's 50 columns: 64 lanes issued, 78 % useful); they go to
    // [`NarrowColumns`] when A's layout lets it fill its lanes.
    let r = n % 16;
    let a_cached = m * k <= NARROW_A_CACHED;
    let narrow = b_col == 1 && (lda == 1 || a_col == 1 && a_cached);
    if n > 16 && (1..=NARROW).contains(&r) && narrow {
        let main = n - r;
        // SAFETY: both calls cover parts of the caller's matrices (columns ..main and
        // main..n); the caller's guarantees hold for each.
        unsafe {
            direct_impl(
                walk, m, main, k, alpha, a, lda, a_col, b, ldb, b_col, beta, bias, c, ldc,
            );
            // With a bias (α = 1, β = 0), the narrow columns take it as β = 1 on C's columns
            // filled with it: the bits of a C filled with the bias and a product added.
            let beta = if bias.is_null() {
                beta
            } else {
                for i in 0..m {
                    for j in main..n {
                        *c.add(i * ldc + j) = *bias.add(i);
                    }
                }
                1.0
            };
            let rest = NarrowColumns {
                m,
                k,
                alpha,
                beta,
                a,
                lda,
                a_col,
                b: b.add(main),
                ldb,
                c: c.add(main),
                ldc,
            };
            rest.run(r);
        }
        return;
    }
    let tiles = Tiles {
        shape: walk.tile,
        alpha,
        beta,
        k,
        bias,
    };
    // SAFETY: the caller's guarantees, passed on.
    unsafe {
        if b_col != 1 && m > 0 && n > 0 && k > 0 {
            tiles.column_panels(m, n, a, lda, a_col, (b, b_col), c, ldc);
        } else if walk.packed && m > 0 && n > 0 && k > 0 {
            tiles.packed(m, n, a, lda, a_col, b, ldb, c, ldc);
        } else {
            // With b_col ≠ 1 only for an empty product, which reads no B.
            tiles.unpacked(m, n, a, lda, a_col, b, ldb, c, ldc);
        }
    }
}

/// Copies `cols` columns of a B whose columns are contiguous (column `s` is the `kc` values
/// from `b + s·ldbt`) into the first `cols` columns of a row-major `panel` with rows `w`
/// apart: 16 × 16 blocks, each loaded as 16 columns, transposed in registers and stored as
/// 16 rows. Panel lanes from `cols` to the next multiple of 16 are written with zeros.
///
/// # Safety
/// The CPU supports AVX-512F; `b` holds the columns described; `w` is a multiple of 16 and at
/// least `cols` rounded up to one, and `panel` holds `kc · w` values.
#[target_feature(enable = "avx512f")]
unsafe fn pack_columns(
    b: *const f32,
    ldbt: usize,
    cols: usize,
    kc: usize,
    panel: &mut [f32],
    w: usize,
) {
    debug_assert!(w.is_multiple_of(16) && cols.div_ceil(16) * 16 <= w && panel.len() >= kc * w);
    for s0 in (0..cols).step_by(16) {
        let ns = (cols - s0).min(16);
        for p0 in (0..kc).step_by(16) {
            let np = (kc - p0).min(16);
            let mask = lanes(np);
            // The same values of the next 16 columns, to the L1 in time for the next block
            // (the loads below waited on L3 without it).
            if s0 + 16 < cols {
                for s in s0 + 16..(s0 + 32).min(cols) {
                    // SAFETY: column s < cols lies inside B; a prefetch reads nothing.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(b.add(s * ldbt + p0).cast()) };
                }
            }
            let mut r: [__m512; 16] = std::array::from_fn(|s| {
                if s < ns {
                    // SAFETY: values p0..p0+np of column s0+s lie inside B; masked lanes are
                    // not read.
                    unsafe { _mm512_maskz_loadu_ps(mask, b.add((s0 + s) * ldbt + p0)) }
                } else {
                    _mm512_setzero_ps()
                }
            });
            transpose_16x16(&mut r);
            for (q, row) in r.iter().take(np).enumerate() {
                // SAFETY: row p0+q < kc of the panel, lanes s0..s0+16 ≤ w.
                unsafe { _mm512_storeu_ps(panel.as_mut_ptr().add((p0 + q) * w + s0), *row) };
            }
        }
    }
}

/// Transposes the 16 × 16 matrix whose rows are `r`, in four butterfly stages: at each, rows
/// `i` and `i + h` (`i & h == 0`) trade their off-diagonal `h × h` blocks, which turns
/// `[[A, B], [C, D]]` into `[[A, C], [B, D]]` at every scale; after `h` = 8, 4, 2, 1 every
/// block has been transposed in place.
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose_16x16(r: &mut [__m512; 16]) {
    butterfly::<8>(r);
    butterfly::<4>(r);
    butterfly::<2>(r);
    butterfly::<1>(r);
}

/// Lane indices for `_mm512_permutex2var_ps` at stage `h` of [`transpose_16x16`]: the upper
/// row of a pair keeps its lanes `c` with `c & h == 0` and takes the others from its partner
/// (`16 + c − h`); the lower row takes its partner's `c & h == 0` lanes shifted by `h`
/// (`c + h`) and keeps its own others (`16 + c`).
const fn butterfly_lanes(h: usize, lower: bool) -> [i32; 16] {
    let mut out = [0; 16];
    let mut c = 0;
    while c < 16 {
        out[c] = match (c & h == 0, lower) {
            (true, false) => c,
            (false, false) => 16 + c - h,
            (true, true) => c + h,
            (false, true) => 16 + c,
        } as i32;
        c += 1;
    }
    out
}

/// One stage of [`transpose_16x16`], with `H` constant so that the eight pairs are unrolled
/// and the rows stay in registers.
#[target_feature(enable = "avx512f")]
#[inline]
fn butterfly<const H: usize>(r: &mut [__m512; 16]) {
    let upper = const { butterfly_lanes(H, false) };
    let lower = const { butterfly_lanes(H, true) };
    // SAFETY: 16 i32 values each.
    let (upper, lower) = unsafe {
        (
            _mm512_loadu_si512(upper.as_ptr().cast()),
            _mm512_loadu_si512(lower.as_ptr().cast()),
        )
    };
    for t in 0..8 {
        let i = t / H * 2 * H + t % H;
        let (x, y) = (r[i], r[i + H]);
        r[i] = _mm512_permutex2var_ps(x, upper, y);
        r[i + H] = _mm512_permutex2var_ps(x, lower, y);
    }
}

/// The row counts [`Tiles`] has compiled tiles for, largest first: a block of rows is cut
/// into the largest that fit.
const ROW_STEPS: [usize; 9] = [12, 8, 7, 6, 5, 4, 3, 2, 1];

/// Row blocks `(first row, rows)` covering `0..m` with tiles of at most `rows` rows.
fn row_blocks(m: usize, rows: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= m {
            return None;
        }
        let want = (m - i).min(rows);
        let mr = *ROW_STEPS.iter().find(|&&s| s <= want).expect("1 is a step");
        i += mr;
        Some((i - mr, mr))
    })
}

thread_local! {
    /// [`Tiles::packed`]'s buffers for a block of A, a block of B and the old C, kept to be
    /// reused.
    static PACKS: std::cell::RefCell<(Vec<f32>, Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// The tiles of one product: their shape, `α`, `β`, the inner dimension and the bias of
/// C's rows (null: none).
struct Tiles {
    shape: TileShape,
    alpha: f32,
    beta: f32,
    k: usize,
    bias: *const f32,
}

impl Tiles {
    /// Runs one tile of `mr` rows (from C's row `row`, for the bias) and `cols` columns
    /// (`mr` one of [`ROW_STEPS`], `cols` at
    /// most 64) over the `block` of the inner dimension (`a` and `b` point at its start);
    /// `old` is where the tile's old C lies, with its row stride. `packed`: A is a block of
    /// rows [`A_STRIDE`] apart (`lda` = `A_STRIDE`, `a_col` = 1) and B a panel of whole, 64-byte aligned
    /// rows of 64 bytes · vectors (see [`Tiles::packed`]).
    ///
    /// # Safety
    /// As [`direct`], for the tile's part of the matrices.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn one(
        &self,
        row: usize,
        block: std::ops::Range<usize>,
        old: (*const f32, usize),
        packed: bool,
        mr: usize,
        cols: usize,
        a: *const f32,
        lda: usize,
        a_col: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        let t = Tile {
            k: block.len(),
            alpha: self.alpha,
            beta: self.beta,
            a,
            lda,
            a_col,
            b,
            ldb,
            c,
            ldc,
            last: lanes(cols - (cols - 1) / 16 * 16),
            first_block: block.start == 0,
            last_block: block.end == self.k,
            bias: if self.bias.is_null() {
                self.bias
            } else {
                // SAFETY: the caller's bias holds a value for each of C's rows.
                unsafe { self.bias.add(row) }
            },
            old: old.0,
            ldo: old.1,
        };
        let nv = cols.div_ceil(16);
        macro_rules! by_shape {
            ($($mr:literal)*) => {
                match (mr, nv, packed) {
                    $(
                        ($mr, 4, false) => t.run::<$mr, 4, false>(),
                        ($mr, 3, false) => t.run::<$mr, 3, false>(),
                        ($mr, 2, false) => t.run::<$mr, 2, false>(),
                        ($mr, _, false) => t.run::<$mr, 1, false>(),
                        ($mr, 4, true) => t.run::<$mr, 4, true>(),
                        ($mr, 3, true) => t.run::<$mr, 3, true>(),
                        ($mr, 2, true) => t.run::<$mr, 2, true>(),
                        ($mr, _, true) => t.run::<$mr, 1, true>(),
                    )*
                    _ => unreachable!("tile rows {mr}"),
                }
            };
        }
        // SAFETY: the caller's.
        unsafe {
            if mr == 12 {
                // 12 rows only in the 12 × 32 shape: at most two vectors.
                match (nv, packed) {
                    (1, false) => t.run::<12, 1, false>(),
                    (_, false) => t.run::<12, 2, false>(),
                    (1, true) => t.run::<12, 1, true>(),
                    (_, true) => t.run::<12, 2, true>(),
                }
            } else {
                by_shape!(8 7 6 5 4 3 2 1)
            }
        }
    }

    /// Row blocks outside, tiles of columns inside, reading A and B where they lie.
    ///
    /// # Safety
    /// As [`direct`].
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn unpacked(
        &self,
        m: usize,
        n: usize,
        a: *const f32,
        lda: usize,
        a_col: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        let w = self.shape.columns();
        for (i, mr) in row_blocks(m, self.shape.rows) {
            let mut j = 0;
            while j < n {
                // SAFETY: the tile (rows i..i+mr, columns j..j+cols) lies inside the
                // caller's matrices.
                unsafe {
                    self.one(
                        i,
                        0..self.k,
                        (c.add(i * ldc + j), ldc),
                        false,
                        mr,
                        (n - j).min(w),
                        a.add(i * lda),
                        lda,
                        a_col,
                        b.add(j),
                        ldb,
                        c.add(i * ldc + j),
                        ldc,
                    )
                };
                j += w;
            }
        }
    }

    /// For a B whose columns are contiguous (`bt`, column `j` at `bt + j·ldbt`): a block of
    /// B's columns ([`BT_BLOCK_BYTES`] of them at most) is copied into row-major panels of
    /// `columns` columns ([`pack_columns`]), then each row block of A, read where it lies
    /// and kept in L1, is multiplied with every panel of the block, which stays in L2 (as
    /// [`Tiles::unpacked`] walks a row-major B).
    ///
    /// # Safety
    /// As [`direct_bt`], with `m`, `n`, `k` ≥ 1.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn column_panels(
        &self,
        m: usize,
        n: usize,
        a: *const f32,
        lda: usize,
        a_col: usize,
        (bt, ldbt): (*const f32, usize),
        c: *mut f32,
        ldc: usize,
    ) {
        let (k, w) = (self.k, self.shape.columns());
        let nc = (BT_BLOCK_BYTES / 4 / k / w).max(1) * w;
        PACKS.with_borrow_mut(|(_, bp, _)| {
            let len = k * nc.min(n.div_ceil(w) * w);
            // A 64-byte aligned start, so that no vector load of a panel splits a cache
            // line (unaligned, the tiles ran 25 % slower).
            if bp.len() < len + 16 {
                bp.resize(len + 16, 0.0);
            }
            let b0 = bp.as_ptr().align_offset(64).min(16);
            let bp = &mut bp[b0..];
            for jc in (0..n).step_by(nc) {
                let ncols = (n - jc).min(nc);
                for (q, jr) in (0..ncols).step_by(w).enumerate() {
                    let cols = (ncols - jr).min(w);
                    // SAFETY: columns jc+jr..+cols of B lie inside it (the caller's); the
                    // panel holds k rows of w values.
                    let panel = &mut bp[q * k * w..(q + 1) * k * w];
                    unsafe { pack_columns(bt.add((jc + jr) * ldbt), ldbt, cols, k, panel, w) };
                }
                for (i, mr) in row_blocks(m, self.shape.rows) {
                    for (q, jr) in (0..ncols).step_by(w).enumerate() {
                        let j = jc + jr;
                        // SAFETY: the tile (rows i..i+mr, columns j..j+cols) lies inside A
                        // and C; its B is panel q, rows w apart.
                        unsafe {
                            self.one(
                                i,
                                0..k,
                                (c.add(i * ldc + j), ldc),
                                false,
                                mr,
                                (ncols - jr).min(w),
                                a.add(i * lda),
                                lda,
                                a_col,
                                bp.as_ptr().add(q * k * w),
                                w,
                                c.add(i * ldc + j),
                                ldc,
                            )
                        };
                    }
                }
            }
        });
    }

    /// The product in blocks, as BLIS and OpenBLAS walk it (with the roles of A and B
    /// swapped, as the vectors here run along C's rows): for each block of [`MC`] rows of A
    /// and [`KC`] steps of the inner dimension, that part of A is copied once, its rows
    /// [`A_STRIDE`] apart (so that they do not share one L1 set, as a 1024-wide A's rows do);
    /// then for each block of [`NC`] columns, that part of B is copied into panels of
    /// `columns` columns (`KC × NC` values, which stay in L2), and each row block of the copy
    /// of A (`rows × KC`, small enough for L1) is multiplied with every panel. Both copies
    /// read their rows [`AHEAD`] ahead into the cache. C keeps the unscaled sums between
    /// blocks of the inner dimension; with β ≠ 0 and several blocks, the old C is copied
    /// aside first.
    ///
    /// A is copied once and B once per block of `MC` rows, and the copy of A is read once per
    /// block of B, where [`Tiles::unpacked`] reads all of B for every row block: on a host
    /// whose L3 other tenants share, this walk keeps its speed (1024³ on Zen 4 beside a
    /// memory-streaming process: 88–90 against 66–82 GFLOP/s).
    ///
    /// # Safety
    /// As [`direct`], with `m`, `n`, `k` ≥ 1.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed(
        &self,
        m: usize,
        n: usize,
        a: *const f32,
        lda: usize,
        a_col: usize,
        b: *const f32,
        ldb: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        let (k, w, rows) = (self.k, self.shape.columns(), self.shape.rows);
        let nc = NC.div_ceil(w) * w;
        PACKS.with_borrow_mut(|(ap, bp, old_c)| {
            // 64-byte aligned starts, so that no vector load of B splits a cache line.
            // Grown, never cleared: every value read is written first.
            let aligned = |v: &mut Vec<f32>, len: usize| {
                if v.len() < len + 16 {
                    v.resize(len + 16, 0.0);
                }
                v.as_ptr().align_offset(64).min(16)
            };
            let a0 = aligned(ap, m.min(MC) * A_STRIDE);
            let b0 = aligned(bp, KC.min(k) * nc);
            let (ap, bp) = (&mut ap[a0..], &mut bp[b0..]);
            // C's old values, when the first block of the inner dimension overwrites them.
            let old = if self.beta != 0.0 && k > KC {
                old_c.clear();
                for i in 0..m {
                    // SAFETY: row i of C holds n values.
                    old_c.extend_from_slice(unsafe {
                        std::slice::from_raw_parts(c.add(i * ldc), n)
                    });
                }
                Some(old_c.as_ptr())
            } else {
                None
            };
            for ic in (0..m).step_by(MC) {
                let mc = (m - ic).min(MC);
                for pc in (0..k).step_by(KC) {
                    let kc = (k - pc).min(KC);
                    // A[ic..ic+mc, pc..pc+kc], its rows A_STRIDE apart, copied once for every
                    // block of B.
                    for (i, dst) in ap.chunks_mut(A_STRIDE).take(mc).enumerate() {
                        let i = ic + i;
                        if a_col == 1 {
                            if i + AHEAD < ic + mc {
                                prefetch_run(a.wrapping_add((i + AHEAD) * lda + pc), kc);
                            }
                            // SAFETY: row i, columns pc..pc+kc lie inside A.
                            let row =
                                unsafe { std::slice::from_raw_parts(a.add(i * lda + pc), kc) };
                            dst[..kc].copy_from_slice(row);
                        } else {
                            for (p, x) in dst[..kc].iter_mut().enumerate() {
                                // SAFETY: (i, pc + p) lies inside A.
                                *x = unsafe { *a.add(i * lda + (pc + p) * a_col) };
                            }
                        }
                    }
                    for jc in (0..n).step_by(nc) {
                        let ncols = (n - jc).min(nc);
                        // B[pc..pc+kc, jc..jc+ncols] as panels of w columns, each kc × w, B's
                        // rows read one after the other.
                        for p in 0..kc {
                            if p + AHEAD < kc {
                                prefetch_run(b.wrapping_add((pc + p + AHEAD) * ldb + jc), ncols);
                            }
                            // SAFETY: row pc+p, columns jc..jc+ncols lie inside B.
                            let row = unsafe {
                                std::slice::from_raw_parts(b.add((pc + p) * ldb + jc), ncols)
                            };
                            for (q, part) in row.chunks(w).enumerate() {
                                let at = q * kc * w + p * w;
                                bp[at..at + part.len()].copy_from_slice(part);
                            }
                        }
                        for (i0, mr) in row_blocks(mc, rows) {
                            let i = ic + i0;
                            for (q, jr) in (0..ncols).step_by(w).enumerate() {
                                let j = jc + jr;
                                let at = unsafe { c.add(i * ldc + j) };
                                let old = match old {
                                    // SAFETY: the copy holds m × n values.
                                    Some(o) => (unsafe { o.add(i * n + j) }, n),
                                    None => (at as *const f32, ldc),
                                };
                                // SAFETY: the copy of A (element (r, p) at r·A_STRIDE + p) and
                                // the panel of B (element (p, s) at p·w + s) hold what the tile
                                // reads; its part of C lies inside the caller's C.
                                unsafe {
                                    self.one(
                                        i,
                                        pc..pc + kc,
                                        old,
                                        true,
                                        mr,
                                        (ncols - jr).min(w),
                                        ap.as_ptr().add(i0 * A_STRIDE),
                                        A_STRIDE,
                                        1,
                                        bp.as_ptr().add(q * kc * w),
                                        w,
                                        at,
                                        ldc,
                                    )
                                };
                            }
                        }
                    }
                }
            }
        });
    }
}

/// Rows ahead of the one [`Walk::packed`] copies whose values it asks the cache for: far
/// enough for them to arrive from memory while it copies the rows between.
const AHEAD: usize = 4;

/// Asks for the cache lines of the `len` values from `at` (a hint: nothing is read).
#[target_feature(enable = "avx512f")]
fn prefetch_run(at: *const f32, len: usize) {
    for i in (0..len).step_by(16) {
        // SAFETY: a prefetch reads nothing and cannot fault.
        _mm_prefetch::<_MM_HINT_T0>(at.wrapping_add(i).cast());
    }
}

/// Steps of the inner dimension per block of [`Walk::packed`]: a 12-row block of A is
/// 12 × [`A_STRIDE`] values (19 KB), which stays in L1 while it meets every panel of B.
pub const KC: usize = 384;

/// The row stride of [`Walk::packed`]'s copy of a block of A: [`KC`] and a cache line, so that
/// the rows of a block fall in different sets of L1 (a power-of-two stride, such as a 1024-wide
/// A's own, puts them all in one set, where the panels of B push them out).
pub const A_STRIDE: usize = KC + 16;

/// Rows of A per block of [`Walk::packed`]: the copy of `MC × KC` values (1.6 MB) is made once
/// for every block of B.
pub const MC: usize = 1024;

/// Columns of B per block of [`Walk::packed`]: `KC × NC` values (480 KB) stay in L2.
pub const NC: usize = 320;

/// The most bytes of B's columns [`direct_bt`] copies into panels at a time, to stay in L2
/// while every row block of A meets them (the Affine's `Wᵀ` with k = 100: 640 columns).
pub const BT_BLOCK_BYTES: usize = 256 << 10;

/// The most columns [`direct`] leaves to its narrow-column path (`n mod 16`): with 5 or more,
/// the masked vector is at least 5/16 useful and the general tiles keep up.
pub const NARROW: usize = 4;

/// The largest A (values) whose rows [`NarrowColumns`] reads a second time: one that does not
/// stay in L2 between the two passes costs more than the lanes save (the Affine forward of
/// SimpleConvNet, 100×4320: 104 against 101 GFLOP/s; the MLP's 100×784 gains 92 → 114).
const NARROW_A_CACHED: usize = 1 << 17;

thread_local! {
    /// Columns of B copied out contiguously for [`NarrowColumns`], kept to be reused.
    static NARROW_B: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `C ← α·A·B + β·C` for a B of `r` (1..=[`NARROW`]) columns (`b` and `c` point at its first
/// column), with A's rows or A's columns contiguous, so that the 16 lanes run along the inner
/// dimension or along the rows of C instead of along its few columns:
///
/// * A's columns contiguous (`lda == 1`, a transposed view, the MLP's `dW1 = xᵀ·dout`): 16
///   rows of C at a time, `C[i..i+16, j] += A[i..i+16, p] · B[p, j]`, 64 rows × `r` columns
///   per pass; the same order of additions as [`direct`], so the same bits.
/// * otherwise A's rows contiguous (`a_col == 1`, the MLP's `x · W1`): each `C[i, j]` is one
///   dot product of A's row `i` with B's column `j` (copied out contiguously first), as 16
///   partial sums reduced at the end; 4 rows × `r` columns at a time.
struct NarrowColumns {
    m: usize,
    k: usize,
    alpha: f32,
    beta: f32,
    a: *const f32,
    lda: usize,
    a_col: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
}

impl NarrowColumns {
    /// Computes the `r` columns, choosing the lanes' direction by A's layout.
    ///
    /// # Safety
    /// As [`direct`] for these operands, and `1 ≤ r ≤ NARROW`, `lda == 1 || a_col == 1`.
    #[target_feature(enable = "avx512f")]
    unsafe fn run(&self, r: usize) {
        macro_rules! by_r {
            ($f:ident) => {
                // SAFETY: the caller's guarantees; `r` is the const argument.
                unsafe {
                    match r {
                        1 => self.$f::<1>(),
                        2 => self.$f::<2>(),
                        3 => self.$f::<3>(),
                        _ => self.$f::<4>(),
                    }
                }
            };
        }
        if self.lda == 1 {
            by_r!(along_rows)
        } else {
            by_r!(along_k)
        }
    }

    /// `C[i, j] ← α·s + β·C[i, j]`, one rounding for the last step as `_mm512_fmadd_ps`
    /// in [`direct`]; with β = 0, C is not read.
    ///
    /// # Safety
    /// `(i, j)` lies inside C.
    #[inline(always)]
    unsafe fn put(&self, i: usize, j: usize, s: f32) {
        // SAFETY: the caller's.
        let at = unsafe { self.c.add(i * self.ldc + j) };
        let out = self.alpha * s;
        unsafe {
            *at = if self.beta != 0.0 {
                self.beta.mul_add(*at, out)
            } else {
                out
            }
        };
    }

    /// A's rows contiguous: dot products along `p`.
    #[target_feature(enable = "avx512f")]
    unsafe fn along_k<const R: usize>(&self) {
        let k = self.k;
        NARROW_B.with_borrow_mut(|bt| {
            bt.resize(R * k, 0.0);
            for p in 0..k {
                // SAFETY: row p < k, columns ..R of B lie inside it (the caller's).
                let row = unsafe { std::slice::from_raw_parts(self.b.add(p * self.ldb), R) };
                for (j, &x) in row.iter().enumerate() {
                    bt[j * k + p] = x;
                }
            }
            let mut i = 0;
            while i + 4 <= self.m {
                // SAFETY: rows i..i+4 lie inside A and C.
                unsafe { self.dots::<4, R>(i, bt) };
                i += 4;
            }
            while i < self.m {
                // SAFETY: row i lies inside A and C.
                unsafe { self.dots::<1, R>(i, bt) };
                i += 1;
            }
        });
    }

    /// Rows `i..i+MR` of C, from A's rows and the `R × k` copy `bt` of B's columns.
    #[target_feature(enable = "avx512f")]
    unsafe fn dots<const MR: usize, const R: usize>(&self, i: usize, bt: &[f32]) {
        let k = self.k;
        let mut acc = [[_mm512_setzero_ps(); R]; MR];
        let mut p = 0;
        while p < k {
            let mask = lanes(k - p);
            // SAFETY: lanes p..min(p+16, k) of A's rows i..i+MR and of `bt`'s R rows, which
            // hold k values each; masked lanes are not read.
            let bv: [__m512; R] = std::array::from_fn(|j| unsafe {
                _mm512_maskz_loadu_ps(mask, bt.as_ptr().add(j * k + p))
            });
            for (row, acc_row) in acc.iter_mut().enumerate() {
                let av =
                    unsafe { _mm512_maskz_loadu_ps(mask, self.a.add((i + row) * self.lda + p)) };
                for (s, &bj) in acc_row.iter_mut().zip(&bv) {
                    *s = _mm512_fmadd_ps(av, bj, *s);
                }
            }
            p += 16;
        }
        for (row, acc_row) in acc.iter().enumerate() {
            for (j, &s) in acc_row.iter().enumerate() {
                // SAFETY: (i + row, j) lies inside C.
                unsafe { self.put(i + row, j, _mm512_reduce_add_ps(s)) };
            }
        }
    }

    /// A's columns contiguous: 16 rows of C per vector.
    #[target_feature(enable = "avx512f")]
    unsafe fn along_rows<const R: usize>(&self) {
        let mut i = 0;
        while i + 64 <= self.m {
            // SAFETY: rows i..i+64 lie inside A and C.
            unsafe { self.row_vectors::<4, R>(i, 0xffff) };
            i += 64;
        }
        while i < self.m {
            // SAFETY: rows i..min(i+16, m) lie inside A and C; the rest are masked.
            unsafe { self.row_vectors::<1, R>(i, lanes(self.m - i)) };
            i += 16;
        }
    }

    /// Rows `i..i+16·NB` of C (the last vector limited to `last`).
    #[target_feature(enable = "avx512f")]
    unsafe fn row_vectors<const NB: usize, const R: usize>(&self, i: usize, last: __mmask16) {
        let mask = |v: usize| if v + 1 == NB { last } else { 0xffff };
        let mut acc = [[_mm512_setzero_ps(); R]; NB];
        for p in 0..self.k {
            // SAFETY: B[p, 0..R] and A[i.., p] lie inside the matrices; masked lanes are not
            // read.
            let bv: [__m512; R] =
                std::array::from_fn(|j| _mm512_set1_ps(unsafe { *self.b.add(p * self.ldb + j) }));
            for (v, acc_v) in acc.iter_mut().enumerate() {
                let av = unsafe {
                    _mm512_maskz_loadu_ps(mask(v), self.a.add(p * self.a_col + i + 16 * v))
                };
                for (s, &bj) in acc_v.iter_mut().zip(&bv) {
                    *s = _mm512_fmadd_ps(av, bj, *s);
                }
            }
        }
        for (v, acc_v) in acc.iter().enumerate() {
            let rows = (mask(v) as u32).count_ones() as usize;
            for (j, &s) in acc_v.iter().enumerate() {
                let mut lane = [0f32; 16];
                // SAFETY: `lane` holds 16 values.
                unsafe { _mm512_storeu_ps(lane.as_mut_ptr(), s) };
                for (l, &x) in lane[..rows].iter().enumerate() {
                    // SAFETY: row i + 16v + l < m, column j < R lie inside C.
                    unsafe { self.put(i + 16 * v + l, j, x) };
                }
            }
        }
    }
}

/// One `MR × 16·NV` tile of [`direct`] over one block of the inner dimension: pointers to its
/// corner in A, B and C.
struct Tile {
    k: usize,
    alpha: f32,
    beta: f32,
    a: *const f32,
    lda: usize,
    a_col: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    /// The lanes of the tile's last vector that lie inside C.
    last: __mmask16,
    /// Whether this is the first block of the inner dimension (the sums start at zero) rather
    /// than a later one (they continue from the unscaled sums the previous block left in C).
    first_block: bool,
    /// Whether this is the last block (C gets `α·sum + β·old`) rather than an earlier one (C
    /// keeps the unscaled sums).
    last_block: bool,
    /// Where the old C lies for β ≠ 0 (C itself, or a copy when earlier blocks overwrite C),
    /// with its row stride.
    old: *const f32,
    ldo: usize,
    /// The bias of the tile's first row, the others following (null: none).
    bias: *const f32,
}

impl Tile {
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn run<const MR: usize, const NV: usize, const PACKED: bool>(&self) {
        let mask = |v: usize| if v + 1 == NV { self.last } else { 0xffff };
        // Packed, A's rows lie A_STRIDE apart (`lda` = A_STRIDE, `a_col` = 1: one pointer,
        // fixed offsets), and B's rows are whole 64-byte aligned vectors (the panel's width), so
        // they load unmasked: the lanes past C's last column are computed and never stored.
        let (lda, a_col) = if PACKED {
            (A_STRIDE, 1)
        } else {
            (self.lda, self.a_col)
        };
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        if !self.first_block {
            for (r, acc_r) in acc.iter_mut().enumerate() {
                for (v, acc_rv) in acc_r.iter_mut().enumerate() {
                    // SAFETY: the tile's part of C; masked lanes are not read.
                    *acc_rv = unsafe {
                        _mm512_maskz_loadu_ps(mask(v), self.c.add(r * self.ldc + 16 * v))
                    };
                }
            }
        }
        for p in 0..self.k {
            // SAFETY (all loads): row p of B and column p of A's MR rows lie inside the
            // matrices; masked lanes are not read.
            let b_row = unsafe { self.b.add(p * self.ldb) };
            let bv: [__m512; NV] = std::array::from_fn(|v| unsafe {
                if PACKED {
                    _mm512_load_ps(b_row.add(16 * v))
                } else {
                    _mm512_maskz_loadu_ps(mask(v), b_row.add(16 * v))
                }
            });
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(unsafe { *self.a.add(r * lda + p * a_col) });
                for (acc_rv, &b) in acc_r.iter_mut().zip(&bv) {
                    *acc_rv = _mm512_fmadd_ps(av, b, *acc_rv);
                }
            }
        }
        let (alpha, beta) = (_mm512_set1_ps(self.alpha), _mm512_set1_ps(self.beta));
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, &sum) in acc_r.iter().enumerate() {
                // SAFETY: as above, for C and the old C; masked lanes are neither read nor
                // written.
                let at = unsafe { self.c.add(r * self.ldc + 16 * v) };
                if !self.last_block {
                    unsafe { _mm512_mask_storeu_ps(at, mask(v), sum) };
                    continue;
                }
                let mut out = _mm512_mul_ps(alpha, sum);
                if self.beta != 0.0 {
                    let old = unsafe {
                        _mm512_maskz_loadu_ps(mask(v), self.old.add(r * self.ldo + 16 * v))
                    };
                    out = _mm512_fmadd_ps(beta, old, out);
                }
                if !self.bias.is_null() {
                    // SAFETY: the bias holds a value for each of the tile's rows.
                    out = _mm512_add_ps(out, _mm512_set1_ps(unsafe { *self.bias.add(r) }));
                }
                unsafe { _mm512_mask_storeu_ps(at, mask(v), out) };
            }
        }
    }
}

/// Bytes of operands (`a` and `b` of several pairs) that [`DotSums::add_many`] runs each
/// block of sums through before moving to the next block: half of a 2 MB L2 cache.
pub const GROUP_BYTES: usize = 1 << 20;

/// Running sums `S[i, j] = Σ Σₚ a[i, p] · b[j, p]` over any number of [`DotSums::add`]ed
/// pairs (`a`: `m × k`, `b`: `n × k`, rows contiguous), kept as 16 partial sums per entry
/// until [`DotSums::add_into`].
#[derive(Debug, Default)]
pub struct DotSums {
    m: usize,
    n: usize,
    /// `m · n` entries of 16 lanes.
    lanes: Vec<f32>,
}

impl DotSums {
    /// Zero sums for an `m × n` result, reusing the storage of `self`.
    pub fn reset(&mut self, m: usize, n: usize) {
        self.m = m;
        self.n = n;
        self.lanes.clear();
        self.lanes.resize(m * n * 16, 0.0);
    }

    /// Adds `a · bᵀ` (`a`: `m × k`, `b`: `n × k`, both row-major and contiguous).
    ///
    /// # Safety
    /// The CPU supports AVX-512F ([`Simd::Avx512`]).
    ///
    /// # Panics
    /// If the lengths do not fit `m × k` and `n × k`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn add(&mut self, a: &[f32], b: &[f32], k: usize) {
        // SAFETY: as documented, the CPU has AVX-512F.
        unsafe { self.add_many(&[(a, b)], k) }
    }

    /// Adds `Σ a · bᵀ` over `pairs` (each `a`: `m × k`, `b`: `n × k`, row-major and
    /// contiguous), as [`DotSums::add`] on each pair in turn would, to the bit: every lane
    /// takes the same products in the same order (pair by pair, `p` rising). The pairs are
    /// taken in groups whose operands fit in half of a 2 MB L2 cache ([`GROUP_BYTES`]), and
    /// each 5×5 block of sums runs through a whole group before its lanes go back to memory:
    /// with a short `k` and many sums (DeepConvNet's last convolutions: `k` = 64, 64×576 sums,
    /// 2.4 MB of lanes) loading and storing the lanes once per pair cost more than the
    /// multiply-adds.
    ///
    /// # Safety
    /// The CPU supports AVX-512F ([`Simd::Avx512`]).
    ///
    /// # Panics
    /// If a pair's lengths do not fit `m × k` and `n × k`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn add_many(&mut self, pairs: &[(&[f32], &[f32])], k: usize) {
        let (m, n) = (self.m, self.n);
        for (a, b) in pairs {
            assert!(a.len() == m * k && b.len() == n * k, "DotSums::add: shapes");
        }
        let per_pair = ((m + n) * k * 4).max(1);
        let group = (GROUP_BYTES / per_pair).max(1);
        for pairs in pairs.chunks(group) {
            let mut i = 0;
            while i < m {
                let mr = (m - i).min(5);
                let mut j = 0;
                while j < n {
                    let nr = (n - j).min(5);
                    // SAFETY: rows i..i+mr of each a, j..j+nr of each b and their lanes are
                    // in bounds (asserted above); the CPU has AVX-512F.
                    unsafe {
                        match (mr, nr) {
                            (5, 5) => self.tile::<5, 5>(pairs, k, i, j),
                            (5, 4) => self.tile::<5, 4>(pairs, k, i, j),
                            (5, 3) => self.tile::<5, 3>(pairs, k, i, j),
                            (5, 2) => self.tile::<5, 2>(pairs, k, i, j),
                            (5, _) => self.tile::<5, 1>(pairs, k, i, j),
                            (4, 5) => self.tile::<4, 5>(pairs, k, i, j),
                            (4, 4) => self.tile::<4, 4>(pairs, k, i, j),
                            (4, 3) => self.tile::<4, 3>(pairs, k, i, j),
                            (4, 2) => self.tile::<4, 2>(pairs, k, i, j),
                            (4, _) => self.tile::<4, 1>(pairs, k, i, j),
                            (3, 5) => self.tile::<3, 5>(pairs, k, i, j),
                            (3, 4) => self.tile::<3, 4>(pairs, k, i, j),
                            (3, 3) => self.tile::<3, 3>(pairs, k, i, j),
                            (3, 2) => self.tile::<3, 2>(pairs, k, i, j),
                            (3, _) => self.tile::<3, 1>(pairs, k, i, j),
                            (2, 5) => self.tile::<2, 5>(pairs, k, i, j),
                            (2, 4) => self.tile::<2, 4>(pairs, k, i, j),
                            (2, 3) => self.tile::<2, 3>(pairs, k, i, j),
                            (2, 2) => self.tile::<2, 2>(pairs, k, i, j),
                            (2, _) => self.tile::<2, 1>(pairs, k, i, j),
                            (_, 5) => self.tile::<1, 5>(pairs, k, i, j),
                            (_, 4) => self.tile::<1, 4>(pairs, k, i, j),
                            (_, 3) => self.tile::<1, 3>(pairs, k, i, j),
                            (_, 2) => self.tile::<1, 2>(pairs, k, i, j),
                            (_, _) => self.tile::<1, 1>(pairs, k, i, j),
                        }
                    }
                    j += 5;
                }
                i += 5;
            }
        }
    }

    /// The `MR × NR` block of sums at `(i, j)` over every pair of `pairs`: `MR + NR` vector
    /// loads feed `MR · NR` fused multiply-adds per 16 values of `p`; the block's lanes are
    /// loaded once and stored once.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const MR: usize, const NR: usize>(
        &mut self,
        pairs: &[(&[f32], &[f32])],
        k: usize,
        i: usize,
        j: usize,
    ) {
        let n = self.n;
        let lanes_at = |r: usize, s: usize| ((i + r) * n + j + s) * 16;
        let mut acc = [[_mm512_setzero_ps(); NR]; MR];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            for (s, acc_rs) in acc_r.iter_mut().enumerate() {
                let l = &self.lanes[lanes_at(r, s)..][..16];
                // SAFETY: `l` holds 16 values.
                *acc_rs = unsafe { _mm512_loadu_ps(l.as_ptr()) };
            }
        }
        for (a, b) in pairs {
            let (a, b) = (a.as_ptr(), b.as_ptr());
            let mut p = 0;
            while p < k {
                let mask = lanes(k - p);
                // SAFETY: rows i+r of a and j+s of b hold k values; lanes past k are masked.
                let av: [__m512; MR] = std::array::from_fn(|r| unsafe {
                    _mm512_maskz_loadu_ps(mask, a.add((i + r) * k + p))
                });
                // One vector of b at a time (MR + 1 registers besides the MR·NR sums).
                #[allow(clippy::needless_range_loop)]
                for s in 0..NR {
                    let bv = unsafe { _mm512_maskz_loadu_ps(mask, b.add((j + s) * k + p)) };
                    for (acc_r, &a_r) in acc.iter_mut().zip(&av) {
                        acc_r[s] = _mm512_fmadd_ps(a_r, bv, acc_r[s]);
                    }
                }
                p += 16;
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (s, &v) in acc_r.iter().enumerate() {
                let l = &mut self.lanes[lanes_at(r, s)..][..16];
                // SAFETY: `l` holds 16 values.
                unsafe { _mm512_storeu_ps(l.as_mut_ptr(), v) };
            }
        }
    }

    /// `c[i·n + j] += S[i, j]` for the `m × n` row-major `c`.
    ///
    /// # Panics
    /// If `c` does not hold `m · n` values.
    pub fn add_into(&self, c: &mut [f32]) {
        assert_eq!(c.len(), self.m * self.n, "DotSums::add_into: shape");
        for (c, l) in c.iter_mut().zip(self.lanes.chunks_exact(16)) {
            // Pairwise, as a vector reduction would.
            let mut s = [0f32; 8];
            for (t, (x, y)) in s.iter_mut().zip(l[..8].iter().zip(&l[8..])) {
                *t = x + y;
            }
            *c += ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{self, Simd};
    use crate::rng::Rng;

    /// Whether the kernels here can be tested: they need AVX-512, which CI requires on
    /// machines that have it (`cpu::testable` fails there if it went missing).
    fn avx512_testable() -> bool {
        cpu::testable().contains(&Simd::Avx512)
    }

    fn naive(m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k)
                    .map(|p| a[i * k + p] as f64 * b[p * n + j] as f64)
                    .sum();
            }
        }
        c
    }

    fn random(len: usize, rng: &mut Rng) -> Vec<f32> {
        (0..len).map(|_| rng.normal() as f32).collect()
    }

    #[test]
    fn direct_matches_the_definition_on_every_tile_shape() {
        if !avx512_testable() {
            return;
        }
        let mut rng = Rng::new(21);
        // Every remainder of rows (mod 6) and columns (mod 64 and mod 16), and the shapes
        // the nets use.
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 3, 17),
            (13, 25, 130),
            (30, 25, 576),
            (100, 784, 50),
            (5, 9, 63),
            (12, 2, 64),
            (2, 40, 33),
            // n mod 16 ≤ NARROW: the narrow columns, with rows past 4 and 64 and k past 16
            (70, 33, 19),
            (67, 17, 36),
            (3, 5, 20),
            // an A too large to read twice: row-major A keeps the masked vector
            (200, 700, 20),
        ] {
            let (a, b) = (random(m * k, &mut rng), random(k * n, &mut rng));
            let old = random(m * n, &mut rng);
            let want = naive(m, n, k, &a, &b);
            for (alpha, beta) in [(1.0f32, 0.0f32), (1.0, 1.0), (0.5, -2.0)] {
                let mut c = if beta == 0.0 {
                    vec![f32::NAN; m * n] // β = 0 must not read C
                } else {
                    old.clone()
                };
                // SAFETY: AVX-512F checked above; the slices hold m×k, k×n and m×n values.
                unsafe {
                    direct(
                        Walk::DEFAULT,
                        m,
                        n,
                        k,
                        alpha,
                        a.as_ptr(),
                        k,
                        1,
                        b.as_ptr(),
                        n,
                        beta,
                        c.as_mut_ptr(),
                        n,
                    )
                };
                // A transposed: the same values stored k×m.
                let at: Vec<f32> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
                let mut c2 = c.clone();
                if beta != 0.0 {
                    c2.copy_from_slice(&old);
                }
                // SAFETY: as above.
                unsafe {
                    direct(
                        Walk::DEFAULT,
                        m,
                        n,
                        k,
                        alpha,
                        at.as_ptr(),
                        1,
                        m,
                        b.as_ptr(),
                        n,
                        beta,
                        c2.as_mut_ptr(),
                        n,
                    )
                };
                // Full vectors of columns add in the same order whatever A's layout; the
                // narrow columns of a row-major A are dot products (other rounding).
                let narrow = n > 16 && n % 16 <= NARROW && m * k <= NARROW_A_CACHED;
                let vector_cols = if narrow { n - n % 16 } else { n };
                for (idx, (x, y)) in c.iter().zip(&c2).enumerate() {
                    if idx % n < vector_cols {
                        assert_eq!(
                            x.to_bits(),
                            y.to_bits(),
                            "A transposed, {m}×{k}×{n} at {idx}"
                        );
                    }
                }
                for (layout, c) in [("A", &c), ("Aᵀ", &c2)] {
                    for (idx, (&got, &w)) in c.iter().zip(&want).enumerate() {
                        let w = alpha as f64 * w
                            + beta as f64 * old[idx] as f64 * (beta != 0.0) as u8 as f64;
                        assert!(
                            (got as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()) * (k as f64).sqrt(),
                            "{layout} {m}×{k}×{n} α={alpha} β={beta} at {idx}: {got} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_walk_gives_the_bits_of_the_default_walk() {
        if !avx512_testable() {
            return;
        }
        let mut rng = Rng::new(23);
        // Remainders of every tile shape, the narrow columns, and blocks of the packed walk:
        // k past KC (C keeps unscaled sums between blocks; with β ≠ 0 the old C is copied
        // aside), n past NC and m past MC.
        for &(m, k, n) in &[
            (1, 1, 1),
            (13, 25, 130),
            (100, 784, 50),
            (29, 2 * KC + 5, 70),
            (14, 40, NC + 75),
            (25, KC, 2 * NC + 1),
            (MC + 13, KC + 3, 37),
        ] {
            let (a, b) = (random(m * k, &mut rng), random(k * n, &mut rng));
            let at: Vec<f32> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
            let old = random(m * n, &mut rng);
            let want = naive(m, n, k, &a, &b);
            for (alpha, beta) in [(1.0f32, 0.0f32), (0.5, -2.0)] {
                for (layout, (ap, lda, a_col)) in [("A", (&a, k, 1)), ("Aᵀ", (&at, 1, m))] {
                    let run = |walk: Walk| {
                        let mut c = if beta == 0.0 {
                            vec![f32::NAN; m * n]
                        } else {
                            old.clone()
                        };
                        // SAFETY: AVX-512F checked above; the slices hold the values.
                        unsafe {
                            direct(
                                walk,
                                m,
                                n,
                                k,
                                alpha,
                                ap.as_ptr(),
                                lda,
                                a_col,
                                b.as_ptr(),
                                n,
                                beta,
                                c.as_mut_ptr(),
                                n,
                            )
                        };
                        c
                    };
                    let reference = run(Walk::DEFAULT);
                    for (idx, &got) in reference.iter().enumerate() {
                        let w = alpha as f64 * want[idx]
                            + if beta != 0.0 {
                                beta as f64 * old[idx] as f64
                            } else {
                                0.0
                            };
                        assert!(
                            (got as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()) * (k as f64).sqrt(),
                            "{layout} {m}×{k}×{n} at {idx}: {got} vs {w}"
                        );
                    }
                    for tile in TileShape::ALL {
                        for packed in [false, true] {
                            let walk = Walk { tile, packed };
                            let got = run(walk);
                            assert!(
                                got.iter()
                                    .zip(&reference)
                                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                                "{walk:?} {layout} {m}×{k}×{n} α={alpha} β={beta}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn dot_sums_add_up_pairs_on_every_tile_shape() {
        if !avx512_testable() {
            return;
        }
        let mut rng = Rng::new(22);
        for &(m, n, k) in &[
            (30, 25, 576),
            (7, 9, 17),
            (1, 1, 1),
            (6, 11, 40),
            (5, 5, 16),
        ] {
            let mut sums = DotSums::default();
            sums.reset(m, n);
            let mut want = vec![0.0f64; m * n];
            for _ in 0..3 {
                let (a, b) = (random(m * k, &mut rng), random(n * k, &mut rng));
                // SAFETY: AVX-512F checked above.
                unsafe { sums.add(&a, &b, k) };
                for i in 0..m {
                    for j in 0..n {
                        want[i * n + j] += (0..k)
                            .map(|p| a[i * k + p] as f64 * b[j * k + p] as f64)
                            .sum::<f64>();
                    }
                }
            }
            let mut c = vec![1.0f32; m * n];
            sums.add_into(&mut c);
            for (idx, (&got, &w)) in c.iter().zip(&want).enumerate() {
                let w = w + 1.0;
                assert!(
                    (got as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()) * (k as f64).sqrt(),
                    "{m}×{n}×{k} at {idx}: {got} vs {w}"
                );
            }
        }
    }
}
