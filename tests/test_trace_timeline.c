/*
 * test_trace_timeline.c - the IRP and socket timeline (docs/timeline.md).
 *
 * The test runs itself as a child twice: once with OPENWSK_TRACE set,
 * running a small WSK client against a Linux peer (connect, send, a
 * pending receive, one receive event, graceful disconnect, close), and
 * once without, running the same client.  The parent then parses the
 * trace with a strict JSON parser and checks its structure: every 'b'
 * has exactly one 'e' of the same category and id, after it; every 'n'
 * falls inside its span; the known spans are there with their statuses
 * and byte counts; the engine thread's track is named.  The untraced
 * child must record nothing and write nothing.
 */
#include <ntddk.h>
#include <wsk.h>
#include <openwsk_runtime.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "kernel/timeline.h"
#include "linux_peer.h"
#include "wt_wsk.h"

#define TAG_DATA TAG_FROM_CHARS('T', 't', 'l', 'n')

/* ---- the traced client (child) ---- */

static KEVENT receive_event_ran;
static volatile LONG receive_event_bytes;

static NTSTATUS WSKAPI on_receive(PVOID context, ULONG flags, PWSK_DATA_INDICATION data, SIZE_T bytes,
                                  SIZE_T *accepted)
{
    (void)context;
    (void)flags;
    (void)data;
    if (data != NULL) {
        InterlockedExchangeAdd(&receive_event_bytes, (LONG)bytes);
        KeSetEvent(&receive_event_ran, IO_NO_INCREMENT, FALSE);
    }
    *accepted = bytes;
    return STATUS_SUCCESS;
}

static const WSK_CLIENT_CONNECTION_DISPATCH events = {on_receive, NULL, NULL};

static const WSK_PROVIDER_CONNECTION_DISPATCH *conn(PWSK_SOCKET s)
{
    return s->Dispatch;
}

static NTSTATUS set_events(PWSK_SOCKET s, ULONG mask)
{
    WSK_EVENT_CALLBACK_CONTROL control = {(PNPIID)&NPI_WSK_INTERFACE_ID, mask};
    return conn(s)->WskControlSocket(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control,
                                     0, NULL, NULL, NULL);
}

