//! NMEA 0183 GPS: a plain parser for GGA and RMC sentences (checksum validated) that merges them
//! into a [`GpsFix`], and an async sensor that reads lines from any tokio `AsyncRead` (a serial
//! port) on a worker task and answers reads with the latest fix.
//!
//! Values: `fix` (GGA quality 0..8; 0 = no fix), `satellites` (count), `hdop`, `latitude`,
//! `longitude` (signed degrees, north/east positive), `altitude` (m above mean sea level), `speed`
//! (m/s), `course` (degrees true). Position values are absent while there is no fix. String:
//! `gps_time` (UTC of the fix, ISO 8601 when the date is known; not `time`, which the agent
//! sets to when the reading was taken).

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::watch;

use super::options::Opts;
use super::registry::ConfigError;
use super::{Reading, Sensor};
use crate::error::{DeviceError, ErrorCode};

/// Knots to metres per second.
pub const KNOT_MPS: f64 = 1852.0 / 3600.0;
/// Longest line accepted (the standard's limit is 82 characters; some receivers exceed it).
pub const MAX_LINE: usize = 256;

/// UTC time of day from a sentence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtcTime {
    /// Hours 0..=23.
    pub hour: u8,
    /// Minutes 0..=59.
    pub minute: u8,
    /// Seconds with fraction, 0..61.
    pub second: f64,
}

/// Calendar date from RMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Full year (two-digit years map to 1980..=2079).
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
}

/// GGA: fix data.
#[derive(Debug, Clone, PartialEq)]
pub struct Gga {
    /// Time of fix.
    pub time: Option<UtcTime>,
    /// Latitude in signed degrees.
    pub latitude: Option<f64>,
    /// Longitude in signed degrees.
    pub longitude: Option<f64>,
    /// Fix quality: 0 invalid, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 estimated, ...
    pub quality: u8,
    /// Satellites in use.
    pub satellites: Option<u8>,
    /// Horizontal dilution of precision.
    pub hdop: Option<f64>,
    /// Altitude above mean sea level in metres.
    pub altitude: Option<f64>,
}

/// RMC: recommended minimum navigation data.
#[derive(Debug, Clone, PartialEq)]
pub struct Rmc {
    /// Time of fix.
    pub time: Option<UtcTime>,
    /// Status `A` (valid) or `V` (warning).
    pub valid: bool,
    /// Latitude in signed degrees.
    pub latitude: Option<f64>,
    /// Longitude in signed degrees.
    pub longitude: Option<f64>,
    /// Speed over ground in m/s.
    pub speed: Option<f64>,
    /// Course over ground in degrees true.
    pub course: Option<f64>,
    /// Date.
    pub date: Option<Date>,
}

/// A checksum-valid sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum Sentence {
    /// `$..GGA`.
    Gga(Gga),
    /// `$..RMC`.
    Rmc(Rmc),
    /// Any other (valid) sentence, e.g. `GPGSV`: its address field.
    Other(String),
}

fn bad(msg: impl Into<String>) -> DeviceError {
    DeviceError::new(ErrorCode::Ebadmsg, msg)
}

/// Validate framing and checksum; return the fields between `$` and `*`.
pub fn checked_body(line: &str) -> Result<&str, DeviceError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let rest = line
        .strip_prefix('$')
        .ok_or_else(|| bad(format!("NMEA sentence does not start with '$': {line:?}")))?;
    let (body, sum) = rest.rsplit_once('*').ok_or_else(|| {
        bad(format!(
            "NMEA sentence is truncated (no '*checksum'): {line:?}"
        ))
    })?;
    if sum.len() != 2 {
        return Err(bad(format!(
            "NMEA checksum must be two hex digits: {line:?}"
        )));
    }
    let expected = u8::from_str_radix(sum, 16)
        .map_err(|_| bad(format!("NMEA checksum {sum:?} is not hex: {line:?}")))?;
    let actual = body.bytes().fold(0u8, |acc, b| acc ^ b);
    if actual != expected {
        return Err(bad(format!(
            "NMEA checksum mismatch: sentence says {expected:02X}, computed {actual:02X}: {line:?}"
        )));
    }
    Ok(body)
}

/// Append `*hh` to a sentence body (without `$`), giving a full sentence with CRLF.
pub fn with_checksum(body: &str) -> String {
    let sum = body.bytes().fold(0u8, |acc, b| acc ^ b);
    format!("${body}*{sum:02X}\r\n")
}

