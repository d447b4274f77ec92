//! The `kino` command, built inside the test package so integration tests can
//! run it as a process (and kill it) through `CARGO_BIN_EXE_kino`.

fn main() -> std::process::ExitCode {
    kino_host::cli::main()
}
