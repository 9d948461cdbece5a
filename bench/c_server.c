/*
 * c_server: the benchmark's physical limit, a minimal chat server in C (issue 15).
 *
 * One thread, one epoll loop, one room. It speaks the version-1 line protocol as far as
 * the load generator uses it, and does the same fan-out work as our server and the
 * asyncio one: every room event is formatted once and copied into the output buffer of
 * every member, in one global order. What the two Python servers take longer than this
 * is the cost of Python and of their scheduling, not of the work.
 *
 *   /hello CLIENT VERSION   HELLO NAME 1 (always version 1: no rooms, ids or history)
 *   /nick NAME              WELCOME NAME, USERS ... (join order), then JOIN NAME to all;
 *                           once joined, NICK OLD NEW to all
 *   text (//text: /text)    MSG NICK TEXT to all, the sender included
 *   /who                    USERS ...
 *   /ping TOKEN             PONG TOKEN
 *   /quit [REASON]          PART NICK REASON to the others, BYE REASON to it, then closed
 *
 * A disconnect is `PART NICK connection lost`. A client owing more than the outbox limit
 * (--outbox-limit, 1 MiB) while its socket takes no more is cut off: `PART NICK too slow`.
 *
 * Not here, on purpose: lines for people (every connection gets machine events; the
 * greeting is the one line for people), /me, /msg, /help, rooms, a store, flood control
 * (the benchmark runs every server with `--flood off`, the only value accepted here),
 * TLS, WebSocket, IRC. Text is cleaned of control characters (C0 but TAB, and DEL) but not
 * checked for UTF-8; nicknames are ASCII letters, digits, `_` and `-` (the real contract
 * allows any script), unique regardless of case.
 *
 *   cc -O2 -Wall -Wextra -o c_server c_server.c
 *   ./c_server --host 127.0.0.1 --port 0 --flood off --name bench
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 2048            /* longest line a client may send (as the real server) */
#define MAX_NICK 16
#define READ_CHUNK (64 * 1024)   /* one read() per readiness event, at most this */
#define MAX_EVENTS 256
#define BACKLOG 1024             /* as our server and the asyncio one */
#define OUTBOX_MIN 4096          /* an output buffer's first size; it doubles as needed */
#define CLOSE_GRACE_NS 2000000000ULL  /* a hung-up client's time to take its BYE */
#define NICK_BUCKETS 16384       /* the nickname table (chained): plenty for 20,000 */
#define EVENT_MAX (MAX_LINE + 64)  /* one formatted event: a line plus its head */

/* ---------------------------------------------------------------- state */

struct client {
    int fd;
    char nick[MAX_NICK + 1];     /* "" until joined */
    bool said_hello, joined, closing, dead, dirty, behind, discarding;
    uint32_t watching;           /* the epoll events asked for now */
    uint64_t close_at;           /* closing: abandoned at this time, flushed or not */
    char *out;                   /* owed bytes are out[out_head..out_len) */
    size_t out_head, out_len, out_cap;
    char *partial;               /* an unfinished line (MAX_LINE bytes), only while there is one */
    size_t partial_len;
    struct client *prev, *next;              /* every connection */
    struct client *member_prev, *member_next;  /* the room, in join order */
    struct client *nick_next;    /* the same nickname bucket */
    struct client *dirty_next;   /* owes bytes written since the last flush */
    struct client *behind_next;  /* over the outbox limit during a broadcast */
    struct client *dead_next;    /* closed; freed once the current batch is done */
};

static struct {
    const char *name;
    size_t outbox_limit;
    int max_clients;
    int epoll_fd, listen_fd, signal_fd;
    int clients, members, closing;
    struct client *all, *first_member, *last_member;
    struct client *dirty, *dead;
    struct client *nicks[NICK_BUCKETS];
} S;

/* epoll's data.ptr for a client is the client; these two mark the other descriptors. */
static char LISTENER, SIGNALS;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* ---------------------------------------------------------------- output */