fn parse_time(f: &str) -> Result<Option<UtcTime>, DeviceError> {
    if f.is_empty() {
        return Ok(None);
    }
    let ok = f.len() >= 6 && f.as_bytes()[..6].iter().all(u8::is_ascii_digit);
    let (hour, minute, second) = if ok {
        (
            f[0..2].parse::<u8>().ok(),
            f[2..4].parse::<u8>().ok(),
            f[4..].parse::<f64>().ok(),
        )
    } else {
        (None, None, None)
    };
    match (hour, minute, second) {
        (Some(hour @ 0..=23), Some(minute @ 0..=59), Some(second))
            if (0.0..61.0).contains(&second) =>
        {
            Ok(Some(UtcTime {
                hour,
                minute,
                second,
            }))
        }
        _ => Err(bad(format!("bad NMEA time {f:?}"))),
    }
}

fn parse_date(f: &str) -> Result<Option<Date>, DeviceError> {
    if f.is_empty() {
        return Ok(None);
    }
    let n = |r: std::ops::Range<usize>| f.get(r).and_then(|s| s.parse::<u8>().ok());
    match (f.len(), n(0..2), n(2..4), n(4..6)) {
        (6, Some(day @ 1..=31), Some(month @ 1..=12), Some(yy)) => Ok(Some(Date {
            year: if yy < 80 { 2000 } else { 1900 } + u16::from(yy),
            month,
            day,
        })),
        _ => Err(bad(format!("bad NMEA date {f:?}"))),
    }
}

/// `ddmm.mmmm` / `dddmm.mmmm` plus hemisphere -> signed degrees.
fn parse_coord(
    value: &str,
    hemi: &str,
    max_deg: f64,
    what: &str,
) -> Result<Option<f64>, DeviceError> {
    if value.is_empty() && hemi.is_empty() {
        return Ok(None);
    }
    let v: f64 = value
        .parse()
        .map_err(|_| bad(format!("bad NMEA {what} {value:?}")))?;
    let degrees = (v / 100.0).trunc();
    let minutes = v - degrees * 100.0;
    if !(0.0..60.0).contains(&minutes) || v < 0.0 {
        return Err(bad(format!("bad NMEA {what} {value:?}")));
    }
    let deg = degrees + minutes / 60.0;
    if deg > max_deg {
        return Err(bad(format!("NMEA {what} {value:?} out of range")));
    }
    match hemi {
        "N" | "E" => Ok(Some(deg)),
        "S" | "W" => Ok(Some(-deg)),
        _ => Err(bad(format!("bad NMEA {what} hemisphere {hemi:?}"))),
    }
}

fn parse_opt_f64(f: &str, what: &str) -> Result<Option<f64>, DeviceError> {
    if f.is_empty() {
        return Ok(None);
    }
    f.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
        .ok_or_else(|| bad(format!("bad NMEA {what} {f:?}")))
}

/// Parse one line (with or without CRLF). Checksum errors, truncated sentences and malformed
/// fields are `EBADMSG` errors.
pub fn parse_sentence(line: &str) -> Result<Sentence, DeviceError> {
    let body = checked_body(line)?;
    let fields: Vec<&str> = body.split(',').collect();
    let address = fields.first().copied().unwrap_or("");
    if address.len() < 5 || !address.is_ascii() {
        return Err(bad(format!("bad NMEA address field {address:?}")));
    }
    let kind = &address[address.len() - 3..];
    match kind {
        "GGA" => {
            if fields.len() < 15 {
                return Err(bad(format!(
                    "NMEA {address} sentence is truncated ({} of 15 fields)",
                    fields.len()
                )));
            }
            let quality = if fields[6].is_empty() {
                0
            } else {
                fields[6]
                    .parse::<u8>()
                    .ok()
                    .filter(|q| *q <= 9)
                    .ok_or_else(|| bad(format!("bad GGA fix quality {:?}", fields[6])))?
            };
            let satellites = if fields[7].is_empty() {
                None
            } else {
                Some(
                    fields[7]
                        .parse::<u8>()
                        .map_err(|_| bad(format!("bad GGA satellite count {:?}", fields[7])))?,
                )
            };
            Ok(Sentence::Gga(Gga {
                time: parse_time(fields[1])?,
                latitude: parse_coord(fields[2], fields[3], 90.0, "latitude")?,
                longitude: parse_coord(fields[4], fields[5], 180.0, "longitude")?,
                quality,
                satellites,
                hdop: parse_opt_f64(fields[8], "HDOP")?,
                altitude: parse_opt_f64(fields[9], "altitude")?,
            }))
        }
        "RMC" => {
            if fields.len() < 12 {
                return Err(bad(format!(
                    "NMEA {address} sentence is truncated ({} of 12 fields)",
                    fields.len()
                )));
            }
            let valid = match fields[2] {
                "A" => true,
                "V" | "" => false,
                s => return Err(bad(format!("bad RMC status {s:?}"))),
            };
            Ok(Sentence::Rmc(Rmc {
                time: parse_time(fields[1])?,
                valid,
                latitude: parse_coord(fields[3], fields[4], 90.0, "latitude")?,
                longitude: parse_coord(fields[5], fields[6], 180.0, "longitude")?,
                speed: parse_opt_f64(fields[7], "speed")?.map(|k| k * KNOT_MPS),
                course: parse_opt_f64(fields[8], "course")?,
                date: parse_date(fields[9])?,
            }))
        }
        _ => Ok(Sentence::Other(address.to_string())),
    }
}

