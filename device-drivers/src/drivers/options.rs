//! Typed access to a driver's (or simulated device's) options table, with errors that name the
//! option, and a check that no unknown option was given (a typo must not be silently ignored).

use super::registry::ConfigError;

/// Reads options out of one TOML table, remembering which keys were used.
pub(crate) struct Opts<'a> {
    driver: &'a str,
    prefix: String,
    table: &'a toml::Table,
    seen: Vec<&'a str>,
}

impl<'a> Opts<'a> {
    /// Options of `driver` (used in error messages).
    pub(crate) fn new(driver: &'a str, table: &'a toml::Table) -> Self {
        Self {
            driver,
            prefix: String::new(),
            table,
            seen: Vec::new(),
        }
    }

    /// Options of a nested table, named `prefix` in errors (e.g. `registers[2]`).
    pub(crate) fn nested(driver: &'a str, prefix: String, table: &'a toml::Table) -> Self {
        Self {
            driver,
            prefix,
            table,
            seen: Vec::new(),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// An error about option `key`.
    pub(crate) fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            driver: self.driver.to_string(),
            option: Some(self.path(key)),
            message: message.into(),
        }
    }

    /// The raw value of `key`, marking it used.
    pub(crate) fn get(&mut self, key: &'a str) -> Option<&'a toml::Value> {
        self.seen.push(key);
        self.table.get(key)
    }

    /// A number (integer or float), or `default` when absent.
    pub(crate) fn f64(&mut self, key: &'a str, default: f64) -> Result<f64, ConfigError> {
        Ok(self.opt_f64(key)?.unwrap_or(default))
    }

    /// A number (integer or float), if present.
    pub(crate) fn opt_f64(&mut self, key: &'a str) -> Result<Option<f64>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
            Some(v) => Err(self.error(key, format!("expected a number, got {v}"))),
        }
    }

    /// An integer in `min..=max`, or `default` when absent.
    pub(crate) fn int(
        &mut self,
        key: &'a str,
        default: i64,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(i)) if (min..=max).contains(i) => Ok(*i),
            Some(toml::Value::Integer(i)) => {
                Err(self.error(key, format!("expected {min}..={max}, got {i}")))
            }
            Some(v) => Err(self.error(key, format!("expected an integer, got {v}"))),
        }
    }

    /// An integer that must be one of `allowed`, or `default` when absent.
    pub(crate) fn int_choice(
        &mut self,
        key: &'a str,
        default: i64,
        allowed: &[i64],
    ) -> Result<i64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(i)) if allowed.contains(i) => Ok(*i),
            Some(v) => Err(self.error(
                key,
                format!("expected one of {}, got {v}", join(allowed.iter())),
            )),
        }
    }

    /// A string, if present.
    pub(crate) fn opt_str(&mut self, key: &'a str) -> Result<Option<&'a str>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(self.error(key, format!("expected a string, got {v}"))),
        }
    }

    /// A string that must be one of `allowed`, or `default` when absent.
    pub(crate) fn choice(
        &mut self,
        key: &'a str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::String(s)) => allowed
                .iter()
                .find(|a| **a == s.as_str())
                .copied()
                .ok_or_else(|| {
                    self.error(
                        key,
                        format!("expected one of {}, got \"{s}\"", join(allowed.iter())),
                    )
                }),
            Some(v) => Err(self.error(
                key,
                format!("expected one of {}, got {v}", join(allowed.iter())),
            )),
        }
    }

    /// A boolean, or `default` when absent.
    pub(crate) fn bool(&mut self, key: &'a str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(self.error(key, format!("expected true or false, got {v}"))),
        }
    }

    /// Fail if the table holds a key nobody asked for.
    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        let mut unknown: Vec<&String> = self
            .table
            .keys()
            .filter(|k| !self.seen.contains(&k.as_str()))
            .collect();
        unknown.sort();
        match unknown.first() {
            None => Ok(()),
            Some(key) => {
                let mut known = self.seen.clone();
                known.sort_unstable();
                known.dedup();
                let known = if known.is_empty() {
                    "this driver takes no options".to_string()
                } else {
                    format!("known options: {}", known.join(", "))
                };
                Err(self.error(key, format!("unknown option ({known})")))
            }
        }
    }
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(src: &str) -> toml::Table {
        src.parse().expect("test toml")
    }

    #[test]
    fn typed_options_and_defaults() {
        let t = table("a = 2\nb = 2.5\nc = \"high\"\nd = true");
        let mut o = Opts::new("x", &t);
        assert_eq!(o.int("a", 0, 0, 5).expect("a"), 2);
        assert_eq!(o.f64("b", 0.0).expect("b"), 2.5);
        assert_eq!(o.choice("c", "low", &["low", "high"]).expect("c"), "high");
        assert!(o.bool("d", false).expect("d"));
        assert_eq!(o.f64("missing", 7.0).expect("default"), 7.0);
        o.finish().expect("all keys known");
    }

    #[test]
    fn errors_name_the_option() {
        let t = table("mode = \"fast\"");
        let mut o = Opts::new("bh1750", &t);
        let e = o.choice("mode", "high", &["high", "low"]).expect_err("bad");
        assert_eq!(e.option.as_deref(), Some("mode"));
        assert!(e.to_string().contains("\"fast\""), "{e}");

        let t = table("x = 300");
        let mut o = Opts::nested("modbus", "registers[1]".into(), &t);
        let e = o.int("x", 0, 0, 255).expect_err("range");
        assert_eq!(e.option.as_deref(), Some("registers[1].x"));
    }

    #[test]
    fn unknown_option_is_an_error() {
        let t = table("oversampling = 2");
        let mut o = Opts::new("bme280", &t);
        let _ = o.int("oversampling_t", 1, 1, 16);
        let e = o.finish().expect_err("unknown");
        assert_eq!(e.option.as_deref(), Some("oversampling"));
        assert!(e.message.contains("oversampling_t"), "{e}");
    }
}
