//! A directory to run on-host scripts in without root: `root/` stands for `/` (the scripts are built with
//! `Root::under` it), and `bin/` holds stubs, first on PATH, for every program that would change the machine
//! or needs root. Each stub appends its command line to `calls`; their switches are files in the sandbox.

use jprov::script::Root;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Appended to every stub: its command line, one line per call.
const LOG: &str = r#"printf '%s\n' "${0##*/} $*" >> "$STUB_DIR/calls""#;

/// (program, body after the log line).
const STUBS: &[(&str, &str)] = &[
    // The scripts act as root: state in /var/lib/jprov, accounts and runuser.
    (
        "id",
        r#"case "${1:-}" in -u) echo 0 ;; -un) echo root ;; *) echo 'uid=0(root) gid=0(root)' ;; esac"#,
    ),
    // `sshd -T -C user=NAME,...` prints `sshd-T-NAME` when the test put one (else nothing).
    (
        "sshd",
        r#"if [ "${1:-}" = -t ] && [ -e "$STUB_DIR/sshd-t-fails" ]; then echo "stub sshd: line 7: Bad configuration option" >&2; exit 1; fi
if [ "${1:-}" = -T ]; then
  if [ -e "$STUB_DIR/sshd-T-hangs" ]; then exec /bin/sleep 5; fi
  for a; do case $a in user=*) u=${a#user=}; u=${u%%,*}; if [ -f "$STUB_DIR/sshd-T-$u" ]; then cat "$STUB_DIR/sshd-T-$u"; fi ;; esac; done
fi"#,
    ),
    (
        "nginx",
        r#"if [ "${1:-}" = -t ] && [ -e "$STUB_DIR/nginx-t-fails" ]; then echo "stub nginx: unknown directive" >&2; exit 1; fi"#,
    ),
    (
        "systemctl",
        r#"case " $* " in *" --quiet "*) exit 0 ;; esac
for a; do case "$a" in is-active) echo active ;; is-enabled) echo enabled ;; esac; done"#,
    ),
    ("systemd-run", ":"),
    // Counts the writes of jprov's temporary files (`.jprov.*`, put_file's); at the one named in
    // `kill-at-write` it kills the script, as an interruption would, before the file is renamed into place.
    (
        "chown",
        r#"for last; do :; done
case "$last" in */.jprov.*)
  n=$(( $(cat "$STUB_DIR/writes" 2>/dev/null || echo 0) + 1 ))
  echo "$n" > "$STUB_DIR/writes"
  if [ "$n" = "$(cat "$STUB_DIR/kill-at-write" 2>/dev/null)" ]; then kill -9 "$PPID"; exit 1; fi ;;
esac"#,
    ),
    (
        "useradd",
        r#"home=""; create=no; prev=""
for a; do
  if [ "$prev" = --home-dir ]; then home=$a; fi
  if [ "$a" = --create-home ]; then create=yes; fi
  prev=$a
done
if [ $create = yes ]; then mkdir -p "$home"; fi
echo "$prev" >> "$STUB_DIR/passwd""#,
    ),
    (
        "getent",
        r#"if [ "$1" != passwd ]; then exit 2; fi
shift
found=0
for name; do
  if grep -qxF "$name" "$STUB_DIR/passwd" 2>/dev/null; then echo "$name:x:999:999::/:/usr/sbin/nologin"; else found=2; fi
done
exit $found"#,
    ),
    (
        "userdel",
        r#"for last; do :; done
grep -vxF "$last" "$STUB_DIR/passwd" > "$STUB_DIR/passwd.new" || :
mv "$STUB_DIR/passwd.new" "$STUB_DIR/passwd""#,
    ),
    (
        "runuser",
        r#"while [ "$1" != -- ]; do shift; done
shift
exec "$@""#,
    ),
    (
        "ssh-keygen",
        r#"while [ $# -gt 0 ]; do if [ "$1" = -f ]; then f=$2; fi; shift; done
echo PRIVATE > "$f"
echo "ssh-ed25519 AAAAstub jprov" > "$f.pub""#,
    ),
    // The command's argv names host paths: the files go under the root.
    (
        "openssl",
        r#"while [ $# -gt 0 ]; do case "$1" in -keyout|-out) echo "$1" > "$STUB_ROOT$2"; shift ;; esac; shift; done"#,
    ),
    // The real od, its calls counted (the facts script encodes its contents with one).
    (
        "od",
        r#"for d in /usr/bin /bin; do if [ -x "$d/od" ]; then exec "$d/od" "$@"; fi; done
exit 127"#,
    ),
    ("certbot", ":"),
    ("loginctl", ":"),
    ("sudo", ":"),
    ("logger", ":"),
    ("sleep", ":"),
];

pub struct Sandbox {
    dir: tempfile::TempDir,
    root: String,
}

/// How a script ended.
pub struct Ran {
    /// `None`: killed by a signal.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Sandbox {
    /// `systemd`: the host runs systemd (`/run/systemd/system` exists), so services and the guard's timer
    /// go through the systemctl and systemd-run stubs.
    pub fn new(systemd: bool) -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root").to_str().unwrap().to_string();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        for (program, body) in STUBS {
            let path = dir.path().join("bin").join(program);
            std::fs::write(&path, format!("#!/bin/sh\n{LOG}\n{body}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        if systemd {
            std::fs::create_dir_all(format!("{root}/run/systemd/system")).unwrap();
        }
        Sandbox { dir, root }
    }

    pub fn root(&self) -> Root<'_> {
        Root::under(&self.root)
    }

    /// Where a host path is in the sandbox.
    pub fn path(&self, host_path: &str) -> PathBuf {
        PathBuf::from(format!("{}{host_path}", self.root))
    }

    /// root's state directory (`state_dir` in host_lib.sh).
    pub fn state(&self) -> PathBuf {
        self.path("/var/lib/jprov")
    }

    /// Write a host file (and its directories).
    pub fn put(&self, host_path: &str, content: &str) {
        let path = self.path(host_path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, host_path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(host_path)).ok()
    }

    /// A stub switch: `sshd-t-fails`, `nginx-t-fails`, `kill-at-write` (with the write's number), or what
    /// `sshd -T` prints for a user (`sshd-T-NAME`), or `sshd-T-hangs` (every `sshd -T` waits 5 s).
    pub fn set(&self, switch: &str, value: &str) {
        std::fs::write(self.dir.path().join(switch), value).unwrap();
    }

    /// The scripts' TMPDIR (what `mktemp` makes goes there).
    pub fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// The stubs' calls so far, one per line.
    pub fn calls(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default()
    }

    /// `sh -s` started as `run` starts it, its stdin, stdout and stderr piped.
    pub fn spawn(&self) -> std::process::Child {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("sh")
            .arg("-s")
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("STUB_DIR", self.dir.path())
            .env("STUB_ROOT", &self.root)
            .env("TMPDIR", self.tmp())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Run `script` with `sh -s`, as jprov does, with the stubs first on PATH.
    pub fn run(&self, script: impl AsRef<[u8]>) -> Ran {
        let mut child = self.spawn();
        let mut stdin = child.stdin.take().unwrap();
        let input = script.as_ref().to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        Ran {
            status: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every file and link under the root, as host paths (directories left out).
    pub fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &str, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if entry.file_type().unwrap().is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(path.to_str().unwrap()[root.len()..].to_string());
                }
            }
        }
        let mut out = vec![];
        walk(Path::new(&self.root), &self.root, &mut out);
        out.sort();
        out
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}
