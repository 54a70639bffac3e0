//! Faults injected by the test suite, named in one place.

/// Fault injection for tests (`JPROV_FAULT`): `exit-after-sshd-reload` makes jprov exit right after sshd
/// was reloaded, as if its connection had died, so the on-host lockout guard can be proven;
/// `skip-plan-validation` skips the plan-time check of candidates, as if the host had changed between that
/// check and the write, so apply's own validate-and-restore can be proven.
pub const FAULT_ENV: &str = "JPROV_FAULT";

/// Whether the test suite asked for the fault `name`.
pub fn injected(name: &str) -> bool {
    std::env::var(FAULT_ENV).as_deref() == Ok(name)
}
