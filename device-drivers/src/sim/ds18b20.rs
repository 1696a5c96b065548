//! Simulated DS18B20 on a fake Linux 1-Wire sysfs tree: writes `<base>/<id>/w1_slave` in the
//! kernel's format (scratchpad bytes with a correct Maxim CRC, `crc=.. YES`, `t=<m°C>`), either
//! once or periodically, atomically (temp file + rename) so readers never see half a file.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rng::{Wander, XorShift64};
use crate::drivers::ds18b20::{crc8_maxim, validate_id};
use crate::error::DeviceError;

/// Injected misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ds18b20Fault {
    /// Behaves.
    None,
    /// The kernel reports `crc=.. NO` (noise on the bus).
    CrcNo,
    /// The scratchpad holds the 85 °C power-on value (conversion never ran).
    PowerOn,
    /// All-zero scratchpad (data line shorted to ground or sensor gone).
    Disconnected,
}

/// The `w1_slave` text the kernel would produce for `temp_c` with `fault`.
pub fn w1_slave_text(temp_c: f64, fault: Ds18b20Fault) -> String {
    let raw: i16 = match fault {
        Ds18b20Fault::PowerOn => 0x0550,
        Ds18b20Fault::Disconnected => 0,
        _ => (temp_c * 16.0).round().clamp(-55.0 * 16.0, 125.0 * 16.0) as i16,
    };
    let [lsb, msb] = raw.to_le_bytes();
    let mut pad = [lsb, msb, 0x4B, 0x46, 0x7F, 0xFF, 0x0C, 0x10, 0];
    if fault == Ds18b20Fault::Disconnected {
        pad = [0; 9];
    } else {
        pad[8] = crc8_maxim(&pad[..8]);
    }
    let hex: Vec<String> = pad.iter().map(|b| format!("{b:02x}")).collect();
    let hex = hex.join(" ");
    let verdict = if fault == Ds18b20Fault::CrcNo {
        "NO"
    } else {
        "YES"
    };
    // The kernel reports the raw value in m°C: raw * 1000 / 16, truncated toward zero.
    let milli = i32::from(raw) * 1000 / 16;
    format!("{hex} : crc={:02x} {verdict}\n{hex} t={milli}\n", pad[8])
}

/// Write `text` as `<base>/<id>/w1_slave`, creating the directory and replacing the file
/// atomically.
pub fn write_w1_slave(base: &Path, id: &str, text: &str) -> io::Result<()> {
    let dir = base.join(id);
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(".w1_slave.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir.join("w1_slave"))
}

/// A simulated DS18B20 living in a fake sysfs tree.
#[derive(Debug, Clone)]
pub struct SimDs18b20 {
    base: PathBuf,
    id: String,
    /// Temperature model, °C.
    pub temperature: Wander,
    rng: XorShift64,
    /// Injected fault.
    pub fault: Ds18b20Fault,
}

impl SimDs18b20 {
    /// Sensor `id` (e.g. `28-000000000001`) under `base`, at `temperature` °C with drift/noise
    /// scaled by `noise`.
    pub fn new(
        base: &Path,
        id: &str,
        temperature: f64,
        noise: f64,
        seed: u64,
    ) -> Result<Self, DeviceError> {
        validate_id(id)?;
        Ok(Self {
            base: base.to_path_buf(),
            id: id.to_string(),
            temperature: Wander::new(temperature, 0.02, 0.03, -55.0, 125.0).scaled(noise),
            rng: XorShift64::new(seed),
            fault: Ds18b20Fault::None,
        })
    }

    /// Write one new sample; returns the temperature written.
    pub fn write_once(&mut self) -> io::Result<f64> {
        let t = self.temperature.sample(&mut self.rng);
        write_w1_slave(&self.base, &self.id, &w1_slave_text(t, self.fault))?;
        Ok(t)
    }

    /// Rewrite the file every `interval` until the task is dropped or a write fails.
    pub async fn run(mut self, interval: Duration) -> io::Result<()> {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            self.write_once()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::ds18b20::{parse_w1_slave, Ds18b20};
    use crate::drivers::BlockingSensor;
    use crate::error::ErrorCode;

    #[test]
    fn text_matches_kernel_format_and_parses() {
        let text = w1_slave_text(23.125, Ds18b20Fault::None);
        assert_eq!(
            text,
            "72 01 4b 46 7f ff 0c 10 c6 : crc=c6 YES\n72 01 4b 46 7f ff 0c 10 c6 t=23125\n"
        );
        assert_eq!(parse_w1_slave(&text).expect("parses"), 23.125);
        assert_eq!(
            parse_w1_slave(&w1_slave_text(-10.0625, Ds18b20Fault::None)).expect("negative"),
            -10.062
        );
    }

    #[test]
    fn faults_are_rejected_by_the_driver() {
        for fault in [
            Ds18b20Fault::CrcNo,
            Ds18b20Fault::PowerOn,
            Ds18b20Fault::Disconnected,
        ] {
            let e = parse_w1_slave(&w1_slave_text(20.0, fault)).expect_err("fault");
            assert_eq!(e.code, ErrorCode::Ebadmsg, "{fault:?}");
        }
    }

    #[test]
    fn end_to_end_through_the_fake_tree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = "28-0000075a1c2b";
        let mut sim = SimDs18b20::new(dir.path(), id, 19.5, 0.0, 1).expect("sim");
        sim.write_once().expect("write");
        let mut d = Ds18b20::new(dir.path(), id).expect("driver");
        assert_eq!(d.read().expect("reading").value("temperature"), Some(19.5));
        sim.fault = Ds18b20Fault::CrcNo;
        sim.write_once().expect("write");
        assert_eq!(d.read().expect_err("crc NO").code, ErrorCode::Ebadmsg);
    }
}
