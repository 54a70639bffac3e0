//! Benchmark: what a `jprov plan` with no changes costs, against real sshd hosts on loopback.
//!
//!     cargo bench --bench plan            (as root: starts two test hosts in mount namespaces)
//!
//! Prints the wall time of the whole command (connect to both hosts in parallel, verify host keys, one
//! facts exec per host, compute), next to a bare `ssh HOST true` round trip for scale, and how many SSH
//! sessions the plan opened on the server (from sshd's log).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::setup::{Method, Setup};

const RUNS: usize = 30;

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:6.1} ms   median {:6.1} ms   max {:6.1} ms",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1])
    )
}

fn main() {
    let Some(setup) = Setup::new(Method::ReverseForward) else {
        eprintln!("benchmark needs root (it starts test hosts)");
        return;
    };
    setup.apply(&[]).run();
    println!(
        "jprov plan with no changes, reverse-forward profile, 2 hosts on loopback, {RUNS} runs"
    );

    let before = setup.server.sshd_log().matches("Starting session").count();
    let mut plan = vec![];
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = setup.command(&["plan"]).output().unwrap();
        plan.push(start.elapsed());
        assert_eq!(
            out.status.code(),
            Some(0),
            "the benchmark needs a converged plan"
        );
    }
    let sessions = setup.server.sshd_log().matches("Starting session").count() - before;

    let mut ssh = vec![];
    for _ in 0..RUNS {
        let start = Instant::now();
        assert!(setup
            .server
            .ssh("admin")
            .arg("true")
            .status()
            .unwrap()
            .success());
        ssh.push(start.elapsed());
    }
    println!("  jprov plan           {}", stats(plan));
    println!("  ssh admin@server true {}", stats(ssh));
    println!(
        "  SSH sessions per plan on the server: {:.1}",
        sessions as f64 / RUNS as f64
    );
}
