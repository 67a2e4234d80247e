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

/* Runs argv[0] (a path, or a program found on PATH) with argv's NULL-terminated arguments, up to
 * 31 in all; stdout and stderr go to temporary files (a pipe could fill while we wait). */
static void cli_run_argv(cli_result *r, const char *const *argv) {
    char out_path[] = "/tmp/aw_cli_out_XXXXXX", err_path[] = "/tmp/aw_cli_err_XXXXXX";
    int out = mkstemp(out_path), err = mkstemp(err_path);
    assert_true(out >= 0 && err >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *copy[32];
        int n = 0;
        for (; argv[n] && n < 31; n++) copy[n] = argv[n];
        copy[n] = NULL;
        dup2(out, 1);
        dup2(err, 2);
        execvp(copy[0], (char *const *)copy);
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

/* Runs cli_tool with up to 15 arguments (NULL-terminated). */
static void cli_run(cli_result *r, const char *const *args) {
    const char *argv[17] = {cli_tool};
    for (int i = 0; args[i] && i < 15; i++) argv[i + 1] = args[i];
    cli_run_argv(r, argv);
}

/* Tools started from here that open Vulkan unload lavapipe and the validation layer at
 * vkDestroyInstance (in-process tests keep them loaded, tests/gpu/gpu_test_env.h), so the
 * drivers' process-lifetime allocations reach LeakSanitizer from unnamed modules that no
 * suppression can name. Child tools skip the exit-time leak scan; the engine's own leaks are
 * checked by the in-process tests. */
static inline void cli_tools_skip_leak_scan(void) {
    char asan[1024];
    const char *old = getenv("ASAN_OPTIONS");
    if (old && strstr(old, "detect_leaks=0")) return;
    snprintf(asan, sizeof asan, "%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
}

#endif /* AW_CLI_TEST_UTIL_H */
