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
    case $line in *":80 "*)
      found=yes
      case $line in *'users:(("'*) who=${line#*'users:(("'}; who=${who%%'"'*} ;; esac
      break ;;
    esac
  done
  if [ -n "$found" ]; then fact_listening 80 "${who:-something}"; fi
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
sshd_dir=/etc/ssh
# The lines of $1 (text) that the case pattern of sshd_keywords admits, one per line, in `lines`.
sshd_lines_of() {
  lines=""
  jprov_ifs=$IFS; IFS=$nl; set -f; set -- $1; IFS=$jprov_ifs; set +f
  for line do
    case $line in gatewayports' '*|allowtcpforwarding' '*|permitlisten' '*|permittty' '*|x11forwarding' '*|allowagentforwarding' '*|authorizedkeysfile' '*) lines="$lines$line$nl" ;; esac
  done
}
(
  effective=$(sshd -T -f "$sshd_dir/sshd_config" -C user=jprov-tunnel,host=jprov-check,addr=192.0.2.1 2>/dev/null) || :
  sshd_lines_of "$effective"
  hex_of "$lines"
  say_effective jprov-tunnel "$HEX"
) > "$views/effective-1" &
(
  effective=$(sshd -T -f "$sshd_dir/sshd_config" -C user=admin,host=jprov-check,addr=192.0.2.1 2>/dev/null) || :
  sshd_lines_of "$effective"
  hex_of "$lines"
  say_effective admin "$HEX"
) > "$views/effective-2" &
(
  effective=$(sshd -T -f "$sshd_dir/sshd_config" -C user=jprov-cert,host=jprov-check,addr=192.0.2.1 2>/dev/null) || :
  sshd_lines_of "$effective"
  hex_of "$lines"
  say_effective jprov-cert "$HEX"
) > "$views/effective-3" &
(
  sources=$(grep -HniE '^[[:space:]]*(gatewayports|allowtcpforwarding|permitlisten|permittty|x11forwarding|allowagentforwarding|authorizedkeysfile)[[:space:]]' "$sshd_dir/sshd_config" "$sshd_dir/sshd_config.d/"*.conf 2>/dev/null) || :
  lines=""
  if [ -n "$sources" ]; then
    case $sshd_dir in
      /etc/ssh) lines="$sources$nl" ;;
      *)
        jprov_ifs=$IFS; IFS=$nl; set -f; set -- $sources; IFS=$jprov_ifs; set +f
        for line do
          case $line in "$sshd_dir"/*) line=/etc/ssh/${line#"$sshd_dir"/} ;; esac
          lines="$lines$line$nl"
        done ;;
    esac
  fi
  hex_of "$lines"
  say_sources "$HEX"
) > "$views/sources" &
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
if [ -f /etc/ssh/jprov/jprov-tunnel.keys ] || [ -f /etc/ssh/sshd_config.d/01-jprov-lab-together.conf ] || [ -f /etc/ssh/jprov/jprov-cert.keys ] || [ -f /var/lib/jprov-cert/lab-together/bundle.pem ] || [ -f /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-together ] || false; then
  modes=$(stat -c '%n	%a %U %G' -- /etc/ssh/jprov/jprov-tunnel.keys /etc/ssh/sshd_config.d/01-jprov-lab-together.conf /etc/ssh/jprov/jprov-cert.keys /var/lib/jprov-cert/lab-together/bundle.pem /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-together 2>/dev/null) || :
fi
fact_path /etc/ssh/jprov/jprov-tunnel.keys 2f6574632f7373682f6a70726f762f6a70726f762d74756e6e656c2e6b657973
fact_path /etc/ssh/sshd_config.d/01-jprov-lab-together.conf 2f6574632f7373682f737368645f636f6e6669672e642f30312d6a70726f762d6c61622d746f6765746865722e636f6e66
fact_path /etc/ssh/jprov/jprov-cert.keys 2f6574632f7373682f6a70726f762f6a70726f762d636572742e6b657973
fact_path /var/lib/jprov-cert/lab-together/bundle.pem 2f7661722f6c69622f6a70726f762d636572742f6c61622d746f6765746865722f62756e646c652e70656d
fact_path /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-together 2f6574632f6c657473656e63727970742f72656e6577616c2d686f6f6b732f6465706c6f792f6a70726f762d6c61622d746f676574686572
if [ -f /etc/letsencrypt/live/jupyter.example.org/fullchain.pem ]; then blob_file /etc/letsencrypt/live/jupyter.example.org/fullchain.pem; fact_read 2f6574632f6c657473656e63727970742f6c6976652f6a7570797465722e6578616d706c652e6f72672f66756c6c636861696e2e70656d "$HEX"; fi
if [ -f /etc/letsencrypt/live/jupyter.example.org/privkey.pem ]; then blob_file /etc/letsencrypt/live/jupyter.example.org/privkey.pem; fact_read 2f6574632f6c657473656e63727970742f6c6976652f6a7570797465722e6578616d706c652e6f72672f707269766b65792e70656d "$HEX"; fi
# One getent for every account: it prints the entries it finds (and exits 2 when one is missing).
passwd=$(getent passwd jprov-tunnel jprov-cert 2>/dev/null) || :
case "$nl$passwd" in *"$nl"jprov-tunnel:*) fact_account jprov-tunnel yes ;; *) fact_account jprov-tunnel no ;; esac
case "$nl$passwd" in *"$nl"jprov-cert:*) fact_account jprov-cert yes ;; *) fact_account jprov-cert no ;; esac
if [ -f /etc/letsencrypt/live/jupyter.example.org/fullchain.pem ]; then
  if openssl x509 -checkend 2592000 -noout -in /etc/letsencrypt/live/jupyter.example.org/fullchain.pem >/dev/null 2>&1; then s=fresh; else s=expiring; fi
  fact_certificate 2f6574632f6c657473656e63727970742f6c6976652f6a7570797465722e6578616d706c652e6f72672f66756c6c636861696e2e70656d $s
fi
# A user's own systemd manager is found through XDG_RUNTIME_DIR, which a non-interactive login may lack.
if [ "$uid" != 0 ]; then export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/run/user/$uid}"; fi
# is-enabled and is-active exit non-zero for every answer but yes: the answer is their first line. Without
# systemd as PID 1 there is no manager to ask: unknown.
e="" a=""
if [ $systemd = yes ]; then
  e=$(systemctl is-enabled certbot.timer 2>/dev/null) || :
  a=$(systemctl is-active certbot.timer 2>/dev/null) || :
fi
e=${e%%"$nl"*} a=${a%%"$nl"*}
fact_unit system certbot.timer "${e:-unknown}" "${a:-unknown}"
state_dir "$uid"
# Each profile's records, every line tagged with its name (one gathering may read several profiles').
for PROFILE in lab-together; do
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
