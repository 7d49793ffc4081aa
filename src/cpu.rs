//! Which instruction set the crate's own kernels run with: the one place that asks the CPU
//! for its features.
//!
//! The crate is built for baseline x86-64 (SSE2). A few hot loops are also compiled for AVX2
//! or AVX-512 and chosen at run time (`cpu::dispatch!`), and GEMM goes to
//! [`crate::linalg::avx512`] on AVX-512 CPUs. Each call reads the level once with
//! [`active`]: the best level this CPU supports, lowered by the environment variable
//! `BACKPROP_SIMD` (`avx512`, `avx2` or `baseline`), read once per process, or for work
//! started on one thread by [`with_simd`]. So every path can run, and be tested, on a CPU
//! that has a better one. The `gemm` and `matrixmultiply` crates choose their own
//! instruction sets; only the choice *between* them and this crate's kernels follows the level.

use std::cell::Cell;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// The environment variable that lowers the instruction set of the crate's kernels.
pub const SIMD_VAR: &str = "BACKPROP_SIMD";

/// An instruction-set level, each including the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Simd {
    /// What the crate is compiled for: baseline x86-64 (SSE2), or the target's own baseline.
    Baseline,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 F and BW (with AVX2 and FMA).
    Avx512,
}

impl Simd {
    /// Every level, lowest first.
    pub const ALL: [Simd; 3] = [Simd::Baseline, Simd::Avx2, Simd::Avx512];

    /// The level's name, as `BACKPROP_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Baseline => "baseline",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }

    /// The level named `name` (as [`Simd::name`] spells it).
    pub fn parse(name: &str) -> Option<Simd> {
        Simd::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether this CPU runs code compiled for this level.
    pub fn supported(self) -> bool {
        self <= detected()
    }
}

impl std::fmt::Display for Simd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The bytes of one core's L2 cache, as Linux reports it
/// (`/sys/devices/system/cpu/cpu0/cache/index*/`, the unified level-2 entry; asked once),
/// or 1 MiB where it does not say.
pub fn l2_bytes() -> usize {
    static L2: OnceLock<usize> = OnceLock::new();
    *L2.get_or_init(|| {
        let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
        let read = |index: usize, file: &str| {
            std::fs::read_to_string(dir.join(format!("index{index}")).join(file))
                .map(|s| s.trim().to_string())
                .ok()
        };
        (0..8)
            .find(|&i| read(i, "level").as_deref() == Some("2"))
            .and_then(|i| read(i, "size"))
            .and_then(|size| parse_cache_size(&size))
            .unwrap_or(1 << 20)
    })
}

/// Bytes of a cache size as sysfs writes it (`1024K`, `2M`, `512`).
fn parse_cache_size(size: &str) -> Option<usize> {
    let (digits, unit) = if let Some(d) = size.strip_suffix('K') {
        (d, 1 << 10)
    } else if let Some(d) = size.strip_suffix('M') {
        (d, 1 << 20)
    } else {
        (size, 1)
    };
    let bytes = digits.parse::<usize>().ok()? * unit;
    (bytes > 0).then_some(bytes)
}

/// The best level this CPU supports (asked once).
pub fn detected() -> Simd {
    static DETECTED: OnceLock<Simd> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma");
            if avx2 && has!("avx512f") && has!("avx512bw") {
                return Simd::Avx512;
            }
            if avx2 {
                return Simd::Avx2;
            }
        }
        Simd::Baseline
    })
}

/// The level `BACKPROP_SIMD` asks for (the best the CPU supports when it is unset).
///
/// # Errors
/// [`Error::Invalid`] when the variable is not one of the levels' names, or names a level
/// this CPU does not support.
pub fn from_env() -> Result<Simd> {
    let Some(value) = std::env::var_os(SIMD_VAR) else {
        return Ok(detected());
    };
    let names = Simd::ALL.map(Simd::name).join(", ");
    let value = value.to_string_lossy();
    let simd = Simd::parse(&value).ok_or_else(|| {
        Error::Invalid(format!(
            "{SIMD_VAR}={value}: not an instruction set (expected one of {names})"
        ))
    })?;
    if !simd.supported() {
        return Err(Error::Invalid(format!(
            "{SIMD_VAR}={value}: this CPU does not support it (its best is {})",
            detected()
        )));
    }
    Ok(simd)
}

thread_local! {
    /// A [`with_simd`] override for work started on this thread.
    static LOCAL: Cell<Option<Simd>> = const { Cell::new(None) };
}

/// The level the kernels use for work started on this thread: a [`with_simd`] override if
/// one is active, else `BACKPROP_SIMD` (read once), else the best this CPU supports. An
/// unusable `BACKPROP_SIMD` is ignored here (the command line refuses it, see [`from_env`]).
/// Always [`Simd::supported`].
pub fn active() -> Simd {
    static FROM_ENV: OnceLock<Simd> = OnceLock::new();
    LOCAL
        .with(Cell::get)
        .unwrap_or_else(|| *FROM_ENV.get_or_init(|| from_env().unwrap_or_else(|_| detected())))
}

/// Runs `f` with the kernels at level `simd`, for work started on this thread (tests use it
/// to run every path side by side). Callers pass the level on to the threads they start.
///
/// # Panics
/// If this CPU does not support `simd`.
pub fn with_simd<R>(simd: Simd, f: impl FnOnce() -> R) -> R {
    assert!(simd.supported(), "with_simd: this CPU does not run {simd}");
    let before = LOCAL.with(|c| c.replace(Some(simd)));
    let result = f();
    LOCAL.with(|c| c.set(before));
    result
}

