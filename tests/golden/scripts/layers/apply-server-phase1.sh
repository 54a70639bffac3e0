# jprov apply script for profile lab-layers on the server. Runs with `sh -s` (possibly under sudo -n).
# One brace group: sh runs none of it until it has read all of it, so a connection cut while the
# script is sent runs nothing (a cut line could otherwise run as a different command).
{
set -eu
# Empty on hosts; tests put every path under a directory (src/script.rs: Root).
JPROV_ROOT=''
PROFILE=lab-layers
# <<< src/protocol.rs: protocol::shell() >>>
# <<< templates/host_lib.sh, as it is >>>
apply_begin
# The lockout guard's fire program (host_lib.sh's guard_arm writes it into the guard's directory).
guard_write_fire() {
  cat <<'JPROV_GUARD_FIRE'
#!/bin/sh
# jprov lockout guard: restores what an unproven apply wrote to sshd's files, then reloads sshd.
set -eu
JPROV_ROOT=''
# <<< src/protocol.rs: protocol::shell() >>>
# <<< templates/host_lib.sh, as it is >>>
guard_fire "$@"
JPROV_GUARD_FIRE
}
# step 1: account
create_account jprov-tunnel /var/lib/jprov-tunnel /usr/sbin/nologin yes
say_done 1
# step 2: key pair
generate_key /var/lib/jprov-tunnel/.ssh/id_ed25519 jprov-tunnel jprov:lab-layers
say_done 2
# step 3: files
group_begin nginx
backup /etc/nginx/jprov-lab-layers.htpasswd
backup /etc/nginx/sites-available/jprov-lab-layers
backup /etc/nginx/sites-enabled/jprov-lab-layers
put_file /etc/nginx/jprov-lab-layers.htpasswd 640 root www-data 755 '# Managed by jprov for profile lab-layers; edits will be overwritten.
# The HTTP basic-auth accounts of access.basic_auth, checked by nginx in front of Jupyter.
alice:$2b$10$Ba3xafAlA0iHV/nDf8V6WuMWyHXDOkbF7iH.Pwvfxy3WSgwDUZlPy
ada:$2b$10$Tg..PzmSjf80XRSNyn2fh.6wdNFjXTQcPDPiL9nB092kMosYGB5GS
'
put_file /etc/nginx/sites-available/jprov-lab-layers 644 root root 755 '# Managed by jprov for profile lab-layers; edits will be overwritten.
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
'
put_link /etc/nginx/sites-enabled/jprov-lab-layers /etc/nginx/sites-available/jprov-lab-layers
validate nginx nginx
reload nginx
say_done 3
# step 4: certificate
own_dir /var/lib/jprov-acme/lab-layers 755 root root
obtain_certificate certbot 022 /var/lib/jprov-acme/lab-layers -- certbot certonly --non-interactive --agree-tos --keep-until-expiring -m admin@example.org -d jupyter.example.org --webroot -w /var/lib/jprov-acme/lab-layers
group_begin ''
validate nginx
reload nginx
say_done 4
# step 5: files
group_begin ''
backup /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-layers
put_file /etc/letsencrypt/renewal-hooks/deploy/jprov-lab-layers 755 root root 755 '#!/bin/sh
# Managed by jprov for profile lab-layers; edits will be overwritten.
# certbot runs every deploy hook after it renews any certificate; this one acts on jupyter.example.org only.
[ "${RENEWED_LINEAGE:-}" = /etc/letsencrypt/live/jupyter.example.org ] || exit 0
set -eu
# nginx reads certificates when it (re)loads.
nginx -t -q
if [ -d /run/systemd/system ]; then systemctl reload nginx; else nginx -s reload; fi
'
say_done 5
# step 6: files
group_begin systemd
backup /etc/systemd/system/jprov-lab-layers-tunnel.service
put_file /etc/systemd/system/jprov-lab-layers-tunnel.service 644 root root 755 '# Managed by jprov for profile lab-layers; edits will be overwritten.
# The SSH tunnel of method nginx-proxy, kept up by systemd.
[Unit]
Description=jprov tunnel for Jupyter (profile lab-layers)
After=network-online.target
Wants=network-online.target
# Never give up: by default systemd stops restarting a unit after 5 failures in 10 s.
StartLimitIntervalSec=0

[Service]
User=jprov-tunnel
# ssh exits when the connection dies (ServerAlive*) or the forward cannot be set up
# (ExitOnForwardFailure); systemd then starts it again.
ExecStart=ssh -N -o ExitOnForwardFailure=yes -o ServerAliveInterval=30 -o ServerAliveCountMax=3 -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/var/lib/jprov-tunnel/.ssh/known_hosts -o HostKeyAlias=jprov-lab-layers-workstation -i /var/lib/jprov-tunnel/.ssh/id_ed25519 -p 22 -L 127.0.0.1:8889:localhost:8888 alice@workstation.internal
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
'
reload systemd
say_done 6
check_started
say_finished
}
