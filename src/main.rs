//! The `rcert` binary: runs the command line through [`rcert::cli::run`] and exits with its code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(rcert::cli::run(std::env::args_os()))
}