static void client_exchange(void)
{
    int lfd = peer_tcp_listen(4, "127.0.0.1", 0);
    CHECK(lfd >= 0);
    USHORT port = peer_local_port(lfd);
    KeInitializeEvent(&receive_event_ran, NotificationEvent, FALSE);
    wt_wsk t;
    wt_wsk_open(&t);
    NTSTATUS st;
    PWSK_SOCKET s = wt_socket_with(&t, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL, &events,
                                   &st);
    CHECK_EQ(st, STATUS_SUCCESS);
    if (s == NULL)
        return;
    SOCKADDR_IN any = wt_in4("0.0.0.0", 0), remote = wt_in4("127.0.0.1", port);
    CHECK_EQ(wt_bind(&t, s, &any), STATUS_SUCCESS);
    NTSTATUS r = conn(s)->WskConnect(s, (PSOCKADDR)&remote, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    int peer = peer_accept(lfd, 2000);
    CHECK(peer >= 0);

    PUCHAR memory = ExAllocatePoolWithTag(NonPagedPoolNx, 4096, TAG_DATA);
    PMDL mdl = IoAllocateMdl(memory, 4096, FALSE, FALSE, NULL);
    MmBuildMdlForNonPagedPool(mdl);

    /* WskSend of 1000 bytes: the peer reads them. */
    memset(memory, 'x', 1000);
    WSK_BUF out = {mdl, 0, 1000};
    r = conn(s)->WskSend(s, &out, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 1000);
    char got[1000];
    CHECK_EQ(peer_recv_exact(peer, got, sizeof got, 2000), 1000);

    /* A WskReceive posted before any data: it pends, then gets 3 bytes. */
    WSK_BUF in = {mdl, 0, 4096};
    r = conn(s)->WskReceive(s, &in, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(r, STATUS_PENDING);
    CHECK_EQ(peer_send_all(peer, "abc", 3), 3);
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(t.irp.irp->IoStatus.Information, 3);

    /* One receive event: 5 bytes indicated to on_receive. */
    CHECK_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    CHECK_EQ(peer_send_all(peer, "hello", 5), 5);
    LARGE_INTEGER timeout = {.QuadPart = -5000LL * 10000};
    CHECK_EQ(KeWaitForSingleObject(&receive_event_ran, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    CHECK_EQ(receive_event_bytes, 5);

    /* Graceful disconnect: the peer sees the end of the stream. */
    r = conn(s)->WskDisconnect(s, NULL, 0, wt_irp_arm(&t.irp));
    CHECK_EQ(wt_irp_result(&t.irp, r), STATUS_SUCCESS);
    CHECK_EQ(peer_recv(peer, got, sizeof got, 2000), 0);
    CHECK_EQ(wt_close(&t, s), STATUS_SUCCESS);
    close(peer);
    close(lfd);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(memory, TAG_DATA);
    wt_wsk_close(&t);
}

static int child_main(int traced)
{
    CHECK_EQ(openwsk_trace_active(), traced ? TRUE : FALSE);
    WT_RUN(client_exchange);
    if (!traced) {
        /* Off: no record, and nothing to write. */
        CHECK_EQ(openwsk_trace_recorded(), 0);
        CHECK_EQ(openwsk_trace_flush(), -1);
    } else {
        CHECK(openwsk_trace_recorded() > 0);
    }
    CHECK_EQ(openwsk_leak_report(), 0);
    return wt_finish(); /* the traced child writes the file at exit */
}

/* ---- a strict JSON parser (RFC 8259), enough for the checks ---- */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
    jtype type;
    double num;
    char *str;          /* J_STR */
    struct jval **items; /* J_ARR: values; J_OBJ: key (J_STR), value, key, value... */
    size_t count;        /* items in `items` */
} jval;

typedef struct jparser {
    const char *p, *end;
    const char *error;
} jparser;

static void jskip(jparser *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static jval *jnew(jtype type)
{
    jval *v = calloc(1, sizeof *v);
    v->type = type;
    return v;
}

static void jpush(jval *v, jval *item)
{
    v->items = realloc(v->items, (v->count + 1) * sizeof *v->items);
    v->items[v->count++] = item;
}

static jval *jparse_value(jparser *j, int depth);

static jval *jparse_string(jparser *j)
{
    if (j->p >= j->end || *j->p != '"') {
        j->error = "expected a string";
        return NULL;
    }
    j->p++;
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) {
            j->error = "control character in a string";
            free(s);
            return NULL;
        }
        if (c == '\\') {
            if (j->p >= j->end)
                break;
            char e = *j->p++;
            switch (e) {
            case '"': case '\\': case '/': c = (unsigned char)e; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u': {
                unsigned code = 0;
                for (int i = 0; i < 4; i++) {
                    char h = j->p < j->end ? *j->p++ : 0;
                    unsigned d = h >= '0' && h <= '9' ? (unsigned)(h - '0')
                                 : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (unsigned)((h | 0x20) - 'a' + 10)
                                                                          : 16;
                    if (d == 16) {
                        j->error = "bad \\u escape";
                        free(s);
                        return NULL;
                    }
                    code = code * 16 + d;
                }
                c = code < 0x80 ? (unsigned char)code : '?';
                break;
            }
            default: j->error = "bad escape"; free(s); return NULL;
            }
        }
        if (n + 2 > cap)
            s = realloc(s, cap *= 2);
        s[n++] = (char)c;
    }
    if (j->p >= j->end) {
        j->error = "unterminated string";
        free(s);
        return NULL;
    }
    j->p++;
    s[n] = '\0';
    jval *v = jnew(J_STR);
    v->str = s;
    return v;
}

static jval *jparse_number(jparser *j)
{
    const char *start = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) {
        j->error = "bad number";
        return NULL;
    }
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) {
            j->error = "bad fraction";
            return NULL;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || !(*j->p >= '0' && *j->p <= '9')) {
            j->error = "bad exponent";
            return NULL;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    char buf[64];
    size_t n = (size_t)(j->p - start);
    if (n >= sizeof buf) {
        j->error = "number too long";
        return NULL;
    }
    memcpy(buf, start, n);
    buf[n] = '\0';
    jval *v = jnew(J_NUM);
    v->num = strtod(buf, NULL);
    return v;
}

