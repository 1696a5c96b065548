//! The one place where Rust errors become JS exceptions, and JS exceptions become log text.
//!
//! TypeError for bad types, RangeError for bad ranges, and an `Error` with a Node-style `code`
//! (`EIO`, `ENXIO`, `EBUSY`, ...) for device and I/O failures.

use ganglion_devices::DeviceError;
use rquickjs::{Ctx, Exception, Object, Type, Value};

/// What a binding can fail with, before it is thrown into JS.
#[derive(Debug, thiserror::Error)]
pub enum JsError {
    /// An argument of the wrong type.
    #[error("{0}")]
    Type(String),
    /// An argument out of range.
    #[error("{0}")]
    Range(String),
    /// A device or I/O failure with a Node-style code.
    #[error("{0}")]
    Device(#[from] DeviceError),
    /// A plain error with a code (e.g. `ERR_MQTT_...`).
    #[error("{message}")]
    Coded {
        /// Node-style code.
        code: String,
        /// Message.
        message: String,
    },
}

impl JsError {
    /// Throw this error into `ctx`; return the value for `?` in a binding.
    pub fn throw(self, ctx: &Ctx<'_>) -> rquickjs::Error {
        match self {
            JsError::Type(m) => Exception::throw_type(ctx, &m),
            JsError::Range(m) => Exception::throw_range(ctx, &m),
            JsError::Device(e) => throw_coded(ctx, e.code.as_str(), &e.message),
            JsError::Coded { code, message } => throw_coded(ctx, &code, &message),
        }
    }

    /// Build (without throwing) the JS error value, e.g. to reject a promise or emit 'error'.
    pub fn to_value<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>> {
        let (ctor, code, message) = match self {
            JsError::Type(m) => ("TypeError", None, m.clone()),
            JsError::Range(m) => ("RangeError", None, m.clone()),
            JsError::Device(e) => ("Error", Some(e.code.as_str().to_owned()), e.message.clone()),
            JsError::Coded { code, message } => ("Error", Some(code.clone()), message.clone()),
        };
        let ctor: rquickjs::Function<'js> = ctx.globals().get(ctor)?;
        let err: Object<'js> = ctor.call((message,))?;
        if let Some(code) = code {
            err.set("code", code)?;
        }
        Ok(err.into_value())
    }
}

/// Throw an `Error` with a `code` property.
pub fn throw_coded(ctx: &Ctx<'_>, code: &str, message: &str) -> rquickjs::Error {
    match Exception::from_message(ctx.clone(), message) {
        Ok(ex) => {
            let _ = ex.as_object().set("code", code);
            ex.throw()
        }
        Err(e) => e,
    }
}

/// What JS's `typeof` says of `v`: for messages that must read as the module's JS ones do
/// (rquickjs's own type names say "bool", "int", "null", "array").
pub fn type_of(v: &Value<'_>) -> &'static str {
    match v.type_of() {
        Type::Undefined | Type::Uninitialized => "undefined",
        Type::Bool => "boolean",
        Type::Int | Type::Float => "number",
        Type::String => "string",
        Type::Symbol => "symbol",
        Type::BigInt => "bigint",
        _ if v.is_function() => "function",
        _ => "object",
    }
}

/// Render a caught JS value (usually an Error) as `Name: message [code]` plus its stack.
pub fn describe(value: &Value<'_>) -> String {
    if let Some(obj) = value.as_object() {
        let name: Option<String> = obj.get("name").ok();
        let message: Option<String> = obj.get("message").ok();
        if let Some(message) = message {
            let mut out = format!("{}: {message}", name.unwrap_or_else(|| "Error".into()));
            if let Ok(Some(code)) = obj.get::<_, Option<String>>("code") {
                out.push_str(&format!(" [code: {code}]"));
            }
            if let Ok(stack) = obj.get::<_, String>("stack") {
                let stack = stack.trim_end();
                if !stack.is_empty() {
                    out.push('\n');
                    out.push_str(stack);
                }
            }
            return out;
        }
    }
    if let Some(s) = value.as_string().and_then(|s| s.to_string().ok()) {
        return s;
    }
    format!("{value:?}")
}

/// Render an error returned by an rquickjs call, taking the pending exception if there is one.
pub fn describe_error(ctx: &Ctx<'_>, err: &rquickjs::Error) -> String {
    if matches!(err, rquickjs::Error::Exception) {
        describe(&ctx.catch())
    } else {
        err.to_string()
    }
}
