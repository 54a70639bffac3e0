# jprov's on-host library: every step of the apply script, the lockout guard (arm, disarm, fire), the journal,
# backups and restores, and where jprov keeps its records, for every script jprov runs on a host (apply, the
# guard's control script and fire program, facts, check). Plain POSIX sh, not a template: it is sent exactly
# as it is, after the line protocol's emitters (src/protocol.rs: h, hs, say_*, fact_*).
# The scripts run it under `set -eu`: a command whose failure is no error says so where it runs (`|| :` or an
# `if`); every other failure is reported with `fail`.
# Callers set JPROV_ROOT and PROFILE first. JPROV_ROOT is empty on hosts; tests run the scripts with every path
# under a temporary directory: the paths a script passes arrive prefixed already, and the library prefixes the
# fixed ones it knows itself (its state directory and /run).

# A newline, for lists built in the shell and for splitting text into lines (IFS=$nl).
nl='
'

fail() { say_error "$1"; exit "${2:-1}"; }

# Where jprov keeps its records on this host (STATE): root's in /var/lib/jprov, a user's under their home.
state_dir() { # [uid]: the login user's, when the caller has asked already
  if [ "${1:-$(id -u)}" = 0 ]; then STATE="$JPROV_ROOT/var/lib/jprov"
  elif [ -n "${HOME:-}" ]; then STATE="$JPROV_ROOT$HOME/.local/state/jprov"
  else fail "HOME is not set, and jprov keeps a user's records in ~/.local/state/jprov"; fi
}
have_systemd() { [ -d "$JPROV_ROOT/run/systemd/system" ]; }

# The name of a path's records: every `/` becomes `%` (facts.rs: record_name).
backup_name() { printf '%s' "$1" | sed 's|/|%|g'; }

# A record of what is at a path: REC is a copy (cp -P -p: a link stays a link, mode and owner kept), or an
# empty REC.absent when nothing is there.
record_path() { # path rec
  rm -f "$2" "$2.absent"
  if [ -e "$1" ] || [ -L "$1" ]; then cp -P -p "$1" "$2"; else : > "$2.absent"; fi
}
# Put a path back as its record says, atomically (a copy beside it, renamed over it).
restore_record() { # rec path
  if [ -e "$1.absent" ]; then rm -f "$2"; return; fi
  rm -f "$2.jprov-restore"
  cp -P -p "$1" "$2.jprov-restore" && mv -fT "$2.jprov-restore" "$2"
}
# What is at a path, as one word: the SHA-256 of a file's bytes, of `link:TARGET` for a link, or
# `absent`/`other` (plan.rs: content_digest computes the same for what jprov writes).
path_digest() { # path
  if [ -L "$1" ]; then printf 'link:%s' "$(readlink "$1")" | sha256sum | cut -d' ' -f1
  elif [ -f "$1" ]; then sha256sum < "$1" | cut -d' ' -f1
  elif [ -e "$1" ]; then echo other
  else echo absent; fi
}

# The journal records a reload before the files that need it are written, and forgets it after the reload,
# so a run that stops in between leaves the reload for the next plan to show and the next apply to do.
JOURNAL_ADDED="" # the lines this script added, so that a failed validation forgets only its own reload
journal_add() { # line
  mkdir -p "$STATE/journal" || fail "cannot create $STATE/journal"
  if ! grep -qxF "$1" "$STATE/journal/$PROFILE" 2>/dev/null; then
    echo "$1" >> "$STATE/journal/$PROFILE" || fail "cannot write the journal"
    JOURNAL_ADDED="$JOURNAL_ADDED|$1|"
  fi
}
journal_done() { # line
  j="$STATE/journal/$PROFILE"
  if [ ! -f "$j" ]; then return 0; fi
  # grep exits 1 when no line is left: that is the expected end, not a failure.
  grep -vxF "$1" "$j" > "$j.new" || :
  mv -f "$j.new" "$j"
  if [ ! -s "$j" ]; then rm -f "$j"; fi
}
# A unit this host's plan restarts in its last round: remembered before any file it reads is written.
record_restart() { journal_add "restart $1"; }

