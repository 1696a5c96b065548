//! The workload of bench/workload/common.mjs in plain Rust: the same PRNG, readings, handler
//! (°C → °F, every tenth reading dropped) and JSON bytes. The ceiling publishes these, and the
//! verifying subscriber checks every runtime's messages against them byte for byte.

/// Simulated sensors (`SENSORS` in common.mjs).
pub const SENSORS: u64 = 4;
/// PRNG seed (`SEED`).
pub const SEED: u32 = 0x5eed;
/// Timestamp of reading 0 in ms (`T0`).
pub const T0: u64 = 1_763_884_800_000;

/// mulberry32, bit for bit as in common.mjs (Math.imul and `>>>` are wrapping u32 ops).
pub struct Mulberry32(u32);

impl Mulberry32 {
    /// A generator at `seed`.
    pub fn new(seed: u32) -> Self {
        Mulberry32(seed)
    }

    /// The next 32-bit value.
    pub fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x6d2b_79f5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        t ^ (t >> 14)
    }
}

/// One BME280-like reading.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// Sequence number from 0; the sensor is `seq % SENSORS`, the time `T0 + 10 ms × seq`.
    pub seq: u64,
    /// °C, 0.01 steps, -10 to 49.99.
    pub temperature: f64,
    /// %RH, 0.01 steps.
    pub humidity: f64,
    /// hPa, 0.01 steps, 900 to 1099.99.
    pub pressure: f64,
}

impl Reading {
    /// `bme280-<seq % SENSORS>`.
    pub fn sensor(&self) -> String {
        format!("bme280-{}", self.seq % SENSORS)
    }
}

/// The readings of `readings()` in common.mjs, in order.
pub struct Readings {
    rng: Mulberry32,
    seq: u64,
}

impl Readings {
    /// From reading 0 with the shared seed.
    pub fn new() -> Self {
        Readings {
            rng: Mulberry32::new(SEED),
            seq: 0,
        }
    }
}

impl Iterator for Readings {
    type Item = Reading;

    fn next(&mut self) -> Option<Reading> {
        let seq = self.seq;
        self.seq += 1;
        // Object-literal order in JS: temperature, humidity, pressure.
        let temperature = (f64::from(self.rng.next_u32() % 6000) - 1000.0) / 100.0;
        let humidity = f64::from(self.rng.next_u32() % 10000) / 100.0;
        let pressure = f64::from(90000 + self.rng.next_u32() % 20000) / 100.0;
        Some(Reading {
            seq,
            temperature,
            humidity,
            pressure,
        })
    }
}

/// ECMAScript `Math.round`: the nearest integer, ties towards +∞ (exact for |x| < 2^52).
pub fn js_round(x: f64) -> f64 {
    let f = x.floor();
    if x - f >= 0.5 {
        f + 1.0
    } else {
        f
    }
}

/// ECMAScript Number-to-string for the finite values the workload produces (no exponents in
/// this range; Rust's shortest round-trip digits are JavaScript's). `-0` prints as `0`.
pub fn js_number(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else {
        format!("{x}")
    }
}

/// The user's handler: `(topic, payload)` for the `count`th reading (from 1), or None when it
/// is one of the dropped tenths.
pub fn handle(count: u64, r: &Reading) -> Option<(String, String)> {
    if count.is_multiple_of(10) {
        return None;
    }
    let fahrenheit = js_round((r.temperature * 9.0 / 5.0 + 32.0) * 100.0) / 100.0;
    let sensor = r.sensor();
    let payload = format!(
        "{{\"sensor\":\"{sensor}\",\"seq\":{},\"time\":{},\"temperature_f\":{},\"humidity\":{},\"pressure\":{}}}",
        r.seq,
        T0 + r.seq * 10,
        js_number(fahrenheit),
        js_number(r.humidity),
        js_number(r.pressure)
    );
    Some((format!("bench/{sensor}"), payload))
}

/// Every message the handler publishes for `n` readings, in order.
pub fn messages(n: u64) -> impl Iterator<Item = (String, String)> {
    Readings::new()
        .take(usize::try_from(n).unwrap_or(usize::MAX))
        .enumerate()
        .filter_map(|(i, r)| handle(i as u64 + 1, &r))
}

/// Messages for `n` readings (`messagesFor` in common.mjs).
pub fn messages_for(n: u64) -> u64 {
    n - n / 10
}

/// The end marker of a QoS 0 run (`readEnd` in common.mjs): topic and payload of the QoS 1
/// message whose PUBACK says the broker has read the whole run.
pub fn read_end(run: &str) -> (String, &'static str) {
    (format!("bench/end/{run}"), "end")
}

/// The edge handler's payload (`makeEdgeHandler`).
pub fn edge_payload(seq: u64, edge_ns: u64, js_ns: u64) -> String {
    format!("{{\"seq\":{seq},\"edge\":{edge_ns},\"js\":{js_ns}}}")
}

/// FNV-1a over topic, a NUL and payload: how the subscriber recognises a message.
pub fn digest(topic: &[u8], payload: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in topic.iter().chain(&[0u8]).chain(payload) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
