/*
 * Preloaded ahead of libfaketime when the tests run a server under a faked
 * clock (scripts/lib.sh, start_cluster DIR INSTANT).
 *
 * libfaketime wraps the calls a process sleeps in (epoll_wait, poll, select,
 * nanosleep...) and, while the real call sleeps, stops faking the clock. A
 * Postgres backend waits for a lock or a latch inside epoll_wait, and its
 * timeouts (lock_timeout, statement_timeout, deadlock_timeout) fire as
 * SIGALRM, whose handler reads the clock: it then reads the real clock, years
 * before the faked deadline, re-arms the timer for then, and the timeout
 * never fires. These wrappers go straight to the C library, so the clock is
 * faked everywhere, signal handlers included. (They only drop libfaketime's
 * scaling of these timeouts, which the tests do not use: the clock runs at
 * its real rate from the faked instant.)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static void *
libc_symbol(const char *name)
{
	static void *libc;
	void	   *f;

	if (libc == NULL)
		libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	f = libc ? dlsym(libc, name) : NULL;
	if (f == NULL)
		abort();
	return f;
}

#define REAL(name) static __typeof__(name) *real; \
	if (real == NULL) real = (__typeof__(name) *) libc_symbol(#name)

int
epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	REAL(epoll_wait);
	return real(epfd, events, maxevents, timeout);
}

int
epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout, const sigset_t *sigmask)
{
	REAL(epoll_pwait);
	return real(epfd, events, maxevents, timeout, sigmask);
}

int
poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	REAL(poll);
	return real(fds, nfds, timeout);
}

int
ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask)
{
	REAL(ppoll);
	return real(fds, nfds, timeout, sigmask);
}

int
select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, struct timeval *timeout)
{
	REAL(select);
	return real(nfds, readfds, writefds, exceptfds, timeout);
}

int
pselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, const struct timespec *timeout,
		const sigset_t *sigmask)
{
	REAL(pselect);
	return real(nfds, readfds, writefds, exceptfds, timeout, sigmask);
}

int
nanosleep(const struct timespec *req, struct timespec *rem)
{
	REAL(nanosleep);
	return real(req, rem);
}

int
usleep(useconds_t usec)
{
	REAL(usleep);
	return real(usec);
}

unsigned int
sleep(unsigned int seconds)
{
	REAL(sleep);
	return real(seconds);
}
