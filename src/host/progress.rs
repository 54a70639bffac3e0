//! apply's progress on stderr: per host, each step as it starts and as it ends, from the `jprov-done N`
//! lines the round's script prints as it goes (certbot can take a minute: people see what is running).
//! Colour only on a terminal, and none with `NO_COLOR` set (no-color.org).

use std::time::Instant;

/// The progress of one host's script in one round.
pub struct Progress {
    /// The host as the lines name it: its role, after its profile's name when an invocation has several.
    host: String,
    /// What each step does, in the script's order.
    labels: Vec<String>,
    started: Instant,
    colour: bool,
}

impl Progress {
    /// Says that the first step starts.
    pub fn start(host: String, labels: Vec<String>) -> Progress {
        use std::io::IsTerminal;
        let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let progress = Progress {
            host,
            labels,
            started: Instant::now(),
            colour,
        };
        progress.starting(0);
        progress
    }

    /// One line of the script's stdout: a finished step is reported, and the next one's start.
    pub fn line(&mut self, line: &str) {
        let Some(done) = line.strip_prefix("jprov-done ") else {
            return;
        };
        let Ok(number) = done.trim().parse::<usize>() else {
            return;
        };
        let took = self.started.elapsed().as_secs_f64();
        let mark = self.paint("32", "done");
        eprintln!(
            "{}: {mark} {number}/{}: {} ({took:.1} s)",
            self.host(),
            self.labels.len(),
            self.label(number)
        );
        self.started = Instant::now();
        self.starting(number);
    }

    /// Says that step `index + 1` starts, if there is one.
    fn starting(&self, index: usize) {
        if index < self.labels.len() {
            eprintln!(
                "{}: {} {}/{}: {}",
                self.host(),
                self.paint("2", "start"),
                index + 1,
                self.labels.len(),
                self.labels[index]
            );
        }
    }

    fn label(&self, number: usize) -> &str {
        number
            .checked_sub(1)
            .and_then(|i| self.labels.get(i))
            .map_or("", String::as_str)
    }

    fn host(&self) -> String {
        self.paint("1", &self.host)
    }

    /// `text` in the SGR colour `code` on a colour terminal, else as it is.
    fn paint(&self, code: &str, text: &str) -> String {
        match self.colour {
            true => format!("\x1b[{code}m{text}\x1b[0m"),
            false => text.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Role;

    #[test]
    fn colour_only_when_asked_and_labels_by_step_number() {
        let mut p = Progress {
            host: Role::Server.to_string(),
            labels: vec!["a".into(), "b".into()],
            started: Instant::now(),
            colour: false,
        };
        assert_eq!(p.paint("32", "done"), "done");
        assert_eq!(
            (p.label(1), p.label(2), p.label(0), p.label(3)),
            ("a", "b", "", "")
        );
        p.colour = true;
        assert_eq!(p.paint("32", "done"), "\x1b[32mdone\x1b[0m");
        // Lines that are not a finished step are ignored, as are malformed ones.
        p.line("jprov-reloaded ssh");
        p.line("jprov-done x");
    }
}
