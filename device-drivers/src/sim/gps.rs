//! Simulated NMEA 0183 GPS receiver: every interval (1 s by default) it writes an RMC and a GGA
//! sentence for the current UTC time, with the position wandering by a few metres (or moving at
//! the configured speed and course), to any async byte stream such as a pty.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::rng::{Wander, XorShift64};
use crate::drivers::nmea::{with_checksum, KNOT_MPS};

/// Metres per degree of latitude (mean).
const M_PER_DEG: f64 = 111_320.0;

/// Injected misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpsFault {
    /// Behaves.
    None,
    /// Every sentence carries a wrong checksum.
    BadChecksum,
    /// Every sentence is cut off before its checksum.
    Truncated,
}

/// Simulated GPS receiver state.
#[derive(Debug, Clone)]
pub struct SimGps {
    latitude: f64,
    longitude: f64,
    north_m: Wander,
    east_m: Wander,
    altitude: Wander,
    /// Ground speed in m/s (0 = stationary).
    pub speed: f64,
    /// Course over ground in degrees true.
    pub course: f64,
    /// Satellites reported in use.
    pub satellites: u8,
    /// Whether the receiver has a fix.
    pub fix: bool,
    /// Sentence interval.
    pub interval: Duration,
    /// Talker id (`GP`, `GN`, ...).
    pub talker: String,
    /// Injected fault.
    pub fault: GpsFault,
    rng: XorShift64,
}

impl SimGps {
    /// A receiver at `latitude`, `longitude` (degrees), `altitude` (m), jitter scaled by `noise`.
    pub fn new(latitude: f64, longitude: f64, altitude: f64, noise: f64, seed: u64) -> Self {
        Self {
            latitude,
            longitude,
            north_m: Wander::new(0.0, 0.3, 0.8, -50.0, 50.0).scaled(noise),
            east_m: Wander::new(0.0, 0.3, 0.8, -50.0, 50.0).scaled(noise),
            altitude: Wander::new(altitude, 0.2, 1.0, -400.0, 9000.0).scaled(noise),
            speed: 0.0,
            course: 0.0,
            satellites: 9,
            fix: true,
            interval: Duration::from_secs(1),
            talker: "GP".to_string(),
            fault: GpsFault::None,
            rng: XorShift64::new(seed),
        }
    }

    fn advance(&mut self) {
        if self.speed > 0.0 {
            let d = self.speed * self.interval.as_secs_f64();
            let c = self.course.to_radians();
            self.latitude = (self.latitude + d * c.cos() / M_PER_DEG).clamp(-89.9, 89.9);
            let m_per_deg_lon = M_PER_DEG * self.latitude.to_radians().cos().max(0.01);
            self.longitude += d * c.sin() / m_per_deg_lon;
            if self.longitude > 180.0 {
                self.longitude -= 360.0;
            } else if self.longitude < -180.0 {
                self.longitude += 360.0;
            }
        }
    }

    /// The sentences (RMC then GGA, CRLF-terminated) for one cycle at `now`; advances the model.
    pub fn sentences(&mut self, now: SystemTime) -> Vec<String> {
        self.advance();
        let secs = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let (date, time) = utc_date_time(secs);
        let north = self.north_m.sample(&mut self.rng);
        let east = self.east_m.sample(&mut self.rng);
        let lat = (self.latitude + north / M_PER_DEG).clamp(-90.0, 90.0);
        let lon = self.longitude + east / (M_PER_DEG * self.latitude.to_radians().cos().max(0.01));
        let alt = self.altitude.sample(&mut self.rng);
        let t = &self.talker;
        let (rmc, gga) = if self.fix {
            let (lat_s, ns) = coord(lat, 2, 'N', 'S');
            let (lon_s, ew) = coord(lon, 3, 'E', 'W');
            let knots = self.speed / KNOT_MPS;
            (
                format!(
                    "{t}RMC,{time},A,{lat_s},{ns},{lon_s},{ew},{knots:.1},{:.1},{date},,,A",
                    self.course
                ),
                format!(
                    "{t}GGA,{time},{lat_s},{ns},{lon_s},{ew},1,{:02},0.9,{alt:.1},M,47.0,M,,",
                    self.satellites
                ),
            )
        } else {
            (
                format!("{t}RMC,{time},V,,,,,,,{date},,,N"),
                format!(
                    "{t}GGA,{time},,,,,0,{:02},99.9,,M,,M,,",
                    self.satellites.min(3)
                ),
            )
        };
        [rmc, gga]
            .iter()
            .map(|body| {
                let line = with_checksum(body);
                match self.fault {
                    GpsFault::None => line,
                    GpsFault::BadChecksum => {
                        // Flip the last checksum digit.
                        let mut s = line.trim_end().to_string();
                        let last = s.pop().unwrap_or('0');
                        s.push(if last == '0' { '1' } else { '0' });
                        s + "\r\n"
                    }
                    GpsFault::Truncated => format!("{}\r\n", &line[..line.len() / 2]),
                }
            })
            .collect()
    }

