//! The `kino` binary; everything lives in [`kino::cli`].

fn main() -> std::process::ExitCode {
    kino::cli::main()
}
