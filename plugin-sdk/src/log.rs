//! Logging to the job's log through the host. Lines are attributed to this
//! plugin and the calling job; the host bounds their length and count.

use crate::host::{self, LogLevel};

/// Logs `message` at debug level.
pub fn debug(message: &str) {
    host::log(LogLevel::Debug, message);
}

/// Logs `message` at info level.
pub fn info(message: &str) {
    host::log(LogLevel::Info, message);
}

/// Logs `message` at warn level.
pub fn warn(message: &str) {
    host::log(LogLevel::Warn, message);
}

/// Logs `message` at error level.
pub fn error(message: &str) {
    host::log(LogLevel::Error, message);
}