sshd_reload() { # SIGHUP: sshd re-reads its files and keeps every session
  if have_systemd; then systemctl reload ssh; else kill -HUP "$(cat "$JPROV_ROOT/run/sshd.pid")"; fi
}

# --- The apply script's steps. Each fails with a message (and exit 1, 3 for a refused validation, 4 for a
# failed certificate command) or returns having done its part.

apply_begin() { # first: the profile's records, PATH, and one apply of a profile at a time on a host
  umask 022
  state_dir
  BACKUP="$STATE/backup/$PROFILE"
  ORIGINAL="$BACKUP/original"
  mkdir -p "$BACKUP" && chmod 700 "$STATE" "$STATE/backup" "$BACKUP" || fail "cannot create $BACKUP"
  PATH="$PATH:/usr/sbin:/sbin"
  # A user's own systemd manager is found through XDG_RUNTIME_DIR, which a non-interactive login may lack.
  if [ "$(id -u)" != 0 ]; then export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}"; fi
  # A run whose jprov died may still be finishing its script. Processes that outlive the script (tunnel,
  # nginx, the guard's sleeper) are started with fd 8 closed.
  exec 8>"$STATE/apply-$PROFILE.lock" && flock -w 120 8 || fail "another apply of profile $PROFILE is still running on this host"
  GROUP=""
  STARTED=""
}

create_account() { # name home shell create-home(yes|no)
  if getent passwd "$1" >/dev/null; then return 0; fi
  if [ "$4" = yes ]; then home=--create-home; else home=--no-create-home; fi
  useradd --system --shell "$3" --home-dir "$2" "$home" "$1" >&2 || fail "useradd $1 failed"
  if [ "$4" = yes ]; then chmod 700 "$2" || fail "cannot make $2 private"; fi
  # jprov created it: `jprov destroy` may remove it.
  mkdir -p "$ORIGINAL" && chmod 700 "$ORIGINAL" && : > "$ORIGINAL/account-$1.absent" || fail "cannot record the account $1"
}

ensure_dir() { # dir mode owner group: created with them if missing
  if [ -d "$1" ]; then return 0; fi
  mkdir -p "$1" && chmod "$2" "$1" && chown "$3:$4" "$1" || fail "cannot create directory $1"
}
own_dir() { # dir mode owner group: created if missing; mode and owner set every time
  mkdir -p "$1" && chmod "$2" "$1" && chown "$3:$4" "$1" || fail "cannot set up directory $1"
}

generate_key() { # path owner comment: an ed25519 key pair, unless the private key is there
  if [ -f "$1" ]; then return 0; fi
  ensure_dir "$(dirname "$1")" 700 "$2" ""
  rm -f "$1.pub"
  if [ "$(id -u)" = 0 ] && [ "$2" != root ]; then
    runuser -u "$2" -- ssh-keygen -q -t ed25519 -N '' -C "$3" -f "$1" < /dev/null >&2 || fail "ssh-keygen failed"
  else
    ssh-keygen -q -t ed25519 -N '' -C "$3" -f "$1" < /dev/null >&2 || fail "ssh-keygen failed"
  fi
}

