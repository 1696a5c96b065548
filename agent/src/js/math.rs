//! The C math functions behind QuickJS's `Math` (and Rust's `f64` methods), from the `libm`
//! crate (Rust's port of musl's libm) instead of the system's libm.so.
//!
//! Why: with glibc's libm the agent loads a fourth shared library whose IFUNC resolvers (one per
//! imported function, scattered over its code) all run at start-up under full RELRO, which kept
//! ~0.5 MB of libm resident in an idle agent. Defined here, the executable's own symbols win, the
//! linker drops libm.so.6 (`--as-needed`), and `Math.sin(x)` gives the same bits on x86_64,
//! aarch64 and armv7. musl's functions are accurate to within an ulp, like glibc's.
//!
//! These are exactly the libm symbols the agent imported (`nm -D --undefined-only`); one that
//! is not defined here is still taken from libm.so, so a missing entry costs memory, not
//! correctness.

use std::ffi::{c_int, c_long};

/// `extern "C" fn NAME(x: f64) -> f64` over `libm::NAME`.
macro_rules! unary {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("C `", stringify!($name), "(x)`.")]
        #[no_mangle]
        pub extern "C" fn $name(x: f64) -> f64 {
            libm::$name(x)
        }
    )*};
}

/// `extern "C" fn NAME(x: f64, y: f64) -> f64` over `libm::NAME`.
macro_rules! binary {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("C `", stringify!($name), "(x, y)`.")]
        #[no_mangle]
        pub extern "C" fn $name(x: f64, y: f64) -> f64 {
            libm::$name(x, y)
        }
    )*};
}

unary!(
    acos, acosh, asin, asinh, atan, atanh, cos, cosh, exp, expm1, log, log10, log1p, log2, sin,
    sinh, tan, tanh,
);
binary!(atan2, hypot, pow);

/// C `scalbn(x, n)`: x × 2ⁿ.
#[no_mangle]
pub extern "C" fn scalbn(x: f64, n: c_int) -> f64 {
    libm::scalbn(x, n)
}

/// C `lrint(x)`: x rounded to an integer, ties to even (the default rounding mode); out of
/// range saturates (C leaves it unspecified).
#[no_mangle]
pub extern "C" fn lrint(x: f64) -> c_long {
    libm::rint(x) as c_long
}

/// C `frexp(x, &e)`: x = m × 2ᵉ with 0.5 ≤ |m| < 1.
///
/// # Safety
/// `exp` must be valid for a write of one `int` (as in C).
#[no_mangle]
pub unsafe extern "C" fn frexp(x: f64, exp: *mut c_int) -> f64 {
    let (m, e) = libm::frexp(x);
    // SAFETY: the caller's contract, as for C's frexp.
    unsafe { exp.write(e) };
    m
}

/// C `modf(x, &i)`: the fractional part, the integral part through `iptr`.
///
/// # Safety
/// `iptr` must be valid for a write of one `double` (as in C).
#[no_mangle]
pub unsafe extern "C" fn modf(x: f64, iptr: *mut f64) -> f64 {
    let (fraction, integral) = libm::modf(x);
    // SAFETY: the caller's contract, as for C's modf.
    unsafe { iptr.write(integral) };
    fraction
}

/// C `sincos(x, &s, &c)` (GNU; the compiler merges `sin(x)` and `cos(x)` into it).
///
/// # Safety
/// `s` and `c` must be valid for a write of one `double` each (as in C).
#[no_mangle]
pub unsafe extern "C" fn sincos(x: f64, s: *mut f64, c: *mut f64) {
    let (sin, cos) = libm::sincos(x);
    // SAFETY: the caller's contract, as for GNU sincos.
    unsafe {
        s.write(sin);
        c.write(cos);
    }
}

#[cfg(test)]
mod tests {
    /// The exported names answer like the C library (and not by calling themselves: a
    /// recursion would overflow the stack here).
    #[test]
    fn the_c_names_compute_what_c_computes() {
        let close = |a: f64, b: f64| (a - b).abs() <= 4.0 * f64::EPSILON * b.abs().max(1.0);
        assert!(close(super::sin(1.0), 0.841_470_984_807_896_5));
        assert!(close(super::cos(1.0), 0.540_302_305_868_139_8));
        assert!(close(super::pow(2.0, 0.5), std::f64::consts::SQRT_2));
        assert!(close(super::exp(1.0), std::f64::consts::E));
        assert!(close(super::log10(1000.0), 3.0));
        assert!(close(super::atan2(1.0, 1.0), std::f64::consts::FRAC_PI_4));
        assert!(close(super::hypot(3.0, 4.0), 5.0));
        assert_eq!(super::pow(2.0, 10.0), 1024.0);
        assert_eq!(super::scalbn(1.5, 3), 12.0);
        assert_eq!(super::lrint(2.5), 2);
        assert_eq!(super::lrint(3.5), 4);
        assert_eq!(super::lrint(-2.5), -2);
        let mut e = 0;
        // SAFETY: valid out-pointers.
        assert_eq!(unsafe { super::frexp(12.0, &mut e) }, 0.75);
        assert_eq!(e, 4);
        let mut i = 0.0;
        assert_eq!(unsafe { super::modf(-3.25, &mut i) }, -0.25);
        assert_eq!(i, -3.0);
        let (mut s, mut c) = (0.0, 0.0);
        unsafe { super::sincos(0.5, &mut s, &mut c) };
        assert!(close(s, 0.479_425_538_604_203) && close(c, 0.877_582_561_890_372_8));
        assert!(super::log(-1.0).is_nan() && super::log(0.0) == f64::NEG_INFINITY);
    }
}
