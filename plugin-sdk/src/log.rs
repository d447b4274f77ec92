//! Logging to the job's log through the host. Lines are attributed to this
//! plugin and the calling job; the host bounds their length and count.
//! Natively (a plugin's `cargo test`) lines go to stderr and to
//! [`crate::testing::logged`].

use crate::host::LogLevel;

fn emit(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::log(level, message);
}

/// Logs `message` at debug level.
pub fn debug(message: &str) {
    emit(LogLevel::Debug, message);
}

/// Logs `message` at info level.
pub fn info(message: &str) {
    emit(LogLevel::Info, message);
}

/// Logs `message` at warn level.
pub fn warn(message: &str) {
    emit(LogLevel::Warn, message);
}

/// Logs `message` at error level.
pub fn error(message: &str) {
    emit(LogLevel::Error, message);
}
