// `kvlab up`: the five servers as child processes on loopback ports.
#ifndef KVLAB_TOOLS_KVLAB_UP_H_
#define KVLAB_TOOLS_KVLAB_UP_H_

#include <vector>

namespace kvlab {

// Runs the command with its arguments (after "up"); returns the exit code.
int UpCommand(std::vector<char*> args);

}  // namespace kvlab

#endif  // KVLAB_TOOLS_KVLAB_UP_H_
