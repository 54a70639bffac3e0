# jprov's on-host library: the functions the apply script, the lockout guard's control script and the
# guard's fire program share, so that each of them restores, reloads and keeps the journal the same way.
# Plain POSIX sh, not a template: it is sent exactly as it is. Callers set STATE and PROFILE first.

h() { od -An -v -tx1 | tr -d ' \n'; }
fail() { printf 'jprov-error %s\n' "$(printf '%s' "$1" | h)"; exit "${2:-1}"; }
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
  [ -f "$j" ] || return 0
  # grep exits 1 when no line is left: that is the expected end, not a failure.
  grep -vxF "$1" "$j" > "$j.new" || :
  mv -f "$j.new" "$j"
  if [ ! -s "$j" ]; then rm -f "$j"; fi
}

sshd_reload() { # SIGHUP: sshd re-reads its files and keeps every session
  if [ -d /run/systemd/system ]; then systemctl reload ssh; else kill -HUP "$(cat /run/sshd.pid)"; fi
}

# The lockout guard. Armed before jprov writes sshd's files, disarmed by jprov once a fresh login worked
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
  if [ -d /run/systemd/system ]; then
    # No such unit is the usual case: nothing to stop.
    systemctl stop "$(guard_unit).timer" "$(guard_unit).service" 2>/dev/null || :
    systemctl reset-failed "$(guard_unit).timer" "$(guard_unit).service" 2>/dev/null || :
  fi
  g=$(guard_dir)
  if [ -f "$g/pid" ]; then
    pid=$(cat "$g/pid")
    # Only the sleeper this guard started: a pid file may outlive its process and name another one.
    if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "jprov-guard $g "; then
      kill -- "-$pid" 2>/dev/null || :
    fi
    rm -f "$g/pid"
  fi
}
guard_drop_settled() { # entries whose path no longer holds what jprov wrote need no restore: drop them
  guard_lock || fail "cannot lock the lockout guard"
  g=$(guard_dir)
  for f in "$g"/entries/*.path; do
    [ -f "$f" ] || continue
    e=${f%.path}
    if ! grep -qxF "$(path_digest "$(cat "$f")")" "$e.digest"; then rm -f "$e" "$e.absent" "$e.path" "$e.digest"; fi
  done
  if [ -z "$(ls -A "$g/entries" 2>/dev/null)" ]; then guard_stop_timer; rm -rf "$g"; fi
  guard_unlock
}
guard_start_timer() { # seconds (with the lock held)
  g=$(guard_dir)
  token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
  printf '%s\n' "$token" > "$g/token" || return 1
  if [ -d /run/systemd/system ]; then
    systemd-run --quiet --unit="$(guard_unit)" --on-active="$1" --timer-property=AccuracySec=1s \
      /bin/sh "$g/fire" "$token"
  else
    # Fds 8 and 9 (apply's lock, the guard's lock) are closed for the sleeper: it must not hold them.
    setsid -f sh -c 'echo $$ > "$1/pid"; sleep "$2"; exec /bin/sh "$1/fire" "$3"' jprov-guard "$g" "$1" "$token" \
      < /dev/null > /dev/null 2>&1 8>&- 9>&-
  fi
}
# guard_arm SECONDS [PATH DIGEST]...: before writing PATHs with content of DIGEST. Needs guard_write_fire
# (the apply script defines it: the fire program is this library plus guard_fire).
guard_arm() {
  secs=$1; shift
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
    printf '%s\n' "$2" >> "$e.digest" || fail "cannot record $1 for the lockout guard"
    shift 2
  done
  guard_write_fire > "$g/fire" && chmod 700 "$g/fire" || fail "cannot write the lockout guard"
  guard_start_timer "$secs" || fail "cannot arm the lockout guard"
  guard_unlock
}
guard_rearm() { # seconds: restart the timer of an armed guard (a pending sshd reload is about to happen)
  g=$(guard_dir)
  [ -d "$g" ] || return 1
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
    echo "jprov-guard-kept"
  elif [ -d "$g" ]; then
    guard_stop_timer
    rm -rf "$g"
    echo "jprov-guard-disarmed"
  else
    # Fired (or replaced and settled) before jprov got here.
    echo "jprov-guard-gone"
  fi
  guard_unlock
}
guard_fire_now() { # jprov's fresh login failed: restore at once, through the same fire program
  g=$(guard_dir)
  guard_lock || fail "cannot lock the lockout guard"
  if [ ! -f "$g/fire" ]; then guard_unlock; echo "jprov-guard-gone"; return 0; fi
  guard_stop_timer
  token=$(cat "$g/token")
  guard_unlock
  /bin/sh "$g/fire" "$token" && echo "jprov-guard-fired"
}
# The fire program's body: run by the timer, the sleeper or guard_fire_now as `sh DIR/fire TOKEN`.
guard_fire() { # token
  g=${0%/fire}
  PROFILE=${g##*/}
  STATE=${g%/guard/*}
  PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
  exec 9>"$g.lock"
  flock -w 60 9 || exit 1
  # Disarmed, or replaced by a later arming, since this timer started: nothing to do.
  if [ ! -f "$g/token" ] || [ "$(cat "$g/token")" != "$1" ]; then exit 0; fi
  restored=""
  for f in "$g"/entries/*.path; do
    [ -f "$f" ] || continue
    e=${f%.path}
    p=$(cat "$f")
    if grep -qxF "$(path_digest "$p")" "$e.digest"; then
      restore_record "$e" "$p" && restored="$restored $p"
    else
      logger -t jprov "lockout guard of profile $PROFILE: left $p alone: it changed after the guard was armed" 2>/dev/null || :
    fi
  done
  status=0
  if [ -n "$restored" ]; then
    # A reload with a broken configuration would stop sshd: validate first.
    if out=$(sshd -t 2>&1); then
      sshd_reload && journal_done "reload ssh"
      logger -t jprov "lockout guard: restored the previous sshd configuration of profile $PROFILE:$restored" 2>/dev/null || :
    else
      status=1
      logger -t jprov "lockout guard of profile $PROFILE: restored$restored but sshd -t rejects it, so sshd was not reloaded: $out" 2>/dev/null || :
    fi
  fi
  rm -rf "$g"
  return $status
}