/// The latest GGA and RMC merged into one fix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpsFix {
    /// Last GGA seen.
    pub gga: Option<Gga>,
    /// Last RMC seen.
    pub rmc: Option<Rmc>,
}

impl GpsFix {
    /// Merge a sentence; returns whether it changed the fix (GGA or RMC).
    pub fn apply(&mut self, s: Sentence) -> bool {
        match s {
            Sentence::Gga(g) => self.gga = Some(g),
            Sentence::Rmc(r) => self.rmc = Some(r),
            Sentence::Other(_) => return false,
        }
        true
    }

    /// Fix quality (GGA), or 1/0 from the RMC status when no GGA was seen.
    pub fn quality(&self) -> u8 {
        match (&self.gga, &self.rmc) {
            (Some(g), _) => g.quality,
            (None, Some(r)) => u8::from(r.valid),
            (None, None) => 0,
        }
    }

    /// As a reading (see the module docs for names and units).
    pub fn to_reading(&self) -> Reading {
        let mut r = Reading::new("nmea");
        let quality = self.quality();
        r.push("fix", f64::from(quality));
        if let Some(g) = &self.gga {
            if let Some(n) = g.satellites {
                r.push("satellites", f64::from(n));
            }
            if let Some(h) = g.hdop {
                r.push("hdop", h);
            }
        }
        if quality > 0 {
            let gga_pos = self.gga.as_ref().and_then(|g| g.latitude.zip(g.longitude));
            let rmc_pos = self
                .rmc
                .as_ref()
                .filter(|r| r.valid)
                .and_then(|r| r.latitude.zip(r.longitude));
            if let Some((lat, lon)) = gga_pos.or(rmc_pos) {
                r.push("latitude", lat);
                r.push("longitude", lon);
            }
            if let Some(alt) = self.gga.as_ref().and_then(|g| g.altitude) {
                r.push("altitude", alt);
            }
            if let Some(rmc) = self.rmc.as_ref().filter(|r| r.valid) {
                if let Some(s) = rmc.speed {
                    r.push("speed", s);
                }
                if let Some(c) = rmc.course {
                    r.push("course", c);
                }
            }
        }
        let time = self
            .gga
            .as_ref()
            .and_then(|g| g.time)
            .or_else(|| self.rmc.as_ref().and_then(|r| r.time));
        if let Some(t) = time {
            let date = self.rmc.as_ref().and_then(|r| r.date);
            let clock = format!("{:02}:{:02}:{:06.3}", t.hour, t.minute, t.second);
            let s = match date {
                Some(d) => format!("{:04}-{:02}-{:02}T{clock}Z", d.year, d.month, d.day),
                None => format!("{clock}Z"),
            };
            r.push_str("gps_time", s);
        }
        r
    }
}

/// Validated options of the `nmea` driver.
#[derive(Debug, Clone, PartialEq)]
pub struct NmeaConfig {
    /// How long a read waits for fresh data before `ETIMEDOUT`.
    pub timeout: Duration,
    /// A fix older than this is not returned; the read waits for a new one.
    pub max_age: Duration,
}