static int jliteral(jparser *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, word, n) == 0) {
        j->p += n;
        return 1;
    }
    return 0;
}

static jval *jparse_value(jparser *j, int depth)
{
    if (depth > 32) {
        j->error = "too deep";
        return NULL;
    }
    jskip(j);
    if (j->p >= j->end) {
        j->error = "unexpected end";
        return NULL;
    }
    char c = *j->p;
    if (c == '"')
        return jparse_string(j);
    if (c == '-' || (c >= '0' && c <= '9'))
        return jparse_number(j);
    if (jliteral(j, "true") || jliteral(j, "false")) {
        jval *v = jnew(J_BOOL);
        v->num = j->p[-1] == 'e' && j->p[-2] == 'u';
        return v;
    }
    if (jliteral(j, "null"))
        return jnew(J_NULL);
    if (c == '[' || c == '{') {
        int object = c == '{';
        jval *v = jnew(object ? J_OBJ : J_ARR);
        j->p++;
        jskip(j);
        if (j->p < j->end && *j->p == (object ? '}' : ']')) {
            j->p++;
            return v;
        }
        for (;;) {
            jskip(j);
            if (object) {
                jval *key = jparse_string(j);
                if (key == NULL)
                    return NULL;
                jpush(v, key);
                jskip(j);
                if (j->p >= j->end || *j->p != ':') {
                    j->error = "expected ':'";
                    return NULL;
                }
                j->p++;
            }
            jval *item = jparse_value(j, depth + 1);
            if (item == NULL)
                return NULL;
            jpush(v, item);
            jskip(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == (object ? '}' : ']')) {
                j->p++;
                return v;
            }
            j->error = "expected ',' or a closing bracket";
            return NULL;
        }
    }
    j->error = "unexpected character";
    return NULL;
}

static jval *jget(const jval *obj, const char *key)
{
    if (obj == NULL || obj->type != J_OBJ)
        return NULL;
    for (size_t i = 0; i + 1 < obj->count; i += 2)
        if (strcmp(obj->items[i]->str, key) == 0)
            return obj->items[i + 1];
    return NULL;
}

static const char *jstr(const jval *obj, const char *key)
{
    const jval *v = jget(obj, key);
    return v != NULL && v->type == J_STR ? v->str : NULL;
}

static int jis(const jval *obj, const char *key, const char *want)
{
    const char *s = jstr(obj, key);
    return s != NULL && strcmp(s, want) == 0;
}

static void jfree(jval *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->count; i++)
        jfree(v->items[i]);
    free(v->items);
    free(v->str);
    free(v);
}

/* ---- checks on the trace (parent) ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* The 'e' matching a 'b' (same cat and id), and how many there are. */
static const jval *span_end(const jval *events, const jval *b, int *matches)
{
    const jval *found = NULL;
    *matches = 0;
    for (size_t i = 0; i < events->count; i++) {
        const jval *e = events->items[i];
        if (jis(e, "ph", "e") && jis(e, "cat", jstr(b, "cat")) && jis(e, "id", jstr(b, "id"))) {
            (*matches)++;
            found = e;
        }
    }
    return found;
}

static double num(const jval *obj, const char *key)
{
    const jval *v = jget(obj, key);
    return v != NULL && v->type == J_NUM ? v->num : -1;
}

/* A span named `name` whose end has `status` (and `information` unless
 * negative), with a 'pending' instant inside if `pending`. */
