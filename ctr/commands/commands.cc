#include "ctr/commands/commands.h"

namespace berth::ctr {

std::span<const Verb> Verbs() {
  static constexpr Verb kVerbs[] = {
      {"pull", AddPull}, {"push", AddPush},   {"images", AddImages}, {"rmi", AddRmi},
      {"tag", AddTag},   {"login", AddLogin}, {"logout", AddLogout}, {"version", AddVersion},
  };
  return kVerbs;
}

}  // namespace berth::ctr