impl Default for NmeaConfig {
    /// 3 s timeout, 3 s maximum age (GPS receivers talk at 1 Hz).
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            max_age: Duration::from_secs(3),
        }
    }
}

impl NmeaConfig {
    /// Parse `timeout_ms` and `max_age_ms`.
    pub(crate) fn parse(o: &mut Opts<'_>) -> Result<Self, ConfigError> {
        let timeout = o.int("timeout_ms", 3000, 10, 600_000)? as u64;
        let max_age = o.int("max_age_ms", 3000, 10, 600_000)? as u64;
        Ok(Self {
            timeout: Duration::from_millis(timeout),
            max_age: Duration::from_millis(max_age),
        })
    }
}

/// What the worker publishes to readers.
#[derive(Debug, Clone, Default)]
struct GpsState {
    fix: GpsFix,
    updated: Option<Instant>,
    last_error: Option<DeviceError>,
    bad_lines: u64,
    closed: bool,
}

/// Feeds lines into a [`NmeaGps`] sensor: use it when something else already splits the serial
/// stream into lines. Bad lines are logged, counted and remembered for the sensor's error.
#[derive(Debug)]
pub struct NmeaFeeder {
    tx: watch::Sender<GpsState>,
}

impl NmeaFeeder {
    /// Parse one line and publish the merged fix. Returns the parse error, if any.
    pub fn feed_line(&self, line: &str) -> Result<(), DeviceError> {
        if line.trim().is_empty() {
            return Ok(());
        }
        match parse_sentence(line) {
            Ok(sentence) => {
                self.tx.send_modify(|st| {
                    if st.fix.apply(sentence) {
                        st.updated = Some(Instant::now());
                    }
                });
                Ok(())
            }
            Err(e) => {
                self.reject(e.clone());
                Err(e)
            }
        }
    }

    fn reject(&self, e: DeviceError) {
        tracing::debug!(error = %e.message, "NMEA line rejected");
        self.tx.send_modify(|st| {
            st.bad_lines += 1;
            st.last_error = Some(e);
        });
    }

    /// Mark the source as ended: reads without fresh data fail with `ENODEV`.
    pub fn close(&self) {
        self.tx.send_modify(|st| st.closed = true);
    }

    /// Read lines from `reader` until EOF or an I/O error, feeding each one.
    pub async fn run<R: AsyncRead + Unpin>(self, reader: R) {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::with_capacity(MAX_LINE);
        loop {
            buf.clear();
            let n = match (&mut reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut buf)
                .await
            {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "NMEA source failed");
                    self.tx.send_modify(|st| {
                        st.last_error = Some(DeviceError::from_io("nmea serial stream", &e));
                    });
                    break;
                }
            };
            if n == 0 {
                break;
            }
            if buf.last() != Some(&b'\n') && buf.len() >= MAX_LINE {
                // Over-long line: drop the rest of it.
                self.reject(bad(format!("NMEA line longer than {MAX_LINE} bytes")));
                let mut skip = Vec::new();
                if reader.read_until(b'\n', &mut skip).await.is_err() {
                    break;
                }
                continue;
            }
            match std::str::from_utf8(&buf) {
                Ok(line) => {
                    let _ = self.feed_line(line);
                }
                Err(_) => self.reject(bad("NMEA line is not text (wrong baud rate?)")),
            }
        }
        self.close();
    }
}

/// The GPS sensor: each read returns the latest fix (waiting up to `timeout` for one newer than
/// `max_age`). Built from a stream, it starts its reader task on the first read.
pub struct NmeaGps {
    rx: watch::Receiver<GpsState>,
    config: NmeaConfig,
    source: Option<(NmeaFeeder, Pin<Box<dyn AsyncRead + Send>>)>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl NmeaGps {
    /// A sensor reading NMEA lines from `reader` (e.g. a serial port).
    pub fn new<R: AsyncRead + Send + 'static>(reader: R, config: NmeaConfig) -> Self {
        let (feeder, mut gps) = Self::channel(config);
        gps.source = Some((feeder, Box::pin(reader)));
        gps
    }

    /// A sensor fed by hand through the returned [`NmeaFeeder`].
    pub fn channel(config: NmeaConfig) -> (NmeaFeeder, Self) {
        let (tx, rx) = watch::channel(GpsState::default());
        (
            NmeaFeeder { tx },
            Self {
                rx,
                config,
                source: None,
                task: None,
            },
        )
    }

