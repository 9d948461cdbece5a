/*
 * loadgen: the chat benchmark's load generator (one thread, epoll, 127.0.0.1 only).
 *
 * Written in C so that it is never the bottleneck: a Python client parsing a few million
 * lines a second would measure itself, not the server. It reports its own CPU use so the
 * report can show that.
 *
 * Every connection says `/hello bench 1` and `/nick cN`, and counts as joined when it sees
 * its own `JOIN cN`. Senders then say lines `SENDER SEQ SEND_NS [padding]`, which the
 * server relays to everyone as `MSG cSENDER SENDER SEQ SEND_NS ...`. Every receiver checks
 * each sender's sequence numbers arrive in order with none missing, and records the
 * latency (now - SEND_NS, one monotonic clock in one process); at the end all receivers
 * must have heard the same sequence (the contract's one order). Anything lost, reordered
 * or unexpected (an ERROR, a BYE, a PART of a healthy client) fails the run: the reason is
 * printed loudly and the exit status is 2.
 *
 * Modes:
 *   load  N clients, S of them senders, paced (-r msgs/s each) or windowed (-w messages in
 *         flight per sender), for -t seconds; then waits until every message has reached
 *         every receiver. With -x, one more client joins and then never reads again.
 *   join  N clients connect at once; time until all have joined, until every JOIN has
 *         reached everyone, and until one broadcast has reached all; the server's memory.
 *
 * Protocol version 2 (-V 2): clients say `/hello bench 2`, and room events carry the room,
 * an id and a time: `MSG #ROOM ID TIME cSENDER SENDER SEQ SEND_NS ...`. With -m ROOMS,
 * client i also joins `#r<i % ROOMS>` and parts the default room, and everything above
 * holds per room: each receiver checks the room's ids strictly increase, and all members
 * of a room must have heard the same sequence. A `HISTORY ROOM N` block (the replay on
 * joining) is skipped, and with -R N every joiner's replay must hold exactly N lines.
 * With -S LINES, one more client (the seeder) first says LINES lines in the default room,
 * so that joiners have history to be replayed.
 *
 * Other ways in (the same checks, the same results):
 *   -e      TLS (OpenSSL, built with -DLOADGEN_TLS): non-blocking SSL_read/SSL_write in the
 *           same epoll loop; SSL_ERROR_WANT_READ/WRITE say which readiness to wait for,
 *           whatever the call. The certificate is not checked: the server is our own.
 *   -d ws   WebSocket: `GET /chat` upgrade (a fixed Sec-WebSocket-Key), then each line is
 *           one masked text frame; each unmasked text frame from the server is one line.
 *   -d irc  IRC: CAP REQ echo-message (a sender must hear its own lines), NICK, USER,
 *           JOIN #lobby, then PRIVMSG #lobby :TEXT. The server's IRC lines are read as
 *           the line protocol's (`:cN!u@h PRIVMSG #lobby :TEXT` is `MSG cN TEXT`), so every
 *           check below holds unchanged.
 *
 * Results: one JSON object on standard output; progress and failures on standard error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef LOADGEN_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define NS_PER_S 1000000000ULL
#define READ_CHUNK (256 * 1024)     /* one read() per readiness event, at most this */
#define MAX_PARTIAL (1024 * 1024)   /* longest line we accept (USERS of 10,000 nicks fits) */
#define MAX_EVENTS 1024
#define STALL_RCVBUF 4096           /* the stalled client's receive buffer: fill it quickly */
#define DEFAULT_ROOM "#lobby"       /* the server's default room (the runner keeps its --room) */
#define LOBBY (-1)                  /* room_slot(): the default room, when clients leave it */
#define NO_ROOM (-2)                /* room_slot(): a room this run knows nothing of */
#define TLS_RECORD 16384            /* the most plaintext one TLS record carries */
#define MAX_LINE 4096               /* a line we say, or an IRC line read as ours */

/* ---------------------------------------------------------------- time and the server */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Our own CPU time (user + system), to show we are not the bottleneck. */
static uint64_t self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NS_PER_S
         + ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
}

/* The server's CPU time from /proc/PID/stat (utime + stime), or 0 if unknown. */
static uint64_t server_cpu_ns(int pid)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may contain spaces: count fields after its ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &utime, &stime) != 2)
        return 0;
    return (utime + stime) * (NS_PER_S / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* The server's resident memory in KiB from /proc/PID/status, or 0 if unknown. */
static long server_rss_kib(int pid)
{
    char path[64], line[256];
    long kib = 0;
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/*
 * How many times the kernel found a listening socket's accept queue full (TcpExt
 * ListenOverflows in /proc/net/netstat), or -1. A SYN or ACK dropped for this waits a
 * second or more to be retried, so it explains slow joins. It counts every listener in
 * this network namespace, ours and anyone else's.
 */
static long listen_overflows(void)
{
    static char text[16384];
    FILE *f = fopen("/proc/net/netstat", "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    /* Two lines start with "TcpExt:": the names, then the values in the same order. */
    char *names = strstr(text, "TcpExt:");
    char *values = names ? strstr(names + 1, "TcpExt:") : NULL;
    if (!values)
        return -1;
    int column = 0;
    for (char *p = names; p < values && *p != '\n'; p++)
        if (*p == ' ' && strncmp(p + 1, "ListenOverflows ", 16) == 0) {
            for (char *v = values; *v && *v != '\n'; v++)
                if (*v == ' ' && --column < 0)
                    return atol(v + 1);
            return -1;
        } else if (*p == ' ') {
            column++;
        }
    return -1;
}

/* ---------------------------------------------------------------- latency histogram */

/*
 * Log-linear buckets: exact below 64 ns, then 64 buckets per power of two (under 1.6%
 * error), so a percentile costs a scan and recording one sample costs a few instructions.
 */
#define SUB_BITS 6
#define SUB_COUNT (1 << SUB_BITS)
#define HIST_BUCKETS (SUB_COUNT * 40)

struct histogram {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t max;
};

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB_COUNT)
        return (unsigned)v;
    unsigned msb = 63 - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - SUB_BITS;
    unsigned b = (shift + 1) * SUB_COUNT + (unsigned)((v >> shift) - SUB_COUNT);
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static uint64_t bucket_floor(unsigned b)
{
    if (b < SUB_COUNT)
        return b;
    unsigned shift = b / SUB_COUNT - 1;
    return (uint64_t)(b % SUB_COUNT + SUB_COUNT) << shift;
}

static void hist_add(struct histogram *h, uint64_t v)
{
    h->counts[bucket_of(v)]++;
    h->total++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_percentile(const struct histogram *h, double pct)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(pct / 100.0 * (double)h->total);
    if (rank >= h->total)
        rank = h->total - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen > rank)
            return bucket_floor(b);
    }
    return h->max;
}

/* ---------------------------------------------------------------- state */

/* HANDSHAKING: TLS; UPGRADING: waiting for the WebSocket's `101 Switching Protocols`. */
enum conn_state { UNOPENED, CONNECTING, HANDSHAKING, UPGRADING, JOINING, JOINED, CLOSED };

enum dialect { LINES, WEBSOCKET, IRC };  /* how the chat's lines travel (-d) */

