//! The `kino` command, built inside the test package (as `kino-cli`, so its
//! file does not collide with the host's `kino`) for integration tests to
//! run as a process, and kill, through `CARGO_BIN_EXE_kino-cli`.

fn main() -> std::process::ExitCode {
    kino::cli::main()
}
