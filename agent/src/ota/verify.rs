//! Verification of a parsed bundle before anything is written where scripts run: signature by a
//! trusted key, every file's hash, the target, the version order and the agent version.
//! Also key generation and signing for the operator's side (`ganglion bundle`).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::bundle::{hex, sha256, unhex, Bundle};

/// Why a bundle is refused. `code()` is the short reason in status messages; the message says
/// what exactly was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Signed by a key not in `[ota] trusted_keys`.
    #[error("signed by key {0}, which is not a trusted key")]
    UnknownKey(String),
    /// The signature does not match the manifest (tampered or wrong key).
    #[error("the signature does not verify with the signer's key {0}")]
    BadSignature(String),
    /// A file's contents do not hash to the manifest's SHA-256.
    #[error("SHA-256 of {path:?} is {actual}, the manifest says {expected}")]
    HashMismatch {
        /// The file.
        path: String,
        /// Hash in the manifest.
        expected: String,
        /// Hash of the contents.
        actual: String,
    },
    /// Neither this agent's id nor its group is a target.
    #[error("bundle targets devices {devices:?} and groups {groups:?}; this is device {device:?} in group {group:?}")]
    WrongTarget {
        /// This agent's id.
        device: String,
        /// This agent's group.
        group: Option<String>,
        /// Targeted ids.
        devices: Vec<String>,
        /// Targeted groups.
        groups: Vec<String>,
    },
    /// Not newer than the running version and the deploy did not allow a downgrade.
    #[error("version {version} is not newer than the running version {running} (deploy with --allow-downgrade to install it anyway)")]
    NotNewer {
        /// Bundle version.
        version: String,
        /// Running version.
        running: String,
    },
    /// The same version is already running: nothing to install.
    #[error("version {0} is already running")]
    AlreadyRunning(String),
    /// The bundle needs a newer agent.
    #[error("bundle needs agent version {needs} or newer; this agent is {have}")]
    AgentTooOld {
        /// Minimum agent version.
        needs: String,
        /// This agent's version.
        have: String,
    },
}

impl VerifyError {
    /// Short machine-readable reason code for status messages.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::UnknownKey(_) => "unknown_key",
            VerifyError::BadSignature(_) => "bad_signature",
            VerifyError::HashMismatch { .. } => "hash_mismatch",
            VerifyError::WrongTarget { .. } => "wrong_target",
            VerifyError::NotNewer { .. } => "downgrade",
            VerifyError::AlreadyRunning(_) => "already_running",
            VerifyError::AgentTooOld { .. } => "agent_too_old",
        }
    }
}

/// A public key that is not 64 hex digits or not a valid Ed25519 point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an Ed25519 public key (64 hex digits)")]
pub struct BadKey(pub String);

/// The set of public keys a bundle may be signed with (several, for key rotation).
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys(Vec<VerifyingKey>);

impl TrustedKeys {
    /// Parse keys given as hex strings.
    pub fn from_hex<S: AsRef<str>>(keys: &[S]) -> Result<TrustedKeys, BadKey> {
        keys.iter()
            .map(|k| parse_public_key(k.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedKeys)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when no key is trusted (every bundle is then refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn find(&self, key: &[u8; 32]) -> Option<&VerifyingKey> {
        self.0.iter().find(|k| k.as_bytes() == key)
    }
}

/// Parse one public key from hex.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, BadKey> {
    unhex::<32>(text)
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| BadKey(text.trim().to_owned()))
}

/// What the running agent is and allows; the inputs of [`verify`].
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// Keys bundles may be signed with.
    pub keys: &'a TrustedKeys,
    /// This agent's id.
    pub device: &'a str,
    /// This agent's group, if any.
    pub group: Option<&'a str>,
    /// Version of the installed script set, if one was installed over the air.
    pub running: Option<&'a semver::Version>,
    /// The deploy allows installing an older version.
    pub allow_downgrade: bool,
    /// This agent's version.
    pub agent_version: &'a semver::Version,
}