    /// Lines rejected so far (bad checksum, truncated, garbage).
    pub fn bad_lines(&self) -> u64 {
        self.rx.borrow().bad_lines
    }

    fn fresh(&self) -> Option<Reading> {
        let st = self.rx.borrow();
        match st.updated {
            Some(t) if t.elapsed() <= self.config.max_age => Some(st.fix.to_reading()),
            _ => None,
        }
    }

    async fn read_inner(&mut self) -> Result<Reading, DeviceError> {
        if let Some((feeder, reader)) = self.source.take() {
            self.task = Some(tokio::spawn(feeder.run(reader)));
        }
        if let Some(r) = self.fresh() {
            return Ok(r);
        }
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        loop {
            if self.rx.borrow().closed {
                return Err(DeviceError::new(
                    ErrorCode::Enodev,
                    "nmea: the serial stream was closed",
                ));
            }
            match tokio::time::timeout_at(deadline, self.rx.changed()).await {
                Ok(Ok(())) => {
                    if let Some(r) = self.fresh() {
                        return Ok(r);
                    }
                }
                Ok(Err(_)) => {
                    return Err(DeviceError::new(
                        ErrorCode::Enodev,
                        "nmea: the line source is gone",
                    ))
                }
                Err(_) => {
                    let st = self.rx.borrow();
                    let ms = self.config.timeout.as_millis();
                    return Err(match &st.last_error {
                        Some(e) if e.code == ErrorCode::Ebadmsg => DeviceError::new(
                            ErrorCode::Ebadmsg,
                            format!(
                                "nmea: no valid GGA/RMC sentence in {ms} ms; last error: {}",
                                e.message
                            ),
                        ),
                        _ => DeviceError::new(
                            ErrorCode::Etimedout,
                            format!("nmea: no GGA/RMC sentence in {ms} ms"),
                        ),
                    });
                }
            }
        }
    }
}

impl Drop for NmeaGps {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Sensor for NmeaGps {
    fn driver(&self) -> &'static str {
        "nmea"
    }