/// Defines `fn NAME(simd: Simd, ARGS…)`, whose body is compiled once for each listed level
/// (`avx512`, `avx2`) besides the baseline; a call runs the highest listed level that is not
/// above `simd` (a kernel lists only the levels where it was measured faster). The body may use
/// the generic parameters `F: Float` and one `const` parameter.
///
/// `simd` must come from [`active`] (which only gives levels the CPU supports), or be checked
/// with [`Simd::supported`].
macro_rules! dispatch {
    (
        [$($level:ident),*]
        $(#[$doc:meta])*
        $vis:vis fn $name:ident<F $(, const $c:ident: $ct:ty)?>($($arg:ident: $ty:ty),* $(,)?)
        $(-> $ret:ty)? $body:block
    ) => {
        $(#[$doc])*
        $vis fn $name<F: $crate::float::Float $(, const $c: $ct)?>(
            simd: $crate::cpu::Simd,
            $($arg: $ty),*
        ) $(-> $ret)? {
            #[inline(always)]
            fn baseline<F: $crate::float::Float $(, const $c: $ct)?>($($arg: $ty),*) $(-> $ret)?
            $body
            $crate::cpu::dispatch!(
                @levels simd [$($level)*]
                {<F: $crate::float::Float $(, const $c: $ct)?>}
                {($($arg: $ty),*) $(-> $ret)?}
                {::<F $(, $c)?>($($arg),*)}
            );
            baseline::<F $(, $c)?>($($arg),*)
        }
    };
    (@levels $simd:ident [] $generics:tt $sig:tt $call:tt) => {};
    (@levels $simd:ident [$first:ident $($rest:ident)*] $generics:tt $sig:tt $call:tt) => {
        $crate::cpu::dispatch!(@level $first $simd $generics $sig $call);
        $crate::cpu::dispatch!(@levels $simd [$($rest)*] $generics $sig $call);
    };
    (@level avx512 $simd:ident {$($generics:tt)*} {$($sig:tt)*} {$($call:tt)*}) => {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
            unsafe fn avx512 $($generics)* $($sig)* {
                baseline $($call)*
            }
            if $simd >= $crate::cpu::Simd::Avx512 {
                // SAFETY: the caller's level, which the CPU supports, includes AVX-512 F, BW.
                return unsafe { avx512 $($call)* };
            }
        }
    };
    (@level avx2 $simd:ident {$($generics:tt)*} {$($sig:tt)*} {$($call:tt)*}) => {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2 $($generics)* $($sig)* {
                baseline $($call)*
            }
            if $simd >= $crate::cpu::Simd::Avx2 {
                // SAFETY: the caller's level, which the CPU supports, includes AVX2 and FMA.
                return unsafe { avx2 $($call)* };
            }
        }
    };
}

pub(crate) use dispatch;

/// The levels a test should run its paths at: every level this CPU supports.
///
/// # Panics
/// If `BACKPROP_REQUIRE_AVX512=1` (set by CI on machines that have it) and this CPU lacks
/// AVX-512, so that a missing path fails instead of going untested.
#[cfg(test)]
pub(crate) fn testable() -> Vec<Simd> {
    if std::env::var("BACKPROP_REQUIRE_AVX512").as_deref() == Ok("1") {
        assert!(
            Simd::Avx512.supported(),
            "BACKPROP_REQUIRE_AVX512=1 but this CPU's best is {}",
            detected()
        );
    }
    Simd::ALL.into_iter().filter(|s| s.supported()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_sizes_read_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("1024K"), Some(1 << 20));
        assert_eq!(parse_cache_size("2M"), Some(2 << 20));
        assert_eq!(parse_cache_size("48K"), Some(48 << 10));
        assert_eq!(parse_cache_size("512"), Some(512));
        for bad in ["", "K", "0K", "1.5M", "12G"] {
            assert_eq!(parse_cache_size(bad), None, "{bad:?}");
        }
        assert!(l2_bytes() >= 1 << 10);
    }

    #[test]
    fn names_round_trip_and_levels_are_ordered() {
        for simd in Simd::ALL {
            assert_eq!(Simd::parse(simd.name()), Some(simd));
        }
        assert_eq!(Simd::parse("AVX2"), None);
        assert!(Simd::Baseline < Simd::Avx2 && Simd::Avx2 < Simd::Avx512);
        assert!(Simd::Baseline.supported());
    }

    #[test]
    fn detection_agrees_with_the_cpu() {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            assert_eq!(Simd::Avx2.supported(), has!("avx2") && has!("fma"));
            assert_eq!(
                Simd::Avx512.supported(),
                has!("avx2") && has!("fma") && has!("avx512f") && has!("avx512bw")
            );
        }
        // On CI this fails a machine that lost AVX-512 instead of testing less.
        assert!(testable().contains(&detected()));
    }

    #[test]
    fn with_simd_overrides_this_thread_and_restores() {
        let outer = active();
        assert!(outer.supported());
        with_simd(Simd::Baseline, || {
            assert_eq!(active(), Simd::Baseline);
            with_simd(detected(), || assert_eq!(active(), detected()));
            assert_eq!(active(), Simd::Baseline);
            // another thread is not affected
            assert_eq!(std::thread::spawn(active).join().unwrap(), outer);
        });
        assert_eq!(active(), outer);
    }

    #[test]
    fn a_dispatched_body_runs_at_each_level() {
        crate::cpu::dispatch! {
            [avx512, avx2]
            fn add_one<F, const N: usize>(xs: &mut [F]) -> usize {
                for x in xs.iter_mut() {
                    *x += F::one();
                }
                N
            }
        }
        for simd in testable() {
            let mut xs = vec![1.0f32; 37];
            assert_eq!(add_one::<f32, 5>(simd, &mut xs), 5);
            assert!(xs.iter().all(|&x| x == 2.0), "{simd}");
        }
    }
}
