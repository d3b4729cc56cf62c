/*
 * --notify-command: a command the user names (mail, a chat hook) run with
 * a JSON summary on its standard input, when a run has something to say
 * (check: a certificate expires or has expired; fleet: one was renewed or
 * failed).  Through /bin/sh -c, its standard output sent to stderr (stdout
 * is the tool's, maybe JSON), without the variables secrets were read from
 * (env:NAME sources) nor $CREDENTIALS_DIRECTORY, and with no descriptor
 * open above 2 (an fd:N source's stays ours).  Its failure is a warning:
 * the exit status stays what the run found.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tool.h"

#define SECRET_VARS_MAX 16
#define SECRET_VAR_SIZE 256

/* The env:NAME variables secrets came from (no allocation: noted once
 * each, kept until exit). */
static char secret_vars[SECRET_VARS_MAX][SECRET_VAR_SIZE];
static size_t n_secret_vars;
static int secret_vars_lost; /* one could not be noted: the command is not run */

void
tool_notify_note_source(const char *spec)
{
	size_t i;

	if (!spec || strncmp(spec, "env:", 4) != 0)
		return;
	for (i = 0; i < n_secret_vars; i++)
		if (strcmp(secret_vars[i], spec + 4) == 0)
			return;
	if (n_secret_vars == SECRET_VARS_MAX || strlen(spec + 4) >= SECRET_VAR_SIZE) {
		secret_vars_lost = 1;
		return;
	}
	snprintf(secret_vars[n_secret_vars++], SECRET_VAR_SIZE, "%s", spec + 4);
}

extern char **environ;

/* Is "NAME=value" one of the variables the command does not get? */
static int
withheld(const char *entry)
{
	size_t len = strcspn(entry, "="), i;

	if (len == strlen("CREDENTIALS_DIRECTORY") &&
	    strncmp(entry, "CREDENTIALS_DIRECTORY", len) == 0)
		return 1;
	for (i = 0; i < n_secret_vars; i++)
		if (strlen(secret_vars[i]) == len && strncmp(entry, secret_vars[i], len) == 0)
			return 1;
	return 0;
}

/* The command's environment, made before fork(): ours without the
 * withheld variables (the strings are environ's).  NULL when out of
 * memory. */
static char **
command_environment(void)
{
	size_t n = 0, kept = 0, i;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 1, sizeof(*env));
	for (i = 0; env && i < n; i++)
		if (!withheld(environ[i]))
			env[kept++] = environ[i];
	return env;
}

/* In the child: every descriptor above 2 closed (an fd: PIN or password
 * source, a token's, a lock's: none is the command's business). */
static void
close_other_fds(void)
{
	long fd, max_fd;

#ifdef SYS_close_range /* Linux 5.9; close_range() itself needs _GNU_SOURCE */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	max_fd = sysconf(_SC_OPEN_MAX);
	if (max_fd < 0 || max_fd > 65536)
		max_fd = 65536;
	for (fd = 3; fd < max_fd; fd++)
		close((int)fd);
}

/* In the child: stdin from the pipe, stdout to stderr, nothing else open;
 * only what is async-signal-safe. */
static void
exec_command(const char *cmd, int pipe_fds[2], char **env)
{
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };

	if (dup2(pipe_fds[0], STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		_exit(127);
	close_other_fds();
	execve("/bin/sh", argv, env);
	_exit(127);
}

/* Write all of text to fd; a command that does not read it is no error. */
static void
write_all(int fd, const char *text)
{
	size_t left = strlen(text);
	ssize_t n;

	while (left > 0) {
		n = write(fd, text, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		text += n;
		left -= (size_t)n;
	}
}

static int
wait_for(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

int
tool_notify(struct tool *t, const char *cmd, const char *json_summary)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
	char **env = command_environment();
	int pipe_fds[2], status;
	pid_t pid;

	(void)t;
	fflush(NULL);
	if (secret_vars_lost) {
		tool_warn(_("the notify command was not run: more than %d env: secret sources (or a name that long) cannot all be kept from its environment"),
		          SECRET_VARS_MAX);
		free(env);
		return -1;
	}
	if (!env || pipe(pipe_fds) != 0) {
		tool_warn(_("the notify command was not run: %s"), strerror(env ? errno : ENOMEM));
		free(env);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		exec_command(cmd, pipe_fds, env);
	free(env);
	close(pipe_fds[0]);
	if (pid < 0) {
		close(pipe_fds[1]);
		tool_warn(_("the notify command was not run: %s"), strerror(errno));
		return -1;
	}
	sigaction(SIGPIPE, &ignore, &old);
	write_all(pipe_fds[1], json_summary);
	write_all(pipe_fds[1], "\n");
	close(pipe_fds[1]);
	sigaction(SIGPIPE, &old, NULL);
	status = wait_for(pid);
	if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (status >= 0 && WIFSIGNALED(status))
		tool_warn(_("the notify command was killed by signal %d"), WTERMSIG(status));
	else
		tool_warn(_("the notify command failed (exit status %d); the result above stands"),
		          status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return -1;
}