struct conn {
    int fd;
    int index;                 /* its nickname is c<index> */
    enum conn_state state;
    bool sender, stalled, seeder;
    int room;                  /* its room's slot: 0 .. rooms-1 (0: the default room) */
    bool in_room, left_default;/* heard its own JOIN in its room / PART from the default */
    uint64_t last_id;          /* v2: the last room event id heard in its room */
    uint64_t replay_left;      /* lines still to come of a HISTORY block */
    uint64_t sent;             /* messages this sender has said */
    uint64_t acked;            /* ...and has seen come back from the server */
    uint64_t next_send_ns;     /* paced senders: when the next message is due */
    uint32_t *expect;          /* per sender: the next sequence number due here */
    uint64_t transcript;       /* a hash of every (sender, seq) heard, in order */
    char *partial;             /* the start of a line whose LF has not come yet */
    size_t partial_len;
    char *pending;             /* output the kernel did not take yet */
    size_t pending_len;
#ifdef LOADGEN_TLS
    SSL *ssl;                  /* with -e: the connection's TLS, over fd */
#endif
    bool read_wants_out;       /* TLS: a read must wait until the socket is writable */
};

struct options {
    const char *mode;
    int port, clients, senders, server_pid;
    double rate, seconds, timeout;
    int window, padding;
    bool stall;
    int version;               /* the protocol version the clients say in /hello */
    int rooms;                 /* v2: spread clients over this many rooms (0: the default) */
    int seed;                  /* lines the seeder says before the clients join */
    int replay;                /* lines every joiner's replay must hold (-1: not checked) */
    bool tls;                  /* -e: over TLS */
    enum dialect dialect;      /* -d: lines (default), ws or irc */
};

struct bench {
    struct options opt;
    int epfd;
    struct conn *conns;
    int nconns;                /* clients, plus the stalled one with -x */
    int nreceivers;            /* the clients that read and are checked */
    int nslots;                /* rooms the receivers are in: max(rooms, 1) */
    int *room_size;            /* receivers per room slot */
    int opened, joined;
    bool sending;              /* senders may say more */
    uint64_t joins_seen, joins_expected;
    uint64_t deliveries;       /* MSG lines received by receivers */
    uint64_t deliveries_due;   /* ...and how many must arrive: each message times its room */
    uint64_t messages_sent;
    uint64_t replayed;         /* lines replayed to joiners on joining their room */
    uint64_t stall_cut_ns;     /* when the others learned the stalled one is gone */
    uint64_t stall_parts_seen;
    struct histogram latency;
#ifdef LOADGEN_TLS
    SSL_CTX *tls;              /* with -e: one client context for every connection */
#endif
    char failure[512];
    char padding[4096];
};

/* The room slot of client i: clients are dealt round the rooms like cards. */
static int room_of(const struct bench *b, long i)
{
    return b->opt.rooms > 0 ? (int)(i % b->opt.rooms) : 0;
}

static bool failed(const struct bench *b)
{
    return b->failure[0] != '\0';
}

/* Record the first thing that went wrong; the run stops and exits 2. */
static void fail(struct bench *b, const char *fmt, ...)
{
    if (failed(b))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->failure, sizeof b->failure, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n*** LOADGEN FAILURE: %s ***\n\n", b->failure);
}

/* ---------------------------------------------------------------- sockets */

static void watch(struct bench *b, struct conn *c, int op, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(b->epfd, op, c->fd, &ev) < 0 && op != EPOLL_CTL_DEL)
        fail(b, "epoll_ctl: %s", strerror(errno));
}

/* Watch for what the connection waits for now: input (unless it is the stalled one in
 * the room), and output while it owes bytes or its TLS must write before it can read. */
static void rewatch(struct bench *b, struct conn *c)
{
    uint32_t events = c->stalled && c->state == JOINED ? 0 : EPOLLIN;
    if (c->pending_len || c->read_wants_out)
        events |= EPOLLOUT;
    watch(b, c, EPOLL_CTL_MOD, events);
}

static void close_conn(struct bench *b, struct conn *c)
{
    if (c->state == UNOPENED || c->state == CLOSED)
        return;
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
#ifdef LOADGEN_TLS
    SSL_free(c->ssl);  /* no close_notify: the run is over, or it failed */
    c->ssl = NULL;
#endif
    close(c->fd);
    c->state = CLOSED;
}

static bool is_tls(const struct conn *c)
{
#ifdef LOADGEN_TLS
    return c->ssl != NULL;
#else
    (void)c;
    return false;
#endif
}

#ifdef LOADGEN_TLS
/*
 * After a TLS call returned 0: true if it must only wait, for readable (WANT_READ) or
 * writable (WANT_WRITE), whatever the call was; otherwise the connection failed or ended
 * and *why says how. A read that must write is remembered, so that EPOLLOUT is watched.
 */
static bool tls_must_wait(struct conn *c, bool reading, const char **why)
{
    int error = SSL_get_error(c->ssl, 0);
    if (error == SSL_ERROR_WANT_READ)
        return true;
    if (error == SSL_ERROR_WANT_WRITE) {
        if (reading)
            c->read_wants_out = true;
        return true;
    }
    static char reason[160];
    unsigned long code = ERR_get_error();
    if (error == SSL_ERROR_ZERO_RETURN)
        *why = "the server closed the TLS connection";
    else if (code)
        *why = ERR_error_string(code, reason);
    else
        *why = errno ? strerror(errno) : "the server closed the connection";
    ERR_clear_error();
    return false;
}
#endif

/* Send what the socket (or TLS) takes now: the count, 0 if it must wait, -1 if it failed. */
static ssize_t io_send(struct bench *b, struct conn *c, const char *data, size_t len)
{
    const char *why = NULL;
#ifdef LOADGEN_TLS
    if (c->ssl) {
        size_t n = 0;
        if (SSL_write_ex(c->ssl, data, len, &n))
            return (ssize_t)n;
        if (tls_must_wait(c, false, &why))
            return 0;
    }
#endif
    if (!why) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK)
            return n < 0 ? 0 : n;
        why = strerror(errno);
    }
    fail(b, "c%d: send: %s", c->index, why);
    return -1;
}

/*
 * Read what has come, up to `room` bytes: the count, 0 if nothing yet, -1 if the
 * connection ended (*why says how). Over TLS, every SSL_read is given room for a whole
 * record, so no decrypted bytes are left hidden in the SSL object (SSL_pending) where
 * epoll cannot see them; what is still in the socket wakes us again (level-triggered).
 */
static ssize_t io_recv(struct conn *c, char *buf, size_t room, const char **why)
{
#ifdef LOADGEN_TLS
    if (c->ssl) {
        size_t got = 0, n;
        c->read_wants_out = false;
        while (got + TLS_RECORD <= room) {
            if (SSL_read_ex(c->ssl, buf + got, room - got, &n)) {
                got += n;
            } else if (tls_must_wait(c, true, why)) {
                break;
            } else {
                return got ? (ssize_t)got : -1;  /* the end comes again on the next read */
            }
        }
        return (ssize_t)got;
    }
#endif
    ssize_t n = recv(c->fd, buf, room, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0)
        *why = n < 0 ? strerror(errno) : "the server closed the connection";
    return n <= 0 ? -1 : n;
}

