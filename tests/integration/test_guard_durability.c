/*
 * test_guard_durability.c - kill -9 under load loses no acknowledged
 * request from the audit log.
 *
 * Three client threads send completions to a real `ajar serve` and note the
 * x-request-id of every response they receive whole. The server is killed
 * with SIGKILL in the middle of that, twice, each time restarted on the
 * same SQLite store. Then: the store opens (the server starts again and
 * serves), `ajar audit verify` passes, and every noted request id is in
 * `ajar audit export`. A reply is only queued after its row is committed
 * with synchronous=FULL, so an acknowledged request without a row would be
 * a durability bug, not bad luck.
 */
#include "check.h"
#include "http_harness.h"
#include "spawn_util.h"

#include <pthread.h>
#include <stdatomic.h>

#define CLIENTS 3
#define MAX_IDS 32768
#define ROUNDS 2
#define LOAD_MS 2000

static struct test_server srv;
static char store_uri[320];
static atomic_bool stop_load;
static pthread_mutex_t ids_mu = PTHREAD_MUTEX_INITIALIZER;
static char ids[MAX_IDS][64];
static int n_ids;

static void *client(void *arg)
{
	struct test_server s = *(const struct test_server *)arg;
	const char *body = "{\"prompt\":\"Once upon\",\"max_tokens\":4,\"temperature\":0}";

	while (!atomic_load(&stop_load)) {
		struct http_resp r = http_post(&s, "/v1/completions", body);
		/* Acknowledged: a 200 whose body arrived complete. */
		if (r.curl == CURLE_OK && r.status == 200 && r.request_id[0] && strstr(r.body, "\"usage\"")) {
			pthread_mutex_lock(&ids_mu);
			if (n_ids < MAX_IDS)
				snprintf(ids[n_ids++], sizeof(ids[0]), "%s", r.request_id);
			pthread_mutex_unlock(&ids_mu);
		}
		http_resp_free(&r);
		if (r.curl != CURLE_OK)
			harness_pause_ms(20);
	}
	return NULL;
}

/* Starts the server on the shared store. */
static bool start(void)
{
	const char *args[] = { "--store", store_uri, "--parallel", "2", "--threads", "1", "--ctx", "256", NULL };
	return server_start_args(&srv, args);
}

static void kill_now(void)
{
	int st;
	kill(srv.pid, SIGKILL);
	waitpid(srv.pid, &st, 0);
	close(srv.out_fd);
	srv.pid = -1;
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	harness_remove_dir(&srv); /* its own temporary folder, not the store's */
}

static void test_kill_under_load(void)
{
	int before = 0;
	for (int round = 0; round < ROUNDS; round++) {
		CHECK(start());
		pthread_t th[CLIENTS];
		atomic_store(&stop_load, false);
		for (int i = 0; i < CLIENTS; i++)
			pthread_create(&th[i], NULL, client, &srv);
		harness_pause_ms(LOAD_MS);
		kill_now();
		atomic_store(&stop_load, true);
		for (int i = 0; i < CLIENTS; i++)
			pthread_join(th[i], NULL);
		CHECK_MSG(n_ids > before + 5, "round %d: only %d requests acknowledged", round, n_ids - before);
		before = n_ids;
	}
	/* The store opens again and serves. */
	CHECK(start());
	struct http_resp r = http_post(&srv, "/v1/completions", "{\"prompt\":\"Once\",\"max_tokens\":2}");
	CHECK_EQ_INT(r.status, 200);
	http_resp_free(&r);
	CHECK_EQ_INT(server_stop_wait(&srv), 0);

	const char *verify[] = { "audit", "verify", "--store", store_uri, NULL };
	struct run_result rr = ajar_spawn(verify, NULL, 0);
	CHECK_MSG(rr.status == 0, "audit verify after kill -9: %d\n%s%s", rr.status, rr.out, rr.err);
	free(rr.out);

	const char *exp[] = { "audit", "export", "--since", "0", "--store", store_uri, NULL };
	rr = ajar_spawn(exp, NULL, 0);
	CHECK_MSG(rr.status == 0, "audit export: %d %s", rr.status, rr.err);
	int missing = 0;
	for (int i = 0; i < n_ids; i++)
		if (!strstr(rr.out, ids[i]))
			missing++;
	CHECK_MSG(missing == 0, "%d of %d acknowledged requests are not in the audit log", missing, n_ids);
	printf("%d acknowledged requests across %d kills, all in the verified audit log\n", n_ids, ROUNDS);
	free(rr.out);
}

int main(void)
{
	char dir[] = "/tmp/ajar-durability-XXXXXX";

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!mkdtemp(dir))
		return 1;
	snprintf(store_uri, sizeof(store_uri), "sqlite:%s/store.db", dir);
	RUN(test_kill_under_load);

	static const char *const names[] = { "store.db", "store.db-wal", "store.db-shm", "store.db.secret",
					     "store.db.pub", NULL };
	for (int i = 0; names[i]; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	curl_global_cleanup();
	return check_summary();
}
