/*
 * What a run needs of the kernel that node does not offer: flock(2), setns(2), the names
 * of the nftables tables of one family (a netlink dump, as `nft list tables` makes it), and
 * nft's own library (libnftables, loaded at first use) to run nft commands in this process.
 * Built by scripts/build-native.mjs into dist/native/netns.node (a Node-API addon: one build
 * serves every node version); src/exec/native.ts loads it, and without it a run starts
 * util-linux's `flock` and `nsenter` instead, which cost a process each (bench/RESULTS.md).
 *
 * The first two work on a descriptor node opened on a network namespace file; each call returns
 * 0 or errno (tableNames: the names, or errno): the caller decides what a failure means.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

/* The descriptor passed as the one argument, or -1 when it is not a number. */
static int fd_argument(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return -1;
  return fd;
}

static napi_value number(napi_env env, int value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

/* flock(fd, LOCK_EX | LOCK_NB): 0 once held, EWOULDBLOCK while another description holds it. */
static napi_value try_lock(napi_env env, napi_callback_info info) {
  int fd = fd_argument(env, info);
  if (fd < 0) return number(env, EBADF);
  int status;
  do status = flock(fd, LOCK_EX | LOCK_NB);
  while (status != 0 && errno == EINTR);
  return number(env, status == 0 ? 0 : errno);
}

/*
 * setns(fd, CLONE_NEWNET) for the calling thread, node's main thread: the processes it starts
 * from then on begin in that namespace. node's other threads never touch the network.
 */
static napi_value enter_net(napi_env env, napi_callback_info info) {
  int fd = fd_argument(env, info);
  if (fd < 0) return number(env, EBADF);
  return number(env, setns(fd, CLONE_NEWNET) == 0 ? 0 : errno);
}

/* Appends the NFTA_TABLE_NAME of one NFT_MSG_NEWTABLE message to `names`. */
static void add_table_name(napi_env env, napi_value names, const struct nlmsghdr *message) {
  const size_t header = NLMSG_LENGTH(sizeof(struct nfgenmsg));
  if (message->nlmsg_len < header) return;
  const char *at = (const char *)message + NLMSG_ALIGN(header);
  const char *end = (const char *)message + message->nlmsg_len;
  while (at + sizeof(struct nlattr) <= end) {
    const struct nlattr *attribute = (const struct nlattr *)at;
    if (attribute->nla_len < sizeof(struct nlattr) || at + attribute->nla_len > end) return;
    if ((attribute->nla_type & NLA_TYPE_MASK) == NFTA_TABLE_NAME) {
      const char *name = at + NLA_HDRLEN;
      size_t length = strnlen(name, attribute->nla_len - NLA_HDRLEN);
      uint32_t index;
      napi_value text;
      napi_get_array_length(env, names, &index);
      napi_create_string_utf8(env, name, length, &text);
      napi_set_element(env, names, index, text);
      return;
    }
    at += NLA_ALIGN(attribute->nla_len);
  }
}

/*
 * The names of this namespace's nftables tables of one family (NFPROTO_*, the one argument):
 * one NFT_MSG_GETTABLE dump over a netfilter netlink socket. Returns errno when the kernel
 * refuses or answers with an error.
 */
static napi_value table_names(napi_env env, napi_callback_info info) {
  int family = fd_argument(env, info);
  if (family < 0) return number(env, EINVAL);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return number(env, errno);
  struct {
    struct nlmsghdr header;
    struct nfgenmsg body;
  } request;
  memset(&request, 0, sizeof request);
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof request.body);
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = 1;
  request.body.nfgen_family = (unsigned char)family;
  request.body.version = NFNETLINK_V0;
  if (send(fd, &request, request.header.nlmsg_len, 0) < 0) {
    int error = errno;
    close(fd);
    return number(env, error);
  }
  napi_value names;
  napi_create_array(env, &names);
  static char buffer[32768];
  for (;;) {
    ssize_t length = recv(fd, buffer, sizeof buffer, 0);
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) {
      int error = length < 0 ? errno : EIO;
      close(fd);
      return number(env, error);
    }
    int remaining = (int)length;
    for (struct nlmsghdr *message = (struct nlmsghdr *)buffer; NLMSG_OK(message, remaining);
         message = NLMSG_NEXT(message, remaining)) {
      if (message->nlmsg_type == NLMSG_DONE) {
        close(fd);
        return names;
      }
      if (message->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *error = NLMSG_DATA(message);
        close(fd);
        return number(env, error->error < 0 ? -error->error : EIO);
      }
      if ((message->nlmsg_type & 0xff) == NFT_MSG_NEWTABLE) add_table_name(env, names, message);
    }
  }
}