/* Write now what the kernel takes; keep the rest and wait for EPOLLOUT. */
static void conn_send(struct bench *b, struct conn *c, const char *data, size_t len)
{
    if (c->pending_len == 0) {
        ssize_t n = io_send(b, c, data, len);
        if (n < 0)
            return;
        data += n;
        len -= (size_t)n;
        if (len == 0)
            return;
        watch(b, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
    }
    /* TLS retries a write with the same first bytes (moving buffer, partial writes on). */
    c->pending = realloc(c->pending, c->pending_len + len);
    memcpy(c->pending + c->pending_len, data, len);
    c->pending_len += len;
}

static void flush_pending(struct bench *b, struct conn *c)
{
    ssize_t n = io_send(b, c, c->pending, c->pending_len);
    if (n <= 0)
        return;
    memmove(c->pending, c->pending + n, c->pending_len - (size_t)n);
    c->pending_len -= (size_t)n;
    if (c->pending_len == 0)
        rewatch(b, c);
}

/* Start a non-blocking connect; the connection says hello once it is writable. */
static void open_conn(struct bench *b, struct conn *c)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)b->opt.port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(b, "socket: %s (raise the open-file limit?)", strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->stalled) {  /* must be set before connecting to limit the advertised window */
        int size = STALL_RCVBUF;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        fail(b, "c%d: connect: %s", c->index, strerror(errno));
        return;
    }
    c->state = CONNECTING;
    b->opened++;
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        fail(b, "epoll_ctl: %s", strerror(errno));
}

/* The WebSocket's opening request: fixed key, no extensions, no subprotocol. */
static const char WS_UPGRADE[] =
    "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

static void say_hello(struct bench *b, struct conn *c);

/* The transport is ready (TCP, or TLS after its handshake): upgrade, or say hello. */
static void begin_chat(struct bench *b, struct conn *c)
{
    watch(b, c, EPOLL_CTL_MOD, EPOLLIN);
    if (b->opt.dialect == WEBSOCKET) {
        c->state = UPGRADING;
        conn_send(b, c, WS_UPGRADE, sizeof WS_UPGRADE - 1);
    } else {
        c->state = JOINING;
        say_hello(b, c);
    }
}

#ifdef LOADGEN_TLS
/* One step of the TLS handshake; it waits for whichever readiness OpenSSL asks for. */
static void tls_handshake(struct bench *b, struct conn *c)
{
    if (SSL_do_handshake(c->ssl) == 1) {
        begin_chat(b, c);
        return;
    }
    const char *why = NULL;
    if (!tls_must_wait(c, true, &why)) {
        fail(b, "c%d: TLS handshake: %s", c->index, why);
        return;
    }
    watch(b, c, EPOLL_CTL_MOD, c->read_wants_out ? EPOLLOUT : EPOLLIN);
    c->read_wants_out = false;
}

static void start_tls(struct bench *b, struct conn *c)
{
    c->ssl = SSL_new(b->tls);
    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
        fail(b, "c%d: SSL_new: %s", c->index, ERR_error_string(ERR_get_error(), NULL));
        return;
    }
    SSL_set_connect_state(c->ssl);
    c->state = HANDSHAKING;
    tls_handshake(b, c);
}
#endif

static void connected(struct bench *b, struct conn *c)
{
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error) {
        fail(b, "c%d: connect: %s", c->index, strerror(error));
        return;
    }
#ifdef LOADGEN_TLS
    if (b->opt.tls) {
        start_tls(b, c);
        return;
    }
#endif
    begin_chat(b, c);
}

/* ---------------------------------------------------------------- saying things */

static const unsigned char WS_MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };  /* fixed: fine here */

/* One line of text in the run's dialect at out: LF-ended, a masked WebSocket text frame,
 * or an IRC line (CRLF). Returns the bytes written (at most n + 14). */
static size_t put_line(const struct bench *b, char *out, const char *text, size_t n)
{
    if (b->opt.dialect != WEBSOCKET) {
        memcpy(out, text, n);
        if (b->opt.dialect == IRC)
            out[n++] = '\r';
        out[n] = '\n';
        return n + 1;
    }
    unsigned char *p = (unsigned char *)out;
    size_t head = 2;
    p[0] = 0x81;  /* FIN, text */
    if (n < 126) {
        p[1] = (unsigned char)(0x80 | n);
    } else {  /* our lines are under 64 KiB */
        p[1] = 0x80 | 126;
        p[2] = (unsigned char)(n >> 8);
        p[3] = (unsigned char)n;
        head = 4;
    }
    memcpy(p + head, WS_MASK, 4);
    for (size_t i = 0; i < n; i++)
        p[head + 4 + i] = (unsigned char)text[i] ^ WS_MASK[i & 3];
    return head + 4 + n;
}

/* The lines that join: registration and JOIN for IRC, /hello and /nick otherwise. */
static void say_hello(struct bench *b, struct conn *c)
{
    char text[4][64], out[512];
    int lines = 0;
    size_t len = 0;
    if (b->opt.dialect == IRC) {
        len = (size_t)snprintf(out, sizeof out, "CAP REQ :echo-message\r\nNICK c%d\r\n"
                               "USER c%d 0 * :bench\r\nCAP END\r\nJOIN %s\r\n", c->index,
                               c->index, DEFAULT_ROOM);
        conn_send(b, c, out, len);
        return;
    }
    snprintf(text[lines++], sizeof text[0], "/hello bench %d", b->opt.version);
    snprintf(text[lines++], sizeof text[0], "/nick c%d", c->index);
    if (b->opt.rooms > 0 && !c->seeder) {  /* to its own room, out of the default one */
        snprintf(text[lines++], sizeof text[0], "/join #r%d", c->room);
        snprintf(text[lines++], sizeof text[0], "/part %s", DEFAULT_ROOM);
    }
    for (int i = 0; i < lines; i++)
        len += put_line(b, out + len, text[i], strlen(text[i]));
    conn_send(b, c, out, len);
}

static void say_one(struct bench *b, struct conn *c, char *buf, size_t *len)
{
    char text[MAX_LINE];
    int n = snprintf(text, sizeof text, "%s%d %llu %llu%s",
                     b->opt.dialect == IRC ? "PRIVMSG " DEFAULT_ROOM " :" : "", c->index,
                     (unsigned long long)c->sent, (unsigned long long)now_ns(), b->padding);
    *len += put_line(b, buf + *len, text, (size_t)n);
    c->sent++;
    b->messages_sent++;
    b->deliveries_due += (uint64_t)b->room_size[c->room];
}

/* Windowed sender: top up to `window` messages in flight, in one send. */
static void top_up_window(struct bench *b, struct conn *c)
{
    static char buf[64 * 1024];
    size_t len = 0;
    while (c->sent - c->acked < (uint64_t)b->opt.window && len + 5000 < sizeof buf)
        say_one(b, c, buf, &len);
    if (len)
        conn_send(b, c, buf, len);
}

/* Paced senders: say what is due; return when the next message is due. */
static uint64_t say_due_messages(struct bench *b, uint64_t now)
{
    uint64_t period = (uint64_t)((double)NS_PER_S / b->opt.rate);
    uint64_t next = UINT64_MAX;
    char buf[8192];
    for (int i = 0; i < b->opt.senders; i++) {
        struct conn *c = &b->conns[i];
        size_t len = 0;
        /* A late wake-up says all that is due: the offered load stays the same. */
        while (c->next_send_ns <= now && len + 5000 < sizeof buf) {
            say_one(b, c, buf, &len);
            c->next_send_ns += period;
        }
        if (len)
            conn_send(b, c, buf, len);
        if (c->next_send_ns < next)
            next = c->next_send_ns;
    }
    return next;
}

