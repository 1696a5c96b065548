//! Ganglion's hardware layer.
//!
//! Traits sit at the seams (embedded-hal 1.x where it fits, small traits of our own where it has
//! none); `linux` and `sim` backends live side by side; sensor drivers are generic and never name a
//! backend. Nothing here knows about JavaScript: the agent binds these types to JS.

pub mod board;
pub mod drivers;
pub mod error;
pub mod gpio;
pub mod i2c;
pub mod serial;
pub mod sim;

pub use error::{DeviceError, ErrorCode};