/*
 * libnftables, the library the nft program is a thin shell around (nftables' stable API, soname
 * libnftables.so.1): looked up at the first nft command, never linked, so that neither the build
 * nor a run without nftables needs it. Declared here for the same reason: no nftables headers.
 */
struct nft_ctx;
static struct {
  int state; /* 0: not tried; 1: loaded; -1: not there */
  struct nft_ctx *(*ctx_new)(uint32_t flags);
  void (*ctx_free)(struct nft_ctx *ctx);
  int (*buffer_output)(struct nft_ctx *ctx);
  int (*buffer_error)(struct nft_ctx *ctx);
  const char *(*output)(struct nft_ctx *ctx);
  const char *(*error)(struct nft_ctx *ctx);
  int (*run_buffer)(struct nft_ctx *ctx, const char *buffer);
  int (*run_filename)(struct nft_ctx *ctx, const char *filename);
} nftables;

static int load_nftables(void) {
  if (nftables.state != 0) return nftables.state > 0;
  nftables.state = -1;
  void *library = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) return 0;
  void *symbols[] = {
      dlsym(library, "nft_ctx_new"),           dlsym(library, "nft_ctx_free"),
      dlsym(library, "nft_ctx_buffer_output"), dlsym(library, "nft_ctx_buffer_error"),
      dlsym(library, "nft_ctx_get_output_buffer"), dlsym(library, "nft_ctx_get_error_buffer"),
      dlsym(library, "nft_run_cmd_from_buffer"), dlsym(library, "nft_run_cmd_from_filename"),
  };
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++)
    if (symbols[i] == NULL) return 0;
  nftables.ctx_new = (struct nft_ctx * (*)(uint32_t)) symbols[0];
  nftables.ctx_free = (void (*)(struct nft_ctx *))symbols[1];
  nftables.buffer_output = (int (*)(struct nft_ctx *))symbols[2];
  nftables.buffer_error = (int (*)(struct nft_ctx *))symbols[3];
  nftables.output = (const char *(*)(struct nft_ctx *))symbols[4];
  nftables.error = (const char *(*)(struct nft_ctx *))symbols[5];
  nftables.run_buffer = (int (*)(struct nft_ctx *, const char *))symbols[6];
  nftables.run_filename = (int (*)(struct nft_ctx *, const char *))symbols[7];
  nftables.state = 1;
  return 1;
}

/* Writes all of `text` to `fd`; 0, or errno. */
static int write_all(int fd, const char *text, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, text, length);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return written < 0 ? errno : EIO;
    text += written;
    length -= (size_t)written;
  }
  return 0;
}

/*
 * nft(text, asFile): what `nft -f -` does with `text` as its input (asFile true), or what
 * `nft TEXT` does with a command (asFile false), in this process and its network namespace.
 * Returns [exit code as nft's (0 or 1), stdout, stderr, the name nft gave the input in its
 * messages], or errno when it cannot run (ELIBACC: no libnftables), and then nothing ran.
 * A file rather than a buffer because nft locates a batch's errors by line only in files: the
 * text goes into a memfd, read as /proc/self/fd/N. Atomic as `nft -f` is: one netlink batch.
 */
