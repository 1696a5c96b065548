//! Simulated Modbus RTU slave (tokio-modbus `rtu-server`): an energy meter with a room sensor.
//!
//! Input registers (function 0x04), 32-bit values in the configured word order (default high
//! word first):
//!
//! | address | type | value                              |
//! |---------|------|------------------------------------|
//! | 0-1     | f32  | voltage, V (≈ 230)                 |
//! | 2-3     | f32  | current, A (≈ 4.2)                 |
//! | 4-5     | f32  | active power, W                    |
//! | 6-7     | f32  | frequency, Hz (≈ 50)               |
//! | 8-9     | u32  | energy, Wh (counts up)             |
//!
//! Holding registers (function 0x03; 0x06/0x10 write the setpoint only):
//!
//! | address | type | value                              |
//! |---------|------|------------------------------------|
//! | 0       | i16  | temperature, 0.1 °C                |
//! | 1       | u16  | humidity, 0.1 %RH                  |
//! | 2       | u16  | setpoint, 0.1 °C (writable)        |
//! | 3       | u16  | status (0 = ok)                    |
//!
//! Anything else is answered with exception 0x02 (illegal data address) or 0x01 (illegal
//! function). Requests for other unit ids get no answer, as on a shared RS-485 line.

use std::future::{ready, Ready};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::rng::{Wander, XorShift64};
use crate::drivers::modbus::{encode, ValueType, WordOrder};
use crate::error::{DeviceError, ErrorCode};

/// Number of input registers mapped.
pub const INPUT_REGISTERS: u16 = 10;
/// Number of holding registers mapped.
pub const HOLDING_REGISTERS: u16 = 4;

/// Injected misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModbusFault {
    /// Behaves.
    None,
    /// Every request is answered with exception 0x04 (server device failure).
    Exception,
    /// Never answers (the client must time out).
    Silent,
}

#[derive(Debug)]
struct Meter {
    rng: XorShift64,
    voltage: Wander,
    current: Wander,
    frequency: Wander,
    temperature: Wander,
    humidity: Wander,
    energy_wh: f64,
    setpoint: u16,
    last: Instant,
    word_order: WordOrder,
}

impl Meter {
    fn input_registers(&mut self) -> Vec<u16> {
        let v = self.voltage.sample(&mut self.rng);
        let i = self.current.sample(&mut self.rng);
        let f = self.frequency.sample(&mut self.rng);
        let p = v * i * 0.95;
        let now = Instant::now();
        self.energy_wh += p * now.duration_since(self.last).as_secs_f64() / 3600.0;
        self.last = now;
        let o = self.word_order;
        let mut regs = Vec::with_capacity(usize::from(INPUT_REGISTERS));
        for x in [v, i, p, f] {
            regs.extend(encode(x, ValueType::F32, o));
        }
        regs.extend(encode(self.energy_wh.floor(), ValueType::U32, o));
        regs
    }

    fn holding_registers(&mut self) -> Vec<u16> {
        let t = self.temperature.sample(&mut self.rng);
        let h = self.humidity.sample(&mut self.rng);
        let o = self.word_order;
        let mut regs = encode(t * 10.0, ValueType::I16, o);
        regs.extend(encode(h * 10.0, ValueType::U16, o));
        regs.push(self.setpoint);
        regs.push(0);
        regs
    }
}

/// The simulated slave: a tokio-modbus server `Service`; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct SimModbusSlave {
    unit_id: u8,
    /// Injected fault.
    pub fault: ModbusFault,
    meter: Arc<Mutex<Meter>>,
}

fn window(regs: &[u16], addr: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
    let start = usize::from(addr);
    let end = start + usize::from(count);
    if count == 0 || count > 125 {
        return Err(ExceptionCode::IllegalDataValue);
    }
    regs.get(start..end)
        .map(<[u16]>::to_vec)
        .ok_or(ExceptionCode::IllegalDataAddress)
}

