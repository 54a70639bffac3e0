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
cp -a /etc/nginx "$scratch/nginx"
find "$scratch/nginx" -maxdepth 1 -name '*.conf' -exec sed -i "s|/etc/nginx/|$scratch/nginx/|g" {} +
printf '%s' '# Managed by jprov for profile lab-layers; edits will be overwritten.
# Included at http level (Debian: sites-available/jprov-lab-layers, linked from sites-enabled).

server {
    listen 80;
    listen [::]:80;
    server_name jupyter.example.org;

    # ACME http-01 challenges (certbot --webroot -w /var/lib/jprov-acme/lab-layers).
    location ''^~ /.well-known/acme-challenge/ {
        root /var/lib/jprov-acme/lab-layers;
        default_type text/plain;
        try_files $uri =404;
    }

    location / {
        # No certificate yet: nothing but the ACME challenge is served.
        return 404;
    }
}
' > "$scratch/nginx/sites-available/$(basename /etc/nginx/sites-available/jprov-lab-layers)"
ln -sfn "$scratch/nginx/sites-available/$(basename /etc/nginx/sites-available/jprov-lab-layers)" "$scratch/nginx/sites-enabled/$(basename /etc/nginx/sites-available/jprov-lab-layers)"
if out=$(nginx -t -c "$scratch/nginx/nginx.conf" 2>&1); then say_check_ok nginx
else say_check_invalid nginx "$(printf '%s' "$out" | sed "s|$scratch/nginx|/etc/nginx|g")"; fi
say_check_end
}
