//! The `kino` binary; everything lives in [`kino_host::cli`].

fn main() -> std::process::ExitCode {
    kino_host::cli::main()
}