# A file group: written together, validated together, then one reload. Its reload is in the journal before
# the first write, every path is backed up before it is changed, and a failure restores the whole group.
group_begin() { # the service the group reloads, or ''
  GROUP=""
  if [ -n "$1" ]; then journal_add "reload $1"; fi
}
backup() { # path [destroy]
  b="$BACKUP/$(backup_name "$1")"
  record_path "$1" "$b" || fail "cannot back up $1"
  # The first time jprov writes a path, what was there (or `.absent`: nothing) is kept, never replaced later.
  o="$ORIGINAL/$(backup_name "$1")"
  if [ -z "${2:-}" ] && [ ! -e "$o" ] && [ ! -L "$o" ] && [ ! -e "$o.absent" ]; then
    mkdir -p "$ORIGINAL" && chmod 700 "$ORIGINAL" || fail "cannot create $ORIGINAL"
    if [ -e "$b.absent" ]; then : > "$o.absent"; else cp -P -p "$b" "$o"; fi || fail "cannot keep the original of $1"
  fi
  GROUP="$GROUP $1"
}
restore_group() { # every path of the group as it was; one that cannot be restored does not stop the others
  for p in $GROUP; do
    restore_record "$BACKUP/$(backup_name "$p")" "$p" || echo "jprov: cannot restore $p" >&2
  done
}
put_file() { # path mode owner group dirmode content
  ensure_dir "$(dirname "$1")" "$5" "$3" "$4"
  tmp=$(mktemp "$(dirname "$1")/.jprov.XXXXXX") || fail "cannot create a temporary file next to $1"
  if printf '%s' "$6" > "$tmp" && chmod "$2" "$tmp" && chown "$3:$4" "$tmp" && mv -f "$tmp" "$1"; then :; else
    rm -f "$tmp"; restore_group; fail "cannot write $1"
  fi
}
put_link() { # path target
  ensure_dir "$(dirname "$1")" 755 root root
  rm -f "$1.jprov-new" && ln -s "$2" "$1.jprov-new" && mv -fT "$1.jprov-new" "$1" || { restore_group; fail "cannot link $1"; }
}
remove_path() { # path: a file or link, backed up first
  rm -f "$1" || { restore_group; fail "cannot remove $1"; }
}
restore_original() { # path: put back what was there before jprov first wrote it
  if restore_record "$ORIGINAL/$(backup_name "$1")" "$1"; then :; else
    rm -f "$1.jprov-restore"; restore_group; fail "cannot restore the original of $1"
  fi
}
remove_dirs() { # directories jprov named, deepest first: removed when empty
  for d in "$@"; do
    rmdir "$d" 2>/dev/null || : # not empty, or gone: either way it stays as it is
  done
}
validate() { # sshd|nginx|'' (nothing to validate) [the service the group reloads]
  case "$1" in
    sshd) if out=$(sshd -t 2>&1); then return 0; fi ;;
    nginx) if out=$(nginx -t 2>&1); then return 0; fi ;;
    *) return 0 ;;
  esac
  restore_group
  # The restored files are what sshd or nginx runs, unless an earlier run had left this reload pending.
  case "$JOURNAL_ADDED" in *"|reload ${2:-}|"*) journal_done "reload $2" ;; esac
  # What the guard recorded for this group holds no unproven write any more.
  if [ "$1" = sshd ]; then guard_drop_settled; fi
  say_invalid "$1" "$out"
  exit 3
}
reload_service() { # ssh|nginx|systemd|systemd-user
  case "$1" in
    ssh) sshd_reload ;;
    nginx)
      if have_systemd; then systemctl reload-or-restart nginx
      elif [ -f "$JPROV_ROOT/run/nginx.pid" ] && kill -0 "$(cat "$JPROV_ROOT/run/nginx.pid")" 2>/dev/null; then nginx -s reload
      else nginx 8>&- 9>&-; fi ;;
    systemd) systemctl daemon-reload ;;
    systemd-user) systemctl --user daemon-reload ;;
    *) echo "jprov does not know how to reload $1"; return 1 ;;
  esac
}
reload() { # ssh|nginx|systemd|systemd-user
  if out=$(reload_service "$1" 2>&1); then :; else fail "reloading $1 failed: $out"; fi
  journal_done "reload $1"
  say_reloaded "$1"
}
reload_pending_ssh() { # seconds: the sshd reload an interrupted run left pending
  # The guard that run armed covers the files it wrote: it gets a fresh delay for this reload.
  if guard_rearm "$1"; then armed=yes; else armed=no; fi
  reload ssh
  if [ $armed = yes ]; then say_guard_armed "$1"; fi
}

