// kvlab-store: inspect and manage the entries of a kvlab-kvstore server.
//
//   kvlab-store [--store=host:port] [--json] [auth flags] COMMAND [ARGS]
//
// Commands: ls, stat ID, show ID, tiers, pin ID, unpin ID, rm ID, verify ID,
// export ID FILE, import FILE (kvlab_store_commands.h). Exit status: 0 on
// success, 1 when the store reports an error (one line on stderr), 2 for bad
// arguments.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "services/common/auth.h"
#include "services/kvstore/grpc_client.h"
#include "tools/kvlab_store_commands.h"

ABSL_FLAG(std::string, store, "127.0.0.1:7103", "host:port of the kvlab-kvstore server");
ABSL_FLAG(bool, json, false, "print one JSON document instead of tables");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding the bearer token sent to the store (default: $KVLAB_AUTH_TOKEN; none = no token)");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA the store's certificate must chain to (empty = plaintext)");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate presented to the store (with --tls_ca)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "", "name checked against the store's certificate (default: the host)");
ABSL_FLAG(double, deadline_s, 60, "deadline of each call to the store (seconds)");
ABSL_FLAG(double, connect_timeout_s, 5, "how long to wait for the store's connection (seconds)");
ABSL_FLAG(std::string, model, "", "ls: entries whose model fingerprint starts with this");
ABSL_FLAG(std::string, method, "", "ls: entries whose method spec has every ';'-separated part of this (kv=full)");
ABSL_FLAG(std::string, tier, "", "ls: entries with a copy in this tier (device, host, redis, disk)");
ABSL_FLAG(std::string, sort, "", "ls: size (largest first) or age (oldest first); default: by id");
ABSL_FLAG(std::string, model_dir, "",
          "show: model directory whose tokenizer decodes the cached context (default: $KVLAB_MODEL)");
ABSL_FLAG(int64_t, preview_chars, 400, "show: longest text preview in bytes");
ABSL_FLAG(int64_t, buckets, 20, "show: histogram buckets over the context");

namespace {

constexpr char kUsage[] =
    "kvlab-store: inspect and manage a kvlab-kvstore server\n"
    "\n"
    "  kvlab-store [--store=host:port] [--json] [--auth_token_file=F] [--tls_ca=F] COMMAND [ARGS]\n"
    "\n"
    "  ls [--model=FP] [--method=SPEC] [--tier=T] [--sort=size|age]   list entries\n"
    "  stat ID                     what the store knows of an entry\n"
    "  show ID [--model_dir=DIR]   kept tokens per layer/head, position histogram, text preview\n"
    "  tiers                       usage vs capacity and counters per tier\n"
    "  pin ID | unpin ID           keep an entry from being evicted\n"
    "  rm ID                       delete an entry\n"
    "  verify ID                   re-check an entry's checksums in every tier\n"
    "  export ID FILE              write an entry to a file\n"
    "  import FILE                 store an entry from a file";

const std::map<std::string, kvlab::store_cli::Command>& Commands() {
  namespace cli = kvlab::store_cli;
  static const auto* commands = new std::map<std::string, cli::Command>{
      {"ls", &cli::List},         {"stat", &cli::Stat},    {"show", &cli::Show},     {"tiers", &cli::Tiers},
      {"pin", &cli::Pin},         {"unpin", &cli::Unpin},  {"rm", &cli::Remove},     {"verify", &cli::Verify},
      {"export", &cli::Export},   {"import", &cli::Import}};
  return *commands;
}

// One line on stderr; 2 for bad arguments, 1 otherwise.
int Fail(const absl::Status& status) {
  const std::string message = absl::StrReplaceAll(status.message(), {{"\n", " "}, {"\r", " "}});
  std::fprintf(stderr, "kvlab-store: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(), message.c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

// Client options from the flags; INVALID_ARGUMENT / NOT_FOUND naming the flag.
absl::StatusOr<kvlab::ClientOptions> ClientOptionsFromFlags() {
  kvlab::ClientOptions options;
  options.address = absl::GetFlag(FLAGS_store);
  options.peer_name = "kvstore";
  auto token = kvlab::LoadAuthToken(absl::GetFlag(FLAGS_auth_token_file));
  if (!token.ok()) {
    return absl::Status(token.status().code(), absl::StrCat("--auth_token_file: ", token.status().message()));
  }
  options.token = *token;
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  const double deadline = absl::GetFlag(FLAGS_deadline_s);
  const double connect = absl::GetFlag(FLAGS_connect_timeout_s);
  if (deadline <= 0) return absl::InvalidArgumentError("--deadline_s must be > 0");
  if (connect <= 0) return absl::InvalidArgumentError("--connect_timeout_s must be > 0");
  options.deadline = std::chrono::milliseconds(static_cast<int64_t>(deadline * 1000));
  options.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(connect * 1000));
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  const std::string name = positional[1];
  auto command = Commands().find(name);
  if (command == Commands().end()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("unknown command '", name, "' (see kvlab-store --help)")));
  }
  const std::vector<std::string> args(positional.begin() + 2, positional.end());

  auto options = ClientOptionsFromFlags();
  if (!options.ok()) return Fail(options.status());
  kvlab::store_cli::Context context;
  auto store = kvlab::NewKvStoreClient(*options);
  if (!store.ok()) return Fail(store.status());
  context.store = std::move(*store);
  auto admin = kvlab::KvStoreAdminClient::Create(*options);
  if (!admin.ok()) return Fail(admin.status());
  context.admin = std::move(*admin);
  context.json = absl::GetFlag(FLAGS_json);
  context.filter.model = absl::GetFlag(FLAGS_model);
  context.filter.method = absl::GetFlag(FLAGS_method);
  context.filter.tier = absl::GetFlag(FLAGS_tier);
  context.filter.sort = absl::GetFlag(FLAGS_sort);
  context.model_dir = absl::GetFlag(FLAGS_model_dir);
  context.preview_chars = absl::GetFlag(FLAGS_preview_chars);
  context.histogram_buckets = absl::GetFlag(FLAGS_buckets);
  if (context.histogram_buckets <= 0) return Fail(absl::InvalidArgumentError("--buckets must be > 0"));
  context.now_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();

  absl::Status status = command->second(context, args, std::cout);
  std::cout.flush();
  if (!status.ok()) return Fail(status);
  return 0;
}
