//! Simulated devices, modelled at register or wire level, so the real drivers run against them.
//!
//! The simulated I2C bus (`crate::i2c::sim`) hosts any [`SimI2cDevice`] at an address; simulated
//! serial devices talk over a real pseudo-terminal (`crate::serial::sim`).

/// The simulated device did not acknowledge (models an I2C NACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimNack;

/// A device on a simulated I2C bus, modelled at register level.
///
/// The bus calls `write` for each write phase (the first byte is usually a register pointer) and
/// `read` for each read phase of a transaction, in order, exactly as the wire would carry them.
pub trait SimI2cDevice: Send {
    /// The master wrote `data` to this device.
    fn write(&mut self, data: &[u8]) -> Result<(), SimNack>;
    /// The master reads `buf.len()` bytes from this device.
    fn read(&mut self, buf: &mut [u8]) -> Result<(), SimNack>;
}
