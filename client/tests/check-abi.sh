#!/bin/sh
# SPDX-License-Identifier: MIT
# libdmabridge-client exports exactly the functions its public header
# declares: nothing of the layers below, no function the header lost.
set -eu
so=$1
header=$2
nm=${NM:-nm}
command -v "$nm" >/dev/null || { echo "no nm"; exit 77; }

exported=$("$nm" -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
declared=$(grep -o 'dmab_client_[a-z_]*(' "$header" | tr -d '(' | sort -u)

if [ "$exported" != "$declared" ]; then
	echo "exported but not declared:"
	printf '%s\n' "$exported" | grep -vxF "$declared" || true
	echo "declared but not exported:"
	printf '%s\n' "$declared" | grep -vxF "$exported" || true
	exit 1
fi
echo "$(printf '%s\n' "$exported" | wc -l) functions"
