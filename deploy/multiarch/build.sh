#!/usr/bin/env bash
# Build the three images for linux/amd64 and linux/arm64 with podman (buildah inside) and
# qemu-user-static, each architecture's image added to a manifest list
# localhost/pubsub-fanout-<publisher|subscriber|dashboard>:$TAG (default multiarch), ready
# for `podman manifest push --all` to a registry. Run from the project's root (make
# images-multiarch). Foreign-architecture RUN steps (pip install) go through qemu: minutes.
#
# ARM64_BASE=IMAGE replaces the Dockerfiles' FROM for the arm64 builds only. TEST/DEMO
# ONLY, for a machine with no registry (see arm64-standin-base.sh); unset, podman takes
# the official multi-arch python image's arm64 variant.
set -euo pipefail

tag=${TAG:-multiarch}
platforms=${PLATFORMS:-linux/amd64 linux/arm64}
if [[ " $platforms " == *arm64* ]]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
fi

for pair in publisher:Dockerfile-Pub subscriber:Dockerfile-Sub dashboard:Dockerfile-Dashboard; do
  name=${pair%%:*} dockerfile=${pair#*:}
  list=localhost/pubsub-fanout-$name:$tag
  if podman manifest exists "$list"; then podman manifest rm "$list" >/dev/null; fi
  podman manifest create "$list" >/dev/null
  for platform in $platforms; do
    arch=${platform#*/}
    image=localhost/pubsub-fanout-$name:$tag-$arch
    from=()
    if [ "$arch" = arm64 ] && [ -n "${ARM64_BASE:-}" ]; then from=(--from "$ARM64_BASE"); fi
    started=$SECONDS
    # The host's network: pip reaches PyPI from the build (containers have no route out here).
    # Docker's image format, not OCI: OCI has no HEALTHCHECK, and podman would drop it.
    podman build --quiet --format docker --network host --platform "$platform" "${from[@]}" \
      -f "$dockerfile" -t "$image" . >/dev/null
    echo "built $image in $((SECONDS - started))s"
    podman manifest add "$list" "containers-storage:$image" >/dev/null
  done
done

echo
echo "image                                              id            os/arch      size"
for name in publisher subscriber dashboard; do
  for platform in $platforms; do
    image=localhost/pubsub-fanout-$name:$tag-${platform#*/}
    podman image inspect --format "{{.Id}} {{.Os}}/{{.Architecture}} {{.Size}}" "$image" |
      awk -v image="$image" '{ printf "%-50s %.12s  %-12s %d MB\n", image, $1, $2, $3 / 1e6 }'
    # What the architecture's python says, run through qemu where foreign.
    podman run --rm --health-cmd none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --platform "$platform" \
      --entrypoint python "$image" -c 'import platform; print("  runs:", platform.machine())'
  done
  echo "  manifest list localhost/pubsub-fanout-$name:$tag:" \
    "$(podman manifest inspect "localhost/pubsub-fanout-$name:$tag" |
      python3 -c 'import json,sys; print(", ".join(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"]))')"
done
