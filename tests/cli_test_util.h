/* Shared by the command-line tests: finds a tool built next to the test (build/tests/X ->
 * build/bin/TOOL) and runs it with arguments, capturing exit code, stdout and stderr. Include
 * after <cmocka.h>. */
#ifndef AW_CLI_TEST_UTIL_H
#define AW_CLI_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char cli_tool[4096];

/* Points cli_tool at build/bin/<name>; false when the tools were not built. */
static bool cli_find_tool(const char *name) {
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return false;
    *slash = '\0';
    snprintf(cli_tool, sizeof cli_tool, "%s/../bin/%s", self, name);
    return access(cli_tool, X_OK) == 0;
}

typedef struct cli_result {
    int code;
    char out[1 << 16];
    char err[1 << 14];
} cli_result;

static void cli_read_all(int fd, char *buf, size_t size) {
    size_t used = 0;
    ssize_t n;
    while ((n = read(fd, buf + used, size - 1 - used)) > 0) used += (size_t)n;
    buf[used] = '\0';
}

/* Runs cli_tool with up to 15 arguments (NULL-terminated); stdout and stderr go to temporary files
 * (a pipe could fill while we wait). */
static void cli_run(cli_result *r, const char *const *args) {
    char out_path[] = "/tmp/aw_cli_out_XXXXXX", err_path[] = "/tmp/aw_cli_err_XXXXXX";
    int out = mkstemp(out_path), err = mkstemp(err_path);
    assert_true(out >= 0 && err >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *argv[17] = {cli_tool};
        for (int i = 0; args[i] && i < 15; i++) argv[i + 1] = args[i];
        dup2(out, 1);
        dup2(err, 2);
        execv(cli_tool, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    lseek(out, 0, SEEK_SET);
    lseek(err, 0, SEEK_SET);
    cli_read_all(out, r->out, sizeof r->out);
    cli_read_all(err, r->err, sizeof r->err);
    close(out);
    close(err);
    remove(out_path);
    remove(err_path);
}

#endif /* AW_CLI_TEST_UTIL_H */
