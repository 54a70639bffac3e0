use std::process::ExitCode;

fn main() -> ExitCode {
    jprov::run()
}
