#!/bin/sh
# SPDX-License-Identifier: MIT
# check-connect: a PV guest with one vdispl device connects to dmabridged
# (XenbusState 4, Connected, on both sides, and dmabridgectl says so with
# the guest's connector), and when the guest is destroyed its backend
# directory leaves XenStore.
. /usr/lib/dmab-xen/lib.sh
dmab_start || finish
guest_create conn 'xen-frames ids; sleep 600' \
	"vdispl = [ 'backend=0,be-alloc=0,connectors=conn-0:640x480' ]" || { dmab_stop; finish; }
domid=$guest_domid
if guest_wait_connected conn "$domid" 90; then
	note "backend state $(be_state "$domid"), frontend state $(fe_state "$domid")"
	echo "--- /local/domain/0/backend/vdispl/$domid"
	xenstore-ls "/local/domain/0/backend/vdispl/$domid"
	echo "--- /local/domain/$domid/device/vdispl"
	xenstore-ls "/local/domain/$domid/device/vdispl"
	echo "--- dmabridgectl status"
	dmabridgectl status | tee "$RUN/status"
	grep -q "^dom$domid/vdispl0 (domain conn): Connected" "$RUN/status" ||
		fail "dmabridgectl status does not show domain $domid connected"
	grep -q 'connector 0 "conn-0" 640x480' "$RUN/status" ||
		fail "dmabridgectl status does not show the connector conn-0 640x480"
fi
guest_destroy conn
backend_gone() { ! xenstore-read "/local/domain/0/backend/vdispl/$domid/0/state"; }
wait_for 30 "the backend directory of domain $domid to leave XenStore" backend_gone
guest_show conn
dmab_stop
finish