/* ---------------------------------------------------------------- hearing things */

/* Parse a decimal number at *p, moving *p past it; false if there is none. */
static bool parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (s == *p)
        return false;
    *out = v;
    *p = s;
    return true;
}

/* `cN` -> N, or -1 when the word is not one of our nicknames. */
static long nick_index(const char *p, const char *end)
{
    uint64_t v;
    if (p >= end || *p != 'c')
        return -1;
    p++;
    if (!parse_u64(&p, end, &v) || (p < end && *p != ' '))
        return -1;
    return (long)v;
}

/* `MSG cN N SEQ SEND_NS ...`: check the order, count it, time it. */
static void heard_message(struct bench *b, struct conn *c, const char *line, const char *end,
                          uint64_t now)
{
    const char *p = line;
    long nick = nick_index(p, end);
    uint64_t sender, seq, sent_ns;
    p = memchr(p, ' ', (size_t)(end - p));
    if (nick < 0 || !p || (p++, !parse_u64(&p, end, &sender)) || p >= end || *p++ != ' '
        || !parse_u64(&p, end, &seq) || p >= end || *p++ != ' '
        || !parse_u64(&p, end, &sent_ns)) {
        fail(b, "c%d: a MSG line we cannot read: MSG %.*s", c->index, (int)(end - line), line);
        return;
    }
    if ((uint64_t)nick != sender || sender >= (uint64_t)b->opt.senders) {
        fail(b, "c%d: MSG from c%ld claims sender %llu", c->index, nick,
             (unsigned long long)sender);
        return;
    }
    if (room_of(b, (long)sender) != c->room) {  /* deliveries_due counts rooms: keep it true */
        fail(b, "c%d: heard c%llu, who is in another room", c->index,
             (unsigned long long)sender);
        return;
    }
    uint32_t *expected = &c->expect[sender];
    if (seq != *expected) {
        fail(b, "c%d: from c%llu got message %llu, expected %u (%s)", c->index,
             (unsigned long long)sender, (unsigned long long)seq, *expected,
             seq > *expected ? "LOST or REORDERED" : "DUPLICATED or REORDERED");
        return;
    }
    (*expected)++;
    /* Order-dependent, so that two receivers agree only if they heard the same sequence. */
    c->transcript = c->transcript * 1000003 + (sender << 32 | seq);
    b->deliveries++;
    hist_add(&b->latency, now > sent_ns ? now - sent_ns : 0);
    if (sender == (uint64_t)c->index)
        c->acked++;
}

/* In the room at last: its own JOIN heard (and, with rooms, its PART from the default). */
static void maybe_joined(struct bench *b, struct conn *c)
{
    if (c->state != JOINING || !c->in_room || (b->opt.rooms > 0 && !c->left_default))
        return;
    c->state = JOINED;
    b->joined++;
    if (c->stalled)  /* from now on it never reads */
        watch(b, c, EPOLL_CTL_MOD, c->pending_len ? EPOLLOUT : 0);
}

static void heard_join(struct bench *b, struct conn *c, const char *p, const char *end)
{
    if (!c->stalled)
        b->joins_seen++;
    if (c->state == JOINING && nick_index(p, end) == c->index) {
        c->in_room = true;
        maybe_joined(b, c);
    }
}

/* `PART cN REASON`: only the stalled client may leave, and only as `too slow`. */
static void heard_part(struct bench *b, struct conn *c, const char *p, const char *end)
{
    long nick = nick_index(p, end);
    const char *reason = memchr(p, ' ', (size_t)(end - p));
    reason = reason ? reason + 1 : end;
    bool stalled_one = b->opt.stall && nick == b->nconns - 1;
    if (!stalled_one) {
        fail(b, "c%d: the server says c%ld left: %.*s", c->index, nick,
             (int)(end - reason), reason);
        return;
    }
    if ((size_t)(end - reason) != 8 || memcmp(reason, "too slow", 8) != 0) {
        fail(b, "the stalled client left for another reason: %.*s", (int)(end - reason), reason);
        return;
    }
    if (b->stall_parts_seen++ == 0)
        b->stall_cut_ns = now_ns();
}

