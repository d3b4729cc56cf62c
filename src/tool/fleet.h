/*
 * imss-renew fleet: what cmd-fleet.c (options, the file) and fleet-run.c
 * (tokens, employers, the renewals, the summary) share.
 */
#ifndef IMSS_FLEET_H
#define IMSS_FLEET_H

#include "fleet-file.h"
#include "tool.h"

struct fleet_args {
	const char *file, *token, *server, *ca, *type, *pin_source;
	const char *idse_password_source, *password_source, *state_dir, *out_dir;
	const char *report, *due_text, *days_text, *timeout_text, *jobs_text;
	const char *notify_command;
	int wait_lock, yes;
	int renew; /* fleet renew, else fleet check */
	long due, days, timeout;
	long jobs;            /* renew: employers under way at once (--jobs, default 3) */
	imss_keyspec keyspec; /* of --type; kind 0 when not given */
};

/* The two subcommands (fleet-run.c); each returns the exit status. */
int fleet_renew(struct tool *t, const struct fleet_args *a, const struct fleet_file *f);
int fleet_check(struct tool *t, const struct fleet_args *a, const struct fleet_file *f);

#endif /* IMSS_FLEET_H */
