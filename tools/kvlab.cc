// kvlab: the all-in-one launcher.
//
//   kvlab run [flags]   every service in one process, evaluating the embedded
//                       default model on the synthetic Retr.KV task
//   kvlab up  [flags]   the five servers as child processes on loopback ports
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/large_buffer_heap.h"
#include "tools/kvlab_run.h"
#include "tools/kvlab_up.h"

int main(int argc, char** argv) {
  kvlab::SetUpLargeBufferHeap(argv);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::fprintf(stderr, "usage: kvlab run [--help] [flags]\n       kvlab up [--help] [flags]\n");
    return argc < 2 ? 2 : 0;
  }
  std::vector<char*> args;
  args.push_back(argv[0]);
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  if (std::strcmp(argv[1], "run") == 0) return kvlab::RunCommand(args);
  if (std::strcmp(argv[1], "up") == 0) return kvlab::UpCommand(args);
  std::fprintf(stderr, "kvlab: unknown command '%s' (known: run, up)\n", argv[1]);
  return 2;
}
