//! The `callcert` binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;

// Thousands of calls a second allocate and free across worker threads; glibc's arenas then
// spend a syscall (mprotect) per few allocations growing and trimming. mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every call holds a few sockets (two for RTP/RTCP, more while it lingers): lift the soft
/// limit on open files to the hard limit, as load generators do, so 1024 is not the ceiling.
#[cfg(unix)]
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(not(unix))]
fn raise_open_files_limit() {}

fn main() {
    raise_open_files_limit();
    let cli = callcert::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CALLCERT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("CALLCERT_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        builder.worker_threads(n);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("callcert: cannot start the runtime: {e}");
            std::process::exit(callcert::cli::EXIT_HARNESS_FAILED);
        }
    };
    // The command runs as a task on a worker, not on this thread: the run's record collector
    // then shares a thread with the calls it hears from, rather than being woken across
    // threads (a futex wake and a context switch) for every call that ends.
    let code = match runtime.block_on(async { tokio::spawn(callcert::cli::execute(cli)).await }) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("callcert: {e}");
            e.exit_code()
        }
        Err(e) => {
            eprintln!("callcert: internal error: {e}");
            callcert::cli::EXIT_HARNESS_FAILED
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
