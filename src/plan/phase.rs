//! When a change runs, relative to the others of the same plan on every host: each round runs only the
//! changes of the lowest phase any host has left, so a phase starts once the earlier ones are done
//! everywhere.

use super::Change;

/// Teardown: stop the services and tunnels first, on every host (an account with a live session can't
/// be removed; a tunnel should not outlive its peer's configuration).
pub const STOP: u8 = 0;
pub const MAIN: u8 = 1;
/// Processes that need their peer configured (tunnels), and what must run after the last file is in
/// place.
pub const LATE: u8 = 2;
/// Teardown: forget jprov's records, once everything else succeeded.
pub const LAST: u8 = 3;

impl Change {
    /// See `phase`. Unit starts and restarts are late too: a restarted tunnel must find its peer already
    /// reloaded. The apply script of the round that writes a unit's files records the restart in the
    /// on-host journal first (`restarts_to_record`), so it is not lost between rounds or runs.
    pub fn phase(&self) -> u8 {
        match self {
            Change::StopUnit { .. } | Change::StopTunnel { .. } => STOP,
            Change::StartTunnel { .. } | Change::RunCommand { .. } | Change::Unit { .. } => LATE,
            Change::Forget { .. } => LAST,
            _ => MAIN,
        }
    }
}