    fn read(&mut self) -> BoxFuture<'_, Result<Reading, DeviceError>> {
        Box::pin(self.read_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The classic examples from the NMEA reference (checksums as published).
    const GGA: &str = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47";
    const RMC: &str = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A";

    #[test]
    fn gga_reference_sentence() {
        let Sentence::Gga(g) = parse_sentence(GGA).expect("valid GGA") else {
            panic!("not a GGA");
        };
        assert_eq!(g.quality, 1);
        assert_eq!(g.satellites, Some(8));
        assert_eq!(g.hdop, Some(0.9));
        assert_eq!(g.altitude, Some(545.4));
        let lat = g.latitude.expect("lat");
        let lon = g.longitude.expect("lon");
        assert!((lat - (48.0 + 7.038 / 60.0)).abs() < 1e-9);
        assert!((lon - (11.0 + 31.0 / 60.0)).abs() < 1e-9);
        assert_eq!(
            g.time,
            Some(UtcTime {
                hour: 12,
                minute: 35,
                second: 19.0
            })
        );
    }

    #[test]
    fn rmc_reference_sentence() {
        let Sentence::Rmc(r) = parse_sentence(&format!("{RMC}\r\n")).expect("valid RMC") else {
            panic!("not an RMC");
        };
        assert!(r.valid);
        let speed = r.speed.expect("speed");
        assert!((speed - 22.4 * 0.514_444).abs() < 1e-3, "{speed}");
        assert_eq!(r.course, Some(84.4));
        assert_eq!(
            r.date,
            Some(Date {
                year: 1994,
                month: 3,
                day: 23
            })
        );
    }

    #[test]
    fn south_west_are_negative_and_talkers_vary() {
        let s = with_checksum("GNGGA,010203.00,3351.1234,S,15112.5000,W,2,12,0.7,10.0,M,0.0,M,,");
        let Sentence::Gga(g) = parse_sentence(&s).expect("valid") else {
            panic!("not a GGA");
        };
        assert!(g.latitude.expect("lat") < -33.8);
        assert!(g.longitude.expect("lon") < -151.2);
        assert_eq!(g.quality, 2);
    }

    #[test]
    fn bad_checksum_is_an_error() {
        let e = parse_sentence(&GGA.replace("*47", "*48")).expect_err("bad checksum");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        assert!(e.message.contains("checksum mismatch"), "{e}");
        // A corrupted body with the original checksum fails too.
        assert!(parse_sentence(&GGA.replace("545.4", "545.5")).is_err());
    }

    #[test]
    fn truncated_sentences_are_errors() {
        assert!(parse_sentence("$GPGGA,123519,4807.038,N,011").is_err());
        assert!(
            parse_sentence("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*4")
                .is_err()
        );
        // Checksum valid but fields missing.
        let short = with_checksum("GPGGA,123519,4807.038,N,01131.000,E,1,08");
        let e = parse_sentence(&short).expect_err("short GGA");
        assert!(e.message.contains("truncated"), "{e}");
        let short = with_checksum("GPRMC,123519,A,4807.038,N");
        assert!(parse_sentence(&short).is_err());
        assert!(parse_sentence("GPGGA,no dollar*00").is_err());
    }

    #[test]
    fn malformed_fields_are_errors() {
        for body in [
            "GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
            "GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
            "GPGGA,253519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
            "GPRMC,123519,Q,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W",
            "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,331394,003.1,W",
        ] {
            assert!(parse_sentence(&with_checksum(body)).is_err(), "{body}");
        }
    }

    #[test]
    fn other_sentences_pass_through_after_checksum() {
        let s = with_checksum("GPGSV,1,1,00");
        assert_eq!(
            parse_sentence(&s).expect("valid"),
            Sentence::Other("GPGSV".into())
        );
    }

    #[test]
    fn merged_fix_reading() {
        let mut fix = GpsFix::default();
        assert!(fix.apply(parse_sentence(GGA).expect("gga")));
        assert!(fix.apply(parse_sentence(RMC).expect("rmc")));
        let r = fix.to_reading();
        assert_eq!(r.value("fix"), Some(1.0));
        assert_eq!(r.value("satellites"), Some(8.0));
        assert_eq!(r.value("altitude"), Some(545.4));
        assert!(r.value("speed").expect("speed") > 11.5);
        assert_eq!(r.string("gps_time"), Some("1994-03-23T12:35:19.000Z"));
    }

    #[test]
    fn no_fix_has_no_position() {
        let mut fix = GpsFix::default();
        let s = with_checksum("GPGGA,123520,,,,,0,00,99.9,,M,,M,,");
        fix.apply(parse_sentence(&s).expect("no-fix GGA"));
        let r = fix.to_reading();
        assert_eq!(r.value("fix"), Some(0.0));
        assert_eq!(r.value("latitude"), None);
        assert_eq!(r.value("satellites"), Some(0.0));
    }

    #[tokio::test]
    async fn feeder_and_reader_over_a_stream() {
        let (mut w, r) = tokio::io::duplex(1024);
        let mut gps = NmeaGps::new(r, NmeaConfig::default());
        use tokio::io::AsyncWriteExt;
        w.write_all(b"partial garbage from mid-sentence\r\n")
            .await
            .expect("write");
        w.write_all(format!("{}\r\n", GGA.replace("*47", "*00")).as_bytes())
            .await
            .expect("write");
        w.write_all(format!("{GGA}\r\n{RMC}\r\n").as_bytes())
            .await
            .expect("write");
        let reading = gps.read().await.expect("a fix");
        assert_eq!(reading.value("fix"), Some(1.0));
        assert!(gps.bad_lines() >= 1);
        drop(w);
        // After EOF, the last fix stays readable while it is fresh; the worker has ended.
        assert!(gps.read().await.is_ok());
    }

    #[tokio::test]
    async fn only_bad_data_reports_ebadmsg() {
        let (feeder, mut gps) = NmeaGps::channel(NmeaConfig {
            timeout: Duration::from_millis(50),
            max_age: Duration::from_secs(3),
        });
        assert!(feeder.feed_line(&GGA.replace("*47", "*46")).is_err());
        let e = gps.read().await.expect_err("no valid data");
        assert_eq!(e.code, ErrorCode::Ebadmsg);
        assert!(e.message.contains("checksum"), "{e}");
        feeder.close();
        let e = gps.read().await.expect_err("closed");
        assert_eq!(e.code, ErrorCode::Enodev);
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let (_feeder, mut gps) = NmeaGps::channel(NmeaConfig {
            timeout: Duration::from_millis(20),
            max_age: Duration::from_secs(3),
        });
        let e = gps.read().await.expect_err("silence");
        assert_eq!(e.code, ErrorCode::Etimedout);
    }
}
