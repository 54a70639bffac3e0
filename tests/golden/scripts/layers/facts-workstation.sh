# jprov facts: read-only. Runs with `sh -s`, possibly under `sudo -n`. Changes nothing on the host.
# One brace group: sh runs none of it until it has read all of it, so a connection cut while the
# script is sent runs nothing (a cut line could otherwise run as a different command).
{
set -eu
# Empty on hosts; tests put every path under a directory (src/script.rs: Root).
JPROV_ROOT=''
PROFILE=''
# <<< src/protocol.rs: protocol::shell() >>>
# <<< templates/host_lib.sh, as it is >>>
fact_begin
# The same PATH whatever was asked (several profiles' queries may be gathered at once): sshd is in sbin.
PATH="$PATH:/usr/sbin:/sbin"
# The script's scratch directory: the background readers' records, the texts of deferred contents.
views=$(mktemp -d)
trap 'rm -rf "$views"' EXIT
# A cut connection ends the script by a signal (SIGPIPE at its next write): through exit, so the trap runs.
trap 'exit 1' HUP INT TERM PIPE
# Contents are encoded at the end, all by one od (src/protocol/blobs.rs): a record's field `@N` stands for
# blob N, the Nth file in `blobs` (a file the script read, or a text it wrote into views). An empty text
# is an empty field, no blob. Paths hold no newline (they are validated).
blobs="" blob_count=0
blob_file() { blobs="$blobs$1$nl"; HEX=@$blob_count; blob_count=$((blob_count + 1)); }
blob_text() {
  if [ -z "$1" ]; then HEX=; return; fi
  printf '%s' "$1" > "$views/blob-$blob_count"
  blob_file "$views/blob-$blob_count"
}
uid=$(id -u)
fact_uid "$uid"
blob_text "${HOME:-/}"
fact_home "$HEX"
if have_systemd; then systemd=yes; else systemd=no; fi
fact_systemd $systemd
# The slow readers start first and run in the background while the rest is read, each printing its records
# into its own file in `views`, printed at the end: ss reads every process's sockets, sshd -T every drop-in
# (a shared server asks for a port and a user per profile).
# One ss for every port asked. No ss, or nothing listening: no record. Per port: the first listener on it (a
# listener's peer port is `*`, so `:PORT ` is its local address), and the first process name ss shows for
# it: `users:(("NAME",pid=...`. Lines are split by the shell (IFS), not read byte by byte.
(
  listening=$(ss -ltnpH 2>/dev/null) || :
  jprov_ifs=$IFS; IFS=$nl; set -f; set -- $listening; IFS=$jprov_ifs; set +f
  found="" who=""
  for line do
    case $line in *":8888 "*)
      found=yes
      case $line in *'users:(("'*) who=${line#*'users:(("'}; who=${who%%'"'*} ;; esac
      break ;;
    esac
  done
  if [ -n "$found" ]; then fact_listening 8888 "${who:-something}"; fi
) > "$views/listening" &
# A `stat -c %F` kind as one word (`directory`, `fifo`, `regular-empty-file`): spaces become hyphens.
kind_of() { # path [-L]
  kind=$(stat ${2:-} -c '%F' "$1")
  while :; do case $kind in *' '*) kind=${kind%%' '*}-${kind#*' '} ;; *) break ;; esac; done
}
fact_path() { # path hexpath
  if [ -L "$1" ]; then fact_file_link "$2" "$(readlink "$1")"
  elif [ -f "$1" ]; then
    # stat's three words are the record's mode, owner and group fields: from the one stat below (its lines
    # split by the shell: a `${modes#*PATH}` costs time in the square of its length), or (a file that
    # appeared since) its own.
    m=""
    jprov_ifs=$IFS; IFS=$nl; set -f
    for line in $modes; do case $line in "$1	"*) m=${line#*	}; break ;; esac; done
    IFS=$jprov_ifs; set +f
    if [ -z "$m" ]; then m=$(stat -c '%a %U %G' "$1"); fi
    if [ -s "$1" ]; then blob_file "$1"; else HEX=""; fi
    fact_file "$2" $m "$HEX"
  elif [ -e "$1" ]; then kind_of "$1"; fact_file_other "$2" "$kind"
  else fact_file_missing "$2"
  fi
}
# One stat for every regular file asked, each line `PATH<TAB>MODE OWNER GROUP` (paths hold no tab or
# newline: they are validated), when any is there.
modes=""
if [ -f /home/alice/.ssh/authorized_keys ] || [ -f /home/alice/.jupyter/jupyter_server_config.py ] || [ -f /home/alice/.config/systemd/user/jprov-lab-layers-jupyter.service ] || false; then
  modes=$(stat -c '%n	%a %U %G' -- /home/alice/.ssh/authorized_keys /home/alice/.jupyter/jupyter_server_config.py /home/alice/.config/systemd/user/jprov-lab-layers-jupyter.service 2>/dev/null) || :
