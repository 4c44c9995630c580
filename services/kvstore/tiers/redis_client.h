// A small synchronous Redis client over hiredis: an RAII connection
// (redisContext), RAII replies, and a bounded connection pool that reconnects
// with exponential backoff. Every connect and command is bounded by a
// timeout.
#ifndef KVLAB_SERVICES_KVSTORE_TIERS_REDIS_CLIENT_H_
#define KVLAB_SERVICES_KVSTORE_TIERS_REDIS_CLIENT_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

struct redisContext;
struct redisReply;

namespace kvlab {

struct RedisOptions {
  std::string address = "127.0.0.1";
  int port = 6379;
  // Connections kept open; Acquire blocks while all are in use.
  int pool_size = 4;
  int connect_timeout_ms = 2000;
  // Bound on each command's send and receive.
  int command_timeout_ms = 5000;
  // Connection attempts per Acquire, with exponential backoff between them.
  int max_connect_attempts = 5;
  int initial_backoff_ms = 20;
  int max_backoff_ms = 1000;
};

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
// An owned hiredis reply (freeReplyObject on destruction).
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// One connection to a Redis server (owns its redisContext). Not thread-safe.
// After an I/O error or timeout broken() is true and the connection must be
// discarded (the pool does so).
class RedisConnection {
 public:
  // Connects once. UNAVAILABLE (refused, unreachable) or DEADLINE_EXCEEDED.
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(const RedisOptions& options);

  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command (binary-safe arguments) and waits for its reply. An
  // error reply becomes INTERNAL (RESOURCE_EXHAUSTED for Redis' OOM) carrying
  // the server's message; I/O errors UNAVAILABLE, timeouts DEADLINE_EXCEEDED.
  absl::StatusOr<RedisReplyPtr> Command(const std::vector<std::string_view>& args);

  // Pipelining: Append queues a command; GetReply sends what is queued and
  // returns the next reply in order (error replies are returned as replies,
  // not as a status). Every appended command must have its reply read before
  // the next Command.
  absl::Status Append(const std::vector<std::string_view>& args);
  // Like Append, but writes the command straight to the socket with writev
  // (no copy of large arguments into hiredis' output buffer, whose partial
  // writes memmove the rest). Requires nothing queued by Append.
  absl::Status AppendDirect(const std::vector<std::string_view>& args);
  absl::StatusOr<RedisReplyPtr> GetReply();

  bool broken() const { return broken_; }

 private:
  explicit RedisConnection(redisContext* context) : context_(context) {}
  absl::Status IoError();

  redisContext* context_;
  bool broken_ = false;
};

// The status a Redis error reply stands for (OK for any other reply).
absl::Status ReplyStatus(const redisReply& reply);

// A bounded pool of connections to one server. Thread-safe.
class RedisPool {
 public:
  explicit RedisPool(const RedisOptions& options);

  // A connection on loan; it returns to the pool on destruction (or is
  // dropped if it broke).
  class Handle {
   public:
    Handle(RedisPool* pool, std::unique_ptr<RedisConnection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    Handle(Handle&&) = default;
    Handle& operator=(Handle&&) = delete;
    ~Handle();
    RedisConnection* operator->() { return connection_.get(); }
    RedisConnection& operator*() { return *connection_; }

   private:
    RedisPool* pool_;
    std::unique_ptr<RedisConnection> connection_;
  };

  // An idle connection, or a new one (connecting with exponential backoff up
  // to max_connect_attempts). Blocks while pool_size connections are lent.
  // UNAVAILABLE / DEADLINE_EXCEEDED when the server cannot be reached.
  absl::StatusOr<Handle> Acquire();

  const RedisOptions& options() const { return options_; }

 private:
  void Return(std::unique_ptr<RedisConnection> connection);

  const RedisOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;
  int lent_ = 0;
};

}  // namespace kvlab

#endif  // KVLAB_SERVICES_KVSTORE_TIERS_REDIS_CLIENT_H_
