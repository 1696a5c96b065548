//! Seeded randomness for simulated devices: a xorshift64* generator and a drifting, noisy
//! quantity. Deterministic per seed, so tests can assert on simulated values.

/// xorshift64* pseudo-random generator (Vigna 2016): tiny, fast, good enough for sensor noise.
#[derive(Debug, Clone)]
pub struct XorShift64(u64);

impl XorShift64 {
    /// A generator from `seed` (0 is replaced by a fixed non-zero constant).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fill `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// A quantity that wanders slowly around a base value (mean-reverting random walk) with
/// measurement noise on top, clamped to a physical range. One step per sample.
#[derive(Debug, Clone)]
pub struct Wander {
    /// Centre value.
    pub base: f64,
    offset: f64,
    /// Drift step standard deviation per sample.
    pub drift: f64,
    /// Measurement noise standard deviation.
    pub noise: f64,
    /// Fraction of the offset pulled back to `base` each sample.
    pub revert: f64,
    /// Lowest value produced.
    pub min: f64,
    /// Highest value produced.
    pub max: f64,
}

impl Wander {
    /// `base` with drift step `drift` and noise `noise`, clamped to `min..=max`. The stationary
    /// spread of the drift is about `drift / sqrt(2 * revert)` (revert 0.005).
    pub fn new(base: f64, drift: f64, noise: f64, min: f64, max: f64) -> Self {
        Self {
            base,
            offset: 0.0,
            drift,
            noise,
            revert: 0.005,
            min,
            max,
        }
    }

    /// Multiply drift and noise by `k` (0 gives exactly `base` every time).
    pub fn scaled(mut self, k: f64) -> Self {
        self.drift *= k;
        self.noise *= k;
        self
    }

    /// Advance one step and return the observed value.
    pub fn sample(&mut self, rng: &mut XorShift64) -> f64 {
        if self.drift == 0.0 && self.noise == 0.0 {
            return self.base.clamp(self.min, self.max);
        }
        self.offset = self.offset * (1.0 - self.revert) + self.drift * rng.gaussian();
        (self.base + self.offset + self.noise * rng.gaussian()).clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_seed_and_in_range() {
        let mut a = XorShift64::new(7);
        let mut b = XorShift64::new(7);
        let mut c = XorShift64::new(8);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], c.next_u64());
        for _ in 0..1000 {
            let f = a.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }

    #[test]
    fn wander_stays_near_base_and_in_range() {
        let mut rng = XorShift64::new(1);
        let mut w = Wander::new(20.0, 0.05, 0.02, 15.0, 25.0);
        let samples: Vec<f64> = (0..5000).map(|_| w.sample(&mut rng)).collect();
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((mean - 20.0).abs() < 1.0, "{mean}");
        assert!(samples.iter().all(|v| (15.0..=25.0).contains(v)));
        assert!(samples.windows(2).any(|p| p[0] != p[1]), "values vary");
        let mut exact = Wander::new(20.0, 0.05, 0.02, 15.0, 25.0).scaled(0.0);
        assert_eq!(exact.sample(&mut rng), 20.0);
    }
}