/// Check `bundle` against `policy`; the first failure is returned. Order: signer trusted,
/// signature, file hashes (so nothing unsigned is looked at further), then target, agent
/// version and version order.
pub fn verify(bundle: &Bundle, policy: &Policy<'_>) -> Result<(), VerifyError> {
    let key = policy
        .keys
        .find(&bundle.signer)
        .ok_or_else(|| VerifyError::UnknownKey(hex(&bundle.signer)))?;
    let signature = Signature::from_bytes(&bundle.signature);
    key.verify_strict(&bundle.manifest_bytes, &signature)
        .map_err(|_| VerifyError::BadSignature(hex(&bundle.signer)))?;
    for (entry, data) in bundle.entries() {
        let actual = hex(&sha256(data));
        if !actual.eq_ignore_ascii_case(&entry.sha256) {
            return Err(VerifyError::HashMismatch {
                path: entry.path.clone(),
                expected: entry.sha256.clone(),
                actual,
            });
        }
    }
    let m = &bundle.manifest;
    let device_ok = m.target.devices.iter().any(|d| d == policy.device);
    let group_ok = policy
        .group
        .is_some_and(|g| m.target.groups.iter().any(|t| t == g));
    if !device_ok && !group_ok {
        return Err(VerifyError::WrongTarget {
            device: policy.device.to_owned(),
            group: policy.group.map(str::to_owned),
            devices: m.target.devices.clone(),
            groups: m.target.groups.clone(),
        });
    }
    if &m.min_agent_version > policy.agent_version {
        return Err(VerifyError::AgentTooOld {
            needs: m.min_agent_version.to_string(),
            have: policy.agent_version.to_string(),
        });
    }
    if let Some(running) = policy.running {
        if &m.version == running {
            return Err(VerifyError::AlreadyRunning(running.to_string()));
        }
        if &m.version < running && !policy.allow_downgrade {
            return Err(VerifyError::NotNewer {
                version: m.version.to_string(),
                running: running.to_string(),
            });
        }
    }
    Ok(())
}

/// A fresh signing key from the OS random source.
pub fn generate_key() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Parse a signing key (the 32-byte seed as 64 hex digits, as `bundle keygen` writes it).
pub fn parse_signing_key(text: &str) -> Option<SigningKey> {
    unhex::<32>(text).map(|seed| SigningKey::from_bytes(&seed))
}

