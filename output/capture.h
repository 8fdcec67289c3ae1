/* SPDX-License-Identifier: MIT */
/*
 * Captures: what a screen or a view shows, described so that it can be
 * drawn later and elsewhere (a worker thread making a screenshot). Each
 * layer holds a dup of its buffer's fd, which keeps the memory alive
 * whatever happens meanwhile to the view, the framebuffer or its owner.
 * Nothing is mapped or read when capturing. A buffer whose fd cannot be
 * mapped but which its importer mapped (dmab_obuf_set_cpu) is read from
 * that mapping: the capture locks the framebuffer until it is destroyed,
 * which then happens on the loop.
 */
#ifndef DMAB_OUTPUT_CAPTURE_H
#define DMAB_OUTPUT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/output.h"

struct dmab_capture_layer {
	int fd;                 /* the buffer (the capture's dup), -1 if it has none */
	size_t size;            /* octets of the buffer, mappable from offset 0 */
	uint32_t offset, stride, fourcc;        /* the framebuffer in it */
	struct dmab_rect src;   /* the part of the framebuffer shown */
	struct dmab_rect dst;   /* where, on the canvas, inside it: scaled where the size differs */
	void *user;             /* the view's data: for the caller, and only now */
	struct dmab_ofb *fb;    /* for the caller on the loop, and only now */
	/* The importer's read-only mapping of the buffer (fd unmappable), or NULL. */
	const uint8_t *cpu;
	struct dmab_ofb *held;  /* locked while cpu is read, or NULL */
};

struct dmab_capture {
	uint32_t width, height;         /* the canvas, black where no layer is */
	/*
	 * Layers blend over what is below them (a screen), or replace it (one
	 * view alone: the frame's alpha is kept as it is).
	 */
	bool blend;
	size_t nlayers;
	struct dmab_capture_layer layers[];     /* bottom to top */
};

/**
 * What screen shows now (its views' current frames), on a canvas of its
 * size. 0 with *capture set (the caller's, for dmab_capture_destroy()), or
 * a negative errno.
 */
int dmab_screen_capture(struct dmab_screen *screen, struct dmab_capture **capture);

/** What view shows now, on a canvas of the view's size. As dmab_screen_capture(). */
int dmab_view_capture(struct dmab_view *view, struct dmab_capture **capture);

/** A whole framebuffer (a display's own capture), on a canvas of its size. */
int dmab_ofb_capture(struct dmab_ofb *fb, struct dmab_capture **capture);

/** Whether the capture holds framebuffers (it must then be destroyed on the loop). */
bool dmab_capture_holds(const struct dmab_capture *capture);

/**
 * Close a capture's fds, unlock what it holds and free it; on the loop when
 * dmab_capture_holds() says so. NULL is a no-op.
 */
void dmab_capture_destroy(struct dmab_capture *capture);

#endif
