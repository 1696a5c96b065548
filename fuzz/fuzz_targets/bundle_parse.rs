//! Fuzz the OTA parsers: bundle container + manifest, chunk messages and their reassembly,
//! and verification of whatever parses. None may panic on any input.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

// The parsers' own source files, compiled here (their `super::bundle` imports resolve to the
// sibling module); their unit tests are not compiled.
#[allow(dead_code)]
#[path = "../../agent/src/ota/bundle.rs"]
mod bundle;
#[allow(dead_code)]
#[path = "../../agent/src/ota/transfer.rs"]
mod transfer;
#[allow(dead_code)]
#[path = "../../agent/src/ota/verify.rs"]
mod verify;

use bundle::{Bundle, Manifest};
use transfer::{decode_chunk, Transfers};
use verify::{verify, Policy, TrustedKeys};

/// The public key of the test corpus (tests/ota-corpus/trusted.pub).
const CORPUS_KEY: &str = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";

fuzz_target!(|data: &[u8]| {
    // The container (with the manifest inside), capped like an agent with 64 KiB.
    if let Ok(b) = Bundle::parse(data, 64 * 1024) {
        // Whatever parses serialises back to the same bytes.
        assert_eq!(b.to_bytes(), data);
        let keys = TrustedKeys::from_hex(&[CORPUS_KEY]).unwrap_or_default();
        let agent = semver::Version::new(0, 1, 0);
        let running = semver::Version::new(2, 0, 0);
        let _ = verify(
            &b,
            &Policy {
                keys: &keys,
                device: "gw-1",
                group: Some("lab"),
                running: Some(&running),
                allow_downgrade: false,
                agent_version: &agent,
            },
        );
    }
    // The manifest alone.
    let _ = Manifest::parse(data);
    // Chunk messages: a few taken from the input, fed to one reassembler.
    let mut t = Transfers::new(64 * 1024, Duration::from_secs(30));
    let now = Instant::now();
    for part in data.split(|&b| b == 0xff).take(8) {
        if let Ok((h, d)) = decode_chunk(part) {
            let _ = t.on_chunk(now, h, d);
        }
    }
    let _ = t.expire(now + Duration::from_secs(31));
});