static bool starts_with(const char *p, const char *end, const char *word, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

enum room_event { OTHER_EVENT, MSG_EVENT, JOIN_EVENT, PART_EVENT };

/* Which room event the line is (the ones we check), moving *p past its first word. */
static enum room_event room_event_of(const char **p, const char *end)
{
    static const struct { const char *word; size_t len; enum room_event kind; } words[] = {
        { "MSG ", 4, MSG_EVENT }, { "JOIN ", 5, JOIN_EVENT }, { "PART ", 5, PART_EVENT },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (starts_with(*p, end, words[i].word, words[i].len)) {
            *p += words[i].len;
            return words[i].kind;
        }
    return OTHER_EVENT;
}

/* A room's name -> its slot; LOBBY for the default room when clients leave it; NO_ROOM. */
static int room_slot(const struct bench *b, const char *p, const char *end)
{
    size_t len = (size_t)(end - p), lobby = strlen(DEFAULT_ROOM);
    if (len == lobby && memcmp(p, DEFAULT_ROOM, lobby) == 0)
        return b->opt.rooms > 0 ? LOBBY : 0;
    uint64_t k;
    const char *q = p + 2;
    if (b->opt.rooms > 0 && starts_with(p, end, "#r", 2) && parse_u64(&q, end, &k) && q == end
        && k < (uint64_t)b->opt.rooms)
        return (int)k;
    return NO_ROOM;
}

/*
 * v2: read the `ROOM ID TIME ` of a room event at *p and move past it. True when the event
 * is in c's room, with an id above the last one heard there; the default room's comings
 * and goings are only noted (c's own PART from it).
 */
static bool in_its_room(struct bench *b, struct conn *c, enum room_event kind, const char **p,
                        const char *end)
{
    const char *line = *p, *space = memchr(line, ' ', (size_t)(end - line)), *q = space;
    uint64_t id, time_ms;
    if (!space || (q++, !parse_u64(&q, end, &id)) || q >= end || *q++ != ' '
        || !parse_u64(&q, end, &time_ms) || q >= end || *q++ != ' ') {
        fail(b, "c%d: a room event we cannot read: %.*s", c->index, (int)(end - line), line);
        return false;
    }
    *p = q;
    int slot = room_slot(b, line, space);
    if (slot != c->room) {
        if (kind == MSG_EVENT || slot == NO_ROOM)
            fail(b, "c%d: an event of a room it is not in: %.*s", c->index,
                 (int)(end - line), line);
        else if (kind == PART_EVENT && slot == LOBBY && nick_index(q, end) == c->index) {
            c->left_default = true;
            maybe_joined(b, c);
        }
        return false;
    }
    if (id <= c->last_id) {
        fail(b, "c%d: in %.*s, event %llu came after %llu (REORDERED or DUPLICATED)", c->index,
             (int)(space - line), line, (unsigned long long)id,
             (unsigned long long)c->last_id);
        return false;
    }
    c->last_id = id;
    return true;
}

/* `HISTORY ROOM N`: the next N lines are the room's past, replayed on joining it. */
static void heard_history(struct bench *b, struct conn *c, const char *p, const char *end)
{
    const char *space = memchr(p, ' ', (size_t)(end - p)), *q = space;
    uint64_t n;
    if (!space || (q++, !parse_u64(&q, end, &n)) || q != end) {
        fail(b, "c%d: a HISTORY line we cannot read: %.*s", c->index, (int)(end - p), p);
        return;
    }
    c->replay_left = n;
    if (c->seeder || room_slot(b, p, space) != c->room)
        return;  /* the default room's, which clients with rooms of their own leave */
    b->replayed += n;
    if (b->opt.replay >= 0 && n != (uint64_t)b->opt.replay)
        fail(b, "c%d: %llu lines replayed on joining, expected %d", c->index,
             (unsigned long long)n, b->opt.replay);
}

/* The seeder only waits for its own JOIN and for its own lines to come back. */
static void heard_by_seeder(struct bench *b, struct conn *c, const char *p, const char *end)
{
    enum room_event kind = room_event_of(&p, end);
    if (kind == OTHER_EVENT || !in_its_room(b, c, kind, &p, end)
        || nick_index(p, end) != c->index)
        return;
    if (kind == JOIN_EVENT) {
        c->in_room = true;
        maybe_joined(b, c);
    } else if (kind == MSG_EVENT) {
        c->acked++;
    }
}

/*
 * An IRC line read as the line protocol's, into out: `:cN!u@h PRIVMSG #lobby :TEXT` is
 * `MSG cN TEXT`, JOIN is `JOIN cN`, PART and QUIT are `PART cN REASON`; ERROR and the
 * numeric errors (400-599) are `ERROR ...`. Anything else (welcome numerics, NAMES,
 * NOTICE, CAP) is 0: nothing to check. Returns the length of what was written.
 */
static size_t irc_as_line(const char *p, const char *end, char *out, size_t size)
{
    const char *nick = "", *nick_end = nick, *space;
    if (p < end && *p == '@')  /* message tags: none asked for, skipped if sent */
        p = (space = memchr(p, ' ', (size_t)(end - p))) ? space + 1 : end;
    if (p < end && *p == ':') {  /* the source: nick!user@host, or the server's name */
        nick = ++p;
        p = (space = memchr(p, ' ', (size_t)(end - p))) ? space + 1 : end;
        nick_end = memchr(nick, '!', (size_t)(p - nick));
        nick_end = nick_end ? nick_end : (p > nick ? p - 1 : p);
    }
    const char *command = p;
    p = (space = memchr(p, ' ', (size_t)(end - p))) ? space + 1 : end;
    size_t command_len = (size_t)((space ? space : end) - command);
    const char *text = memchr(p, ':', (size_t)(end - p));  /* the trailing parameter */
    text = text ? text + 1 : end;
    int nick_len = (int)(nick_end - nick), text_len = (int)(end - text);
    const char *as = NULL;
    if (command_len == 7 && memcmp(command, "PRIVMSG", 7) == 0)
        as = "MSG";
    else if (command_len == 4 && memcmp(command, "JOIN", 4) == 0)
        return (size_t)snprintf(out, size, "JOIN %.*s", nick_len, nick);
    else if ((command_len == 4 && memcmp(command, "PART", 4) == 0)
             || (command_len == 4 && memcmp(command, "QUIT", 4) == 0))
        as = "PART";
    else if ((command_len == 5 && memcmp(command, "ERROR", 5) == 0)
             || (command_len == 3 && (*command == '4' || *command == '5')))
        return (size_t)snprintf(out, size, "ERROR %.*s", (int)(end - command), command);
    if (!as)
        return 0;
    size_t n = (size_t)snprintf(out, size, "%s %.*s %.*s", as, nick_len, nick, text_len, text);
    return n < size ? n : size - 1;
}

static void heard_line(struct bench *b, struct conn *c, const char *p, const char *end,
                       uint64_t now)
{
    if (end > p && end[-1] == '\r')
        end--;
    if (b->opt.dialect == IRC) {
        static char line[MAX_LINE];
        size_t n = irc_as_line(p, end, line, sizeof line);
        if (n == 0)
            return;
        p = line;
        end = line + n;
    }
    if (c->replay_left > 0) {  /* the past, replayed on joining: not news */
        c->replay_left--;
        return;
    }
    if (starts_with(p, end, "ERROR ", 6) || starts_with(p, end, "BYE", 3)) {
        fail(b, "c%d: unexpected from the server: %.*s", c->index, (int)(end - p), p);
        return;
    }
    if (starts_with(p, end, "HISTORY ", 8)) {
        heard_history(b, c, p + 8, end);
        return;
    }
    if (c->seeder) {
        heard_by_seeder(b, c, p, end);
        return;
    }
    enum room_event kind = room_event_of(&p, end);
    if (kind == OTHER_EVENT)  /* greeting, HELLO, WELCOME, USERS, CURRENT: nothing to check */
        return;
    if (b->opt.version >= 2 && !in_its_room(b, c, kind, &p, end))
        return;
    if (kind == MSG_EVENT)
        heard_message(b, c, p, end, now);
    else if (kind == JOIN_EVENT)
        heard_join(b, c, p, end);
    else
        heard_part(b, c, p, end);
}

/* Keep buf[p..end), the start of what has not fully come yet, for the next read. */
static void keep_partial(struct bench *b, struct conn *c, const char *p, const char *end)
{
    size_t rest = (size_t)(end - p);
    if (rest > MAX_PARTIAL) {
        fail(b, "c%d: a line longer than %d bytes", c->index, MAX_PARTIAL);
        return;
    }
    if (rest) {
        c->partial = realloc(c->partial, rest);
        memcpy(c->partial, p, rest);
    }
    c->partial_len = rest;
}

/* Hand every complete line in buf[0..len) to heard_line; keep the unfinished tail. */
static void heard_bytes(struct bench *b, struct conn *c, char *buf, size_t len)
{
    uint64_t now = now_ns();  /* once per read: a line's latency ends when it arrives */
    char *p = buf, *end = buf + len;
    char *lf;
    while (!failed(b) && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        heard_line(b, c, p, lf, now);
        p = lf + 1;
    }
    keep_partial(b, c, p, end);
}

/*
 * Hand the payload of every complete WebSocket frame in buf[0..len) to heard_line: the
 * server sends each line as one unmasked text frame. Anything else (a masked or
 * fragmented frame, a close, binary) fails the run: the server should never send it.
 */
static void heard_frames(struct bench *b, struct conn *c, char *buf, size_t len)
{
    uint64_t now = now_ns();
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    while (!failed(b) && end - p >= 2) {
        uint64_t n = p[1] & 0x7f;
        size_t head = 2;
        if (n == 126 || n == 127) {
            head = n == 126 ? 4 : 10;
            if ((size_t)(end - p) < head)
                break;
            n = 0;
            for (size_t i = 2; i < head; i++)
                n = n << 8 | p[i];
        }
        if (p[0] != 0x81 || p[1] & 0x80 || n > MAX_PARTIAL) {
            fail(b, "c%d: a WebSocket frame we did not expect: %02x %02x (length %llu)",
                 c->index, p[0], p[1], (unsigned long long)n);
            return;
        }
        if ((uint64_t)(end - p) - head < n)
            break;
        heard_line(b, c, (const char *)p + head, (const char *)p + head + n, now);
        p += head + n;
    }
    keep_partial(b, c, (const char *)p, (const char *)end);
}

/* Until the blank line ending the server's answer to the upgrade: it must be a 101. */
static void heard_upgrade(struct bench *b, struct conn *c, char *buf, size_t len)
{
    char *blank = memmem(buf, len, "\r\n\r\n", 4);
    if (!blank) {
        keep_partial(b, c, buf, buf + len);
        return;
    }
    if (len < 13 || memcmp(buf, "HTTP/1.1 101 ", 13) != 0) {
        char *eol = memchr(buf, '\r', len);
        fail(b, "c%d: the WebSocket upgrade was refused: %.*s", c->index,
             (int)(eol - buf), buf);
        return;
    }
    c->state = JOINING;
    say_hello(b, c);
    char *rest = blank + 4;
    heard_frames(b, c, rest, (size_t)(buf + len - rest));
}

static void readable(struct bench *b, struct conn *c)
{
    static char buf[MAX_PARTIAL + READ_CHUNK];
    const char *why = NULL;
    bool wanted_out = c->read_wants_out;
    memcpy(buf, c->partial, c->partial_len);
    ssize_t n = io_recv(c, buf + c->partial_len, READ_CHUNK, &why);
    if (c->read_wants_out != wanted_out)
        rewatch(b, c);
    if (n == 0)
        return;
    if (n < 0) {
        fail(b, "c%d: %s while %s", c->index, why,
             c->state == JOINING ? "joining (often: the server's accept queue stayed full "
                                   "and the kernel gave up the handshake)"
                                 : "in the room");
        close_conn(b, c);
        return;
    }
    size_t len = c->partial_len + (size_t)n;
    if (c->state == UPGRADING)
        heard_upgrade(b, c, buf, len);
    else if (b->opt.dialect == WEBSOCKET)
        heard_frames(b, c, buf, len);
    else
        heard_bytes(b, c, buf, len);
    if (b->sending && c->sender && b->opt.window > 0 && c->state == JOINED)
        top_up_window(b, c);
}

/* What one epoll event means for its connection. */
static void on_event(struct bench *b, struct conn *c, uint32_t events)
{
    if (c->stalled && c->state == JOINED && !c->pending_len) {
        close_conn(b, c);  /* it never reads: any event means it was cut off */
    } else if (c->state == CONNECTING) {
        connected(b, c);
#ifdef LOADGEN_TLS
    } else if (c->state == HANDSHAKING) {
        tls_handshake(b, c);
#endif
    } else if (!is_tls(c)) {
        if (events & EPOLLOUT && c->pending_len)
            flush_pending(b, c);
        else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            readable(b, c);
    } else {  /* TLS: a write may wait on readable, a read on writable */
        if (c->pending_len)
            flush_pending(b, c);
        if (!failed(b) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR) || c->read_wants_out))
            readable(b, c);
    }
}

