#!/bin/bash
# SPDX-License-Identifier: MIT
#
# An interactive protocol through the tunnel: ssh to an sshd the test starts itself (own config,
# host key and client key in the temp dir, loopback port, key authentication as the current
# user):
#
#   ssh ──> [join] ══WebRTC══ [host] ──> sshd -D (127.0.0.1)
#
# A command echoes a random token back; 1 MiB goes through `cat` and back byte-identical; a
# shell session driven over stdin answers each line.
. "$(dirname "$0")/pp-e2e.sh" "$1"
pp_plan 5

SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || pp_bail "no sshd (Debian package openssh-server)"
# sshd started by root insists on its privilege-separation directory at every connection; the
# test makes it if the system has none and removes what it made.
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
  mkdir -m 0755 /run/sshd && pp_at_exit 'rmdir /run/sshd'
fi

D=$PP_TMP/ssh
mkdir -m 0700 "$D"
ssh-keygen -q -t ed25519 -N '' -f "$D/host_key" -C e2e-host
ssh-keygen -q -t ed25519 -N '' -f "$D/user_key" -C e2e-user
cp "$D/user_key.pub" "$D/authorized_keys"
SSHD_PORT=$(pp_free_port)
cat > "$D/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $D/host_key
AuthorizedKeysFile $D/authorized_keys
PidFile none
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AllowUsers $(id -un)
EOF
pp_spawn sshd "$SSHD" -D -e -f "$D/sshd_config"
pp_wait_port 15 "$SSHD_PORT" || pp_bail "sshd did not start"

pp_tunnel "127.0.0.1:$SSHD_PORT" -- "127.0.0.1:0=>127.0.0.1:$SSHD_PORT"
LPORT=${PP_LPORTS[0]}

ssh_e2e ()
{
  timeout 40 ssh -F /dev/null -i "$D/user_key" -p "$LPORT" -o BatchMode=yes \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
    -o ConnectTimeout=30 "$(id -un)@127.0.0.1" "$@"
}

TOKEN="e2e-$RANDOM$RANDOM$RANDOM"
got=$(ssh_e2e "echo $TOKEN" 2> "$PP_TMP/ssh1.err")
rc=$?
if [ "$rc" -eq 0 ] && [ "$got" = "$TOKEN" ]; then
  pp_pass "ssh through the tunnel runs a command that echoes a random token"
else
  pp_fail "ssh through the tunnel runs a command that echoes a random token" \
    "exit $rc, got '$got'" "$(head -c 500 "$PP_TMP/ssh1.err")"
fi

head -c $((1024 * 1024)) /dev/urandom > "$PP_TMP/mib"
rc=0
ssh_e2e cat < "$PP_TMP/mib" > "$PP_TMP/mib.back" 2> "$PP_TMP/ssh2.err" || rc=$?
pp_check "1 MiB through ssh 'cat' and back is byte-identical (ssh exit $rc)" \
  cmp -s "$PP_TMP/mib" "$PP_TMP/mib.back"

# A shell whose input arrives a line at a time: each answer must come back before the session
# ends, in order, with the exit status of the last command.
rc=0
printf 'echo one-%s\nexpr 6 \\* 7\nprintf "%%s\\n" "$((1 << 20))"\nexit 3\n' "$TOKEN" \
  | ssh_e2e sh > "$PP_TMP/shell.out" 2> "$PP_TMP/ssh3.err" || rc=$?
want=$(printf 'one-%s\n42\n1048576' "$TOKEN")
if [ "$rc" -eq 3 ] && [ "$(cat "$PP_TMP/shell.out")" = "$want" ]; then
  pp_pass "a shell session over stdin answers each line and returns its exit status"
else
  pp_fail "a shell session over stdin answers each line and returns its exit status" \
    "exit $rc (want 3), output: $(tr '\n' '|' < "$PP_TMP/shell.out")"
fi

# Two sessions at once, each with its own token, over the same tunnel.
ssh_e2e "echo A-$TOKEN" > "$PP_TMP/a.out" 2>&1 & a=$!
ssh_e2e "echo B-$TOKEN" > "$PP_TMP/b.out" 2>&1 & b=$!
ra=0; rb=0
wait "$a" || ra=$?
wait "$b" || rb=$?
if [ "$ra$rb" = 00 ] && [ "$(cat "$PP_TMP/a.out")" = "A-$TOKEN" ] \
   && [ "$(cat "$PP_TMP/b.out")" = "B-$TOKEN" ]; then
  pp_pass "two concurrent ssh sessions each get their own answer"
else
  pp_fail "two concurrent ssh sessions each get their own answer" "exits $ra $rb" \
    "$(cat "$PP_TMP/a.out" "$PP_TMP/b.out" | head -4)"
fi
pp_check "sshd accepted exactly the five sessions made through the tunnel" \
  [ "$(grep -c 'Accepted publickey' "$PP_TMP/sshd.err")" -eq 5 ]