static void watch(struct client *c, uint32_t events)
{
    if (c->watching == events)
        return;
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(S.epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl");
    c->watching = events;
}

/* Room for n more bytes at the end of c's buffer, within the limit; false if none. */
static bool make_room(struct client *c, size_t n)
{
    size_t owed = c->out_len - c->out_head;
    if (owed + n > S.outbox_limit)
        return false;
    if (c->out_len + n <= c->out_cap)
        return true;
    if (c->out_head > 0) {  /* slide what is owed to the front before growing */
        memmove(c->out, c->out + c->out_head, owed);
        c->out_head = 0;
        c->out_len = owed;
        if (owed + n <= c->out_cap)
            return true;
    }
    size_t cap = c->out_cap ? c->out_cap : OUTBOX_MIN;
    while (cap < owed + n)
        cap *= 2;
    if (cap > S.outbox_limit)
        cap = S.outbox_limit;
    char *grown = realloc(c->out, cap);
    if (!grown)
        die("realloc");
    c->out = grown;
    c->out_cap = cap;
    return true;
}

static void hang_up(struct client *c, const char *reason, bool drop_owed);
static void destroy(struct client *c);

/* Write what c owes until it is paid (1) or the socket is full (0); -1: the peer is gone. */
static int write_owed(struct client *c)
{
    while (c->out_head < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_head, c->out_len - c->out_head);
        if (n > 0)
            c->out_head += (size_t)n;
        else if (n < 0 && errno == EAGAIN)
            return 0;
        else if (!(n < 0 && errno == EINTR))
            return -1;
    }
    return 1;
}

/*
 * Write what c owes, and wait for what comes next. Level-triggered epoll: we ask for
 * EPOLLOUT only while something is owed and drop it once paid, so an idle socket never
 * wakes us. An emptied buffer is freed, so an idle connection costs no buffer.
 */
static void flush(struct client *c)
{
    int paid = write_owed(c);
    if (paid < 0) {
        if (c->closing)
            destroy(c);
        else
            hang_up(c, NULL, true);  /* a lost connection: PART to the others */
        return;
    }
    if (!paid) {
        watch(c, c->closing ? EPOLLOUT : EPOLLIN | EPOLLOUT);
        return;
    }
    free(c->out);
    c->out = NULL;
    c->out_head = c->out_len = c->out_cap = 0;
    if (c->closing) {
        destroy(c);
        return;
    }
    watch(c, EPOLLIN);
}

/*
 * Queue bytes for c; they are written once the current batch of events is handled, so
 * that everything a client is owed from one batch goes in one write(). False when c owes
 * more than the limit and its socket takes no more: the caller cuts it off. Nothing here
 * closes or broadcasts, so it is safe in the middle of a broadcast.
 */
