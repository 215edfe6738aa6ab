#!/usr/bin/env bash
# `make test` on a fresh machine, as the README promises it: a container from the project's
# python base with only the Docker CLI, Compose v2, make and git (Dockerfile beside this),
# the host's Docker socket, and a copy of this checkout (its working tree, committed or
# not) at the same path inside as outside, with its temporary folder beside it: compose's
# bind mounts resolve on the host's engine. It shares the host's network and process IDs, as
# a user's machine running its own engine does: it reaches the ports its containers publish
# on 127.0.0.1, and sees their processes (one test kills one as the OOM killer would). Not
# in CI mode.
#   tests/fresh-machine/run.sh              # make test; prints the summary and wall time
#   tests/fresh-machine/run.sh make lint    # any other command
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
work=$(mktemp -d /tmp/fresh-machine.XXXXXX)
trap 'rm -rf "$work"' EXIT
checkout="$work/pubsub-fanout"
mkdir -p "$work/tmp"

echo "==> a copy of $root at $checkout"
git clone --quiet --no-hardlinks "$root" "$checkout"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
  tar --null --files-from=- --create --file=-) | tar --extract --file=- --directory="$checkout"

echo "==> the fresh machine's image (python base + Docker CLI, Compose v2, make, git)"
# The host's network for apt and pip, as for every build on a machine without a route out.
docker build --quiet --network host --tag pubsub-fanout-fresh-machine "$here" >/dev/null

command=("$@")
[ ${#command[@]} -gt 0 ] || command=(make test)
log="$root/test-artifacts/fresh-machine.log"
mkdir -p "$(dirname "$log")"
echo "==> ${command[*]} (output also in $log)"
started=$(date +%s)
status=0
docker run --rm --network host --pid host \
  --volume /var/run/docker.sock:/var/run/docker.sock \
  --volume "$work:$work" --workdir "$checkout" --env TMPDIR="$work/tmp" \
  pubsub-fanout-fresh-machine "${command[@]}" 2>&1 | tee "$log" || status=$?
elapsed=$(($(date +%s) - started))
echo "==> fresh machine: exit ${status}, $((elapsed / 60)) min $((elapsed % 60)) s"
grep -E "^=+ .*(passed|failed|error).* =+$" "$log" | tail -1 || true
exit "$status"
