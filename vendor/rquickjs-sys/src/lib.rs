#![allow(non_upper_case_globals)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(clippy::unreadable_literal)]
#![allow(clippy::missing_safety_doc)]
#![allow(clippy::upper_case_acronyms)]
#![allow(clippy::uninlined_format_args)]
#![no_std]

use ::core::ptr;

/// Common error message for converting between C `size_t` and Rust `usize`;
pub const SIZE_T_ERROR: &str =
    "conversion between C type 'size_t' and Rust type 'usize' overflowed.";

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

#[cfg(not(feature = "bindgen"))]
include!(concat!("bindings/", bindings_env!("TARGET"), ".rs"));

#[cfg(target_pointer_width = "64")]
include!("inlines/ptr_64.rs");

#[cfg(target_pointer_width = "32")]
include!("inlines/ptr_32_nan_boxing.rs");

include!("inlines/common.rs");

// Ganglion patch (patches/0006-plain-object-keys.patch): see quickjs.c.
unsafe extern "C" {
    /// A plain object's own enumerable string keys in property order, duplicated into
    /// `atoms`: their count, or -1 (nothing held, no exception) for another class, an integer
    /// key, or more than `max` keys.
    pub fn JS_GetOwnPlainKeys(
        ctx: *mut JSContext,
        obj: JSValue,
        atoms: *mut JSAtom,
        max: ::core::ffi::c_int,
    ) -> ::core::ffi::c_int;
}

// Ganglion patch (patches/0016-utf8-by-construction.patch): see quickjs.c.
unsafe extern "C" {
    /// `JS_ToCStringLen2(ctx, plen, val, false)` that also sets `*utf8` when the text is
    /// well-formed UTF-8 by construction (a flat string of 8-bit characters); when it is not
    /// set, the text may hold a lone surrogate's three bytes and must be checked.
    pub fn JS_ToCStringLenUTF8(
        ctx: *mut JSContext,
        plen: *mut size_t,
        val: JSValue,
        utf8: *mut bool,
    ) -> *const ::core::ffi::c_char;
}

// Ganglion patch (patches/0003-settlable-promise.patch): promises the host settles itself.
unsafe extern "C" {
    /// A pending promise without resolving functions (JS_EXCEPTION when out of memory).
    pub fn JS_NewSettlablePromise(ctx: *mut JSContext) -> JSValue;
    /// Fulfills or rejects a pending promise with `value` as it is (no thenable is followed):
    /// 0, or -1 when `promise` is not a pending promise.
    pub fn JS_SettlePromise(
        ctx: *mut JSContext,
        promise: JSValue,
        is_reject: bool,
        value: JSValue,
    ) -> ::core::ffi::c_int;
}
