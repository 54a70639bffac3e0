# jprov check: validate candidate files WITHOUT touching live files. Runs with `sh -s` (possibly sudo -n).
# One brace group: sh runs none of it until it has read all of it, so a connection cut while the
# script is sent runs nothing (a cut line could otherwise run as a different command).
{
set -eu
# Empty on hosts; tests put every path under a directory (src/script.rs: Root).
JPROV_ROOT=''
PROFILE=''
# <<< src/protocol.rs: protocol::shell() >>>
# <<< templates/host_lib.sh, as it is >>>
PATH="$PATH:/usr/sbin:/sbin"
umask 077
scratch=$(mktemp -d /tmp/jprov-check.XXXXXX) || fail "cannot create a scratch directory"
trap 'rm -rf "$scratch"' EXIT
# A cut connection ends the script by a signal (SIGPIPE at its next write): through exit, so the trap runs.
trap 'exit 1' HUP INT TERM PIPE
mkdir -p "$scratch/ssh/sshd_config.d"
# No drop-in yet is no error: there is nothing to copy.
cp -p /etc/ssh/sshd_config.d/*.conf "$scratch/ssh/sshd_config.d/" 2>/dev/null || :
sed "s|/etc/ssh/sshd_config.d|$scratch/ssh/sshd_config.d|g" /etc/ssh/sshd_config > "$scratch/ssh/sshd_config"
rm -f "$scratch/ssh/sshd_config.d/$(basename /etc/ssh/sshd_config.d/01-jprov-lab-lan.conf)"
if out=$(sshd -t -f "$scratch/ssh/sshd_config" 2>&1); then say_check_ok sshd
else say_check_invalid sshd "$(printf '%s' "$out" | sed "s|$scratch/ssh|/etc/ssh|g")"; fi
sshd_dir="$scratch/ssh"
views="$scratch/views"
mkdir "$views"
# The lines of $1 (text) that the case pattern of sshd_keywords admits, one per line, in `lines`.
sshd_lines_of() {
  lines=""
  jprov_ifs=$IFS; IFS=$nl; set -f; set -- $1; IFS=$jprov_ifs; set +f
  for line do
    case $line in gatewayports' '*|allowtcpforwarding' '*|permitlisten' '*|permittty' '*|x11forwarding' '*|allowagentforwarding' '*|authorizedkeysfile' '*) lines="$lines$line$nl" ;; esac
  done
}
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
wait
cat "$views"/*
say_check_end
}
