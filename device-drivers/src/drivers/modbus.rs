//! Modbus RTU over a serial stream with tokio-modbus: registers mapped in the config (holding or
//! input, address, type u16/i16/u32/i32/f32, word order, scale, unit). Contiguous registers are
//! fetched in one request. A Modbus exception is a reported `EIO` error, never a value.
//!
//! Values: one per mapped register, named and scaled as configured (`raw * scale`, in the
//! register's `unit`).
//!
//! Options:
//! ```toml
//! unit_id = 1            # Modbus slave address 1..=247
//! timeout_ms = 1000      # per request
//! registers = [
//!   { name = "voltage", kind = "input", address = 0, type = "f32", unit = "V" },
//!   { name = "temperature", kind = "holding", address = 0, type = "i16", scale = 0.1, unit = "°C" },
//! ]
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_modbus::client::Reader;
use tokio_modbus::Slave;

use super::options::Opts;
use super::registry::ConfigError;
use super::{Reading, Sensor};
use crate::error::{DeviceError, ErrorCode};

/// Most registers one read request may ask for (Modbus application protocol §6.3).
pub const MAX_REGISTERS_PER_READ: u16 = 125;

/// Which register table a value lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RegisterKind {
    /// Holding registers, function 0x03.
    Holding,
    /// Input registers, function 0x04.
    Input,
}

impl RegisterKind {
    fn label(self) -> &'static str {
        match self {
            RegisterKind::Holding => "holding",
            RegisterKind::Input => "input",
        }
    }
}

/// How register words encode a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// One word, unsigned.
    U16,
    /// One word, two's complement.
    I16,
    /// Two words, unsigned.
    U32,
    /// Two words, two's complement.
    I32,
    /// Two words, IEEE 754 single precision.
    F32,
}

impl ValueType {
    /// Number of 16-bit registers the value occupies.
    pub fn words(self) -> u16 {
        match self {
            ValueType::U16 | ValueType::I16 => 1,
            _ => 2,
        }
    }
}

/// Order of the two words of a 32-bit value (bytes within a word are always big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordOrder {
    /// High word at the lower address ("big", ABCD): the Modbus convention.
    HighFirst,
    /// Low word at the lower address ("little", CDAB): common on some meters.
    LowFirst,
}

/// One mapped value.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterSpec {
    /// Value name in readings.
    pub name: String,
    /// Register table.
    pub kind: RegisterKind,
    /// First register address (0-based, as on the wire).
    pub address: u16,
    /// Encoding.
    pub value_type: ValueType,
    /// Word order of 32-bit types.
    pub word_order: WordOrder,
    /// Multiplier applied to the decoded number.
    pub scale: f64,
    /// Unit of the scaled value (documentation only).
    pub unit: String,
}

/// Validated options of the `modbus` driver.
#[derive(Debug, Clone, PartialEq)]
pub struct ModbusConfig {
    /// Slave address (1..=247).
    pub unit_id: u8,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Mapped values, in reading order.
    pub registers: Vec<RegisterSpec>,
}

impl ModbusConfig {
    /// Parse `unit_id`, `timeout_ms` and the `registers` array.
    pub(crate) fn parse(o: &mut Opts<'_>) -> Result<Self, ConfigError> {
        let unit_id = o.int("unit_id", 1, 1, 247)? as u8;
        let timeout = Duration::from_millis(o.int("timeout_ms", 1000, 10, 60_000)? as u64);
        let list = match o.get("registers") {
            Some(toml::Value::Array(a)) if !a.is_empty() => a,
            Some(v) => {
                return Err(o.error(
                    "registers",
                    format!("expected a non-empty array of tables, got {v}"),
                ))
            }
            None => return Err(o.error("registers", "is required: map at least one register")),
        };
        let mut registers: Vec<RegisterSpec> = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let prefix = format!("registers[{i}]");
            let table = item.as_table().ok_or_else(|| {
                o.error(
                    &prefix,
                    format!("expected a table like {{ name = \"v\", address = 0 }}, got {item}"),
                )
            })?;
            let spec = parse_register(prefix, table)?;
            if registers.iter().any(|r| r.name == spec.name) {
                return Err(o.error(
                    &format!("registers[{i}].name"),
                    format!("duplicate value name \"{}\"", spec.name),
                ));
            }
            registers.push(spec);
        }
        Ok(Self {
            unit_id,
            timeout,
            registers,
        })
    }
}

