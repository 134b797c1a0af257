/*
 * rpstop: an LD_PRELOAD shim that pauses a QEMU right after it wrote a chosen byte sequence,
 * typically one return-path frame (MIG_RP_MSG_PONG 0x42 is 00 02 00 04 00 00 00 42).
 *
 * It wraps write, writev, send and sendmsg: the real call runs first, then the bytes it
 * actually wrote are searched for the pattern; on the first match (once per process) it
 * creates the file $MIGMODEL_SHIM_NOTIFY and then, per $MIGMODEL_SHIM_ACTION:
 *   stop  - SIGSTOP the whole process (every thread); the harness SIGCONTs or SIGKILLs it;
 *   block - only the writing thread waits until the file $MIGMODEL_SHIM_RELEASE exists (polled
 *           every millisecond), the other threads (e.g. the postcopy listen thread) run on.
 * $MIGMODEL_SHIM_MATCH is the pattern in hex. Without it the shim does nothing. It never
 * changes what QEMU writes; it only delays the thread that wrote it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static unsigned char pattern[64];
static size_t pattern_len;
static int state; /* 0 disabled, 1 armed, 2 fired */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void arm(void)
{
    const char *hex = getenv("MIGMODEL_SHIM_MATCH");
    if (!hex) {
        return;
    }
    size_t n = strlen(hex);
    if (n == 0 || n % 2 || n / 2 > sizeof(pattern)) {
        return;
    }
    for (size_t i = 0; i < n / 2; i++) {
        char byte[3] = { hex[2 * i], hex[2 * i + 1], 0 };
        char *end;
        pattern[i] = (unsigned char)strtoul(byte, &end, 16);
        if (*end) {
            return;
        }
    }
    pattern_len = n / 2;
    __atomic_store_n(&state, 1, __ATOMIC_RELEASE);
}

static void fire(void)
{
    const char *notify = getenv("MIGMODEL_SHIM_NOTIFY");
    const char *action = getenv("MIGMODEL_SHIM_ACTION");
    const char *release = getenv("MIGMODEL_SHIM_RELEASE");
    if (notify) {
        int fd = open(notify, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0) {
            close(fd);
        }
    }
    if (action && strcmp(action, "block") == 0 && release) {
        struct timespec ms = { 0, 1000000 };
        while (access(release, F_OK) != 0) {
            nanosleep(&ms, NULL);
        }
    } else if (action && strcmp(action, "stop") == 0) {
        kill(getpid(), SIGSTOP);
    }
}

/* Search the first `total` bytes written, spread over `iov`, for the pattern. */
static void check(const struct iovec *iov, int iovcnt, size_t total)
{
    pthread_once(&once, arm);
    if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 1 || total < pattern_len) {
        return;
    }
    unsigned char window[4096];
    size_t have = 0;
    for (int i = 0; i < iovcnt && total > 0; i++) {
        size_t len = iov[i].iov_len < total ? iov[i].iov_len : total;
        const unsigned char *p = iov[i].iov_base;
        total -= len;
        for (size_t j = 0; j < len; j++) {
            if (have == sizeof(window)) {
                memmove(window, window + have - pattern_len, pattern_len);
                have = pattern_len;
            }
            window[have++] = p[j];
            if (have >= pattern_len && memcmp(window + have - pattern_len, pattern, pattern_len) == 0) {
                int armed = 1;
                if (__atomic_compare_exchange_n(&state, &armed, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                    fire();
                }
                return;
            }
        }
    }
}

ssize_t write(int fd, const void *buf, size_t count)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) {
        real = dlsym(RTLD_NEXT, "write");
    }
    ssize_t r = real(fd, buf, count);
    if (r > 0) {
        struct iovec v = { (void *)buf, (size_t)r };
        check(&v, 1, (size_t)r);
    }
    return r;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real) {
        real = dlsym(RTLD_NEXT, "send");
    }
    ssize_t r = real(fd, buf, len, flags);
    if (r > 0) {
        struct iovec v = { (void *)buf, (size_t)r };
        check(&v, 1, (size_t)r);
    }
    return r;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    if (!real) {
        real = dlsym(RTLD_NEXT, "writev");
    }
    ssize_t r = real(fd, iov, iovcnt);
    if (r > 0) {
        check(iov, iovcnt, (size_t)r);
    }
    return r;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static ssize_t (*real)(int, const struct msghdr *, int);
    if (!real) {
        real = dlsym(RTLD_NEXT, "sendmsg");
    }
    ssize_t r = real(fd, msg, flags);
    if (r > 0) {
        check(msg->msg_iov, (int)msg->msg_iovlen, (size_t)r);
    }
    return r;
}
