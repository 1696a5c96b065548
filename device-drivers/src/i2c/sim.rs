//! A simulated I2C bus hosting register-level [`SimI2cDevice`] models at addresses.
//!
//! Each phase of a transaction reaches the device at the address in order, as the wire would carry
//! it; an address with no device, or a device that refuses a phase, is a NACK (ENXIO).

use std::collections::BTreeMap;

use embedded_hal::i2c::Operation;

use super::{nack_error, I2cTransport};
use crate::error::{DeviceError, ErrorCode};
use crate::sim::SimI2cDevice;

/// A simulated bus: build it, [`attach`](Self::attach) devices, then hand it to
/// [`I2cBus::spawn`](super::I2cBus::spawn).
pub struct SimI2cBus {
    name: String,
    devices: BTreeMap<u8, Box<dyn SimI2cDevice>>,
}

impl SimI2cBus {
    /// An empty bus called `name` (e.g. `sim-i2c-1`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            devices: BTreeMap::new(),
        }
    }

    /// Put `device` at a 7-bit `address` (EINVAL if out of range, EBUSY if taken).
    pub fn attach(
        &mut self,
        address: u8,
        device: Box<dyn SimI2cDevice>,
    ) -> Result<(), DeviceError> {
        if address > 0x7f {
            return Err(DeviceError::new(
                ErrorCode::Einval,
                format!("{}: {address:#04x} is not a 7-bit address", self.name),
            ));
        }
        if self.devices.contains_key(&address) {
            return Err(DeviceError::new(
                ErrorCode::Ebusy,
                format!("{}: address {address:#04x} already has a device", self.name),
            ));
        }
        self.devices.insert(address, device);
        Ok(())
    }

    /// Addresses with a device, ascending (what `i2cdetect` would show).
    pub fn addresses(&self) -> Vec<u8> {
        self.devices.keys().copied().collect()
    }
}

impl I2cTransport for SimI2cBus {
    fn name(&self) -> &str {
        &self.name
    }

    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), DeviceError> {
        let name = &self.name;
        let dev = self
            .devices
            .get_mut(&address)
            .ok_or_else(|| nack_error(name, address))?;
        for op in ops.iter_mut() {
            let r = match op {
                Operation::Write(data) => dev.write(data),
                Operation::Read(buf) => dev.read(buf),
            };
            r.map_err(|_| nack_error(name, address))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimNack;

    struct Refuses;

    impl SimI2cDevice for Refuses {
        fn write(&mut self, _: &[u8]) -> Result<(), SimNack> {
            Err(SimNack)
        }
        fn read(&mut self, _: &mut [u8]) -> Result<(), SimNack> {
            Ok(())
        }
    }

    #[test]
    fn attach_checks_addresses_and_nacks_map_to_enxio() {
        let mut bus = SimI2cBus::new("sim-i2c-3");
        bus.attach(0x44, Box::new(Refuses)).expect("attach");
        assert_eq!(
            bus.attach(0x44, Box::new(Refuses)).map_err(|e| e.code),
            Err(ErrorCode::Ebusy)
        );
        assert_eq!(
            bus.attach(0x90, Box::new(Refuses)).map_err(|e| e.code),
            Err(ErrorCode::Einval)
        );
        assert_eq!(bus.addresses(), vec![0x44]);
        let e = bus
            .transaction(0x44, &mut [Operation::Write(&[1])])
            .expect_err("device NACKs writes");
        assert_eq!(e.code, ErrorCode::Enxio);
        assert!(e.message.contains("sim-i2c-3") && e.message.contains("0x44"));
        let mut b = [0u8; 2];
        assert!(bus
            .transaction(0x44, &mut [Operation::Read(&mut b)])
            .is_ok());
    }
}