impl SimModbusSlave {
    /// A meter answering as `unit_id`, 32-bit values in `word_order`, noise scaled by `noise`.
    pub fn new(unit_id: u8, word_order: WordOrder, noise: f64, seed: u64) -> Self {
        let meter = Meter {
            rng: XorShift64::new(seed),
            voltage: Wander::new(230.0, 0.15, 0.3, 180.0, 260.0).scaled(noise),
            current: Wander::new(4.2, 0.05, 0.02, 0.0, 63.0).scaled(noise),
            frequency: Wander::new(50.0, 0.002, 0.003, 49.0, 51.0).scaled(noise),
            temperature: Wander::new(21.5, 0.03, 0.02, -40.0, 80.0).scaled(noise),
            humidity: Wander::new(48.0, 0.08, 0.05, 0.0, 100.0).scaled(noise),
            energy_wh: 12_345.0,
            setpoint: 215,
            last: Instant::now(),
            word_order,
        };
        Self {
            unit_id,
            fault: ModbusFault::None,
            meter: Arc::new(Mutex::new(meter)),
        }
    }

    /// Answer one request (no I/O): `Ok(None)` means stay silent.
    pub fn handle(&self, req: &SlaveRequest<'_>) -> Result<Option<Response>, ExceptionCode> {
        let broadcast = req.slave == 0;
        if req.slave != self.unit_id && !broadcast {
            return Ok(None);
        }
        match self.fault {
            ModbusFault::Silent => return Ok(None),
            ModbusFault::Exception if !broadcast => return Err(ExceptionCode::ServerDeviceFailure),
            _ => {}
        }
        let mut m = self
            .meter
            .lock()
            .map_err(|_| ExceptionCode::ServerDeviceFailure)?;
        let response = match &req.request {
            Request::ReadInputRegisters(addr, n) => {
                Response::ReadInputRegisters(window(&m.input_registers(), *addr, *n)?)
            }
            Request::ReadHoldingRegisters(addr, n) => {
                Response::ReadHoldingRegisters(window(&m.holding_registers(), *addr, *n)?)
            }
            Request::WriteSingleRegister(2, value) => {
                m.setpoint = *value;
                Response::WriteSingleRegister(2, *value)
            }
            Request::WriteMultipleRegisters(2, values) if values.len() == 1 => {
                m.setpoint = values[0];
                Response::WriteMultipleRegisters(2, 1)
            }
            Request::WriteSingleRegister(..) | Request::WriteMultipleRegisters(..) => {
                return Err(ExceptionCode::IllegalDataAddress)
            }
            _ => return Err(ExceptionCode::IllegalFunction),
        };
        // Broadcasts are executed but never answered.
        Ok((!broadcast).then_some(response))
    }

    /// Serve requests on `stream` (e.g. a pty) until it closes or fails.
    pub async fn run(self, stream: tokio_serial::SerialStream) -> Result<(), DeviceError> {
        tokio_modbus::server::rtu::Server::new(stream)
            .serve_forever(self)
            .await
            .map_err(|e| {
                DeviceError::new(
                    ErrorCode::Eio,
                    format!("simulated modbus slave stopped: {e}"),
                )
            })
    }
}