static int has_span(const jval *events, const char *name, const char *status, double information, int pending)
{
    for (size_t i = 0; i < events->count; i++) {
        const jval *b = events->items[i];
        if (!jis(b, "ph", "b") || !jis(b, "cat", "irp") || !jis(b, "name", name))
            continue;
        int matches;
        const jval *e = span_end(events, b, &matches);
        if (e == NULL || !jis(jget(e, "args"), "status", status))
            continue;
        if (information >= 0 && num(jget(e, "args"), "information") != information)
            continue;
        if (!pending)
            return 1;
        for (size_t k = 0; k < events->count; k++) {
            const jval *n = events->items[k];
            if (jis(n, "ph", "n") && jis(n, "id", jstr(b, "id")) && jis(n, "name", "pending"))
                return 1;
        }
    }
    return 0;
}

static int has_event(const jval *events, const char *ph, const char *cat, const char *name)
{
    for (size_t i = 0; i < events->count; i++) {
        const jval *e = events->items[i];
        if (jis(e, "ph", ph) && (cat == NULL || jis(e, "cat", cat)) && jis(e, "name", name))
            return 1;
    }
    return 0;
}

static void check_trace(const char *path, int capped)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    jparser j = {text, text + len, NULL};
    jval *root = jparse_value(&j, 0);
    jskip(&j);
    if (root == NULL || j.p != j.end) {
        WT_FAIL("invalid JSON at offset %ld: %s", (long)(j.p - text), j.error ? j.error : "trailing text");
        free(text);
        jfree(root);
        return;
    }
    CHECK(root->type == J_OBJ);
    CHECK(jis(root, "displayTimeUnit", "ns"));
    const jval *events = jget(root, "traceEvents");
    CHECK(events != NULL && events->type == J_ARR);
    if (events == NULL || events->type != J_ARR) {
        jfree(root);
        free(text);
        return;
    }
    const char *dropped = jstr(jget(root, "otherData"), "openwsk_dropped_events");
    CHECK(dropped != NULL && (capped ? strcmp(dropped, "0") != 0 : strcmp(dropped, "0") == 0));

    /* Every event: a phase, a name, pid and tid; a timestamp except metadata. */
    int spans = 0, bad = 0;
    for (size_t i = 0; i < events->count; i++) {
        const jval *e = events->items[i];
        const char *ph = jstr(e, "ph");
        if (ph == NULL || jstr(e, "name") == NULL || num(e, "pid") < 0 || num(e, "tid") < 0 ||
            (strcmp(ph, "M") != 0 && num(e, "ts") < 0) || (strcmp(ph, "X") == 0 && num(e, "dur") < 0)) {
            if (bad++ < 3)
                WT_FAIL("malformed event #%zu", i);
            continue;
        }
        if (strcmp(ph, "b") == 0) {
            /* Exactly one end, same name, not before the beginning. */
            spans++;
            int matches;
            const jval *end = span_end(events, e, &matches);
            if (matches != 1 || !jis(end, "name", jstr(e, "name")) || num(end, "ts") < num(e, "ts")) {
                if (bad++ < 3)
                    WT_FAIL("span %s id %s: %d ends", jstr(e, "name"), jstr(e, "id"), matches);
            }
        } else if (strcmp(ph, "e") == 0 || strcmp(ph, "n") == 0) {
            /* Inside a span that began before it. */
            int begun = 0;
            for (size_t k = 0; k < events->count; k++) {
                const jval *b = events->items[k];
                if (jis(b, "ph", "b") && jis(b, "cat", jstr(e, "cat")) && jis(b, "id", jstr(e, "id")) &&
                    num(b, "ts") <= num(e, "ts"))
                    begun++;
            }
            if (begun != 1 && bad++ < 3)
                WT_FAIL("'%s' %s id %s belongs to %d spans", ph, jstr(e, "name"), jstr(e, "id"), begun);
        }
    }
    CHECK_EQ(bad, 0);
    if (capped) {
        /* Past the cap: fewer events, but every span still whole. */
        jfree(root);
        free(text);
        return;
    }
    CHECK(spans >= 8);

    /* The client's calls, with what Windows reports for each. */
    CHECK(has_span(events, "WskSocket", "0x00000000", -1, 0));
    CHECK(has_span(events, "WskBind", "0x00000000", 0, 0));
    CHECK(has_span(events, "WskConnect", "0x00000000", 0, 0));
    CHECK(has_span(events, "WskSend", "0x00000000", 1000, 0));
    CHECK(has_span(events, "WskReceive", "0x00000000", 3, 1));
    CHECK(has_span(events, "WskDisconnect", "0x00000000", 0, 0));
    CHECK(has_span(events, "WskCloseSocket", "0x00000000", 0, 0));
    CHECK(has_event(events, "X", "completion", "WskReceive completion"));
    CHECK(has_event(events, "X", "wsk_call", "WskControlSocket")); /* SO_WSK_EVENT_CALLBACK: no IRP */
    /* The receive event, with the status it returned. */
    int event_ok = 0;
    for (size_t i = 0; i < events->count; i++) {
        const jval *e = events->items[i];
        if (jis(e, "ph", "X") && jis(e, "cat", "event") && jis(e, "name", "WskReceiveEvent") &&
            jis(jget(e, "args"), "returned", "0x00000000"))
            event_ok = 1;
    }
    CHECK(event_ok);
    /* The socket's lifetime, the IRP pool counter, the engine thread's track. */
    CHECK(has_event(events, "b", "socket", "socket"));
    CHECK(has_event(events, "C", "pool", "pool Irp "));
    int engine_named = 0;
    for (size_t i = 0; i < events->count; i++) {
        const jval *e = events->items[i];
        const char *name = jstr(jget(e, "args"), "name");
        if (jis(e, "ph", "M") && jis(e, "name", "thread_name") && name != NULL &&
            strncmp(name, "openwsk-io", 10) == 0)
            engine_named = 1;
    }
    CHECK(engine_named);
    jfree(root);
    free(text);
}