static napi_value nft(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  bool as_file = false;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok ||
      napi_get_value_bool(env, argv[1], &as_file) != napi_ok)
    return number(env, EINVAL);
  if (!load_nftables()) return number(env, ELIBACC);
  char *text = malloc(length + 1);
  if (text == NULL) return number(env, ENOMEM);
  napi_get_value_string_utf8(env, argv[0], text, length + 1, &length);
  char name[64] = "";
  int fd = -1, error = 0;
  if (as_file) {
    fd = memfd_create("nft-transaction", MFD_CLOEXEC);
    error = fd < 0 ? errno : write_all(fd, text, length);
    if (error != 0) {
      if (fd >= 0) close(fd);
      free(text);
      return number(env, error);
    }
    snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    /* Without /proc nft could not read it: say so, and the caller starts the nft program. */
    if (access(name, R_OK) != 0) {
      error = errno;
      close(fd);
      free(text);
      return number(env, error);
    }
  }
  struct nft_ctx *ctx = nftables.ctx_new(0);
  if (ctx == NULL) {
    if (fd >= 0) close(fd);
    free(text);
    return number(env, ENOMEM);
  }
  nftables.buffer_output(ctx);
  nftables.buffer_error(ctx);
  int status = as_file ? nftables.run_filename(ctx, name) : nftables.run_buffer(ctx, text);
  if (fd >= 0) close(fd);
  free(text);
  napi_value result, item;
  napi_create_array_with_length(env, 4, &result);
  napi_set_element(env, result, 0, number(env, status == 0 ? 0 : 1));
  const char *parts[] = {nftables.output(ctx), nftables.error(ctx), name};
  for (uint32_t i = 0; i < 3; i++) {
    napi_create_string_utf8(env, parts[i] ? parts[i] : "", NAPI_AUTO_LENGTH, &item);
    napi_set_element(env, result, i + 1, item);
  }
  nftables.ctx_free(ctx);
  return result;
}

/* A child's output as it arrives. */
struct output {
  char *data;
  size_t length, capacity;
};

static int append(struct output *output, const char *bytes, size_t length) {
  if (output->length + length > output->capacity) {
    size_t capacity = output->capacity ? output->capacity : 4096;
    while (capacity < output->length + length) capacity *= 2;
    char *data = realloc(output->data, capacity);
    if (data == NULL) return ENOMEM;
    output->data = data;
    output->capacity = capacity;
  }
  memcpy(output->data + output->length, bytes, length);
  output->length += length;
  return 0;
}

static void free_strings(char **strings) {
  if (strings == NULL) return;
  for (char **at = strings; *at != NULL; at++) free(*at);
  free(strings);
}

/* A JS array of strings as a NULL-terminated C array; NULL when it is not one. */
static char **strings(napi_env env, napi_value array) {
  uint32_t count;
  if (napi_get_array_length(env, array, &count) != napi_ok) return NULL;
  char **list = calloc(count + 1, sizeof *list);
  if (list == NULL) return NULL;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    size_t length;
    if (napi_get_element(env, array, i, &item) != napi_ok ||
        napi_get_value_string_utf8(env, item, NULL, 0, &length) != napi_ok || (list[i] = malloc(length + 1)) == NULL) {
      free_strings(list);
      return NULL;
    }
    napi_get_value_string_utf8(env, item, list[i], length + 1, &length);
  }
  return list;
}

/*
 * The program `file` names, looked up as execvp looks it up but in the child's environment's
 * PATH (as node's spawnSync does); NULL when there is none. The caller frees it.
 */
