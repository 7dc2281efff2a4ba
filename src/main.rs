//! The `callcert` binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;

fn main() {
    let cli = callcert::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CALLCERT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("callcert: cannot start the runtime: {e}");
            std::process::exit(callcert::cli::EXIT_HARNESS_FAILED);
        }
    };
    let code = match runtime.block_on(callcert::cli::execute(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("callcert: {e}");
            e.exit_code()
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