# A certificate command writes beside the final files (NEW...); they are renamed into place once it succeeded.
obtain_certificate() { # program umask dir|'' [new...] -- argv...
  discard_new "$@"
  if out=$(certificate_command "$@" 2>&1 < /dev/null); then return 0; fi
  discard_new "$@"
  fail "$1 failed: $(printf '%s' "$out" | tail -n 15)" 4
}
discard_new() { # program umask dir [new...] -- argv...
  shift 3
  while [ "$1" != -- ]; do rm -f "$1" || fail "cannot remove $1"; shift; done
}
certificate_command() { # program umask dir [new...] -- argv...: runs argv in its umask and directory
  umask "$2" || return 1
  if [ -n "$3" ]; then cd "$3" || return 1; fi
  shift 3
  while [ "$1" != -- ]; do shift; done
  shift
  "$@"
}
place_new() { # new final mode owner|'' group
  if chmod "$3" "$1" && { [ -z "$4" ] || chown "$4:$5" "$1"; } && mv -f "$1" "$2"; then :; else
    fail "cannot put $2 in place"
  fi
}

start_tunnel() { # user pid-file argv-digest argv...
  user=$1 pidfile=$2 digest=$3
  shift 3
  if [ -f "$pidfile" ]; then
    read -r old < "$pidfile" || old=""
    if [ -n "$old" ]; then kill "$old" 2>/dev/null || :; fi # it may have exited already
  fi
  if [ "$(id -u)" = 0 ] && [ "$user" != root ]; then as="runuser -u $user --"; else as=""; fi
  $as mkdir -p "$(dirname "$pidfile")" || fail "cannot create the directory of $pidfile"
  log="${pidfile%.pid}.log"
  $as setsid -f sh -c 'printf "%s\n%s\n" "$$" "$1" > "$2"; shift 2; exec "$@"' sh "$digest" "$pidfile" "$@" \
    < /dev/null > "$log" 2>&1 8>&- 9>&- || fail "could not start the tunnel"
  sleep 3
  read -r pid < "$pidfile" 2>/dev/null || pid=""
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then fail "the tunnel exited at once: $(tail -n 5 "$log" 2>/dev/null)"; fi
}
stop_tunnel() { # pid-file
  read -r pid < "$1" 2>/dev/null || pid=""
  # Only the ssh jprov started: a pid file outliving its process may name another one by now.
  if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q '^ssh '; then
    kill "$pid" 2>/dev/null || : # it may have exited since
    n=0
    while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || :; fi
  fi
  rm -f "$1" "${1%.pid}.log" || fail "cannot remove $1"
}

enable_linger() { # user
  # Needs privilege unless polkit grants it: as the user first, then through sudo if that is allowed.
  if loginctl enable-linger > /dev/null 2>&1 || sudo -n loginctl enable-linger "$1" > /dev/null 2>&1; then return 0; fi
  fail "$1 may not enable lingering, and without it systemd stops $1's services at logout. Ask an administrator to run once: sudo loginctl enable-linger $1"
}
run_command() { # label argv...
  label=$1
  shift
  if out=$("$@" 2>&1 < /dev/null); then :; else fail "$label failed: $out"; fi
}

