#!/bin/sh
# SPDX-License-Identifier: MIT
# check-conformance: the hv conformance suite (tests/hv) on real Xen: the
# backend role in dom0, two guest roles in PV domains (without a vdispl
# device: the suite plays both sides of the protocol itself, so no
# dmabridged runs), the domain-death case killing the last guest with
# `xl destroy`. ARGS: more options of the backend role (--case NAME,
# --except NAME: which cases run). Skips (77) when every case selected
# skipped, as grant-errors does where Xen's policy keeps domUs from each
# other's grants (XSM SILO, the default on Arm).
. /usr/lib/dmab-xen/lib.sh
role='test-hv-conformance --hv xen --role guest --timeout 30'
guest_create conf1 "$role" || finish
guest_create conf2 "$role" || { guest_destroy conf1; finish; }
test-hv-conformance --hv xen --guests 2 --kill-cmd 'xl destroy %u' --timeout 30 "$@"
status=$?
# 77: every case selected was skipped (each says why above).
[ "$status" -eq 0 ] || [ "$status" -eq 77 ] || fail "test-hv-conformance: exit status $status"
guest_wait_exit conf1 60
[ "$guest_status" = 0 ] || fail "the guest role in conf1: exit status $guest_status"
guest_destroy conf1
guest_destroy conf2
guest_show conf1
guest_show conf2
if [ "$failed" -eq 0 ] && [ "$status" -eq 77 ]; then
	echo "SKIP: no case could run here"
	exit 77
fi
finish
