// SPDX-License-Identifier: GPL-2.0
/*
 * metrics_http.c - /metrics and /healthz over HTTP with Debian's
 * libmicrohttpd (metrics.py serves the same through wsgiref).
 *
 * The socket is bound here (so a busy port is one clear refusal before
 * anything is attached) and handed to libmicrohttpd, which runs without
 * a thread of its own: the session loop polls its epoll fd with the ring
 * buffer's and calls wd_http_run(), so a scrape reads the maps between
 * two events, never during one.  Answers: GET/HEAD /metrics (text format
 * 0.0.4), /healthz ("ok", or 503 "stalled"), 404 elsewhere, 405 for
 * other methods.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "errors.h"
#include "text.h"
#include "metrics_http.h"

#define CONTENT_TYPE_LATEST "text/plain; version=0.0.4; charset=utf-8"
#define TEXT		    "text/plain; charset=utf-8"

struct wd_http {
	struct MHD_Daemon *d;
	int sock;
	wd_http_metrics_fn metrics;
	wd_http_health_fn health;
	void *ctx;
};

static enum MHD_Result answer(struct MHD_Connection *c, unsigned int status, char *body,
			      const char *type)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_size, void **req)
{
	struct wd_http *h = cls;

	(void)version;
	(void)upload_data;
	(void)upload_size;
	(void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, wd_xstrdup("GET only\n"),
			      "text/plain");
	if (!strcmp(url, "/metrics"))
		return answer(c, MHD_HTTP_OK, h->metrics(h->ctx), CONTENT_TYPE_LATEST);
	if (!strcmp(url, "/healthz"))
		return h->health(h->ctx) ? answer(c, MHD_HTTP_OK, wd_xstrdup("ok\n"), TEXT) :
					   answer(c, MHD_HTTP_SERVICE_UNAVAILABLE,
						  wd_xstrdup("stalled\n"), TEXT);
	return answer(c, MHD_HTTP_NOT_FOUND, wd_xstrdup("not found: /metrics, /healthz\n"), TEXT);
}

static int bind_socket(const char *addr, int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	bool v6 = strchr(addr, ':') != NULL;
	int one = 1, fd, err;

	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		inet_pton(AF_INET6, addr, &a6.sin6_addr);
	else
		inet_pton(AF_INET, addr, &a4.sin_addr);
	if ((v6 ? bind(fd, (struct sockaddr *)&a6, sizeof(a6)) :
		  bind(fd, (struct sockaddr *)&a4, sizeof(a4))) ||
	    listen(fd, 16)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

struct wd_http *wd_http_open(const char *addr, int port, wd_http_metrics_fn metrics,
			     wd_http_health_fn health, void *ctx)
{
	struct wd_http *h = wd_xmalloc(sizeof(*h));
	bool v6 = strchr(addr, ':') != NULL;

	*h = (struct wd_http){ .metrics = metrics, .health = health, .ctx = ctx };
	h->sock = bind_socket(addr, port);
	if (h->sock < 0) {
		wd_fail("--metrics-listen %s%s%s:%d: cannot listen: %s", v6 ? "[" : "", addr,
			v6 ? "]" : "", port, strerror(errno));
		free(h);
		return NULL;
	}
	h->d = MHD_start_daemon(MHD_USE_EPOLL | (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, on_request,
				h, MHD_OPTION_LISTEN_SOCKET, h->sock, MHD_OPTION_CONNECTION_LIMIT,
				16U, MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
	if (!h->d) {
		wd_fail("--metrics-listen %s%s%s:%d: libmicrohttpd could not start", v6 ? "[" : "",
			addr, v6 ? "]" : "", port);
		close(h->sock);
		free(h);
		return NULL;
	}
	return h;
}

int wd_http_fd(struct wd_http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

void wd_http_run(struct wd_http *h)
{
	MHD_run(h->d);
}

void wd_http_close(struct wd_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d); /* closes the listening socket too */
	free(h);
}
