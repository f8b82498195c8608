// bctr: berth's command line. The command tree is built in cli.cc from commands/.

#include "ctr/cli.h"

int main(int argc, char** argv) {
  return berth::ctr::RunMain(argc, argv);
}