static int run_child(const char *self, const char *mode, const char *trace, const char *cwd, const char *max)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (max != NULL)
            setenv("OPENWSK_TRACE_MAX_EVENTS", max, 1);
        else
            unsetenv("OPENWSK_TRACE_MAX_EVENTS");
        if (trace != NULL)
            setenv("OPENWSK_TRACE", trace, 1);
        else
            unsetenv("OPENWSK_TRACE");
        if (cwd != NULL && chdir(cwd) != 0)
            _exit(126);
        execl(self, self, mode, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char self_path[4096];
static char scratch[] = "/tmp/openwsk-trace-XXXXXX";

static void traced_run_writes_a_valid_timeline(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/trace.json", scratch);
    CHECK_EQ(run_child(self_path, "child-traced", path, NULL, NULL), 0);
    check_trace(path, 0);
    unlink(path);
}

/* OPENWSK_TRACE_MAX_EVENTS=1: one chunk of records, the rest dropped and
 * counted; the spans already open still end. */
static void capped_run_drops_but_keeps_spans_whole(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/capped.json", scratch);
    CHECK_EQ(run_child(self_path, "child-traced", path, NULL, "1"), 0);
    check_trace(path, 1);
    unlink(path);
}

static void untraced_run_writes_nothing(void)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/off", scratch);
    CHECK_EQ(mkdir(dir, 0700), 0);
    CHECK_EQ(run_child(self_path, "child-off", NULL, dir, NULL), 0);
    /* Nothing appeared where the child ran. */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    if (d != NULL)
        closedir(d);
    CHECK_EQ(entries, 0);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child-traced") == 0)
        return child_main(1);
    if (argc > 1 && strcmp(argv[1], "child-off") == 0)
        return child_main(0);
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (n <= 0 || mkdtemp(scratch) == NULL) {
        perror("test_trace_timeline");
        return 1;
    }
    self_path[n] = '\0';
    WT_RUN(traced_run_writes_a_valid_timeline);
    WT_RUN(capped_run_drops_but_keeps_spans_whole);
    WT_RUN(untraced_run_writes_nothing);
    rmdir(scratch);
    return wt_finish();
}
