//! The facts script: read-only fact gathering (templates/facts.sh.j2 loops over the query), with the
//! protocol and the library before it: the same state directory as apply's, the same record names.

use super::{assemble, Root, ScriptError};
use crate::facts::FactQuery;
use crate::render::Templates;

/// The shell script that gathers a query's facts; runs with `sh -s`, possibly under `sudo -n`.
pub fn facts(templates: &Templates, query: &FactQuery) -> Result<String, ScriptError> {
    facts_under(templates, query, Root::HOST)
}

/// `facts` with jprov's own records (its state directory) and `/run` under `root`; the query's paths are
/// as the script must name them (tests/scripts.rs prefixes them).
pub fn facts_under(
    templates: &Templates,
    query: &FactQuery,
    root: Root,
) -> Result<String, ScriptError> {
    let body = templates.render("facts.sh", query)?;
    let about = "jprov facts: read-only. Runs with `sh -s`, possibly under `sudo -n`. Changes nothing on the host.";
    // The records' loop sets PROFILE for each profile asked.
    assemble(about, root, "", &body)
}
