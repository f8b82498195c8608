#pragma once

// Shell completion from the command tree itself, so it never drifts from the verbs:
// deploy/bctr.bash asks `bctr __complete WORD...` (the words after "bctr", the last one being
// the word under the cursor, maybe empty) and gets one candidate per line.
//
// Candidates are the subcommands and flags of the deepest verb the words name; for a
// positional argument named "container"/"containers", "image"/"images" or "volume"/"volumes"
// (the convention for verbs) they are the objects berthd (or, for volumes, bctr's volume root)
// lists, fetched through `objects`.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"

namespace berth::ctr {

enum class ObjectKind { kContainer, kImage, kVolume };

// Lists object names of one kind; returns nothing when berthd cannot be reached.
using ObjectLister = std::function<std::vector<std::string>(ObjectKind)>;

// The candidates that start with the last word. `root` is a built, unparsed command tree.
std::vector<std::string> CompletionCandidates(CLI::App& root, const std::vector<std::string>& words,
                                              const ObjectLister& objects);

}  // namespace berth::ctr
