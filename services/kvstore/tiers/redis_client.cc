#include "services/kvstore/tiers/redis_client.h"

#include <hiredis/hiredis.h>

#include <sys/uio.h>
#include <climits>
#include <cstring>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace kvlab {
namespace {

timeval Timeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

struct Argv {
  explicit Argv(const std::vector<std::string_view>& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (std::string_view a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

}  // namespace

void RedisReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

absl::Status ReplyStatus(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ERROR) return absl::OkStatus();
  const std::string message(reply.str, reply.len);
  if (message.rfind("OOM", 0) == 0) return absl::ResourceExhaustedError(absl::StrCat("redis: ", message));
  return absl::InternalError(absl::StrCat("redis: ", message));
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisOptions& options) {
  const timeval connect_timeout = Timeval(options.connect_timeout_ms);
  redisContext* c = redisConnectWithTimeout(options.address.c_str(), options.port, connect_timeout);
  if (c == nullptr) return absl::ResourceExhaustedError("redis: cannot allocate a connection context");
  std::unique_ptr<RedisConnection> conn(new RedisConnection(c));
  if (c->err) {
    const std::string where = absl::StrCat(options.address, ":", options.port);
    if (c->err == REDIS_ERR_IO && (errno == ETIMEDOUT || errno == EINPROGRESS)) {
      return absl::DeadlineExceededError(absl::StrCat("redis: connecting to ", where, " timed out"));
    }
    return absl::UnavailableError(absl::StrCat("redis: cannot connect to ", where, ": ", c->errstr));
  }
  const timeval command_timeout = Timeval(options.command_timeout_ms);
  if (redisSetTimeout(c, command_timeout) != REDIS_OK) {
    return absl::InternalError("redis: cannot set the command timeout");
  }
  // Keep the reader's buffer between replies: large values are the norm here.
  c->reader->maxbuf = 0;
  return conn;
}

RedisConnection::~RedisConnection() {
  if (context_ != nullptr) redisFree(context_);
}

absl::Status RedisConnection::IoError() {
  broken_ = true;
  const bool timeout = context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
  if (timeout) return absl::DeadlineExceededError("redis: command timed out");
  return absl::UnavailableError(absl::StrCat("redis: connection failed: ", context_->errstr));
}

absl::StatusOr<RedisReplyPtr> RedisConnection::Command(const std::vector<std::string_view>& args) {
  if (broken_) return absl::UnavailableError("redis: connection is broken");
  Argv argv(args);
  void* r = redisCommandArgv(context_, static_cast<int>(args.size()), argv.ptrs.data(), argv.lens.data());
  if (r == nullptr) return IoError();
  RedisReplyPtr reply(static_cast<redisReply*>(r));
  absl::Status s = ReplyStatus(*reply);
  if (!s.ok()) return s;
  return reply;
}

absl::Status RedisConnection::Append(const std::vector<std::string_view>& args) {
  if (broken_) return absl::UnavailableError("redis: connection is broken");
  Argv argv(args);
  if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), argv.ptrs.data(), argv.lens.data()) !=
      REDIS_OK) {
    return IoError();
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::AppendDirect(const std::vector<std::string_view>& args) {
  if (broken_) return absl::UnavailableError("redis: connection is broken");
  if (sdslen(context_->obuf) != 0) return absl::InternalError("redis: AppendDirect after Append");
  std::vector<std::string> heads;
  heads.reserve(args.size() + 1);
  heads.push_back(absl::StrCat("*", args.size(), "\r\n"));
  for (std::string_view a : args) heads.push_back(absl::StrCat("$", a.size(), "\r\n"));
  static const char kCrlf[] = "\r\n";
  std::vector<iovec> iov;
  iov.reserve(args.size() * 3 + 1);
  iov.push_back({heads[0].data(), heads[0].size()});
  for (size_t i = 0; i < args.size(); ++i) {
    iov.push_back({heads[i + 1].data(), heads[i + 1].size()});
    iov.push_back({const_cast<char*>(args[i].data()), args[i].size()});
    iov.push_back({const_cast<char*>(kCrlf), 2});
  }
  size_t first = 0;
  while (first < iov.size()) {
    const int n_iov = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    const ssize_t n = ::writev(context_->fd, iov.data() + first, n_iov);
    if (n < 0) {
      if (errno == EINTR) continue;
      broken_ = true;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return absl::DeadlineExceededError("redis: write timed out");
      return absl::UnavailableError(absl::StrCat("redis: write failed: ", std::strerror(errno)));
    }
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisReplyPtr> RedisConnection::GetReply() {
  if (broken_) return absl::UnavailableError("redis: connection is broken");
  void* r = nullptr;
  if (redisGetReply(context_, &r) != REDIS_OK || r == nullptr) return IoError();
  return RedisReplyPtr(static_cast<redisReply*>(r));
}

RedisPool::RedisPool(const RedisOptions& options) : options_(options) {}

RedisPool::Handle::~Handle() {
  if (pool_ != nullptr && connection_ != nullptr) pool_->Return(std::move(connection_));
}

absl::StatusOr<RedisPool::Handle> RedisPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return lent_ < std::max(1, options_.pool_size); });
    ++lent_;
    if (!idle_.empty()) {
      std::unique_ptr<RedisConnection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Handle(this, std::move(conn));
    }
  }
  int backoff_ms = options_.initial_backoff_ms;
  absl::Status last;
  for (int attempt = 0; attempt < std::max(1, options_.max_connect_attempts); ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, options_.max_backoff_ms);
    }
    auto conn = RedisConnection::Connect(options_);
    if (conn.ok()) return Handle(this, std::move(*conn));
    last = conn.status();
    spdlog::warn("redis connect attempt {} to {}:{} failed: {}", attempt + 1, options_.address, options_.port,
                 std::string(last.message()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    --lent_;
  }
  cv_.notify_one();
  return last;
}

void RedisPool::Return(std::unique_ptr<RedisConnection> connection) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --lent_;
    if (!connection->broken()) idle_.push_back(std::move(connection));
  }
  cv_.notify_one();
}

}  // namespace kvlab