systemctl_in() { # system|user args...
  if [ "$1" = user ]; then shift; systemctl --user "$@"; else shift; systemctl "$@"; fi
}
systemctl_name() { if [ "$1" = user ]; then echo "systemctl --user"; else echo systemctl; fi; }
unit_enable() { # scope name
  if out=$(systemctl_in "$1" enable "$2" 2>&1); then :; else fail "$(systemctl_name "$1") enable $2 failed: $out"; fi
}
unit_start() { # scope start|restart name
  if out=$(systemctl_in "$1" "$2" "$3" 2>&1); then :; else fail "$(systemctl_name "$1") $2 $3 failed: $out"; fi
  journal_done "restart $3"
  STARTED="$STARTED $3:$1"
}
stop_unit() { # scope name
  if out=$(systemctl_in "$1" disable --now "$2" 2>&1); then :; else fail "$(systemctl_name "$1") disable --now $2 failed: $out"; fi
  systemctl_in "$1" reset-failed "$2" 2>/dev/null || : # a unit that did not fail has nothing to reset
}
check_started() { # the script's last step: units that die at once (a refused forward, a broken config)
  if [ -z "$STARTED" ]; then return 0; fi
  sleep 2
  for u in $STARTED; do
    name=${u%%:*}
    scope=${u#*:}
    # is-active exits non-zero for every state but active: the state is what it printed.
    state=$(systemctl_in "$scope" is-active "$name" 2>/dev/null) || :
    if [ "$state" != active ]; then
      fail "$name is $state after starting: $(systemctl_in "$scope" status --no-pager -n 8 "$name" 2>&1 | tail -n 12)"
    fi
  done
}

remove_certificate() { # path...: a certificate jprov generated, and its key
  rm -f "$@" || fail "cannot delete the certificate"
}
remove_key() { # path: a key pair jprov generated
  rm -f "$1" "$1.pub" || fail "cannot delete the key pair $1"
}
remove_account() { # name remove-home(yes|no) shared-keys-file|''
  if ! getent passwd "$1" >/dev/null; then return 0; fi
  # A shared account stays while another profile's key is in its keys file.
  if [ -n "$3" ] && grep -q 'jprov:' "$3" 2>/dev/null; then return 0; fi
  # Sessions of the account (a tunnel that just stopped) may take a moment to close, and logind keeps the
  # account's user manager for 10 s after its last session (UserStopDelaySec): end them now.
  if command -v loginctl >/dev/null && have_systemd; then
    loginctl terminate-user "$1" 2>/dev/null || : # no session left is the usual case
  fi
  if [ "$2" = yes ]; then home=-r; else home=""; fi
  n=0
  until out=$(userdel $home "$1" 2>&1); do
    n=$((n+1))
    if [ $n -ge 20 ]; then fail "userdel $1 failed: $out"; fi
    sleep 0.5
  done
}
forget() { # the profile's records: the last step, once nothing else of it is left on any host
  guard_lock || fail "cannot lock the lockout guard"
  guard_stop_timer
  rm -rf "$BACKUP" "$STATE/journal/$PROFILE" "$(guard_dir)" "$STATE/guard/$PROFILE.lock" "$STATE/apply-$PROFILE.lock" \
    || fail "cannot remove jprov's records in $STATE"
  guard_unlock
  # Only when empty: other profiles' records stay.
  rmdir "$STATE/backup" "$STATE/journal" "$STATE/guard" 2>/dev/null || :
  rmdir "$STATE" 2>/dev/null || :
}

# --- The lockout guard. Armed before jprov writes sshd's files, disarmed by jprov once a fresh login worked
# after the reload. It lives in $STATE/guard/PROFILE/ (the directory existing is what "armed" means):
#   entries/NAME (or NAME.absent)  what was at the path before the first unproven write (record_path)
#   entries/NAME.path              the path
#   entries/NAME.digest            each content jprov wrote there since (path_digest), one per line
#   token                          this arming's: a timer or sleeper of an earlier arming does nothing
#   fire                           the program that restores (this library and guard_fire)
#   pid                            the sleeper's, on hosts without systemd
# When it fires it restores only paths that still hold what jprov wrote: a path changed since is left alone.
# Every arming replaces the earlier timer; what an earlier, unproven arming recorded stays (the restore
# goes back to the last proven state). Arm, disarm and fire hold $STATE/guard/PROFILE.lock.
guard_dir() { printf '%s' "$STATE/guard/$PROFILE"; }
guard_lock() {
  mkdir -p "$STATE/guard" && chmod 700 "$STATE/guard" || return 1
  exec 9>"$STATE/guard/$PROFILE.lock" || return 1
  flock -w 60 9
}
guard_unlock() { exec 9>&-; }
guard_unit() { printf 'jprov-guard-%s' "$PROFILE"; }
guard_stop_timer() { # ends the earlier arming's timer or sleeper, if any (with the lock held)
  if have_systemd; then
    # No such unit is the usual case: nothing to stop.
    systemctl stop "$(guard_unit).timer" "$(guard_unit).service" 2>/dev/null || :
    systemctl reset-failed "$(guard_unit).timer" "$(guard_unit).service" 2>/dev/null || :
  fi
  if guard_sleeper; then kill -- "-$pid" 2>/dev/null || :; fi # it may be firing and gone
  rm -f "$(guard_dir)/pid"
}
# Whether this guard's sleeper (hosts without systemd) is alive, its pid in `pid`: only the sleeper this
# guard started counts, since a pid file may outlive its process and name another one.
guard_sleeper() {
  if [ ! -f "$(guard_dir)/pid" ]; then return 1; fi
  pid=$(cat "$(guard_dir)/pid")
  [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "jprov-guard $(guard_dir) "
}
guard_ticking() { # the armed guard's timer or sleeper still waits to fire
  if have_systemd; then systemctl is-active --quiet "$(guard_unit).timer" 2>/dev/null; else guard_sleeper; fi
}
# Whether a guard entry's path still holds one of the contents unproven applies wrote there.
guard_unproven() { # entry (entries/NAME)
  grep -qxF "$(path_digest "$(cat "$1.path")")" "$1.digest"
}
guard_drop_settled() { # entries whose path no longer holds what jprov wrote need no restore: drop them
  guard_lock || fail "cannot lock the lockout guard"
  g=$(guard_dir)
  for f in "$g"/entries/*.path; do
    if [ ! -f "$f" ]; then continue; fi
    e=${f%.path}
    if ! guard_unproven "$e"; then rm -f "$e" "$e.absent" "$e.path" "$e.digest"; fi
  done
  if [ -z "$(ls -A "$g/entries" 2>/dev/null)" ]; then guard_stop_timer; rm -rf "$g"; fi
  guard_unlock
}
guard_start_timer() { # seconds (with the lock held)
  g=$(guard_dir)
  token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$token" > "$g/token" || return 1
  if have_systemd; then
    systemd-run --quiet --unit="$(guard_unit)" --on-active="$1" --timer-property=AccuracySec=1s \
      /bin/sh "$g/fire" "$token" >&2
  else
    # Fds 8 and 9 (apply's lock, the guard's lock) are closed for the sleeper: it must not hold them.
    setsid -f sh -c 'echo $$ > "$1/pid"; sleep "$2"; exec /bin/sh "$1/fire" "$3"' jprov-guard "$g" "$1" "$token" \
      < /dev/null > /dev/null 2>&1 8>&- 9>&-
  fi
}
# guard_arm SECONDS [PATH DIGEST]...: before writing PATHs with content of DIGEST (`original`: what jprov
# kept of the path before its first write, which a teardown puts back). Needs guard_write_fire (the apply
# script defines it: the fire program is this library plus guard_fire).
guard_arm() {
  secs=$1
  shift
  guard_lock || fail "cannot lock the lockout guard ($STATE/guard/$PROFILE.lock; is flock installed?)"
  g=$(guard_dir)
  guard_stop_timer
  mkdir -p "$g/entries" && chmod 700 "$g" || fail "cannot create the lockout guard in $g"
  while [ $# -ge 2 ]; do
    e="$g/entries/$(backup_name "$1")"
    # The earliest unproven state wins: an entry an earlier, unproven arming made stays as it is.
    if [ ! -f "$e.path" ]; then
      record_path "$1" "$e" && printf '%s\n' "$1" > "$e.path" || fail "cannot record $1 for the lockout guard"
    fi
    digest=$2
    if [ "$digest" = original ]; then digest=$(path_digest "$ORIGINAL/$(backup_name "$1")"); fi
    printf '%s\n' "$digest" >> "$e.digest" || fail "cannot record $1 for the lockout guard"
    shift 2
  done
  guard_write_fire > "$g/fire" && chmod 700 "$g/fire" || fail "cannot write the lockout guard"
  guard_start_timer "$secs" || fail "cannot arm the lockout guard"
  guard_unlock
}
guard_rearm() { # seconds: restart the timer of an armed guard (a pending sshd reload is about to happen)
  g=$(guard_dir)
  if [ ! -d "$g" ]; then return 1; fi
  guard_lock || fail "cannot lock the lockout guard"
  guard_stop_timer
  guard_start_timer "$1" || fail "cannot arm the lockout guard"
  guard_unlock
}
guard_disarm() { # jprov proved a fresh login: the guard has nothing left to do
  guard_lock || fail "cannot lock the lockout guard"
  g=$(guard_dir)
  if [ -d "$g" ] && grep -qxF "reload ssh" "$STATE/journal/$PROFILE" 2>/dev/null; then
    # sshd has not read the files on disk yet: the login proved the old ones. The reload to come is guarded.
    say_guard_kept
  elif [ -d "$g" ]; then
    guard_stop_timer
    rm -rf "$g"
    say_guard_disarmed
  else
    # Fired (or replaced and settled) before jprov got here.
    say_guard_gone
  fi
  guard_unlock
}
guard_fire_now() { # jprov's fresh login failed: restore at once, through the same fire program
  g=$(guard_dir)
  guard_lock || fail "cannot lock the lockout guard"
  if [ ! -f "$g/fire" ]; then guard_unlock; say_guard_gone; return 0; fi
  guard_stop_timer
  token=$(cat "$g/token")
  guard_unlock
  if /bin/sh "$g/fire" "$token"; then say_guard_fired; else fail "the lockout guard could not restore sshd's previous files (see the system log)"; fi
}
# The fire program's body: run by the timer, the sleeper or guard_fire_now as `sh DIR/fire TOKEN`.
guard_fire() { # token
  g=${0%/fire}
  PROFILE=${g##*/}
  STATE=${g%/guard/*}
  PATH="${PATH:+$PATH:}/usr/sbin:/usr/bin:/sbin:/bin"
  exec 9>"$g.lock"
  flock -w 60 9 || exit 1
  # Disarmed, or replaced by a later arming, since this timer started: nothing to do.
  if [ ! -f "$g/token" ] || [ "$(cat "$g/token")" != "$1" ]; then exit 0; fi
  restored=""
  for f in "$g"/entries/*.path; do
    if [ ! -f "$f" ]; then continue; fi
    e=${f%.path}
    p=$(cat "$f")
    if guard_unproven "$e"; then
      if restore_record "$e" "$p"; then restored="$restored $p"; fi
    else
      logger -t jprov "lockout guard of profile $PROFILE: left $p alone: it changed after the guard was armed" 2>/dev/null || :
    fi
  done
  status=0
  if [ -n "$restored" ]; then
    # A reload with a broken configuration would stop sshd: validate first.
    if out=$(sshd -t 2>&1); then
      if sshd_reload; then journal_done "reload ssh"; fi
      logger -t jprov "lockout guard: restored the previous sshd configuration of profile $PROFILE:$restored" 2>/dev/null || :
    else
      status=1
      logger -t jprov "lockout guard of profile $PROFILE: restored$restored but sshd -t rejects it, so sshd was not reloaded: $out" 2>/dev/null || :
    fi
  fi
  rm -rf "$g"
  return $status
}
