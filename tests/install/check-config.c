// SPDX-License-Identifier: MIT
/*
 * check-config [--bound] FILE...: whether dmabridged's own parser takes each
 * configuration file, so that the examples shipped and documented cannot
 * rot. With --bound, every place must also be bound to a domain.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "server/config.h"

int main(int argc, char *argv[])
{
	bool bound = argc > 1 && !strcmp(argv[1], "--bound");
	int first = bound ? 2 : 1;
	if (first >= argc) {
		fprintf(stderr, "usage: check-config [--bound] FILE...\n");
		return 2;
	}
	int status = 0;
	for (int i = first; i < argc; i++) {
		struct dmab_config config;
		char err[256];
		dmab_config_defaults(&config);
		if (dmab_config_load(&config, argv[i], err, sizeof(err))) {
			fprintf(stderr, "FAIL: %s\n", err);
			status = 1;
			continue;
		}
		for (unsigned int k = 0; bound && k < config.nplaces; k++) {
			if (!dmab_config_place_bound(&config.places[k])) {
				fprintf(stderr, "FAIL: %s: [connector.%s] is not bound to a domain\n",
					argv[i], config.places[k].label);
				status = 1;
			}
		}
		printf("%s: %u places, %u screens, %u outputs\n", argv[i], config.nplaces,
			config.nscreens, config.noutputs);
	}
	return status;
}