    /// Write one cycle of sentences every `interval` until the stream fails.
    pub async fn run<W: AsyncWrite + Unpin>(mut self, mut out: W) -> std::io::Result<()> {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let text = self.sentences(SystemTime::now()).concat();
            out.write_all(text.as_bytes()).await?;
            out.flush().await?;
        }
    }
}

/// `(ddmmyy, hhmmss.ss)` for Unix time `secs`.
fn utc_date_time(secs: f64) -> (String, String) {
    let whole = secs.floor() as i64;
    let days = whole.div_euclid(86_400);
    let sod = whole.rem_euclid(86_400);
    let centis = ((secs - secs.floor()) * 100.0).floor() as i64;
    let (y, m, d) = civil_from_days(days);
    (
        format!("{d:02}{m:02}{:02}", y.rem_euclid(100)),
        format!(
            "{:02}{:02}{:02}.{centis:02}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        ),
    )
}

/// Days since 1970-01-01 -> (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Signed degrees -> (`ddmm.mmmm` with `deg_digits` degree digits, hemisphere).
fn coord(value: f64, deg_digits: usize, pos: char, neg: char) -> (String, char) {
    let hemi = if value < 0.0 { neg } else { pos };
    let total = (value.abs() * 60.0 * 10_000.0).round() as u64; // in 1/10000 minute
    let deg = total / 600_000;
    let rem = total % 600_000;
    (
        format!("{deg:0deg_digits$}{:02}.{:04}", rem / 10_000, rem % 10_000),
        hemi,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::nmea::{parse_sentence, GpsFix, NmeaConfig, NmeaGps};
    use crate::drivers::Sensor;
    use crate::error::ErrorCode;

    #[test]
    fn calendar_and_coordinates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(
            utc_date_time(764_426_119.25),
            ("230394".to_string(), "123519.25".to_string())
        );
        assert_eq!(coord(48.1173, 2, 'N', 'S'), ("4807.0380".to_string(), 'N'));
        assert_eq!(coord(-11.5, 3, 'E', 'W'), ("01130.0000".to_string(), 'W'));
        assert_eq!(coord(0.999_999_999, 2, 'N', 'S').0, "0100.0000");
    }

    #[test]
    fn sentences_parse_back_to_the_model() {
        let mut gps = SimGps::new(48.1173, 11.5167, 545.4, 0.0, 1);
        gps.speed = 10.0;
        gps.course = 90.0;
        let mut fix = GpsFix::default();
        for s in gps.sentences(UNIX_EPOCH + Duration::from_secs(764_426_119)) {
            fix.apply(parse_sentence(&s).expect("valid sentence"));
        }
        let r = fix.to_reading();
        assert!((r.value("latitude").expect("lat") - 48.1173).abs() < 1e-5);
        assert!(r.value("longitude").expect("lon") > 11.5167, "moved east");
        assert!((r.value("speed").expect("speed") - 10.0).abs() < 0.06);
        assert_eq!(r.value("altitude"), Some(545.4));
        assert_eq!(r.value("satellites"), Some(9.0));
        assert_eq!(r.string("gps_time"), Some("1994-03-23T12:35:19.000Z"));
    }

    #[test]
    fn no_fix_and_faults() {
        let mut gps = SimGps::new(1.0, 2.0, 3.0, 0.0, 1);
        gps.fix = false;
        let mut fix = GpsFix::default();
        for s in gps.sentences(SystemTime::now()) {
            fix.apply(parse_sentence(&s).expect("valid"));
        }
        assert_eq!(fix.to_reading().value("fix"), Some(0.0));
        assert_eq!(fix.to_reading().value("latitude"), None);

        for fault in [GpsFault::BadChecksum, GpsFault::Truncated] {
            gps.fault = fault;
            for s in gps.sentences(SystemTime::now()) {
                assert!(parse_sentence(&s).is_err(), "{fault:?}: {s}");
            }
        }
    }

    #[tokio::test]
    async fn end_to_end_over_a_pty() {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let mut sim = SimGps::new(-33.8568, 151.2153, 20.0, 1.0, 3);
        sim.interval = Duration::from_millis(50);
        let writer = tokio::spawn(sim.run(master));
        let mut gps = NmeaGps::new(slave, NmeaConfig::default());
        let r = gps.read().await.expect("a fix");
        assert_eq!(r.value("fix"), Some(1.0));
        let lat = r.value("latitude").expect("lat");
        assert!((lat + 33.8568).abs() < 0.001, "{lat}");
        writer.abort();
    }

    #[tokio::test]
    async fn bad_checksums_over_a_pty_are_ebadmsg() {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let mut sim = SimGps::new(10.0, 10.0, 0.0, 0.0, 1);
        sim.interval = Duration::from_millis(20);
        sim.fault = GpsFault::BadChecksum;
        let writer = tokio::spawn(sim.run(master));
        let mut gps = NmeaGps::new(
            slave,
            NmeaConfig {
                timeout: Duration::from_millis(300),
                max_age: Duration::from_secs(3),
            },
        );
        let e = gps.read().await.expect_err("only bad sentences");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        assert!(gps.bad_lines() > 0);
        writer.abort();
    }
}