static char *program_path(const char *file, char **environment) {
  if (strchr(file, '/') != NULL) return strdup(file);
  const char *path = "/usr/local/bin:/usr/bin:/bin";
  for (char **at = environment; *at != NULL; at++)
    if (strncmp(*at, "PATH=", 5) == 0) path = *at + 5;
  size_t file_length = strlen(file);
  for (const char *dir = path;; dir++) {
    const char *end = strchrnul(dir, ':');
    size_t dir_length = (size_t)(end - dir);
    char *candidate = malloc(dir_length + file_length + 3);
    if (candidate == NULL) return NULL;
    /* An empty entry is the current directory, as for execvp. */
    snprintf(candidate, dir_length + file_length + 3, "%.*s/%s", (int)(dir_length ? dir_length : 1),
             dir_length ? dir : ".", file);
    if (access(candidate, X_OK) == 0) return candidate;
    free(candidate);
    if (*end == '\0') return NULL;
    dir = end;
  }
}

static double now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

/*
 * Feeds `input` to the child and collects its stdout and stderr until both close, killing it
 * (SIGKILL) once `deadline` passes. Returns 0, ETIMEDOUT, EPIPE (it closed its stdin before
 * reading all of it: its exit code tells the rest), or another errno.
 */
static int exchange(pid_t pid, int fds[3], const char *input, size_t input_length, struct output outputs[2],
                    double deadline) {
  int result = 0;
  size_t written = 0;
  if (fds[0] >= 0) fcntl(fds[0], F_SETFL, O_NONBLOCK);
  while (fds[0] >= 0 || fds[1] >= 0 || fds[2] >= 0) {
    struct pollfd polled[3];
    int slots[3], count = 0;
    for (int i = 0; i < 3; i++) {
      if (fds[i] < 0) continue;
      polled[count] = (struct pollfd){.fd = fds[i], .events = i == 0 ? POLLOUT : POLLIN};
      slots[count++] = i;
    }
    double left = deadline - now_ms();
    int ready = left <= 0 ? 0 : poll(polled, (nfds_t)count, left > 1e9 ? 1000000000 : (int)left + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) result = errno;
    if (ready == 0 && deadline - now_ms() <= 0) {
      kill(pid, SIGKILL);
      result = ETIMEDOUT;
    }
    if (ready <= 0) {
      for (int i = 0; i < 3; i++)
        if (fds[i] >= 0) close(fds[i]), fds[i] = -1;
      break;
    }
    for (int k = 0; k < count; k++) {
      int i = slots[k];
      if (polled[k].revents == 0) continue;
      if (i == 0) {
        /* POLLERR without POLLOUT: the child closed its stdin. */
        ssize_t n = (polled[k].revents & POLLOUT) ? write(fds[0], input + written, input_length - written) : -1;
        if (n < 0 && (polled[k].revents & POLLOUT) && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0 && result == 0) result = EPIPE;
        if (n > 0) written += (size_t)n;
        if (n < 0 || written == input_length) close(fds[0]), fds[0] = -1;
      } else {
        char buffer[65536];
        ssize_t n = read(fds[i], buffer, sizeof buffer);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n > 0) {
          int error = append(&outputs[i - 1], buffer, (size_t)n);
          if (error == 0) continue;
          if (result == 0) result = error;
        }
        close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  return result;
}

/*
 * spawn(file, args, env, input, fds, timeoutMs): runs a program as node's spawnSync runs one
 * (PATH lookup in `env`, stdin from `input` or /dev/null, stdout and stderr collected, `fds`
 * as its descriptors 3, 4, …, signals at their defaults and unblocked, killed with SIGKILL
 * after timeoutMs), but with posix_spawn: the child borrows node's memory until it execs,
 * where a fork would first copy node's page tables (~1.2 ms against ~0.5 ms a command).
 * `args` includes argv[0]. Returns [exit code or -1, signal or 0, stdout, stderr, errno: 0,
 * ETIMEDOUT, EPIPE, or another when the run went wrong after the start (ENOMEM for its output,
 * ECHILD when its exit is unknown)], or an errno when the program could not be started (ENOENT).
 */
static napi_value spawn_program(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_valuetype input_type;
  double timeout_ms = 0;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok ||
      napi_typeof(env, argv[3], &input_type) != napi_ok || napi_get_value_double(env, argv[5], &timeout_ms) != napi_ok)
    return number(env, EINVAL);
  char *file = malloc(length + 1);
  char **args = strings(env, argv[1]);
  char **environment = strings(env, argv[2]);
  char *input = NULL;
  size_t input_length = 0;
  uint32_t extra_count = 0;
  int extra[16];
  int error = file && args && environment ? 0 : ENOMEM;
  if (error == 0) napi_get_value_string_utf8(env, argv[0], file, length + 1, &length);
  if (error == 0 && input_type == napi_string) {
    napi_get_value_string_utf8(env, argv[3], NULL, 0, &input_length);
    input = malloc(input_length + 1);
    if (input == NULL) error = ENOMEM;
    else napi_get_value_string_utf8(env, argv[3], input, input_length + 1, &input_length);
  }
  if (error == 0 && (napi_get_array_length(env, argv[4], &extra_count) != napi_ok || extra_count > 16)) error = EINVAL;
  for (uint32_t i = 0; error == 0 && i < extra_count; i++) {
    napi_value item;
    int32_t fd = -1;
    napi_get_element(env, argv[4], i, &item);
    if (napi_get_value_int32(env, item, &fd) != napi_ok || fd < 0) error = EBADF;
    extra[i] = fd;
  }
  char *path = error == 0 ? program_path(file, environment) : NULL;
  if (error == 0 && path == NULL) error = ENOENT;

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (error == 0 && ((input != NULL && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0 ||
                     pipe2(err, O_CLOEXEC) != 0))
    error = errno;
  pid_t pid = -1;
  bool started = false;
  if (error == 0) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    sigset_t all, none;
    posix_spawn_file_actions_init(&actions);
    if (input != NULL) posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    else posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    /* dup2 onto itself keeps close-on-exec; glibc clears it for such an action (2.29 on). */
    for (uint32_t i = 0; i < extra_count; i++) posix_spawn_file_actions_adddup2(&actions, extra[i], 3 + (int)i);
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    error = posix_spawn(&pid, path, &actions, &attributes, args, environment);
    started = error == 0;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  /* The child's ends: it has its own copies, or there is no child. */
  int ends[] = {in[0], out[1], err[1]};
  for (int i = 0; i < 3; i++)
    if (ends[i] >= 0) close(ends[i]);
  struct output outputs[2] = {{0}, {0}};
  int status = 0;
  if (!started) {
    int mine[] = {in[1], out[0], err[0]};
    for (int i = 0; i < 3; i++)
      if (mine[i] >= 0) close(mine[i]);
  } else {
    int fds[3] = {in[1], out[0], err[0]};
    int outcome = exchange(pid, fds, input ? input : "", input_length, outputs, now_ms() + timeout_ms);
    pid_t waited;
    while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR) continue;
    /* Reaped by someone else (ECHILD): its exit is unknown, which must not read as success. */
    error = waited < 0 ? errno : outcome;
    if (waited < 0) status = -1;
  }
  free(file);
  free(input);
  free(path);
  free_strings(args);
  free_strings(environment);
  if (!started) return number(env, error);

  napi_value result, item;
  napi_create_array_with_length(env, 5, &result);
  bool known = status != -1;
  napi_set_element(env, result, 0, number(env, known && WIFEXITED(status) ? WEXITSTATUS(status) : -1));
  napi_set_element(env, result, 1, number(env, known && WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  for (int i = 0; i < 2; i++) {
    napi_create_string_utf8(env, outputs[i].data ? outputs[i].data : "", outputs[i].length, &item);
    napi_set_element(env, result, (uint32_t)i + 2, item);
    free(outputs[i].data);
  }
  napi_set_element(env, result, 4, number(env, error));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"tryLock", NULL, try_lock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"enterNet", NULL, enter_net, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tableNames", NULL, table_names, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nft", NULL, nft, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawn", NULL, spawn_program, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