fi
fact_path /home/alice/.ssh/authorized_keys 2f686f6d652f616c6963652f2e7373682f617574686f72697a65645f6b657973
fact_path /home/alice/.jupyter/jupyter_server_config.py 2f686f6d652f616c6963652f2e6a7570797465722f6a7570797465725f7365727665725f636f6e6669672e7079
fact_path /home/alice/.config/systemd/user/jprov-lab-layers-jupyter.service 2f686f6d652f616c6963652f2e636f6e6669672f73797374656d642f757365722f6a70726f762d6c61622d6c61796572732d6a7570797465722e73657276696365
# A user's own systemd manager is found through XDG_RUNTIME_DIR, which a non-interactive login may lack.
if [ "$uid" != 0 ]; then export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/run/user/$uid}"; fi
# is-enabled and is-active exit non-zero for every answer but yes: the answer is their first line. Without
# systemd as PID 1 there is no manager to ask: unknown.
e="" a=""
if [ $systemd = yes ]; then
  e=$(systemctl --user is-enabled jprov-lab-layers-jupyter.service 2>/dev/null) || :
  a=$(systemctl --user is-active jprov-lab-layers-jupyter.service 2>/dev/null) || :
fi
e=${e%%"$nl"*} a=${a%%"$nl"*}
fact_unit user jprov-lab-layers-jupyter.service "${e:-unknown}" "${a:-unknown}"
# Lingering is systemd's: without it there is nothing to ask (and sudo -l costs a sudo).
if [ $systemd = yes ]; then
  user=$(id -un)
  if [ -e "/var/lib/systemd/linger/$user" ]; then fact_linger yes; else
    fact_linger no
    # Only lists what sudo would allow; runs nothing.
    if [ "$uid" = 0 ] || sudo -n -l loginctl enable-linger "$user" >/dev/null 2>&1; then fact_linger_sudo yes; else fact_linger_sudo no; fi
  fi
fi
# systemd looks a bare name up in its own fixed PATH, not the user's.
x=no; for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do if [ -f "$d"/jupyter ] && [ -x "$d"/jupyter ]; then x=yes; break; fi; done
fact_executable 6a757079746572 $x
state_dir "$uid"
# Each profile's records, every line tagged with its name (one gathering may read several profiles').
for PROFILE in lab-layers; do
  fact_records "$PROFILE"
  journal="$STATE/journal/$PROFILE"
  backup="$STATE/backup/$PROFILE"
  if [ -f "$journal" ]; then
    while read -r what service; do fact_pending "$PROFILE" "$what" "$service"; done < "$journal"
  fi
  if [ -d "$backup" ] || [ -f "$journal" ]; then fact_state "$PROFILE"; fi
  # An armed lockout guard (host_lib.sh: its directory, guard_dir, exists until it is disarmed or fires),
  # and whether its timer or sleeper still waits to fire.
  if [ -d "$STATE/guard/$PROFILE" ]; then
    if guard_ticking; then fact_guard "$PROFILE" ticking; else fact_guard "$PROFILE" stopped; fi
  fi
  # What apply kept: the previous version of each path it wrote (NAME or NAME.absent), and in original/
  # what was there before its first write (for `jprov destroy`). Names one per line, hex-encoded as one
  # block: one encoding per list, not per name.
  names=""
  for f in "$backup"/*; do
    if [ -d "$f" ] && [ ! -L "$f" ]; then continue; fi
    if [ -e "$f" ] || [ -L "$f" ]; then n=${f##*/}; names="$names${n%.absent}$nl"; fi
  done
  blob_text "$names"
  fact_backups "$PROFILE" "$HEX"
  names=""
  for f in "$backup"/original/*.absent; do
    if [ -f "$f" ] && [ ! -L "$f" ]; then n=${f##*/}; names="$names${n%.absent}$nl"; fi
  done
  blob_text "$names"
  fact_originals_absent "$PROFILE" "$HEX"
  for f in "$backup"/original/*; do
    n=${f##*/}
    if [ -L "$f" ]; then
      blob_text "$n"
      fact_original_link "$PROFILE" "$HEX" "$(readlink "$f")"
    elif [ -f "$f" ]; then
      case "$n" in
        *.absent) ;;
        *) blob_text "$n"; name=$HEX; blob_file "$f"; fact_original_file "$PROFILE" "$name" $(stat -c '%a %U %G' "$f") "$HEX" ;;
      esac
    fi
  done
done
wait
cat "$views"/[!b]*
if [ $blob_count -gt 0 ]; then
  jprov_ifs=$IFS; IFS=$nl; set -f; set -- $blobs; IFS=$jprov_ifs; set +f
  # A file gone or grown since its record makes the sizes disagree with the bytes: jprov says so.
  sizes=$(stat -L -c %s -- "$@" 2>/dev/null) || :
  printf 'blob-sizes'; for size in $sizes; do printf ' %s' "$size"; done; printf '\n'
  printf 'blobs\n'
  od -An -v -tx1 -- "$@" 2>/dev/null || :
  printf 'blobs-end\n'
fi
fact_end
}