impl tokio_modbus::server::Service for SimModbusSlave {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Self::Response, Self::Exception>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        ready(self.handle(&req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::registry::DriverConfig;

    fn req(slave: u8, request: Request<'static>) -> SlaveRequest<'static> {
        SlaveRequest { slave, request }
    }

    #[test]
    fn register_map_and_exceptions_without_io() {
        let s = SimModbusSlave::new(7, WordOrder::HighFirst, 0.0, 1);
        let r = s
            .handle(&req(7, Request::ReadInputRegisters(0, 2)))
            .expect("mapped");
        assert_eq!(r, Some(Response::ReadInputRegisters(vec![0x4366, 0x0000])));
        assert_eq!(
            s.handle(&req(7, Request::ReadInputRegisters(9, 2))),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            s.handle(&req(7, Request::ReadCoils(0, 1))),
            Err(ExceptionCode::IllegalFunction)
        );
        assert_eq!(
            s.handle(&req(8, Request::ReadInputRegisters(0, 2))),
            Ok(None)
        );
        assert_eq!(
            s.handle(&req(7, Request::WriteSingleRegister(2, 230))),
            Ok(Some(Response::WriteSingleRegister(2, 230)))
        );
        let Ok(Some(Response::ReadHoldingRegisters(h))) =
            s.handle(&req(7, Request::ReadHoldingRegisters(0, 4)))
        else {
            panic!("holding registers");
        };
        assert_eq!(h, vec![215, 480, 230, 0]);
    }

    fn meter_config(extra: &str) -> DriverConfig {
        let src = format!(
            r#"unit_id = 5
               timeout_ms = 300
               {extra}
               registers = [
                 {{ name = "voltage", kind = "input", address = 0, type = "f32", unit = "V" }},
                 {{ name = "current", kind = "input", address = 2, type = "f32", unit = "A" }},
                 {{ name = "energy", kind = "input", address = 8, type = "u32", unit = "Wh" }},
                 {{ name = "temperature", kind = "holding", address = 0, type = "i16", scale = 0.1, unit = "°C" }},
               ]"#
        );
        let t: toml::Table = src.parse().expect("toml");
        DriverConfig::parse("modbus", &t).expect("valid config")
    }

    #[tokio::test]
    async fn end_to_end_over_a_pty() {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let server = tokio::spawn(SimModbusSlave::new(5, WordOrder::HighFirst, 0.0, 1).run(master));
        let mut sensor = meter_config("").build_serial(slave).expect("sensor");
        let r = sensor.read().await.expect("reading");
        assert_eq!(r.value("voltage"), Some(230.0));
        assert!((r.value("current").expect("current") - 4.2).abs() < 1e-5);
        assert!(r.value("energy").expect("energy") >= 12_345.0);
        assert_eq!(r.value("temperature"), Some(21.5));
        // A second read on the same link works too.
        assert!(sensor.read().await.is_ok());
        server.abort();
    }

    #[tokio::test]
    async fn exception_is_a_reported_error() {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let mut sim = SimModbusSlave::new(5, WordOrder::HighFirst, 0.0, 1);
        sim.fault = ModbusFault::Exception;
        let server = tokio::spawn(sim.run(master));
        let mut sensor = meter_config("").build_serial(slave).expect("sensor");
        let e = sensor.read().await.expect_err("exception");
        assert_eq!(e.code, ErrorCode::Eio);
        assert!(e.message.contains("exception 0x04"), "{e}");
        server.abort();
    }

    #[tokio::test]
    async fn unmapped_address_and_wrong_unit() {
        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let server = tokio::spawn(SimModbusSlave::new(6, WordOrder::HighFirst, 0.0, 1).run(master));
        // Unit 5 is not on the line: no answer within the timeout.
        let mut sensor = meter_config("").build_serial(slave).expect("sensor");
        let e = sensor.read().await.expect_err("no such unit");
        assert_eq!(e.code, ErrorCode::Etimedout);
        server.abort();

        let (master, slave) = tokio_serial::SerialStream::pair().expect("pty pair");
        let server = tokio::spawn(SimModbusSlave::new(1, WordOrder::HighFirst, 0.0, 1).run(master));
        let t: toml::Table = "registers = [{ name = \"x\", kind = \"input\", address = 50 }]"
            .parse()
            .expect("toml");
        let mut sensor = DriverConfig::parse("modbus", &t)
            .expect("config")
            .build_serial(slave)
            .expect("sensor");
        let e = sensor.read().await.expect_err("unmapped");
        assert!(e.message.contains("exception 0x02"), "{e}");
        server.abort();
    }
}
