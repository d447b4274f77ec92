//! The host's stand-in for a plugin's own native tests (`cargo test`): the
//! configuration [`crate::config`] answers and the lines [`crate::log`]
//! wrote, per test thread. In a component the host answers instead, and
//! these do nothing.
//!
//! ```
//! use kino_plugin_sdk::testing;
//!
//! testing::set_config([("style", "noir")]);
//! assert_eq!(kino_plugin_sdk::config("style").as_deref(), Some("noir"));
//! kino_plugin_sdk::log::info("hello");
//! assert_eq!(testing::logged(), ["info: hello"]);
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::host::LogLevel;

thread_local! {
    static CONFIG: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
    static LOGGED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Sets the configuration this thread's calls of [`crate::config`] see,
/// replacing what was set before (pass the manifest's defaults yourself).
pub fn set_config<K: Into<String>, V: Into<String>>(config: impl IntoIterator<Item = (K, V)>) {
    let config = config
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    CONFIG.with(|c| *c.borrow_mut() = config);
}

/// The lines this thread logged so far, as `level: message`; clears them.
pub fn logged() -> Vec<String> {
    LOGGED.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn config(key: &str) -> Option<String> {
    CONFIG.with(|c| c.borrow().get(key).cloned())
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn log(level: LogLevel, message: &str) {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    eprintln!("[{level}] {message}");
    LOGGED.with(|l| l.borrow_mut().push(format!("{level}: {message}")));
}
