#!/bin/sh
# SPDX-License-Identifier: MIT
# Run one libFuzzer target for a bounded time from the checked-in seeds.
# New inputs go to a scratch directory; crashes are kept under artifacts/.
# usage: run-fuzz.sh <target> <seconds> <seed-dir> <artifact-dir>
set -eu
target=$1 seconds=$2 seeds=$3 artifacts=$4
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$scratch" "$seeds"
