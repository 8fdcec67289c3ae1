/* SPDX-License-Identifier: MIT */
/*
 * The control socket: dmabridgectl and scripts ask for status, statistics,
 * screenshots and layout changes. One JSON object per line each way
 * (docs/dmabridgectl.md); a screenshot request carries the file to write
 * the PNG into as a descriptor.
 */
#ifndef DMAB_SERVER_CONTROL_H
#define DMAB_SERVER_CONTROL_H

struct dmab_server;
struct dmab_control;

int dmab_control_create(struct dmab_server *server, struct dmab_control **control);
void dmab_control_destroy(struct dmab_control *control);

#endif