/* ---------------------------------------------------------------- the event loop */

typedef bool (*condition)(const struct bench *);

/*
 * Run the event loop until `done` holds, the deadline passes or the run fails.
 * Paced senders say their messages on time while it runs. True when `done` held.
 */
static bool run_until(struct bench *b, condition done, uint64_t deadline)
{
    struct epoll_event events[MAX_EVENTS];
    while (!failed(b) && !(done && done(b))) {
        uint64_t now = now_ns();
        if (now >= deadline)
            return false;
        uint64_t wake = deadline;
        if (b->sending && b->opt.rate > 0) {
            uint64_t next = say_due_messages(b, now);
            if (next < wake)
                wake = next;
        }
        /* epoll_wait counts in milliseconds: round up so we never spin before a deadline. */
        int timeout = (int)((wake - now + 999999) / 1000000);
        int n = epoll_wait(b->epfd, events, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            fail(b, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n && !failed(b); i++)
            on_event(b, events[i].data.ptr, events[i].events);
    }
    return !failed(b);
}

static bool all_joined(const struct bench *b) { return b->joined == b->opened; }

static bool joins_settled(const struct bench *b) { return b->joins_seen >= b->joins_expected; }

static bool all_delivered(const struct bench *b)
{
    return b->deliveries == b->deliveries_due;
}

static bool seed_heard(const struct bench *b)
{
    const struct conn *seeder = &b->conns[b->nconns - 1];
    return seeder->acked == (uint64_t)b->opt.seed;
}

static bool stall_noticed(const struct bench *b)
{
    return b->stall_parts_seen == (uint64_t)b->nreceivers;
}

static uint64_t deadline_in(double seconds)
{
    return now_ns() + (uint64_t)(seconds * (double)NS_PER_S);
}

/* ---------------------------------------------------------------- phases */

/* Open connections [first, last) at once; wait until all joined and all JOINs arrived. */
static bool join_range(struct bench *b, int first, int last, uint64_t *joined_ns,
                       uint64_t *settled_ns)
{
    uint64_t start = now_ns(), deadline = deadline_in(b->opt.timeout);
    for (int i = first; i < last && !failed(b); i++)
        open_conn(b, &b->conns[i]);
    if (!run_until(b, all_joined, deadline)) {
        fail(b, "only %d of %d clients joined within %.0f s", b->joined, last,
             b->opt.timeout);
        return false;
    }
    *joined_ns = now_ns() - start;
    if (!run_until(b, joins_settled, deadline)) {
        fail(b, "the JOIN events did not all arrive (%llu of %llu)",
             (unsigned long long)b->joins_seen, (unsigned long long)b->joins_expected);
        return false;
    }
    *settled_ns = now_ns() - start;
    return true;
}

/* The seeder joins the default room and says its lines, so joiners have a past to hear. */
static bool seed_history(struct bench *b)
{
    struct conn *seeder = &b->conns[b->nconns - 1];
    uint64_t deadline = deadline_in(b->opt.timeout);
    open_conn(b, seeder);
    if (!run_until(b, all_joined, deadline)) {
        fail(b, "the seeder did not join within %.0f s", b->opt.timeout);
        return false;
    }
    char *lines = malloc((size_t)b->opt.seed * 32), *end = lines;
    for (int i = 0; i < b->opt.seed; i++)
        end += sprintf(end, "seed line %d\n", i);
    conn_send(b, seeder, lines, (size_t)(end - lines));
    free(lines);
    if (!run_until(b, seed_heard, deadline)) {
        fail(b, "the seeder's %d lines did not come back", b->opt.seed);
        return false;
    }
    return true;
}

/*
 * Everyone joins at once. The stalled client joins last, once the others have settled,
 * so that the count of JOIN lines the readers must see stays exact.
 */
static bool join_everyone(struct bench *b, uint64_t *joined_ns, uint64_t *settled_ns)
{
    /* The k-th JOIN in a room reaches the k clients in it by then: m(m+1)/2 a room. */
    uint64_t n = (uint64_t)b->opt.clients, unused;
    b->joins_expected = 0;
    for (int r = 0; r < b->nslots; r++)
        b->joins_expected += (uint64_t)b->room_size[r] * ((uint64_t)b->room_size[r] + 1) / 2;
    if (!join_range(b, 0, b->opt.clients, joined_ns, settled_ns))
        return false;
    if (b->opt.replay >= 0 && b->replayed != n * (uint64_t)b->opt.replay) {
        fail(b, "%llu lines replayed to %llu joiners, expected %d each",
             (unsigned long long)b->replayed, (unsigned long long)n, b->opt.replay);
        return false;
    }
    if (!b->opt.stall)
        return true;
    b->joins_expected += n;  /* every reader hears the stalled client's JOIN */
    return join_range(b, b->opt.clients, b->nconns, &unused, &unused);
}

/*
 * One order: every receiver was in its room before the first message, so all members of
 * a room must have heard the very same sequence of messages (the per-sender check alone
 * would let two receivers see two senders' messages interleaved differently).
 */
static bool same_transcripts(struct bench *b)
{
    for (int i = 0; i < b->nreceivers; i++) {
        int first = b->conns[i].room;  /* client r is the first one dealt to room r */
        if (b->conns[i].transcript != b->conns[first].transcript) {
            fail(b, "c%d heard the messages in another order than c%d (ONE ORDER broken)",
                 i, first);
            return false;
        }
    }
    return true;
}

/* After the load: everything said must reach every receiver, in time, in one order. */
static bool drain(struct bench *b)
{
    b->sending = false;
    if (!run_until(b, all_delivered, deadline_in(b->opt.timeout))) {
        fail(b, "%llu deliveries never arrived (LOST)",
             (unsigned long long)(b->deliveries_due - b->deliveries));
        return false;
    }
    return same_transcripts(b);
}

/* The JSON's opening: how the clients came in. */
static void print_transport(const struct bench *b)
{
    static const char *const names[] = { "lines", "ws", "irc" };
    printf("{\"tls\": %s, \"dialect\": \"%s\", ", b->opt.tls ? "true" : "false",
           names[b->opt.dialect]);
}

static void print_latency(const struct bench *b)
{
    printf("\"latency_p50_us\": %.1f, \"latency_p99_us\": %.1f, \"latency_max_us\": %.1f, ",
           hist_percentile(&b->latency, 50) / 1e3, hist_percentile(&b->latency, 99) / 1e3,
           b->latency.max / 1e3);
}

/* Senders say messages for the duration; report deliveries/s, latency and CPU. */
static void run_load(struct bench *b)
{
    uint64_t joined_ns, settled_ns;
    if (!join_everyone(b, &joined_ns, &settled_ns))
        return;
    uint64_t start = now_ns(), cpu0 = self_cpu_ns(), server0 = server_cpu_ns(b->opt.server_pid);
    uint64_t period = b->opt.rate > 0 ? (uint64_t)((double)NS_PER_S / b->opt.rate) : 0;
    b->sending = true;
    for (int i = 0; i < b->opt.senders; i++) {
        struct conn *c = &b->conns[i];
        c->next_send_ns = start + period * (uint64_t)i / (uint64_t)b->opt.senders;  /* spread */
        if (b->opt.window > 0)
            top_up_window(b, c);
    }
    run_until(b, NULL, deadline_in(b->opt.seconds));
    uint64_t elapsed = now_ns() - start, delivered = b->deliveries;
    uint64_t cpu = self_cpu_ns() - cpu0, server = server_cpu_ns(b->opt.server_pid) - server0;
    if (!drain(b))
        return;
    if (b->opt.stall && !stall_noticed(b))  /* give the cut-off a moment if it is late */
        run_until(b, stall_noticed, deadline_in(2.0));
    print_transport(b);
    printf("\"ok\": true, \"mode\": \"load\", \"version\": %d, \"rooms\": %d, "
           "\"clients\": %d, \"senders\": %d, "
           "\"messages\": %llu, \"deliveries\": %llu, \"duration_s\": %.3f, "
           "\"deliveries_per_s\": %.0f, ", b->opt.version, b->nslots, b->opt.clients,
           b->opt.senders,
           (unsigned long long)b->messages_sent, (unsigned long long)b->deliveries,
           elapsed / 1e9, delivered / (elapsed / 1e9));
    print_latency(b);
    printf("\"loadgen_cpu_pct\": %.1f, \"server_cpu_pct\": %.1f, \"join_s\": %.3f",
           100.0 * cpu / elapsed, b->opt.server_pid > 0 ? 100.0 * server / elapsed : -1.0,
           joined_ns / 1e9);
    if (b->opt.stall)
        printf(", \"stalled_cut_off\": %s, \"stalled_cut_off_after_s\": %.3f",
               stall_noticed(b) ? "true" : "false",
               stall_noticed(b) ? (b->stall_cut_ns - start) / 1e9 : -1.0);
    printf("}\n");
}

/* N join at once; then one broadcast. Times, and the server's memory per connection. */
static void run_join(struct bench *b)
{
    if (b->opt.seed > 0 && !seed_history(b))  /* before anything is measured */
        return;
    long rss_before = server_rss_kib(b->opt.server_pid), overflows = listen_overflows();
    uint64_t cpu0 = self_cpu_ns(), server0 = server_cpu_ns(b->opt.server_pid);
    uint64_t joined_ns, settled_ns;
    if (!join_everyone(b, &joined_ns, &settled_ns))
        return;
    uint64_t join_cpu = self_cpu_ns() - cpu0;
    uint64_t server_join_cpu = server_cpu_ns(b->opt.server_pid) - server0;
    if (overflows >= 0)
        overflows = listen_overflows() - overflows;
    run_until(b, NULL, deadline_in(0.5));  /* let the server settle before weighing it */
    long rss_after = server_rss_kib(b->opt.server_pid);
    /* One broadcast from the first client; time until every client has it. */
    uint64_t said = now_ns();
    b->sending = true;
    char buf[8192];
    size_t len = 0;
    say_one(b, &b->conns[0], buf, &len);
    conn_send(b, &b->conns[0], buf, len);
    if (!drain(b))
        return;
    uint64_t fanout = now_ns() - said;
    print_transport(b);
    printf("\"ok\": true, \"mode\": \"join\", \"version\": %d, \"clients\": %d, "
           "\"deliveries\": %llu, \"seeded_lines\": %d, \"replayed_lines\": %llu, "
           "\"join_all_s\": %.3f, \"join_settled_s\": %.3f, \"broadcast_all_ms\": %.3f, ",
           b->opt.version, b->opt.clients, (unsigned long long)b->deliveries, b->opt.seed,
           (unsigned long long)b->replayed, joined_ns / 1e9, settled_ns / 1e9, fanout / 1e6);
    print_latency(b);
    printf("\"rss_before_kib\": %ld, \"rss_after_kib\": %ld, \"bytes_per_conn\": %.0f, "
           "\"server_join_cpu_s\": %.3f, \"listen_overflows\": %ld, "
           "\"loadgen_cpu_pct\": %.1f}\n", rss_before, rss_after,
           (rss_after - rss_before) * 1024.0 / b->opt.clients, server_join_cpu / 1e9,
           overflows, 100.0 * join_cpu / (double)(settled_ns ? settled_ns : 1));
}

/* The failure as a JSON object, so the runner can show why. */
static void print_failure(const struct bench *b)
{
    printf("{\"ok\": false, \"error\": \"");
    for (const char *p = b->failure; *p; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        putchar((unsigned char)*p < ' ' ? '?' : *p);
    }
    printf("\"}\n");
}

/* ---------------------------------------------------------------- setup */

static void usage(void)
{
    fprintf(stderr,
        "usage: loadgen load|join -p PORT -n CLIENTS [-s SENDERS] [-r RATE | -w WINDOW]\n"
        "               [-t SECONDS] [-T TIMEOUT] [-z PADDING] [-x] [-P SERVER_PID]\n"
        "               [-V VERSION] [-m ROOMS] [-S LINES] [-R LINES] [-e] [-d ws|irc]\n"
        "  load  senders say messages for SECONDS: paced at RATE/s each, or WINDOW in flight\n"
        "  join  CLIENTS join at once, then one broadcast\n"
        "  -x    one more client joins and then never reads (it should be cut off)\n"
        "  -P    read the server's CPU time and memory from /proc/PID\n"
        "  -V    the protocol version the clients speak: 1 (default) or 2\n"
        "  -m    v2: client i joins #r<i %% ROOMS> and parts " DEFAULT_ROOM "\n"
        "  -S    join, v2: first one more client says LINES lines in " DEFAULT_ROOM "\n"
        "  -R    v2: every joiner must be replayed exactly LINES lines of its room\n"
        "  -e    over TLS (a build with -DLOADGEN_TLS, linked with -lssl -lcrypto)\n"
        "  -d    ws: over WebSocket (GET /chat); irc: IRC clients in " DEFAULT_ROOM "\n"
        "        (-e, -d: not with -x or -S; irc: version 1 forms, no -m, -R or -z)\n");
    exit(1);
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = { .clients = 10, .seconds = 5, .timeout = 60, .version = 1,
                         .replay = -1 };
    if (argc < 2)
        usage();
    o.mode = argv[1];
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "p:n:s:r:w:t:T:z:xP:V:m:S:R:ed:")) != -1) {
        switch (opt) {
        case 'p': o.port = atoi(optarg); break;
        case 'n': o.clients = atoi(optarg); break;
        case 's': o.senders = atoi(optarg); break;
        case 'r': o.rate = atof(optarg); break;
        case 'w': o.window = atoi(optarg); break;
        case 't': o.seconds = atof(optarg); break;
        case 'T': o.timeout = atof(optarg); break;
        case 'z': o.padding = atoi(optarg); break;
        case 'x': o.stall = true; break;
        case 'P': o.server_pid = atoi(optarg); break;
        case 'V': o.version = atoi(optarg); break;
        case 'm': o.rooms = atoi(optarg); break;
        case 'S': o.seed = atoi(optarg); break;
        case 'R': o.replay = atoi(optarg); break;
        case 'e': o.tls = true; break;
        case 'd':
            if (strcmp(optarg, "ws") == 0)
                o.dialect = WEBSOCKET;
            else if (strcmp(optarg, "irc") == 0)
                o.dialect = IRC;
            else
                usage();
            break;
        default: usage();
        }
    }
    bool load = strcmp(o.mode, "load") == 0, join = strcmp(o.mode, "join") == 0;
    if (join)
        o.senders = 1;  /* the first client says the one broadcast */
    if ((!load && !join) || o.port <= 0 || o.clients < 1 || o.senders < 0
        || o.senders > o.clients || o.padding < 0 || o.padding > 1900
        || (load && (o.senders < 1 || (o.rate > 0) == (o.window > 0))))
        usage();
    /* Rooms, seeding and replays are version 2; the seeder and the stalled client are
     * both the one extra connection, and the seeder speaks in the default room. */
    if (o.version < 1 || o.rooms < 0 || o.seed < 0 || o.seed > 100000 || o.replay < -1
        || (o.version < 2 && (o.rooms || o.seed || o.replay >= 0))
        || (o.seed && (!join || o.stall || o.rooms)))
        usage();
    /* The stalled client and the seeder are plain TCP lines; IRC is read as version 1. */
    if ((o.tls || o.dialect != LINES) && (o.stall || o.seed))
        usage();
    if (o.dialect == IRC && (o.version != 1 || o.rooms || o.replay >= 0 || o.padding))
        usage();
