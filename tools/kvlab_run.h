// `kvlab run`: the all-in-one embedded default — every service in one process
// (local implementations) evaluating a model from models/.
#ifndef KVLAB_TOOLS_KVLAB_RUN_H_
#define KVLAB_TOOLS_KVLAB_RUN_H_

#include <string>
#include <vector>

namespace kvlab {

// The model directory used when none is given: $KVLAB_MODEL, else the
// repository's embedded default model.
std::string DefaultModelDir();

// Runs the command with its arguments (after "run"); returns the exit code.
int RunCommand(std::vector<char*> args);

}  // namespace kvlab

#endif  // KVLAB_TOOLS_KVLAB_RUN_H_
