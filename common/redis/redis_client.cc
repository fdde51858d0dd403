#include "common/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/macros.h"

namespace tierwise::redis {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Reply Convert(const redisReply* r) {
  Reply out;
  if (r == nullptr) return out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

// Error replies that say "not now" rather than "never": a Redis that is still loading its data
// after a restart, a replica during failover (READONLY: we are talking to the old primary that
// was demoted), a busy script. Callers retry these like a lost connection.
bool IsTransientErrorReply(const Reply& reply) {
  if (reply.type != Reply::Type::kError) return false;
  // The error's code is its first word (BUSYGROUP, a permanent error, is not BUSY).
  const absl::string_view code = absl::string_view(reply.str).substr(0, reply.str.find(' '));
  for (absl::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"}) {
    if (code == transient) return true;
  }
  return false;
}

absl::StatusOr<std::vector<StreamEntry>> ParseEntries(const Reply& reply) {
  std::vector<StreamEntry> entries;
  if (reply.is_nil()) return entries;
  if (reply.type != Reply::Type::kArray) return absl::InternalError("unexpected stream reply");
  for (const Reply& e : reply.elements) {
    if (e.type != Reply::Type::kArray || e.elements.size() != 2) {
      return absl::InternalError("unexpected stream entry");
    }
    StreamEntry entry;
    entry.id = e.elements[0].str;
    const auto& kv = e.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2)
      entry.fields.emplace_back(kv[i].str, kv[i + 1].str);
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

absl::StatusOr<RedisOptions> ParseRedisAddress(const std::string& address) {
  RedisOptions options;
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    options.host = address;
  } else {
    options.host = address.substr(0, colon);
    if (!absl::SimpleAtoi(address.substr(colon + 1), &options.port) || options.port <= 0 ||
        options.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad Redis port in '", address, "'"));
    }
  }
  if (options.host.empty()) return absl::InvalidArgumentError("empty Redis host");
  return options;
}

std::string StreamEntry::Field(const std::string& name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return "";
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() {
  std::lock_guard<std::mutex> lock(mu_);
  DisconnectLocked();
}

void RedisClient::DisconnectLocked() {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

absl::Status RedisClient::EnsureConnectedLocked() {
  if (ctx_ != nullptr) return absl::OkStatus();
  const timeval connect_timeout = ToTimeval(options_.connect_timeout);
  redisContext* ctx =
      redisConnectWithTimeout(options_.host.c_str(), options_.port, connect_timeout);
  if (ctx == nullptr || ctx->err != 0) {
    std::string why = ctx != nullptr ? ctx->errstr : "out of memory";
    if (ctx != nullptr) redisFree(ctx);
    return absl::UnavailableError(absl::StrCat("redis connect: ", why));
  }
  const timeval command_timeout = ToTimeval(options_.command_timeout);
  redisSetTimeout(ctx, command_timeout);
  redisEnableKeepAlive(ctx);
  ctx_ = ctx;
  if (!options_.password.empty()) {
    auto* r = static_cast<redisReply*>(redisCommand(ctx_, "AUTH %s", options_.password.c_str()));
    const bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
    if (r != nullptr) freeReplyObject(r);
    if (!ok) {
      DisconnectLocked();
      return absl::UnavailableError("redis AUTH failed");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Reply> RedisClient::Command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  std::lock_guard<std::mutex> lock(mu_);
  // One reconnect attempt: a connection that died while idle is replaced transparently.
  for (int attempt = 0; attempt < 2; ++attempt) {
    TW_RETURN_IF_ERROR(EnsureConnectedLocked());
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r != nullptr) {
      Reply reply = Convert(r);
      freeReplyObject(r);
      if (IsTransientErrorReply(reply)) {
        // A demoted primary keeps answering READONLY: reconnect so the address resolves anew.
        DisconnectLocked();
        return absl::UnavailableError(absl::StrCat("redis: ", reply.str));
      }
      return reply;
    }
    const bool timed_out = ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    const std::string why = ctx_->errstr;
    DisconnectLocked();
    // A timed-out command may still run on the server: do not send it twice.
    if (timed_out || attempt == 1) {
      return absl::UnavailableError(absl::StrCat("redis: ", timed_out ? "timeout" : why));
    }
  }
  return absl::UnavailableError("redis: unreachable");
}

absl::StatusOr<std::vector<Reply>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<Reply> replies;
  if (commands.empty()) return replies;
  std::lock_guard<std::mutex> lock(mu_);
  TW_RETURN_IF_ERROR(EnsureConnectedLocked());
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& args : commands) {
    argv.clear();
    lens.clear();
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      DisconnectLocked();
      return absl::UnavailableError("redis: cannot queue a pipelined command");
    }
  }
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      const bool timed_out = ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
      const std::string why = ctx_->errstr;
      DisconnectLocked();
      return absl::UnavailableError(absl::StrCat("redis: ", timed_out ? "timeout" : why));
    }
    auto* r = static_cast<redisReply*>(raw);
    replies.push_back(Convert(r));
    freeReplyObject(r);
  }
  for (const Reply& reply : replies) {
    if (IsTransientErrorReply(reply)) {
      DisconnectLocked();
      return absl::UnavailableError(absl::StrCat("redis: ", reply.str));
    }
  }
  return replies;
}

absl::Status RedisClient::Ping() {
  TW_ASSIGN_OR_RETURN(auto r, Command({"PING"}));
  if (r.type == Reply::Type::kError) return absl::UnavailableError(r.str);
  return absl::OkStatus();
}

absl::StatusOr<std::string> RedisClient::XAdd(
    const std::string& stream, const std::string& id,
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> args = {"XADD", stream, id};
  for (const auto& [k, v] : fields) {
    args.push_back(k);
    args.push_back(v);
  }
  TW_ASSIGN_OR_RETURN(auto r, Command(args));
  if (r.type == Reply::Type::kError) {
    if (r.str.find("equal or smaller") != std::string::npos) {
      return absl::FailedPreconditionError(r.str);
    }
    return absl::InternalError(absl::StrCat("XADD: ", r.str));
  }
  return r.str;
}

absl::StatusOr<std::vector<StreamEntry>> RedisClient::XRange(const std::string& stream,
                                                             const std::string& start,
                                                             const std::string& end,
                                                             int64_t count) {
  std::vector<std::string> args = {"XRANGE", stream, start, end};
  if (count > 0) {
    args.push_back("COUNT");
    args.push_back(absl::StrCat(count));
  }
  TW_ASSIGN_OR_RETURN(auto r, Command(args));
  if (r.type == Reply::Type::kError) return absl::InternalError(absl::StrCat("XRANGE: ", r.str));
  return ParseEntries(r);
}

}  // namespace tierwise::redis
