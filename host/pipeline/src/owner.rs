//! Which process on which machine owns something (a job's lease, a
//! temporary file), and whether that process is gone: how a host tells the
//! leftovers of a killed run from the work of a live one.

use std::path::Path;

/// This machine's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Whether process `pid` on machine `host` is known to have ended: only a
/// process on this machine can be checked (another machine's is never
/// "gone" by this test).
pub fn is_gone(host: &str, pid: u32) -> bool {
    host == hostname() && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}

/// The prefix of this process's temporary names: `kino.PID.HOST~`.
pub fn temp_prefix() -> String {
    format!("kino.{}.{}~", std::process::id(), hostname())
}

/// The process a temporary name says made it (`kino.PID.HOST~...`).
pub fn temp_owner(name: &str) -> Option<(u32, &str)> {
    let rest = name.trim_start_matches('.').strip_prefix("kino.")?;
    let (pid, rest) = rest.split_once('.')?;
    let (host, _) = rest.split_once('~')?;
    Some((pid.parse().ok()?, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_say_their_owner() {
        let name = format!("{}abc123", temp_prefix());
        assert_eq!(
            temp_owner(&name),
            Some((std::process::id(), hostname().as_str()))
        );
        assert_eq!(
            temp_owner(&format!(".{name}")).map(|o| o.0),
            Some(std::process::id())
        );
        assert_eq!(
            temp_owner("kino.12.host.example.com~x"),
            Some((12, "host.example.com"))
        );
        assert_eq!(temp_owner(".tmpA1b2"), None);
        assert_eq!(temp_owner("kino.x.host~"), None);
        // This process is alive; a finished child is gone.
        assert!(!is_gone(&hostname(), std::process::id()));
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        assert!(is_gone(&hostname(), pid));
        assert!(!is_gone("another-machine", pid));
    }
}