fn parse_register(prefix: String, table: &toml::Table) -> Result<RegisterSpec, ConfigError> {
    let driver = "modbus";
    let mut o = Opts::nested(driver, prefix, table);
    let name = o
        .opt_str("name")?
        .ok_or_else(|| o.error("name", "is required"))?
        .to_string();
    let ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident || name == "sensor" || name == "driver" || name == "time" {
        return Err(o.error(
            "name",
            format!(
                "\"{name}\" must be an identifier (letters, digits, _) and not sensor/driver/time"
            ),
        ));
    }
    let kind = match o.choice("kind", "holding", &["holding", "input"])? {
        "input" => RegisterKind::Input,
        _ => RegisterKind::Holding,
    };
    let address = o.int("address", -1, 0, 65535)?;
    if address < 0 {
        return Err(o.error("address", "is required"));
    }
    let value_type = match o.choice("type", "u16", &["u16", "i16", "u32", "i32", "f32"])? {
        "i16" => ValueType::I16,
        "u32" => ValueType::U32,
        "i32" => ValueType::I32,
        "f32" => ValueType::F32,
        _ => ValueType::U16,
    };
    if address + i64::from(value_type.words()) - 1 > 65535 {
        return Err(o.error("address", "value runs past register 65535"));
    }
    let word_order = match o.choice("word_order", "big", &["big", "little"])? {
        "little" => WordOrder::LowFirst,
        _ => WordOrder::HighFirst,
    };
    let scale = o.f64("scale", 1.0)?;
    let unit = o.opt_str("unit")?.unwrap_or("").to_string();
    o.finish()?;
    Ok(RegisterSpec {
        name,
        kind,
        address: address as u16,
        value_type,
        word_order,
        scale,
        unit,
    })
}

/// Decode `words` (length `value_type.words()`) into a number (before scaling).
pub fn decode(words: &[u16], value_type: ValueType, order: WordOrder) -> f64 {
    let w = |i: usize| words.get(i).copied().unwrap_or(0);
    let pair = || -> u32 {
        let (hi, lo) = match order {
            WordOrder::HighFirst => (w(0), w(1)),
            WordOrder::LowFirst => (w(1), w(0)),
        };
        (u32::from(hi) << 16) | u32::from(lo)
    };
    match value_type {
        ValueType::U16 => f64::from(w(0)),
        ValueType::I16 => f64::from(w(0) as i16),
        ValueType::U32 => f64::from(pair()),
        ValueType::I32 => f64::from(pair() as i32),
        ValueType::F32 => f64::from(f32::from_bits(pair())),
    }
}

/// Encode a raw (unscaled) number into register words: the inverse of [`decode`], saturating
/// at the type's range. Used by the simulated slave.
pub fn encode(value: f64, value_type: ValueType, order: WordOrder) -> Vec<u16> {
    let split = |v: u32| -> Vec<u16> {
        let (hi, lo) = ((v >> 16) as u16, v as u16);
        match order {
            WordOrder::HighFirst => vec![hi, lo],
            WordOrder::LowFirst => vec![lo, hi],
        }
    };
    match value_type {
        ValueType::U16 => vec![value.round().clamp(0.0, 65535.0) as u16],
        ValueType::I16 => vec![value.round().clamp(-32768.0, 32767.0) as i16 as u16],
        ValueType::U32 => split(value.round().clamp(0.0, f64::from(u32::MAX)) as u32),
        ValueType::I32 => split(
            value
                .round()
                .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32 as u32,
        ),
        ValueType::F32 => split((value as f32).to_bits()),
    }
}

/// One read request covering several mapped values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBlock {
    /// Register table.
    pub kind: RegisterKind,
    /// First register.
    pub start: u16,
    /// Number of registers.
    pub count: u16,
    /// Indices into the register list whose words lie inside this block.
    pub fields: Vec<usize>,
}

