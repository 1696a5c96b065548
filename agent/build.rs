//! Link-time layout of the `ganglion` binary: on x86_64 Linux (where rustc links with lld) the
//! functions listed in cross/link-order.txt (start-up, idle and busy paths, made by
//! cross/link-order.sh) are placed together, so the kernel maps ~1-3 MB of code instead of most
//! of the 7 MB text. Builds at opt-level "s" (cross/build.sh --small, what the packages ship)
//! take cross/link-order-small.txt, traced on such a build (it inlines less, so it runs other
//! functions). Names that no longer exist are skipped; `GANGLION_LINK_ORDER=0` turns it off.
//! The ARM builds get the same from their linker, cross/link.sh (set by cross/env.sh), told the
//! list through `GANGLION_LINK_ORDER_LIST`; it matches the names without their hashes.
//! `GANGLION_LINK_MAP=1` also writes the linker map next to the build script output (the
//! generator reads the symbol names of a stripped release build there).

use std::path::Path;

fn main() {
    let cross = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cross");
    let small = matches!(std::env::var("OPT_LEVEL").as_deref(), Ok("s" | "z"));
    let order = cross.join(if small {
        "link-order-small.txt"
    } else {
        "link-order.txt"
    });
    println!("cargo:rerun-if-changed={}", order.display());
    // For cross/link.sh, the ARM builds' linker (rustc hands its environment to the linker).
    println!(
        "cargo:rustc-env=GANGLION_LINK_ORDER_LIST={}",
        order.display()
    );
    println!("cargo:rerun-if-env-changed=GANGLION_LINK_ORDER");
    println!("cargo:rerun-if-env-changed=GANGLION_LINK_MAP");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" {
        return;
    }
    // Relative relocations packed (DT_RELR, glibc >= 2.36 as in Debian 12): the loader reads a
    // few KiB instead of a 288 KiB .rela.dyn at every start, and those pages stay out of RSS.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    let enabled = std::env::var("GANGLION_LINK_ORDER").as_deref() != Ok("0");
    if enabled && order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
    if std::env::var("GANGLION_LINK_MAP").as_deref() == Ok("1") {
        if let Ok(out) = std::env::var("OUT_DIR") {
            println!("cargo:rustc-link-arg-bins=-Wl,-Map={out}/ganglion.map");
        }
    }
}
