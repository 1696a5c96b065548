//! Test-only adapter: an embedded-hal `I2c` bus over one [`SimI2cDevice`], so driver tests can
//! run end to end against the simulated chips without the real sim bus backend.

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};

use super::SimI2cDevice;

/// A NACK seen on the test bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TestBusError(NoAcknowledgeSource);

impl embedded_hal::i2c::Error for TestBusError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::NoAcknowledge(self.0)
    }
}

/// One simulated device at one address.
pub(crate) struct SimBus {
    address: u8,
    device: Box<dyn SimI2cDevice>,
}

impl SimBus {
    pub(crate) fn new(address: u8, device: Box<dyn SimI2cDevice>) -> Self {
        Self { address, device }
    }
}

impl ErrorType for SimBus {
    type Error = TestBusError;
}

impl I2c for SimBus {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        if address != self.address {
            return Err(TestBusError(NoAcknowledgeSource::Address));
        }
        for op in operations {
            match op {
                Operation::Write(data) => self.device.write(data),
                Operation::Read(buf) => self.device.read(buf),
            }
            .map_err(|_| TestBusError(NoAcknowledgeSource::Data))?;
        }
        Ok(())
    }
}

/// A delay that returns at once (simulated chips are ready immediately).
pub(crate) struct NoDelay;

impl embedded_hal::delay::DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}
