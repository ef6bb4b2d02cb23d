/*
 * guard_overhead.c - what the guard (key check, tier and capability,
 * rate-limit accounting, the audit row committed to disk, the x-ratelimit
 * headers) adds to a request, measured on loopback.
 *
 * Two requests whose handlers do next to nothing are sent alternately over
 * one keep-alive connection per client:
 *   A  GET /health                 no key, no quota, no audit row
 *   B  GET /v1/models with a key   401/403/429 checks, quota, audit row
 * Both pass through the same HTTP stack, so the difference of their latency
 * distributions is the guard's cost. Alternating A and B makes both see the
 * same machine noise. Reported: p50, p90, p99 and mean of each, and B - A
 * at each percentile.
 *
 * Usage: guard_overhead URL KEY [-n REQUESTS] [-c CLIENTS]
 * Build: cc -O2 -std=c11 -D_GNU_SOURCE -o guard_overhead bench/guard_overhead.c -lcurl -lpthread -lm
 * (bench/guard_overhead.sh starts a server with a fresh store and runs it.)
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct client {
	const char *url, *key;
	int n;
	double *lat_a, *lat_b; /* seconds, n each */
	int errors;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* One GET; returns seconds, or -1 if it did not answer 200. */
static double timed_get(CURL *c, const char *url)
{
	long status = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	double t0 = now_s();
	CURLcode rc = curl_easy_perform(c);
	double dt = now_s() - t0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return rc == CURLE_OK && status == 200 ? dt : -1;
}

static void *run_client(void *arg)
{
	struct client *cl = arg;
	char url_a[512], url_b[512], auth[256];
	CURL *a = curl_easy_init(), *b = curl_easy_init();
	struct curl_slist *h = NULL;

	snprintf(url_a, sizeof(url_a), "%s/health", cl->url);
	snprintf(url_b, sizeof(url_b), "%s/v1/models", cl->url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cl->key);
	h = curl_slist_append(h, auth);
	curl_easy_setopt(b, CURLOPT_HTTPHEADER, h);
	CURL *both[2] = { a, b };
	for (int k = 0; k < 2; k++) {
		curl_easy_setopt(both[k], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(both[k], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(both[k], CURLOPT_TCP_NODELAY, 1L);
	}
	/* Warm-up: connections open, first-touch costs paid. */
	for (int i = 0; i < 20; i++) {
		timed_get(a, url_a);
		timed_get(b, url_b);
	}
	for (int i = 0; i < cl->n; i++) {
		double ta = timed_get(a, url_a), tb = timed_get(b, url_b);
		if (ta < 0 || tb < 0)
			cl->errors++;
		cl->lat_a[i] = ta < 0 ? 0 : ta;
		cl->lat_b[i] = tb < 0 ? 0 : tb;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(a);
	curl_easy_cleanup(b);
	return NULL;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double pct(const double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static double mean(const double *v, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += v[i];
	return n ? s / n : 0;
}

int main(int argc, char **argv)
{
	int n = 2000, clients = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: guard_overhead URL KEY [-n REQUESTS] [-c CLIENTS]\n");
		return 2;
	}
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-n") == 0)
			n = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-c") == 0)
			clients = atoi(argv[i + 1]);
	}
	if (n < 10 || clients < 1 || clients > 64) {
		fprintf(stderr, "guard_overhead: -n must be >= 10 and -c 1..64\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct client *cl = calloc((size_t)clients, sizeof(*cl));
	pthread_t *th = calloc((size_t)clients, sizeof(*th));
	double *all_a = calloc((size_t)n * clients, sizeof(double));
	double *all_b = calloc((size_t)n * clients, sizeof(double));
	for (int i = 0; i < clients; i++) {
		cl[i] = (struct client){ argv[1], argv[2], n, all_a + (size_t)i * n, all_b + (size_t)i * n, 0 };
		pthread_create(&th[i], NULL, run_client, &cl[i]);
	}
	int errors = 0;
	for (int i = 0; i < clients; i++) {
		pthread_join(th[i], NULL);
		errors += cl[i].errors;
	}
	int total = n * clients;
	qsort(all_a, (size_t)total, sizeof(double), cmp_double);
	qsort(all_b, (size_t)total, sizeof(double), cmp_double);
	printf("%d clients, %d requests of each kind, %d errors\n", clients, total, errors);
	printf("%-34s %9s %9s %9s %9s\n", "latency (ms)", "p50", "p90", "p99", "mean");
	printf("%-34s %9.3f %9.3f %9.3f %9.3f\n", "A GET /health (no guard)", pct(all_a, total, .5) * 1e3,
	       pct(all_a, total, .9) * 1e3, pct(all_a, total, .99) * 1e3, mean(all_a, total) * 1e3);
	printf("%-34s %9.3f %9.3f %9.3f %9.3f\n", "B GET /v1/models (key+quota+audit)", pct(all_b, total, .5) * 1e3,
	       pct(all_b, total, .9) * 1e3, pct(all_b, total, .99) * 1e3, mean(all_b, total) * 1e3);
	printf("%-34s %9.3f %9.3f %9.3f %9.3f\n", "B - A (the guard)",
	       (pct(all_b, total, .5) - pct(all_a, total, .5)) * 1e3,
	       (pct(all_b, total, .9) - pct(all_a, total, .9)) * 1e3,
	       (pct(all_b, total, .99) - pct(all_a, total, .99)) * 1e3, (mean(all_b, total) - mean(all_a, total)) * 1e3);
	free(all_a);
	free(all_b);
	free(cl);
	free(th);
	curl_global_cleanup();
	return errors ? 1 : 0;
}