/// Group mapped values into as few requests as possible: contiguous or overlapping registers of
/// the same table, at most [`MAX_REGISTERS_PER_READ`] per request. Gaps are not bridged (a slave
/// may answer an unmapped address with an exception).
pub fn plan_reads(registers: &[RegisterSpec]) -> Vec<ReadBlock> {
    let mut order: Vec<usize> = (0..registers.len()).collect();
    order.sort_by_key(|&i| (registers[i].kind, registers[i].address));
    let mut blocks: Vec<ReadBlock> = Vec::new();
    for i in order {
        let r = &registers[i];
        let start = u32::from(r.address);
        let end = start + u32::from(r.value_type.words());
        if let Some(b) = blocks.last_mut() {
            let b_start = u32::from(b.start);
            let b_end = b_start + u32::from(b.count);
            let new_end = b_end.max(end);
            if b.kind == r.kind
                && start <= b_end
                && new_end - b_start <= u32::from(MAX_REGISTERS_PER_READ)
            {
                b.count = (new_end - b_start) as u16;
                b.fields.push(i);
                continue;
            }
        }
        blocks.push(ReadBlock {
            kind: r.kind,
            start: r.address,
            count: r.value_type.words(),
            fields: vec![i],
        });
    }
    blocks
}

/// Build a reading from each block's words (same order as `plan`).
pub fn decode_blocks(
    registers: &[RegisterSpec],
    plan: &[ReadBlock],
    words: &[Vec<u16>],
) -> Result<Reading, DeviceError> {
    let mut values: Vec<Option<f64>> = vec![None; registers.len()];
    for (block, data) in plan.iter().zip(words) {
        if data.len() < usize::from(block.count) {
            return Err(DeviceError::new(
                ErrorCode::Ebadmsg,
                format!(
                    "modbus: asked for {} {} registers at {}, got {}",
                    block.count,
                    block.kind.label(),
                    block.start,
                    data.len()
                ),
            ));
        }
        for &i in &block.fields {
            let r = &registers[i];
            let off = usize::from(r.address - block.start);
            let n = usize::from(r.value_type.words());
            values[i] = Some(decode(&data[off..off + n], r.value_type, r.word_order) * r.scale);
        }
    }
    let mut reading = Reading::new("modbus");
    for (r, v) in registers.iter().zip(values) {
        if let Some(v) = v {
            reading.push(r.name.clone(), v);
        }
    }
    Ok(reading)
}

/// Stream wrapper that throws away unread input before every write. RTU has no transaction ids:
/// a reply that arrives after its request timed out would otherwise be taken as the reply to the
/// next request (same unit, same function), giving wrong values. RTU is half-duplex, so nothing
/// valid can be waiting when a new request goes out.
struct DiscardStaleInput<S> {
    inner: S,
}

impl<S: AsyncRead + Unpin> DiscardStaleInput<S> {
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut scratch = [0u8; 256];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    tracing::debug!(bytes = buf.filled().len(), "modbus: discarded stale input");
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for DiscardStaleInput<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for DiscardStaleInput<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_discard(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Modbus RTU sensor over any async byte stream (a serial port).
pub struct ModbusRtu {
    ctx: tokio_modbus::client::Context,
    config: ModbusConfig,
    plan: Vec<ReadBlock>,
}

impl ModbusRtu {
    /// Attach to the slave `config.unit_id` on `stream`.
    pub fn new<S>(stream: S, config: ModbusConfig) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let stream = DiscardStaleInput { inner: stream };
        let ctx = tokio_modbus::client::rtu::attach_slave(stream, Slave(config.unit_id));
        let plan = plan_reads(&config.registers);
        Self { ctx, config, plan }
    }

    async fn read_block(&mut self, block: &ReadBlock) -> Result<Vec<u16>, DeviceError> {
        let unit = self.config.unit_id;
        let what = format!(
            "modbus unit {unit}: reading {} {} register(s) at {}",
            block.count,
            block.kind.label(),
            block.start
        );
        let timeout = self.config.timeout;
        let ctx = &mut self.ctx;
        let call = async {
            match block.kind {
                RegisterKind::Holding => ctx.read_holding_registers(block.start, block.count).await,
                RegisterKind::Input => ctx.read_input_registers(block.start, block.count).await,
            }
        };
        match tokio::time::timeout(timeout, call).await {
            Err(_) => Err(DeviceError::new(
                ErrorCode::Etimedout,
                format!("{what}: no response in {} ms", timeout.as_millis()),
            )),
            Ok(Err(tokio_modbus::Error::Transport(e))) => {
                let mut err = DeviceError::from_io(&what, &e);
                if e.kind() == std::io::ErrorKind::InvalidData {
                    err.code = ErrorCode::Ebadmsg;
                }
                Err(err)
            }
            Ok(Err(tokio_modbus::Error::Protocol(e))) => {
                Err(DeviceError::new(ErrorCode::Ebadmsg, format!("{what}: {e}")))
            }
            Ok(Ok(Err(exception))) => Err(DeviceError::new(
                ErrorCode::Eio,
                format!(
                    "{what}: modbus exception {:#04x} ({exception})",
                    u8::from(exception)
                ),
            )),
            Ok(Ok(Ok(words))) => Ok(words),
        }
    }

    async fn read_inner(&mut self) -> Result<Reading, DeviceError> {
        let plan = self.plan.clone();
        let mut words = Vec::with_capacity(plan.len());
        for block in &plan {
            words.push(self.read_block(block).await?);
        }
        decode_blocks(&self.config.registers, &plan, &words)
    }
}

impl Sensor for ModbusRtu {
    fn driver(&self) -> &'static str {
        "modbus"
    }