/// Sign manifest bytes: returns (signer public key, signature).
pub fn sign(key: &SigningKey, manifest: &[u8]) -> ([u8; 32], [u8; 64]) {
    (
        key.verifying_key().to_bytes(),
        key.sign(manifest).to_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::bundle::{encode, FileEntry, Manifest, Target, FORMAT};
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn bundle_with(key: &SigningKey, version: &str, files: &[(&str, &[u8])]) -> Bundle {
        let m = Manifest {
            format: FORMAT,
            name: "app".into(),
            version: version.parse().expect("version"),
            entry: "main.js".into(),
            min_agent_version: "0.1.0".parse().expect("version"),
            target: Target {
                devices: vec!["gw-1".into()],
                groups: vec!["lab".into()],
            },
            created: "2026-11-01T12:00:00Z".into(),
            files: files.iter().map(|(p, d)| FileEntry::of(*p, d)).collect(),
        };
        let mb = serde_json::to_vec(&m).expect("json");
        let (signer, sig) = sign(key, &mb);
        let bytes = encode(&mb, &signer, &sig, files.iter().copied());
        Bundle::parse(&bytes, 1 << 20).expect("parse")
    }

    struct Env {
        keys: TrustedKeys,
        agent: semver::Version,
        running: semver::Version,
    }

    impl Env {
        fn new() -> Env {
            Env {
                keys: TrustedKeys::from_hex(&[
                    hex(key(1).verifying_key().as_bytes()),
                    hex(key(2).verifying_key().as_bytes()),
                ])
                .expect("keys"),
                agent: "0.1.0".parse().expect("v"),
                running: "1.0.0".parse().expect("v"),
            }
        }

        fn policy(&self) -> Policy<'_> {
            Policy {
                keys: &self.keys,
                device: "gw-1",
                group: None,
                running: Some(&self.running),
                allow_downgrade: false,
                agent_version: &self.agent,
            }
        }
    }

    const FILES: &[(&str, &[u8])] = &[("main.js", b"console.log('v2')")];

    #[test]
    fn good_bundle_from_either_key_verifies() {
        let env = Env::new();
        verify(&bundle_with(&key(1), "1.1.0", FILES), &env.policy()).expect("key 1");
        verify(&bundle_with(&key(2), "1.1.0", FILES), &env.policy()).expect("key 2");
    }

    #[test]
    fn unknown_key_and_bad_signature() {
        let env = Env::new();
        let err = verify(&bundle_with(&key(3), "1.1.0", FILES), &env.policy()).expect_err("key");
        assert_eq!(err.code(), "unknown_key");
        let mut b = bundle_with(&key(1), "1.1.0", FILES);
        b.signature[0] ^= 1;
        assert_eq!(
            verify(&b, &env.policy()).map_err(|e| e.code()),
            Err("bad_signature")
        );
        // A manifest edited after signing (here: the version) fails too.
        let mut b = bundle_with(&key(1), "1.1.0", FILES);
        let text = String::from_utf8(b.manifest_bytes.clone()).expect("utf8");
        b.manifest_bytes = text.replace("1.1.0", "9.9.9").into_bytes();
        assert_eq!(
            verify(&b, &env.policy()).map_err(|e| e.code()),
            Err("bad_signature")
        );
    }

    #[test]
    fn hash_mismatch_names_the_file() {
        let env = Env::new();
        let mut b = bundle_with(&key(1), "1.1.0", FILES);
        b.files[0][0] ^= 0x20;
        let err = verify(&b, &env.policy()).expect_err("hash");
        assert_eq!(err.code(), "hash_mismatch");
        assert!(err.to_string().contains("main.js"), "{err}");
    }

    #[test]
    fn target_by_device_or_group() {
        let env = Env::new();
        let b = bundle_with(&key(1), "1.1.0", FILES);
        let mut p = env.policy();
        p.device = "gw-2";
        assert_eq!(verify(&b, &p).map_err(|e| e.code()), Err("wrong_target"));
        p.group = Some("lab");
        verify(&b, &p).expect("group match");
        p.group = Some("field");
        let err = verify(&b, &p).expect_err("other group");
        assert!(err.to_string().contains("\"gw-2\""), "{err}");
    }

    #[test]
    fn version_rules() {
        let env = Env::new();
        let old = bundle_with(&key(1), "0.9.0", FILES);
        assert_eq!(
            verify(&old, &env.policy()).map_err(|e| e.code()),
            Err("downgrade")
        );
        let mut p = env.policy();
        p.allow_downgrade = true;
        verify(&old, &p).expect("downgrade allowed");
        let same = bundle_with(&key(1), "1.0.0", FILES);
        assert_eq!(
            verify(&same, &p).map_err(|e| e.code()),
            Err("already_running")
        );
        p.running = None;
        verify(&same, &p).expect("nothing installed yet");
        let agent: semver::Version = "0.0.9".parse().expect("v");
        p.agent_version = &agent;
        assert_eq!(
            verify(&same, &p).map_err(|e| e.code()),
            Err("agent_too_old")
        );
    }

    #[test]
    fn keys_parse_with_clear_errors() {
        assert!(TrustedKeys::from_hex(&["zz"]).is_err());
        let err = parse_public_key("12").expect_err("short");
        assert!(err.to_string().contains("64 hex digits"));
        let k = key(7);
        let text = hex(&k.to_bytes());
        let back = parse_signing_key(&text).expect("parse");
        assert_eq!(back.verifying_key(), k.verifying_key());
        assert_ne!(
            generate_key().expect("rng").to_bytes(),
            generate_key().expect("rng").to_bytes()
        );
    }
}
