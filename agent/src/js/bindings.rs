//! Registration point for the subsystem bindings: each adds its native functions to the
//! `native` object the built-in JS modules use. One line per binding.

use std::rc::Rc;

use rquickjs::{Ctx, Object};

use super::{ScriptOptions, Shared};

#[path = "bind_io/mod.rs"]
mod bind_io;
#[path = "bind_mqtt.rs"]
mod bind_mqtt;
#[path = "bind_sensors.rs"]
mod bind_sensors;

/// Install every binding's native functions on `native`.
pub fn install<'js>(
    ctx: &Ctx<'js>,
    native: &Object<'js>,
    shared: &Rc<Shared>,
    opts: &ScriptOptions,
) -> rquickjs::Result<()> {
    bind_io::install(ctx, native, shared, opts)?;
    bind_mqtt::install(ctx, native, shared, opts)?;
    bind_sensors::install(ctx, native, shared, opts)?;
    Ok(())
}