    fn read(&mut self) -> BoxFuture<'_, Result<Reading, DeviceError>> {
        Box::pin(self.read_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: RegisterKind, address: u16, t: ValueType) -> RegisterSpec {
        RegisterSpec {
            name: name.into(),
            kind,
            address,
            value_type: t,
            word_order: WordOrder::HighFirst,
            scale: 1.0,
            unit: String::new(),
        }
    }

    #[tokio::test]
    async fn stale_input_is_discarded_before_a_request() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, mut far) = tokio::io::duplex(64);
        let mut s = DiscardStaleInput { inner: near };
        far.write_all(b"late reply").await.expect("write");
        tokio::task::yield_now().await;
        s.write_all(b"request").await.expect("request");
        let mut got = [0u8; 7];
        far.read_exact(&mut got).await.expect("request arrives");
        assert_eq!(&got, b"request");
        far.write_all(b"fresh").await.expect("write");
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.expect("reply");
        assert_eq!(&got, b"fresh", "the late reply was dropped");
    }

    #[test]
    fn decode_types_and_word_orders() {
        assert_eq!(
            decode(&[0xFFFF], ValueType::U16, WordOrder::HighFirst),
            65535.0
        );
        assert_eq!(
            decode(&[0xFFFF], ValueType::I16, WordOrder::HighFirst),
            -1.0
        );
        assert_eq!(
            decode(&[0x0001, 0x0002], ValueType::U32, WordOrder::HighFirst),
            65538.0
        );
        assert_eq!(
            decode(&[0x0002, 0x0001], ValueType::U32, WordOrder::LowFirst),
            65538.0
        );
        assert_eq!(
            decode(&[0xFFFF, 0xFFFE], ValueType::I32, WordOrder::HighFirst),
            -2.0
        );
        // 230.5 as f32 = 0x43668000
        assert_eq!(
            decode(&[0x4366, 0x8000], ValueType::F32, WordOrder::HighFirst),
            230.5
        );
        assert_eq!(
            decode(&[0x8000, 0x4366], ValueType::F32, WordOrder::LowFirst),
            230.5
        );
    }

    #[test]
    fn encode_inverts_decode() {
        for (v, t) in [
            (-123.0, ValueType::I16),
            (40_000.0, ValueType::U16),
            (3_000_000_000.0, ValueType::U32),
            (-7.0, ValueType::I32),
            (49.95, ValueType::F32),
        ] {
            for order in [WordOrder::HighFirst, WordOrder::LowFirst] {
                let w = encode(v, t, order);
                assert_eq!(w.len(), usize::from(t.words()));
                let back = decode(&w, t, order);
                assert!((back - v).abs() < 1e-3, "{t:?} {order:?}: {v} -> {back}");
            }
        }
        assert_eq!(encode(-5.0, ValueType::U16, WordOrder::HighFirst), vec![0]);
    }

    #[test]
    fn plan_merges_contiguous_same_table_only() {
        let regs = vec![
            spec("c", RegisterKind::Input, 4, ValueType::F32),
            spec("a", RegisterKind::Input, 0, ValueType::F32),
            spec("b", RegisterKind::Input, 2, ValueType::F32),
            spec("far", RegisterKind::Input, 100, ValueType::U16),
            spec("t", RegisterKind::Holding, 0, ValueType::I16),
            spec("h", RegisterKind::Holding, 1, ValueType::U16),
        ];
        let plan = plan_reads(&regs);
        assert_eq!(plan.len(), 3, "{plan:?}");
        assert_eq!(
            (plan[0].kind, plan[0].start, plan[0].count),
            (RegisterKind::Holding, 0, 2)
        );
        assert_eq!((plan[1].start, plan[1].count), (0, 6));
        assert_eq!(plan[1].fields, vec![1, 2, 0]);
        assert_eq!((plan[2].start, plan[2].count), (100, 1));

        let many: Vec<_> = (0..130u16)
            .map(|i| spec(&format!("r{i}"), RegisterKind::Holding, i, ValueType::U16))
            .collect();
        let plan = plan_reads(&many);
        assert_eq!(
            plan.iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![125, 5]
        );
    }

    #[test]
    fn decode_blocks_scales_and_keeps_config_order() {
        let mut t = spec("temperature", RegisterKind::Holding, 0, ValueType::I16);
        t.scale = 0.1;
        let regs = vec![spec("v", RegisterKind::Input, 0, ValueType::U16), t];
        let plan = plan_reads(&regs);
        let words: Vec<Vec<u16>> = plan
            .iter()
            .map(|b| match b.kind {
                RegisterKind::Holding => vec![(-215i16) as u16],
                RegisterKind::Input => vec![230],
            })
            .collect();
        let r = decode_blocks(&regs, &plan, &words).expect("decoded");
        assert_eq!(r.values[0], ("v".to_string(), 230.0));
        assert_eq!(r.values[1].0, "temperature");
        assert!((r.values[1].1 + 21.5).abs() < 1e-9);
        let short = decode_blocks(&regs, &plan, &[vec![], vec![]]).expect_err("short answer");
        assert_eq!(short.code, ErrorCode::Ebadmsg);
    }

    #[test]
    fn options_name_the_register_field() {
        let t: toml::Table = r#"
            unit_id = 3
            registers = [
              { name = "voltage", kind = "input", address = 0, type = "f32", unit = "V" },
              { name = "temp", address = 10, type = "i16", scale = 0.1, word_order = "little" },
            ]"#
        .parse()
        .expect("toml");
        let mut o = Opts::new("modbus", &t);
        let c = ModbusConfig::parse(&mut o).expect("valid");
        o.finish().expect("known");
        assert_eq!(c.unit_id, 3);
        assert_eq!(c.registers[1].kind, RegisterKind::Holding);
        assert_eq!(c.registers[0].unit, "V");

        for (src, key) in [
            ("registers = []", "registers"),
            ("registers = [{ address = 0 }]", "registers[0].name"),
            ("registers = [{ name = \"a\" }]", "registers[0].address"),
            (
                "registers = [{ name = \"a\", address = 0, type = \"u64\" }]",
                "registers[0].type",
            ),
            (
                "registers = [{ name = \"a\", address = 65535, type = \"f32\" }]",
                "registers[0].address",
            ),
            (
                "registers = [{ name = \"a\", address = 0, colour = 1 }]",
                "registers[0].colour",
            ),
            (
                "registers = [{ name = \"a b\", address = 0 }]",
                "registers[0].name",
            ),
            (
                "registers = [{ name = \"a\", address = 0 }, { name = \"a\", address = 1 }]",
                "registers[1].name",
            ),
            (
                "unit_id = 0\nregisters = [{ name = \"a\", address = 0 }]",
                "unit_id",
            ),
        ] {
            let t: toml::Table = src.parse().expect("toml");
            let mut o = Opts::new("modbus", &t);
            let e = ModbusConfig::parse(&mut o).expect_err(src);
            assert_eq!(e.option.as_deref(), Some(key), "{src}: {e}");
        }
    }
}