static bool put(struct client *c, const char *data, size_t n)
{
    if (c->dead || c->closing)
        return true;
    if (!make_room(c, n)) {
        if (write_owed(c) < 0)
            return true;  /* the peer is gone: its read side says so, with a PART */
        if (!make_room(c, n))
            return false;
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
    if (!c->dirty) {
        c->dirty = true;
        c->dirty_next = S.dirty;
        S.dirty = c;
    }
    return true;
}

/* ---------------------------------------------------------------- the room */

static void leave(struct client *c, const char *reason);

static unsigned nick_bucket(const char *nick)
{
    unsigned h = 2166136261u;  /* FNV-1a of the lower-cased name */
    for (; *nick; nick++)
        h = (h ^ (unsigned char)tolower((unsigned char)*nick)) * 16777619u;
    return h % NICK_BUCKETS;
}

static struct client *nick_holder(const char *nick)
{
    for (struct client *c = S.nicks[nick_bucket(nick)]; c; c = c->nick_next)
        if (strcasecmp(c->nick, nick) == 0)
            return c;
    return NULL;
}

static void nick_forget(struct client *c)
{
    struct client **p = &S.nicks[nick_bucket(c->nick)];
    while (*p && *p != c)
        p = &(*p)->nick_next;
    if (*p)
        *p = c->nick_next;
}

static void nick_take(struct client *c, const char *nick)
{
    snprintf(c->nick, sizeof c->nick, "%s", nick);
    unsigned b = nick_bucket(c->nick);
    c->nick_next = S.nicks[b];
    S.nicks[b] = c;
}

/* Send one room event (without its LF) to every member, in join order. Members that fall
 * more than the limit behind are cut off after the loop, not in it: cutting one off is a
 * broadcast of its own. */
static void broadcast(const char *line, size_t n)
{
    char event[EVENT_MAX + 1];
    memcpy(event, line, n);
    event[n++] = '\n';
    struct client *behind = NULL;
    for (struct client *m = S.first_member; m; m = m->member_next)
        if (!m->behind && !put(m, event, n)) {
            m->behind = true;
            m->behind_next = behind;
            behind = m;
        }
    while (behind) {
        struct client *m = behind;
        behind = m->behind_next;
        m->behind = false;
        if (m->joined)
            hang_up(m, "too slow", true);
    }
}

static void broadcastf(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void broadcastf(const char *format, ...)
{
    char line[EVENT_MAX];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    broadcast(line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}

/* Send one event (without its LF) to c alone; cut it off if that puts it over the limit. */
static void reply(struct client *c, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct client *c, const char *format, ...)
{
    char line[EVENT_MAX + 1];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    size_t len = n < (int)sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    if (!put(c, line, len))
        hang_up(c, "too slow", true);
}

static size_t put_word(char *line, size_t n, const char *word)
{
    size_t len = strlen(word);
    line[n++] = ' ';
    memcpy(line + n, word, len);
    return n + len;
}

/* USERS and every member's nickname in join order (and `joining` last, unless NULL): one
 * line of up to 17 bytes a member. */
static void send_users(struct client *c, const char *joining)
{
    size_t size = 8 + ((size_t)S.members + 1) * (MAX_NICK + 1), n = 5;
    char *line = malloc(size);
    if (!line)
        die("malloc");
    memcpy(line, "USERS", 5);
    for (struct client *m = S.first_member; m; m = m->member_next)
        n = put_word(line, n, m->nick);
    if (joining)
        n = put_word(line, n, joining);
    line[n++] = '\n';
    if (!put(c, line, n))
        hang_up(c, "too slow", true);
    free(line);
}

/* Why `nick` cannot be a nickname, or NULL if it can. */
static const char *nick_problem(const char *nick)
{
    size_t len = strlen(nick);
    if (len == 0 || len > MAX_NICK)
        return "a nickname has 1 to 16 characters";
    for (const char *p = nick; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return "a nickname has only letters, digits, _ and -";
    return NULL;
}

static bool nick_available(struct client *c, const char *nick)
{
    const char *problem = nick_problem(nick);
    if (problem) {
        reply(c, "ERROR BAD_NICK %s", problem);
        return false;
    }
    struct client *holder = nick_holder(nick);
    if (holder && holder != c) {
        reply(c, "ERROR NICK_IN_USE %s is already here", holder->nick);
        return false;
    }
    return true;
}

/* WELCOME and USERS to c, then JOIN to everyone, c included. */
static void join(struct client *c, const char *nick)
{
    if (!nick_available(c, nick))
        return;
    reply(c, "WELCOME %s", nick);
    send_users(c, nick);
    if (c->closing)  /* it owed too much to take them: cut off before it was in */
        return;
    nick_take(c, nick);
    c->joined = true;
    c->member_prev = S.last_member;
    c->member_next = NULL;
    if (S.last_member)
        S.last_member->member_next = c;
    else
        S.first_member = c;
    S.last_member = c;
    S.members++;
    broadcastf("JOIN %s", c->nick);
}

static void rename_member(struct client *c, const char *nick)
{
    if (strcmp(nick, c->nick) == 0) {
        reply(c, "INFO you are already %s", nick);
        return;
    }
    if (!nick_available(c, nick))
        return;
    char old[MAX_NICK + 1];
    memcpy(old, c->nick, sizeof old);
    nick_forget(c);
    nick_take(c, nick);
    broadcastf("NICK %s %s", old, c->nick);
}

/* Out of the room, and everyone told why (nothing if c never joined). */
static void leave(struct client *c, const char *reason)
{
    if (!c->joined)
        return;
    c->joined = false;
    nick_forget(c);
    if (c->member_prev)
        c->member_prev->member_next = c->member_next;
    else
        S.first_member = c->member_next;
    if (c->member_next)
        c->member_next->member_prev = c->member_prev;
    else
        S.last_member = c->member_prev;
    S.members--;
    broadcastf("PART %s %s", c->nick, reason);
}

/* ---------------------------------------------------------------- connections */

/* Close now: out of every list, the descriptor closed, the memory freed after the batch
 * (a later event of the same batch may still point at it). */
static void destroy(struct client *c)
{
    if (c->dead)
        return;
    leave(c, "connection lost");
    c->dead = true;
    if (c->closing)
        S.closing--;
    close(c->fd);  /* also takes it out of the epoll set */
    if (c->prev)
        c->prev->next = c->next;
    else
        S.all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    S.clients--;
    c->dead_next = S.dead;
    S.dead = c;
}

/*
 * Leave the room, say BYE (after what is owed, or instead of it), and close once that is
 * written, or after CLOSE_GRACE_NS if the client does not take it. A NULL reason is a
 * lost connection: no BYE, closed at once.
 */
static void hang_up(struct client *c, const char *reason, bool drop_owed)
{
    if (c->closing || c->dead)
        return;
    leave(c, reason ? reason : "connection lost");
    if (!reason) {
        destroy(c);
        return;
    }
    char bye[EVENT_MAX];
    int n = snprintf(bye, sizeof bye, "BYE %.*s\n", MAX_LINE, reason);
    if (drop_owed || !make_room(c, (size_t)n))
        c->out_head = c->out_len = 0;  /* then it fits: the limit is above two lines */
    put(c, bye, (size_t)n);
    c->closing = true;
    c->close_at = now_ns() + CLOSE_GRACE_NS;
    S.closing++;
    watch(c, EPOLLOUT);  /* read nothing more: level-triggered input would spin */
}

static void greet(struct client *c)
{
    reply(c, "*** Welcome to %s! %d %s here. Type /nick NAME to join.", S.name, S.members,
          S.members == 1 ? "person is" : "people are");
}

static void turn_away(int fd)
{
    char text[256];
    int n = snprintf(text, sizeof text, "ERROR SERVER_FULL the room is full (%d connections);"
                     " try again later\nBYE server full\n", S.max_clients);
    ssize_t ignored = write(fd, text, (size_t)n);  /* it is turned away, taken or not */
    (void)ignored;
    close(fd);
}

static void add_client(int fd)
{
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        die("calloc");
    c->fd = fd;
    int one = 1;  /* small lines, sent as soon as they are written */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(S.epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
    c->watching = EPOLLIN;
    c->next = S.all;
    if (S.all)
        S.all->prev = c;
    S.all = c;
    S.clients++;
    greet(c);
}

/* Take every waiting connection (level-triggered: any left wake us again). */
static void accept_all(void)
{
    for (;;) {
        int fd = accept4(S.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EMFILE && errno != ENFILE)
                perror("accept4");
            return;
        }
        if (S.clients >= S.max_clients)
            turn_away(fd);
        else
            add_client(fd);
    }
}

/* ---------------------------------------------------------------- input */

/* Remove control characters (C0 but TAB, and DEL) in place; return the new length. */
static size_t clean(char *text, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if ((ch >= 0x20 && ch != 0x7f) || ch == '\t')
            text[kept++] = text[i];
    }
    text[kept] = '\0';
    return kept;
}

static bool blank(const char *text)
{
    for (; *text; text++)
        if (*text != ' ' && *text != '\t')
            return false;
    return true;
}

/* The argument after a command's name: leading spaces skipped; trailing ones too if trim. */
static char *argument(char *rest, bool trim)
{
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (trim) {
        size_t n = strlen(rest);
        while (n > 0 && (rest[n - 1] == ' ' || rest[n - 1] == '\t'))
            rest[--n] = '\0';
    }
    return rest;
}

static void command(struct client *c, char *line)
{
    char *name = line + 1, *rest = name + strcspn(name, " \t");
    if (*rest)
        *rest++ = '\0';
    if (strcasecmp(name, "hello") == 0) {
        c->said_hello = true;
        reply(c, "HELLO %s 1", S.name);
    } else if (strcasecmp(name, "nick") == 0) {
        char *nick = argument(rest, true);
        if (!*nick)
            reply(c, "ERROR BAD_ARGS usage: /nick NAME");
        else if (c->joined)
            rename_member(c, nick);
        else
            join(c, nick);
    } else if (strcasecmp(name, "who") == 0) {
        send_users(c, NULL);
    } else if (strcasecmp(name, "ping") == 0) {
        reply(c, "PONG %s", argument(rest, false));
    } else if (strcasecmp(name, "quit") == 0) {
        char *reason = argument(rest, true);
        hang_up(c, *reason ? reason : "quit", false);
    } else {
        reply(c, "ERROR UNKNOWN_COMMAND there is no command /%.32s here", name);
    }
}

/* One complete line, LF removed (a CR before it too). */
static void handle_line(struct client *c, char *line, size_t n)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (n > MAX_LINE) {
        reply(c, "ERROR LINE_TOO_LONG lines are limited to %d bytes; that one was discarded",
              MAX_LINE);
        return;
    }
    n = clean(line, n);
    if (blank(line))
        return;
    if (line[0] == '/' && line[1] != '/') {
        command(c, line);
        return;
    }
    char *text = line[0] == '/' ? line + 1 : line;  /* `//text` says `/text` */
    if (c->joined)
        broadcastf("MSG %s %s", c->nick, text);
    else
        reply(c, "ERROR NOT_JOINED choose a nickname first: /nick NAME");
}

/* Keep an unfinished line for the next read; one longer than MAX_LINE is discarded up to
 * its LF, and said so once. */
static void keep_partial(struct client *c, const char *p, size_t n)
{
    if (n > MAX_LINE) {
        reply(c, "ERROR LINE_TOO_LONG lines are limited to %d bytes; that one was discarded",
              MAX_LINE);
        c->discarding = true;
        n = 0;
    }
    if (n > 0 && !c->partial && !(c->partial = malloc(MAX_LINE)))
        die("malloc");
    if (n > 0)
        memcpy(c->partial, p, n);
    c->partial_len = n;
    if (n == 0) {
        free(c->partial);
        c->partial = NULL;
    }
}

/* One read (at most READ_CHUNK): every complete line handled, the unfinished rest kept. */
static void read_client(struct client *c)
{
    static char buf[MAX_LINE + READ_CHUNK + 1];  /* the kept partial, then the new bytes */
    if (c->partial_len)
        memcpy(buf, c->partial, c->partial_len);
    ssize_t got = read(c->fd, buf + c->partial_len, READ_CHUNK);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (got <= 0) {
        hang_up(c, NULL, true);
        return;
    }
    char *p = buf, *end = buf + c->partial_len + got, *lf;
    while (!c->closing && !c->dead && (lf = memchr(p, '\n', (size_t)(end - p)))) {
        *lf = '\0';
        if (c->discarding)
            c->discarding = false;  /* the end of a line too long: drop it */
        else
            handle_line(c, p, (size_t)(lf - p));
        p = lf + 1;
    }
    if (!c->dead)
        keep_partial(c, p, c->discarding ? 0 : (size_t)(end - p));
}

/* ---------------------------------------------------------------- the loop */

/* Write what each client was owed in this batch, one write() each where the socket takes it. */
static void flush_dirty(void)
{
    while (S.dirty) {
        struct client *c = S.dirty;
        S.dirty = c->dirty_next;
        c->dirty = false;
        if (!c->dead)
            flush(c);
    }
}

/* Close the hung-up clients that did not take their BYE in time. */
static void sweep_closing(uint64_t now)
{
    if (S.closing == 0)
        return;
    for (struct client *c = S.all, *next; c; c = next) {
        next = c->next;
        if (c->closing && now >= c->close_at)
            destroy(c);
    }
}

static void free_dead(void)
{
    while (S.dead) {
        struct client *c = S.dead;
        S.dead = c->dead_next;
        free(c->out);
        free(c->partial);
        free(c);
    }
}

static void handle_event(struct epoll_event *ev, bool *stop)
{
    if (ev->data.ptr == &SIGNALS) {
        *stop = true;
        return;
    }
    if (ev->data.ptr == &LISTENER) {
        accept_all();
        return;
    }
    struct client *c = ev->data.ptr;
    if (c->dead)
        return;
    if (c->closing) {  /* it waits for output only: a write says whether it can go */
        flush(c);
        return;
    }
    if (ev->events & EPOLLOUT)
        flush(c);
    if (!c->dead && !c->closing && ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        read_client(c);
}

static void run(void)
{
    struct epoll_event events[MAX_EVENTS];
    bool stop = false;
    while (!stop) {
        /* Hung-up clients are looked at every 100 ms; otherwise nothing runs on a timer. */
        int n = epoll_wait(S.epoll_fd, events, MAX_EVENTS, S.closing ? 100 : -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++)
            handle_event(&events[i], &stop);
        flush_dirty();
        sweep_closing(now_ns());
        free_dead();
    }
}

/* SIGTERM or SIGINT: BYE to everyone, one last write each, everything closed. The room
 * is emptied first: nobody needs to hear the others leave. */
static void shut_down(void)
{
    for (struct client *c = S.all; c; c = c->next)
        c->joined = false;
    S.first_member = S.last_member = NULL;
    S.members = 0;
    while (S.all) {
        struct client *c = S.all;
        if (!c->closing)
            hang_up(c, "server shutting down", false);
        write_owed(c);
        destroy(c);
    }
    free_dead();
    close(S.listen_fd);
    close(S.signal_fd);
    close(S.epoll_fd);
}

/* ---------------------------------------------------------------- setting up */

static void add_to_epoll(int fd, void *tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
    if (epoll_ctl(S.epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
}

static void listen_on(const char *host, const char *port)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *ai;
    int error = getaddrinfo(host, port, &hints, &ai);
    if (error) {
        fprintf(stderr, "c_server: %s:%s: %s\n", host, port, gai_strerror(error));
        exit(1);
    }
    S.listen_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (S.listen_fd < 0
        || setsockopt(S.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
        || bind(S.listen_fd, ai->ai_addr, ai->ai_addrlen) < 0
        || listen(S.listen_fd, BACKLOG) < 0)
        die("listen");
    freeaddrinfo(ai);
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    char address[INET6_ADDRSTRLEN], service[16];
    if (getsockname(S.listen_fd, (struct sockaddr *)&bound, &len) < 0
        || getnameinfo((struct sockaddr *)&bound, len, address, sizeof address, service,
                       sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        die("getsockname");
    /* The form the benchmark's runner waits for, as the Python servers print it. */
    printf("c-server: room '%s' listening on %s:%s\n", S.name, address, service);
    fflush(stdout);
}

/* SIGTERM and SIGINT arrive as a readable descriptor in the loop, not as a handler. */
static void catch_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        die("sigprocmask");
    S.signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (S.signal_fd < 0)
        die("signalfd");
    signal(SIGPIPE, SIG_IGN);  /* a write to a closed peer is an error, not a death */
}

/* Every client is a descriptor: as many as we may have. */
static void raise_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: c_server [--host HOST] [--port PORT] [--name NAME] "
            "[--max-clients N] [--outbox-limit BYTES] [--flood off]\n");
    exit(2);
}

static long number(const char *text, long min)
{
    char *end;
    long value = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < min)
        usage();
    return value;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "7777";
    S.name = "bench";
    S.max_clients = 1000;
    S.outbox_limit = 1 << 20;
    for (int i = 1; i < argc; i += 2) {
        const char *option = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value)
            usage();
        if (strcmp(option, "--host") == 0)
            host = value;
        else if (strcmp(option, "--port") == 0)
            port = value;
        else if (strcmp(option, "--name") == 0 && strlen(value) <= 64)
            S.name = value;
        else if (strcmp(option, "--max-clients") == 0)
            S.max_clients = (int)number(value, 1);
        else if (strcmp(option, "--outbox-limit") == 0)
            S.outbox_limit = (size_t)number(value, EVENT_MAX * 2);
        else if (strcmp(option, "--flood") != 0 || strcmp(value, "off") != 0)
            usage();  /* no flood control here: only `--flood off` */
    }
    raise_file_limit();
    catch_signals();
    if ((S.epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    listen_on(host, port);
    add_to_epoll(S.listen_fd, &LISTENER);
    add_to_epoll(S.signal_fd, &SIGNALS);
    run();
    shut_down();
    return 0;
}
