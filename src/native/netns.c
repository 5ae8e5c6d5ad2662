/*
 * What a run needs of the kernel that node does not offer: flock(2), setns(2), and the names
 * of the nftables tables of one family (a netlink dump, as `nft list tables` makes it).
 * Built by scripts/build-native.mjs into dist/native/netns.node (a Node-API addon: one build
 * serves every node version); src/exec/native.ts loads it, and without it a run starts
 * util-linux's `flock` and `nsenter` instead, which cost a process each (bench/RESULTS.md).
 *
 * The first two work on a descriptor node opened on a network namespace file; each call returns
 * 0 or errno (tableNames: the names, or errno): the caller decides what a failure means.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
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

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"tryLock", NULL, try_lock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"enterNet", NULL, enter_net, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tableNames", NULL, table_names, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
