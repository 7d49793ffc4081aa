//! The `backprop` command: a thin shell over the library.

fn main() -> std::process::ExitCode {
    backprop::cli::run()
}