#ifndef LOADGEN_TLS
    if (o.tls) {
        fprintf(stderr, "loadgen: built without TLS (needs OpenSSL's headers: libssl-dev)\n");
        exit(1);
    }
#endif
    return o;
}

/* Every client is a descriptor: ask for as many as we are allowed. */
static void raise_open_file_limit(int needed)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)needed + 16)
        fprintf(stderr, "loadgen: the open-file limit (%llu) is below %d clients\n",
                (unsigned long long)rl.rlim_cur, needed);
}

#ifdef LOADGEN_TLS
/*
 * The client context every connection shares. No certificate check: the server is the
 * one this run started, with a certificate made for it. Partial writes and a moving
 * buffer, because a write that must wait is retried from the pending buffer, which
 * grows and moves (it starts with the same bytes, as OpenSSL requires).
 */
static SSL_CTX *tls_context(void)
{
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (!context) {
        fprintf(stderr, "loadgen: SSL_CTX_new failed\n");
        exit(1);
    }
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return context;
}
#endif

static void setup(struct bench *b, struct options opt)
{
    b->opt = opt;
    b->nconns = opt.clients + (opt.stall || opt.seed ? 1 : 0);
    b->nreceivers = opt.clients;
    b->nslots = opt.rooms > 0 ? opt.rooms : 1;
    b->room_size = calloc((size_t)b->nslots, sizeof *b->room_size);
    b->conns = calloc((size_t)b->nconns, sizeof *b->conns);
    uint32_t *expect = calloc((size_t)b->nconns * (size_t)(opt.senders ? opt.senders : 1),
                              sizeof *expect);
    for (int i = 0; i < b->nconns; i++) {
        struct conn *c = &b->conns[i];
        c->index = i;
        c->sender = i < opt.senders;
        c->stalled = opt.stall && i == b->nconns - 1;
        c->seeder = opt.seed && i == b->nconns - 1;
        c->room = c->seeder ? 0 : room_of(b, i);
        if (i < b->nreceivers)
            b->room_size[c->room]++;
        c->expect = expect + (size_t)i * (size_t)(opt.senders ? opt.senders : 1);
    }
    if (opt.padding) {  /* " " then padding bytes: the server relays the text whole */
        b->padding[0] = ' ';
        memset(b->padding + 1, 'x', (size_t)opt.padding);
    }
    raise_open_file_limit(b->nconns);
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
#ifdef LOADGEN_TLS
    if (opt.tls)
        b->tls = tls_context();
#endif
}

int main(int argc, char **argv)
{
    static struct bench bench;  /* large (the histogram): not on the stack */
    struct bench *b = &bench;
    setup(b, parse_options(argc, argv));
    if (b->opt.mode[0] == 'l')
        run_load(b);
    else
        run_join(b);
    if (failed(b))
        print_failure(b);
    fflush(stdout);
    for (int i = 0; i < b->nconns; i++)
        close_conn(b, &b->conns[i]);
    return failed(b) ? 2 : 0;
}
