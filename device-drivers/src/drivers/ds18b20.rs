//! Maxim DS18B20 temperature sensor through the Linux 1-Wire sysfs interface (`w1_therm`).
//!
//! Reads `<base_dir>/<id>/w1_slave`, which the kernel fills by running a conversion (~750 ms):
//!
//! ```text
//! 72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//! 72 01 4b 46 7f ff 0e 10 57 t=23125
//! ```
//!
//! The CRC verdict must be `YES`; 85000 (the power-on value: no conversion ran) and an all-zero
//! scratchpad (bus short or sensor gone) are `EBADMSG` errors, never readings. The base directory
//! is configurable so tests and the simulated board use a fake tree.
//!
//! Values: `temperature` (°C).

use std::path::{Path, PathBuf};

use super::{BlockingSensor, Reading};
use crate::error::{DeviceError, ErrorCode};

/// Where the kernel lists 1-Wire devices.
pub const DEFAULT_BASE_DIR: &str = "/sys/bus/w1/devices";

/// Dallas/Maxim 1-Wire CRC-8 (polynomial x^8 + x^5 + x^4 + 1, reflected 0x8C, init 0).
pub fn crc8_maxim(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &byte in data {
        let mut b = byte;
        for _ in 0..8 {
            let mix = (crc ^ b) & 0x01;
            crc >>= 1;
            if mix != 0 {
                crc ^= 0x8C;
            }
            b >>= 1;
        }
    }
    crc
}

/// Parse the contents of a `w1_slave` file into °C.
pub fn parse_w1_slave(text: &str) -> Result<f64, DeviceError> {
    let bad = |msg: String| DeviceError::new(ErrorCode::Ebadmsg, msg);
    let mut lines = text.lines();
    let (first, second) = match (lines.next(), lines.next()) {
        (Some(a), Some(b)) => (a.trim(), b.trim()),
        _ => return Err(bad(format!("w1_slave is truncated: {text:?}"))),
    };
    let verdict = first.rsplit(' ').next().unwrap_or("");
    match verdict {
        "YES" => {}
        "NO" => return Err(bad(format!("1-Wire CRC check failed: {first}"))),
        _ => {
            return Err(bad(format!(
                "w1_slave first line has no CRC verdict: {first:?}"
            )))
        }
    }
    let bytes: Vec<u8> = first
        .split(':')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    if bytes.len() == 9 && bytes.iter().all(|&b| b == 0) {
        return Err(bad(
            "scratchpad is all zeros (sensor disconnected or data line shorted)".to_string(),
        ));
    }
    let t = second
        .rsplit_once("t=")
        .map(|(_, v)| v.trim())
        .ok_or_else(|| bad(format!("w1_slave second line has no t= value: {second:?}")))?;
    let milli: i32 = t
        .parse()
        .map_err(|_| bad(format!("w1_slave temperature {t:?} is not an integer")))?;
    if milli == 85_000 {
        return Err(bad(
            "85 °C power-on value: the conversion did not run (power or wiring problem)"
                .to_string(),
        ));
    }
    if !(-55_000..=125_000).contains(&milli) {
        return Err(bad(format!(
            "temperature {milli} m°C is outside the DS18B20 range"
        )));
    }
    Ok(f64::from(milli) / 1000.0)
}

/// Check a 1-Wire device id such as `28-00000a1b2c3d` (it becomes a path component).
pub fn validate_id(id: &str) -> Result<(), DeviceError> {
    let ok =
        !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(DeviceError::new(
            ErrorCode::Einval,
            format!("1-Wire id {id:?} is not of the form 28-0123456789ab"),
        ))
    }
}

/// DS18B20 read through sysfs (blocking: the kernel converts during the read).
#[derive(Debug, Clone)]
pub struct Ds18b20 {
    path: PathBuf,
}

impl Ds18b20 {
    /// The sensor `id` under `base_dir` (normally [`DEFAULT_BASE_DIR`]).
    pub fn new(base_dir: &Path, id: &str) -> Result<Self, DeviceError> {
        validate_id(id)?;
        Ok(Self {
            path: base_dir.join(id).join("w1_slave"),
        })
    }

    /// The file this sensor reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One measurement in °C.
    pub fn measure(&self) -> Result<f64, DeviceError> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| DeviceError::from_io(self.path.display(), &e))?;
        parse_w1_slave(&text).map_err(|e| {
            DeviceError::new(e.code, format!("{}: {}", self.path.display(), e.message))
        })
    }
}

impl BlockingSensor for Ds18b20 {
    fn driver(&self) -> &'static str {
        "ds18b20"
    }

    fn read(&mut self) -> Result<Reading, DeviceError> {
        Ok(Reading::new("ds18b20").with("temperature", self.measure()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";

    #[test]
    fn parses_good_file() {
        assert_eq!(parse_w1_slave(GOOD).expect("good"), 23.125);
        let neg = "5e ff 4b 46 7f ff 02 10 b6 : crc=b6 YES\n5e ff 4b 46 7f ff 02 10 b6 t=-10125\n";
        assert_eq!(parse_w1_slave(neg).expect("negative"), -10.125);
    }

    #[test]
    fn maxim_crc_matches_kernel_line() {
        // The scratchpad above carries CRC 0x57 over its first 8 bytes.
        assert_eq!(
            crc8_maxim(&[0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10]),
            0x57
        );
        // Maxim application note 27 example ROM: 02 1C B8 01 00 00 00 -> A2.
        assert_eq!(
            crc8_maxim(&[0x02, 0x1C, 0xB8, 0x01, 0x00, 0x00, 0x00]),
            0xA2
        );
    }

    #[test]
    fn crc_no_is_an_error() {
        let text = GOOD.replace("YES", "NO");
        let e = parse_w1_slave(&text).expect_err("crc NO");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        assert!(e.message.contains("CRC"), "{e}");
    }

    #[test]
    fn power_on_value_is_an_error() {
        let text = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n";
        let e = parse_w1_slave(text).expect_err("85000");
        assert!(e.message.contains("power-on"), "{e}");
    }

    #[test]
    fn zeros_truncation_and_junk_are_errors() {
        let zeros = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n";
        assert!(parse_w1_slave(zeros).is_err());
        assert!(parse_w1_slave("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n").is_err());
        assert!(parse_w1_slave("").is_err());
        let junk = GOOD.replace("t=23125", "t=abc");
        assert!(parse_w1_slave(&junk).is_err());
    }

    #[test]
    fn ids_cannot_escape_the_base_dir() {
        assert!(validate_id("28-00000a1b2c3d").is_ok());
        assert!(validate_id("../etc").is_err());
        assert!(validate_id("").is_err());
    }

    #[test]
    fn reads_from_a_directory_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = "28-000000000001";
        std::fs::create_dir_all(dir.path().join(id)).expect("mkdir");
        std::fs::write(dir.path().join(id).join("w1_slave"), GOOD).expect("write");
        let mut s = Ds18b20::new(dir.path(), id).expect("id ok");
        let r = s.read().expect("reading");
        assert_eq!(r.value("temperature"), Some(23.125));
        let missing = Ds18b20::new(dir.path(), "28-000000000002").expect("id ok");
        assert_eq!(
            missing.measure().expect_err("absent").code,
            ErrorCode::Enoent
        );
    }
}
